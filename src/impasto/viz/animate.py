"""The image as it forms over the iterations: a frame recorder fed by step events, and a
writer for GIF and WebP (Pillow) and MP4 (imageio's ffmpeg plugin; ``pip install
'impasto[video]'`` brings an ffmpeg binary).

Usage::

    rec = FrameRecorder()                      # a frame every ceil(steps / 100) steps
    result = stylize(content, style, callback=rec)
    rec.finish(result)                         # the final image is always the last frame
    write_animation(rec.render(content=content, style=style), "run.gif")
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

from impasto.errors import OutputError
from impasto.io.atomic import atomic_write
from impasto.io.images import ImageLike, load_image, tensor_to_pil
from impasto.viz._draw import BACKGROUND, check_path, draw_lines, fit, font, line_height, wrap

if TYPE_CHECKING:
    from impasto.api import Result
    from impasto.optim.events import StepEvent

ANIMATION_FORMATS: tuple[str, ...] = (".gif", ".webp", ".mp4")
MAX_FRAMES = 100  # a frame every ceil(steps / 100) steps: 50-100 frames for 100+ steps
GAP = 4  # pixels between the panels of a side-by-side frame
VIDEO_HINT = "writing .mp4 needs imageio-ffmpeg: pip install 'impasto[video]'"


def frame_interval(total_steps: int, max_frames: int = MAX_FRAMES) -> int:
    """Steps between kept frames: ``ceil(total_steps / max_frames)``, which keeps between
    ``max_frames / 2`` and ``max_frames`` frames for runs of ``max_frames`` steps or more
    (and every step of shorter runs)."""
    return max(1, math.ceil(total_steps / max_frames))


@dataclass
class Frame:
    """One kept step: the image (8-bit, at most ``max_size`` px) and what to write on it."""

    step: int
    total_steps: int
    scale: int
    scales: int
    losses: dict[str, float]
    image: Image.Image


@dataclass
class FrameRecorder:
    """A step-event callback keeping a frame at step 1, every ``every`` steps and (through
    :meth:`finish`) at the end.

    ``every=None`` picks it from the run's length (:func:`frame_interval`). Frames are stored
    as 8-bit images no larger than ``max_size`` px on their long side (None: as they come), so
    a long run at a large size stays light in memory.
    """

    every: int | None = None
    max_size: int | None = 512
    frames: list[Frame] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.every is not None and self.every <= 0:
            raise OutputError(
                f"the animation interval must be a positive integer, not {self.every}"
            )

    def __call__(self, event: StepEvent) -> None:
        if self.every is None:
            self.every = frame_interval(event.total_steps)
        if event.step == 1 or event.step % self.every == 0 or event.step == event.total_steps:
            self._keep(
                event.step, event.total_steps, event.scale, event.scales, event.losses, event.image
            )

    def _keep(
        self,
        step: int,
        total: int,
        scale: int,
        scales: int,
        losses: dict[str, float],
        image: object,
    ) -> None:
        # tensor_to_pil copies (and clamps) the live tensor of the run; nothing is kept of it.
        img = tensor_to_pil(image)  # type: ignore[arg-type]
        if self.max_size is not None and max(img.size) > self.max_size:
            img = fit(img, (self.max_size, self.max_size))
        self.frames.append(Frame(step, total, scale, scales, dict(losses), img))

    def finish(self, result: Result) -> None:
        """Add the run's final image as the last frame, unless the last step is already kept
        (a run that stopped early, or whose length is not a multiple of ``every``)."""
        steps = len(result.history)
        if self.frames and self.frames[-1].step >= steps:
            return
        last = self.frames[-1] if self.frames else None
        total = last.total_steps if last else steps
        scales = last.scales if last else 1
        self._keep(steps, total, scales - 1, scales, result.losses, result.tensor)

    def render(
        self,
        *,
        content: ImageLike | None = None,
        style: ImageLike | None = None,
        annotate: bool = True,
    ) -> list[Image.Image]:
        """The kept frames as equal-sized RGB images; see :func:`render_frames`."""
        return render_frames(self.frames, content=content, style=style, annotate=annotate)


def _caption(frame: Frame) -> list[str]:
    words = [f"step {frame.step}/{frame.total_steps}"]
    if frame.scales > 1:
        words.append(f"scale {frame.scale + 1}/{frame.scales}")
    for key in ("total", "content", "style", "tv"):
        if key in frame.losses:
            words.append(f"{key} {frame.losses[key]:.3g}")
    return words


def render_frames(
    frames: Sequence[Frame],
    *,
    content: ImageLike | None = None,
    style: ImageLike | None = None,
    annotate: bool = True,
) -> list[Image.Image]:
    """Turn kept frames into the pictures of an animation, all of one size.

    Every frame is scaled to the size of the last (final) one: coarse-to-fine runs start
    small, and their early frames are enlarged. With ``content`` and ``style`` (either or
    both) the frame becomes ``content | image | style``, panels of the image's size ``GAP``
    px apart (the style image fitted inside its panel). With ``annotate`` a band under the
    frame gives the step, the scale and the weighted loss terms.
    """
    if not frames:
        raise OutputError("no frames were recorded: the run made no step")
    size = frames[-1].image.size
    w, h = size
    panels: list[Image.Image | None] = []
    if content is not None:
        panels.append(fit(tensor_to_pil(load_image(content)), size))
    panels.append(None)  # where the frame itself goes
    if style is not None:
        panels.append(fit(tensor_to_pil(load_image(style)), size))
    width = len(panels) * w + (len(panels) - 1) * GAP

    f = font(max(10, min(16, width // 28)))
    captions = [wrap(_caption(fr), f, width - 8) for fr in frames] if annotate else []
    band = max(len(c) for c in captions) * line_height(f) + 8 if annotate else 0

    base = Image.new("RGB", (width, h + band), BACKGROUND)
    for k, panel in enumerate(panels):
        if panel is not None:  # centred in its cell (the style image may be narrower)
            x0 = k * (w + GAP) + (w - panel.width) // 2
            base.paste(panel, (x0, (h - panel.height) // 2))
    x_image = panels.index(None) * (w + GAP)

    out: list[Image.Image] = []
    for i, fr in enumerate(frames):
        img = fr.image if fr.image.size == size else fr.image.resize(size, Image.Resampling.BICUBIC)
        canvas = base.copy()
        canvas.paste(img, (x_image, 0))
        if annotate:
            draw_lines(ImageDraw.Draw(canvas), captions[i], f, (0, h + 4, width))
        out.append(canvas)
    return out


def check_animation_path(path: str | os.PathLike[str], flag: str = "animation") -> Path:
    """Fail before any work if ``path`` is not a writable .gif, .webp or .mp4 path (or an
    .mp4 cannot be encoded here)."""
    p = check_path(path, ANIMATION_FORMATS, flag)
    if p.suffix.lower() == ".mp4":
        _ffmpeg()
    return p


def _ffmpeg() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise OutputError(VIDEO_HINT) from None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as e:
        raise OutputError(f"{VIDEO_HINT} ({e})") from None


@contextlib.contextmanager
def _atomic_path(p: Path) -> Iterator[Path]:
    """A temp path beside ``p`` with the same extension (ffmpeg picks its muxer from it),
    renamed over ``p`` at the end; the same contract as :func:`impasto.io.atomic.atomic_write`
    for writers that want a file name rather than a file object."""
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=f".part{p.suffix}", dir=p.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _even(img: Image.Image) -> Image.Image:
    """H.264 in yuv420p needs even sides: pad with the background on the right/bottom."""
    w, h = img.size
    if w % 2 == 0 and h % 2 == 0:
        return img
    out = Image.new("RGB", (w + w % 2, h + h % 2), BACKGROUND)
    out.paste(img, (0, 0))
    return out


def write_animation(
    frames: Sequence[Image.Image],
    path: str | os.PathLike[str],
    fps: float = 10.0,
    *,
    hold: float = 1.5,
) -> Path:
    """Write ``frames`` (equal-sized images) as an animation, atomically; the format follows
    the extension: .gif, .webp (Pillow) or .mp4 (H.264 through imageio's ffmpeg plugin).

    The last frame stays on screen ``hold`` seconds longer (an MP4 repeats it). GIF and WebP
    loop forever. A GIF merges consecutive identical frames into one longer frame.
    """
    p = check_animation_path(path)
    if not frames:
        raise OutputError(f"no frames to write to {p}")
    if fps <= 0 or not math.isfinite(fps):
        raise OutputError(f"the animation frame rate must be positive, not {fps}")
    if len({im.size for im in frames}) != 1:
        raise OutputError(f"animation frames differ in size: {sorted({im.size for im in frames})}")
    rgb = [im.convert("RGB") for im in frames]
    ms = round(1000 / fps)
    durations = [ms] * len(rgb)
    durations[-1] += round(hold * 1000)
    ext = p.suffix.lower()
    try:
        if ext in (".gif", ".webp"):
            opts: dict[str, object] = {"loop": 0, "duration": durations}
            if ext == ".webp":
                opts.update(quality=80, method=4)
            with atomic_write(p) as f:
                rgb[0].save(f, format=ext[1:].upper(), save_all=True, append_images=rgb[1:], **opts)
        else:
            _write_mp4(rgb + [rgb[-1]] * round(hold * fps), p, fps)
    except OSError as e:
        raise OutputError(f"cannot write {p}: {e.strerror or e}") from None
    return p


def _write_mp4(frames: list[Image.Image], p: Path, fps: float) -> None:
    _ffmpeg()
    import imageio.v2 as iio

    with _atomic_path(p) as tmp:
        writer = iio.get_writer(
            tmp,
            format="FFMPEG",
            mode="I",
            fps=fps,
            codec="libx264",
            quality=7,
            pixelformat="yuv420p",  # what browsers and phones play
            macro_block_size=2,  # _even() pads; never let the plugin resize the frames
            ffmpeg_log_level="error",
        )
        try:
            for im in frames:
                writer.append_data(np.asarray(_even(im)))
        finally:
            writer.close()

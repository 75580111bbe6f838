"""The pictures of a run on the command line: ``--animate`` and ``--plot`` on ``impasto
stylize`` and ``texture``, and the recorder that collects them during the run (and keeps them
beside a checkpoint, so that ``impasto resume`` writes them whole).

Use::

    add_stylize_arguments(stylize_parser)
    recorder = make_recorder(args, args.content, args.style)   # checks paths, before the run
    callback = recorder.wrap(callback) if recorder else callback
    result = stylize(..., callback=callback)
    written = recorder.finish(result) if recorder else []
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from PIL import Image

from impasto.errors import OutputError
from impasto.io.atomic import atomic_write
from impasto.viz.animate import Frame, FrameRecorder, check_animation_path, write_animation
from impasto.viz.plot import ScaleTracker, check_plot_path, plot_losses

if TYPE_CHECKING:
    from impasto.api import Result
    from impasto.optim.events import Callback, StepEvent

RECORDER_FOLDER = "recorder"  # inside a checkpoint folder: the frames and scale changes so far
RECORDER_STATE = "state.json"


class RecorderSettings(TypedDict):
    """What the command asked for, as plain values (kept in the checkpoint's job)."""

    animate: str | None  # the animation's path, resolved
    plot: str | None
    every: int | None
    side_by_side: bool
    fps: float
    content: str | None  # the side-by-side panels' images, when they are files
    style: str | None


class FrameState(TypedDict):
    """A kept frame in RECORDER_STATE (its image is the PNG beside it)."""

    step: int
    total_steps: int
    scale: int
    scales: int
    losses: dict[str, float]


class RecorderState(TypedDict):
    """RECORDER_STATE: the scale changes and frames kept so far."""

    boundaries: list[int]
    frames: list[FrameState]


DEFAULT_FPS = 10.0


# -- stylize --animate / --plot ------------------------------------------------------------------
def add_stylize_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--animate``, ``--animate-every``, ``--animate-side-by-side``, ``--animate-fps``
    and ``--plot`` to the ``stylize`` parser, in their own help group."""
    g = parser.add_argument_group("pictures of the run")
    g.add_argument(
        "--animate",
        metavar="PATH",
        help="also write the image forming over the steps: .gif, .webp or .mp4 "
        "(.mp4 needs the [video] extra)",
    )
    g.add_argument(
        "--animate-every",
        type=int,
        metavar="N",
        help="a frame every N steps (default: about 50-100 frames in all)",
    )
    g.add_argument(
        "--animate-side-by-side",
        action="store_true",
        help="show the content and style images beside each frame",
    )
    g.add_argument(
        "--animate-fps",
        type=float,
        metavar="FPS",
        help=f"frames per second of the animation (default {DEFAULT_FPS:g})",
    )
    g.add_argument(
        "--plot",
        metavar="PATH",
        help="also draw the loss curves against the step: .png, .svg or .pdf",
    )


def check(args: argparse.Namespace) -> None:
    """Raise OutputError for a bad ``--animate``/``--plot`` path or option, before any work."""
    animate = getattr(args, "animate", None)
    every = getattr(args, "animate_every", None)
    fps = getattr(args, "animate_fps", None)
    plot = getattr(args, "plot", None)
    if animate is None:
        for flag, given in (
            ("--animate-every", every is not None),
            ("--animate-side-by-side", bool(getattr(args, "animate_side_by_side", False))),
            ("--animate-fps", fps is not None),
        ):
            if given:
                raise OutputError(f"{flag} needs --animate PATH")
    else:
        check_animation_path(animate, "--animate")
        if every is not None and every <= 0:
            raise OutputError(f"--animate-every must be a positive integer, got {every}")
        if fps is not None and not 0 < fps <= 100:
            raise OutputError(f"--animate-fps must be a number in (0, 100], got {fps:g}")
    if plot is not None:
        check_plot_path(plot, "--plot")
    output = getattr(args, "output", None)
    if plot is not None and output is not None and same_file(plot, output):
        raise OutputError(f"--plot and -o name the same file: {plot}")


def same_file(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


@dataclass
class Recorder:
    """Collects what ``--animate`` and ``--plot`` need during a run and writes it after."""

    animate: Path | None = None
    plot: Path | None = None
    every: int | None = None
    side_by_side: bool = False
    fps: float = DEFAULT_FPS
    content: Any = None  # for the side-by-side panels: a path or image (None: no panel)
    style: Any = None  # the same, a Style, or a list of them (the first is shown)
    frames: FrameRecorder | None = None
    scales: ScaleTracker = field(default_factory=ScaleTracker)
    # With a checkpoint: where the frames and scale changes are kept as they come, so that
    # ``impasto resume`` can write the whole animation and plot (see :meth:`restore`).
    folder: Path | None = None

    def __post_init__(self) -> None:
        if self.animate is not None and self.frames is None:
            self.frames = FrameRecorder(every=self.every)

    def callback(self, event: StepEvent) -> None:
        kept = len(self.frames.frames) if self.frames is not None else 0
        changes = len(self.scales.boundaries)
        self.scales(event)
        if self.frames is not None:
            self.frames(event)
        if self.folder is not None and (
            changes != len(self.scales.boundaries)
            or (self.frames is not None and kept != len(self.frames.frames))
        ):
            self._persist(kept)

    # -- surviving an interruption ---------------------------------------------------------
    def settings(self) -> RecorderSettings:
        """What the command asked for, as plain values (kept in the checkpoint's job)."""

        def path_of(src: Any) -> str | None:
            src = _panel(src)
            return str(Path(src).resolve()) if isinstance(src, (str, Path)) else None

        return {
            "animate": str(self.animate.resolve()) if self.animate else None,
            "plot": str(self.plot.resolve()) if self.plot else None,
            "every": self.every,
            "side_by_side": self.side_by_side,
            "fps": self.fps,
            "content": path_of(self.content),
            "style": path_of(self.style),
        }

    def _persist(self, first_new: int) -> None:
        """Write the frames from index ``first_new`` on, then the state that lists them."""
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        frames = self.frames.frames if self.frames is not None else []
        for frame in frames[first_new:]:
            with atomic_write(self.folder / f"frame_{frame.step:06d}.png") as f:
                frame.image.save(f, format="PNG")
        state: RecorderState = {
            "boundaries": self.scales.boundaries,
            "frames": [
                {
                    "step": fr.step,
                    "total_steps": fr.total_steps,
                    "scale": fr.scale,
                    "scales": fr.scales,
                    "losses": fr.losses,
                }
                for fr in frames
            ],
        }
        with atomic_write(self.folder / RECORDER_STATE) as f:
            f.write(json.dumps(state).encode())

    @classmethod
    def restore(cls, settings: RecorderSettings, folder: Path, step: int, scale: int) -> Recorder:
        """The recorder of an interrupted run, continued from a checkpoint at ``step`` (in
        scale ``scale``): what it had kept up to that step, read back from ``folder``. Frames
        kept after it are dropped, since the resumed run repeats those steps exactly."""
        animate, plot = settings.get("animate"), settings.get("plot")
        rec = cls(
            animate=Path(animate) if animate else None,
            plot=Path(plot) if plot else None,
            every=settings.get("every"),
            side_by_side=bool(settings.get("side_by_side")),
            fps=float(settings.get("fps") or DEFAULT_FPS),
            content=settings.get("content"),
            style=settings.get("style"),
            folder=folder,
        )
        state_file = folder / RECORDER_STATE
        state: RecorderState = {"boundaries": [], "frames": []}
        if state_file.is_file():
            try:
                state = json.loads(state_file.read_text())
            except (OSError, ValueError) as e:
                raise OutputError(f"cannot read the recorded frames in {folder}: {e}") from None
        rec.scales.boundaries = [b for b in state.get("boundaries", []) if b <= step]
        rec.scales._scale = scale
        if rec.frames is not None:
            for meta in state.get("frames", []):
                if meta["step"] > step:
                    continue
                path = folder / f"frame_{meta['step']:06d}.png"
                try:
                    with Image.open(path) as im:
                        image = im.convert("RGB")
                except OSError as e:
                    raise OutputError(f"cannot read recorded frame {path}: {e}") from None
                rec.frames.frames.append(
                    Frame(
                        meta["step"],
                        meta["total_steps"],
                        meta["scale"],
                        meta["scales"],
                        dict(meta["losses"]),
                        image,
                    )
                )
        return rec

    def wrap(self, callback: Callback | None) -> Callback:
        """``callback`` (e.g. the progress bar) followed by this recorder."""

        def both(event: StepEvent) -> None:
            if callback is not None:
                callback(event)
            self.callback(event)

        return both

    def finish(self, result: Result) -> list[Path]:
        """Write the animation and the plot; returns the paths written."""
        written: list[Path] = []
        if self.animate is not None and self.frames is not None:
            self.frames.finish(result)
            side = self.side_by_side
            images = self.frames.render(
                content=_panel(self.content) if side else None,
                style=_panel(self.style) if side else None,
            )
            written.append(write_animation(images, self.animate, self.fps))
        if self.plot is not None:
            written.append(plot_losses(result.history, self.plot, self.scales.boundaries))
        return written


def _panel(src: Any) -> Any:
    """The image to show for a content or style argument: a path or image as it is, a
    :class:`impasto.api.Style`'s image, the first of several blended styles, or None."""
    if isinstance(src, (list, tuple)):
        src = src[0] if src else None
    image = getattr(src, "image", None)
    if image is not None and not isinstance(src, Image.Image):
        return image
    return src


def make_recorder(args: argparse.Namespace, content_path: Any, style_path: Any) -> Recorder | None:
    """Check the flags (raising OutputError before the run) and return a Recorder, or None
    when neither ``--animate`` nor ``--plot`` was given. ``content_path`` may be None (a
    texture run); ``style_path`` may be a Style or a list of them."""
    check(args)
    animate, plot = getattr(args, "animate", None), getattr(args, "plot", None)
    if animate is None and plot is None:
        return None
    fps = getattr(args, "animate_fps", None)
    return Recorder(
        animate=Path(animate) if animate else None,
        plot=Path(plot) if plot else None,
        every=getattr(args, "animate_every", None),
        side_by_side=bool(getattr(args, "animate_side_by_side", False)),
        fps=DEFAULT_FPS if fps is None else float(fps),
        content=content_path,
        style=style_path,
    )

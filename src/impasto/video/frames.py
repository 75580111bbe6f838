"""Reading and writing clips with PyAV (FFmpeg's libraries, in process).

Frames follow the one image convention: float32 sRGB in [0, 1], ``(1, 3, H, W)``. A clip is
read at a working size whose sides are even, because H.264 and VP9 store colour at half
resolution (yuv420p) and refuse odd sides. A :class:`VideoWriter` writes to a temp file beside
the target and renames it at the end, with the source's audio for the written range, so a
failed or interrupted run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np
import torch
from PIL import Image

from impasto.errors import ConfigError, InvalidVideoError, OutputError
from impasto.io.atomic import check_writable
from impasto.preprocess.resize import fit_long_side, resize

FORMATS = (".mp4", ".webm", ".gif")
# FFmpeg's demuxers for single pictures: a PNG or JPEG renamed .mp4 opens as a one-frame
# "video" through them, which is a picture, not a clip.
STILL_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe")
# Quality settings, chosen for stylised frames (strong texture): x264's CRF 18 is close to
# visually lossless; libvpx-vp9 in constant-quality mode (b:v 0) at CRF 30, cpu-used 4 for speed.
VIDEO_CODECS: dict[str, tuple[str, dict[str, str]]] = {
    ".mp4": ("libx264", {"crf": "18", "preset": "medium"}),
    ".webm": ("libvpx-vp9", {"crf": "30", "b:v": "0", "cpu-used": "4", "row-mt": "1"}),
}
# The audio is decoded, trimmed to the written range and re-encoded: a stream copy cuts only
# at packet boundaries, and the source's codec may not fit the container (PCM in MP4, AAC in
# WebM). Opus runs at 48 kHz only.
AUDIO_CODECS = {".mp4": ("aac", None), ".webm": ("libopus", 48000)}
MAX_CRF = 51  # x264's scale; VP9's goes to 63, but one range for both formats


def check_crf(crf: int | None) -> None:
    """Refuse a constant rate factor outside 0-MAX_CRF (None: the format's default)."""
    bad = not isinstance(crf, int) or isinstance(crf, bool) or not 0 <= crf <= MAX_CRF
    if crf is not None and bad:
        raise ConfigError(f"crf must be a whole number from 0 to {MAX_CRF}, got {crf!r}")


def codec_options(suffix: str, crf: int | None) -> tuple[str, dict[str, str]]:
    """The encoder and its options for ``suffix`` (.mp4 or .webm) at ``crf`` (None: the
    format's default). CRF 0 is lossless: x264 stores the frames exactly (in yuv420p), and
    VP9 needs its own lossless switch, where its CRF 0 is merely the best lossy quality."""
    codec, options = VIDEO_CODECS[suffix]
    if crf is None:
        return codec, dict(options)
    if codec == "libvpx-vp9" and crf == 0:
        return codec, {**options, "lossless": "1", "crf": "0"}
    return codec, {**options, "crf": str(crf)}


@dataclass(frozen=True)
class ClipInfo:
    """What :func:`probe` found: the first video stream's size as shown (a phone's portrait
    clip, stored sideways with a display rotation, is taller than wide), frame rate, frame
    count and codec, whether the file has an audio track, and the rotation the frames are
    given on reading (degrees counter-clockwise, a multiple of 90)."""

    path: Path
    width: int
    height: int
    fps: float
    frames: int
    has_audio: bool
    codec: str
    rotation: int = 0

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def bundled_clip(name: str = "street") -> Path:
    """The path of a clip shipped with impasto (``impasto/data/clips``; see its SOURCES.md)."""
    import impasto.data

    clips = Path(impasto.data.__file__).parent / "clips"
    path = clips / f"{name}.mp4"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in clips.glob("*.mp4"))) or "none"
        raise ConfigError(f"no bundled clip named {name!r}; there are: {known}")
    return path


def _open(path: str | os.PathLike[str]) -> tuple[Path, Any]:
    p = Path(path)
    if not p.exists():
        raise InvalidVideoError(f"no such video file: {p}")
    if p.is_dir():
        raise InvalidVideoError(f"{p} is a folder, not a video file")
    try:
        container = av.open(str(p))
    except (av.FFmpegError, UnicodeDecodeError) as e:
        raise InvalidVideoError(f"{p} is not a video FFmpeg can read ({_reason(e)})") from None
    if container.format.name in STILL_FORMATS:
        container.close()
        raise InvalidVideoError(f"{p} is a still picture ({container.format.name}), not a video")
    return p, container


def _reason(e: BaseException) -> str:
    return str(getattr(e, "strerror", None) or e).splitlines()[0] if str(e) else type(e).__name__


def _video_stream(p: Path, container: Any) -> Any:
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:  # not cover art
            return stream
    raise InvalidVideoError(f"{p} has no video stream")


def probe(path: str | os.PathLike[str]) -> ClipInfo:
    """The clip's :class:`ClipInfo`; :class:`InvalidVideoError` (one line, naming the file)
    when it is missing, not a video, has no video stream or a codec that cannot be decoded."""
    p, container = _open(path)
    with container:
        stream = _video_stream(p, container)
        codec = stream.codec_context.name if stream.codec_context else "unknown"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise InvalidVideoError(f"{p} has no frame rate in its video stream")
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as e:
            reason = _reason(e)
            raise InvalidVideoError(f"{p}: cannot decode its {codec} video ({reason})") from None
        if first is None:
            raise InvalidVideoError(f"{p} has a video stream with no frames")
        has_audio = len(container.streams.audio) > 0
        frames = stream.frames or _count_frames(path)
        turns = _quarter_turns(first)
        w, h = (first.height, first.width) if turns % 2 else (first.width, first.height)
        return ClipInfo(p, w, h, float(rate), frames, has_audio, codec, 90 * turns)


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that show ``frame`` as its display matrix asks
    (FFmpeg's autorotation; a rotation between quarter turns is rounded to the nearest)."""
    return round((frame.rotation or 0) / 90) % 4


def _upright(frame: av.VideoFrame) -> np.ndarray:
    """The frame as (H, W, 3) uint8 RGB, turned as it is shown."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = _quarter_turns(frame)
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _count_frames(path: str | os.PathLike[str]) -> int:
    """Frames counted by demuxing (no decoding), for containers that do not store the count
    (Matroska, WebM)."""
    with av.open(str(path)) as container:
        stream = _video_stream(Path(path), container)
        return sum(1 for packet in container.demux(stream) if packet.size > 0)


def check_range(info: ClipInfo, start: int, stop: int | None) -> range:
    """Frames ``start`` to ``stop`` (exclusive; None: to the end) of the clip, refused with a
    :class:`ConfigError` naming the range and the clip's frame count when outside it."""
    end = info.frames if stop is None else stop
    if not (0 <= start < end <= info.frames):
        shown = f"{start}:{'' if stop is None else stop}"
        raise ConfigError(
            f"frame range {shown} is outside {info.path.name}, which has {info.frames} frames "
            f"(0:{info.frames})"
        )
    return range(start, end)


def frame_size(height: int, width: int, size: int | None) -> tuple[int, int]:
    """The working (H, W) of a clip of ``height`` x ``width``: long side ``size`` (the
    source's when None), each side rounded down to an even number (yuv420p needs it)."""
    h, w = (height, width) if size is None else fit_long_side(height, width, size)
    return max(2, h - h % 2), max(2, w - w % 2)


def read_frames(
    path: str | os.PathLike[str], frames: range | None = None, size: int | None = None
) -> Iterator[torch.Tensor]:
    """The clip's frames (those in ``frames``; all when None) as (1, 3, H, W) float32 sRGB
    in [0, 1], resized to a long side of ``size`` px with even sides (:func:`frame_size`).

    Frames are decoded in order from the start (frame-exact, unlike a seek to a keyframe).
    A bad ``size`` is refused here; a bad file when the first frame is asked for (call
    :func:`probe` first to fail before any work).
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 2):
        raise ConfigError(f"size must be a whole number of pixels, at least 2, got {size!r}")
    return _read(path, frames, size)


def _read(
    path: str | os.PathLike[str], frames: range | None, size: int | None
) -> Iterator[torch.Tensor]:
    p, container = _open(path)
    with container:
        stream = _video_stream(p, container)
        stream.thread_type = "AUTO"
        last = None if frames is None else (frames[-1] if len(frames) else -1)
        for index, frame in enumerate(container.decode(stream)):
            if last is not None and index > last:
                break
            if frames is not None and index not in frames:
                continue
            rgb = _upright(frame)
            x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).to(torch.float32) / 255.0
            yield _fit(x, size)


def _fit(x: torch.Tensor, size: int | None) -> torch.Tensor:
    h, w = frame_size(x.shape[-2], x.shape[-1], size)
    if size is None:  # only an odd side to drop: crop the last row or column, no resampling
        return x[..., :h, :w].contiguous()
    return resize(x, (h, w))


def _to_rgb24(frame: torch.Tensor) -> np.ndarray:
    x = frame.detach()
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise ConfigError(f"write one frame at a time, got a batch of {x.shape[0]}")
        x = x[0]
    if x.dim() != 3 or x.shape[0] != 3:
        raise ConfigError(f"expected a (1, 3, H, W) frame, got {tuple(frame.shape)}")
    x = (x.to(torch.float32).clamp(0, 1) * 255.0).round().to(torch.uint8)
    return np.ascontiguousarray(x.permute(1, 2, 0).cpu().numpy())


class VideoWriter:
    """Writes frames to ``path`` (by suffix: ``.mp4`` H.264 yuv420p, ``.webm`` VP9, ``.gif``)
    at ``fps``, as a context manager::

        with VideoWriter("out.mp4", info.fps, audio_from=info.path) as out:
            for frame in frames:
                out.write(frame)

    On a clean exit the file appears at once (temp file + rename), with ``audio_from``'s audio
    for ``audio_range`` seconds (default: from 0 for as long as the frames written) in MP4 and
    WebM; on an exception nothing is left behind. ``crf``: the encoder's constant rate factor
    (:func:`codec_options`; None: the format's default, 0: lossless).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        *,
        audio_from: str | os.PathLike[str] | None = None,
        audio_range: tuple[float, float] | None = None,
        crf: int | None = None,
    ) -> None:
        p = Path(path)
        self.suffix = p.suffix.lower()
        if self.suffix not in FORMATS:
            shown = p.suffix or "(none)"
            raise ConfigError(f"unknown video extension {shown!r} in {p}; use {', '.join(FORMATS)}")
        if not fps > 0 or fps > 1000:
            raise ConfigError(f"frame rate must be above 0 and at most 1000, got {fps!r}")
        if audio_range is not None and not 0 <= audio_range[0] <= audio_range[1]:
            raise ConfigError(
                f"audio range {audio_range} must be (start, stop) seconds, 0 <= start <= stop"
            )
        check_crf(crf)
        if crf is not None and self.suffix == ".gif":
            raise ConfigError(f"a crf does not apply to .gif ({p.name}); write .mp4 or .webm")
        self.crf = crf
        self.path = check_writable(p, FORMATS, "output")
        if audio_from is not None:
            _open(audio_from)[1].close()  # a missing or unreadable source fails before any work
        self.fps = fps
        self.audio_from = None if audio_from is None else Path(audio_from)
        self.audio_range = audio_range
        self.frames = 0
        self._tmp: Path | None = None
        self._container: Any = None
        self._stream: Any = None
        self._audio: _AudioTrack | None = None
        self._gif: list[Image.Image] = []
        self._size: tuple[int, int] | None = None

    def __enter__(self) -> VideoWriter:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=f".part{self.suffix}", dir=self.path.parent
        )
        os.close(fd)
        self._tmp = Path(tmp)
        return self

    def write(self, frame: torch.Tensor) -> None:
        """Append one (1, 3, H, W) frame in [0, 1]; every frame has the first one's size."""
        if self._tmp is None:
            raise OutputError(f"write to {self.path} inside its `with VideoWriter(...)` block")
        rgb = _to_rgb24(frame)
        size = (rgb.shape[0], rgb.shape[1])
        if self._size is None:
            self._start(size)
        elif size != self._size:
            raise ConfigError(
                f"frame {self.frames} is {size[1]}x{size[0]} px; the clip's frames are "
                f"{self._size[1]}x{self._size[0]}"
            )
        if self.suffix == ".gif":
            self._gif.append(Image.fromarray(rgb))
        else:
            video = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            video.pts = self.frames
            self._container.mux(self._stream.encode(video))
        self.frames += 1

    def _start(self, size: tuple[int, int]) -> None:
        self._size = size
        if self.suffix == ".gif":
            return
        h, w = size
        if h % 2 or w % 2:
            raise ConfigError(f"frames of {w}x{h} px: {self.suffix} needs even sides")
        codec, options = codec_options(self.suffix, self.crf)
        self._container = av.open(str(self._tmp), mode="w", format=self.suffix[1:])
        rate = Fraction(self.fps).limit_denominator(1001)
        self._stream = self._container.add_stream(codec, rate=rate, options=options)
        self._stream.width, self._stream.height = w, h
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = 1 / rate
        if self.audio_from is not None:
            self._audio = _AudioTrack.open(self.audio_from, self._container, self.suffix)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        tmp, self._tmp = self._tmp, None
        if tmp is None:
            return
        try:
            if kind is None:
                self._finish(tmp)
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
                os.replace(tmp, self.path)
        finally:
            if self._container is not None:
                with contextlib.suppress(Exception):
                    self._container.close()
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _finish(self, tmp: Path) -> None:
        if self.frames == 0:
            raise OutputError(f"no frames were written to {self.path}")
        if self.suffix == ".gif":
            _save_gif(self._gif, tmp, self.fps)
            return
        self._container.mux(self._stream.encode(None))
        if self._audio is not None:
            start, stop = self.audio_range or (0.0, self.frames / self.fps)
            self._audio.copy(start, stop)
        self._container.close()
        self._container = None


def _save_gif(frames: list[Image.Image], path: Path, fps: float) -> None:
    """One palette for the whole clip, made from up to 16 frames spread over it: per-frame
    palettes shift colours from frame to frame, which flickers (what this package exists to
    prevent), and the first frame's alone misses colours that appear later."""
    picks = frames[:: max(1, len(frames) // 16)][:16]
    w, h = picks[0].size
    sheet = Image.new("RGB", (w, h * len(picks)))
    for i, frame in enumerate(picks):
        sheet.paste(frame, (0, h * i))
    palette = sheet.quantize(colors=256)
    indexed = [f.quantize(palette=palette) for f in frames]
    duration = max(20, round(1000 / fps / 10) * 10)  # GIF delays are in 10 ms; 20 ms at least
    indexed[0].save(
        path, format="GIF", save_all=True, append_images=indexed[1:], duration=duration, loop=0
    )


class _AudioTrack:
    """The source's first audio track, re-encoded into the output container."""

    def __init__(self, source: Path, stream: Any, rate: int) -> None:
        self.source = source
        self.stream = stream
        self.rate = rate

    @classmethod
    def open(cls, source: Path, output: Any, suffix: str) -> _AudioTrack | None:
        """The track for ``source`` in ``output``, or None when the source has no audio."""
        _, container = _open(source)
        with container:
            if not container.streams.audio:
                return None
            src = container.streams.audio[0]
            rate = AUDIO_CODECS[suffix][1] or src.codec_context.sample_rate or 48000
            layout = "stereo" if (src.codec_context.channels or 1) > 1 else "mono"
        stream = output.add_stream(AUDIO_CODECS[suffix][0], rate=rate, layout=layout)
        return cls(source, stream, rate)

    def copy(self, start: float, stop: float) -> None:
        """Decode the source, keep ``start`` to ``stop`` seconds, encode and mux it."""
        samples = self._decode()
        layout = self.stream.codec_context.layout.name
        lo, hi = round(start * self.rate), round(stop * self.rate)
        samples = samples[:, lo:hi]
        if samples.shape[1] == 0:
            return
        size = self.stream.codec_context.frame_size or 1024
        output = self.stream.container
        for at in range(0, samples.shape[1], size):
            chunk = np.ascontiguousarray(samples[:, at : at + size])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = self.rate
            frame.pts = at
            output.mux(self.stream.encode(frame))
        output.mux(self.stream.encode(None))

    def _decode(self) -> np.ndarray:
        """The whole track as (channels, samples) float32 at the output's rate and layout,
        from time 0 (a track that starts late is padded with silence)."""
        layout = self.stream.codec_context.layout.name
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=self.rate)
        parts: list[np.ndarray] = []
        offset: float | None = None
        with av.open(str(self.source)) as container:
            for frame in container.decode(container.streams.audio[0]):
                if offset is None:
                    offset = max(0.0, float(frame.time or 0.0))
                parts.extend(f.to_ndarray() for f in resampler.resample(frame))
            parts.extend(f.to_ndarray() for f in resampler.resample(None))
        channels = self.stream.codec_context.channels
        lead = np.zeros((channels, round((offset or 0.0) * self.rate)), np.float32)
        return np.concatenate([lead, *parts], axis=1).astype(np.float32)

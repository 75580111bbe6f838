"""The studio's Video mode: a short clip stylised by either route of :mod:`impasto.video`.

- The clips: an upload (anything FFmpeg reads, checked by decoding its header and first frame)
  or a bundled clip (``impasto/data/clips``, by name from a fixed list).
- The limits (``impasto serve --max-video-seconds``, ``--max-video-size``): the frames a job
  stylises last at most ``max_video_seconds`` (an upload longer than that is refused too), and
  are stylised at a long side of at most ``max_video_size`` px (the clip is scaled down to it).
- The settings: :class:`~impasto.video.config.VideoConfig`'s own fields as a form, and, for the
  optimisation route, StyleConfig's form (the image mode's) as its ``style_config``.
- The worker's run: :func:`impasto.video.run.stylize_video` (optimisation, Ruder et al. 2016)
  or :func:`~impasto.video.run.stylize_video_network` (a style network, de-flickered), writing
  ``result.mp4`` (H.264: every current browser plays it) atomically, and a JPEG preview of the
  frame being worked on.

Every check the clip's header and the settings allow runs when the job is submitted (422):
a file with no video stream or an unreadable codec, a frame range outside the clip, a clip
over the limits. A cancelled job stops at its next step and leaves no video behind.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import impasto.data
from impasto.errors import ConfigError, InvalidVideoError
from impasto.web.form import FormField, build_config, settings_form
from impasto.web.inputs import UploadError

if TYPE_CHECKING:
    import torch

    from impasto.features.weights import VGGWeights
    from impasto.video.config import VideoConfig
    from impasto.video.frames import ClipInfo
    from impasto.video.optimise import FrameEvent
    from impasto.web.instant import Models, StudioModel
    from impasto.web.store import JobRecord

CLIPS_DIR = Path(impasto.data.__file__).parent / "clips"
# The fixed list of bundled clips a client may name; nothing it sends is joined to a path.
CLIPS: dict[str, Path] = {p.stem: p for p in sorted(CLIPS_DIR.glob("*.mp4"))}
CLIP_LABELS: dict[str, str] = {"street": "Street (vtest.avi)"}
RESULT = "result.mp4"

# FFmpeg's container names as a browser's media type (what `GET /api/uploads/{id}` answers).
VIDEO_MEDIA_TYPES: dict[str, str] = {
    "mov,mp4,m4a,3gp,3g2,mj2": "video/mp4",
    "matroska,webm": "video/webm",
    "gif": "image/gif",
    "ogg": "video/ogg",
}

# VideoConfig's fields the form leaves out, and why.
NOT_IN_VIDEO: dict[str, str] = {
    "style_config": "the optimisation's settings: the image form's fields, sent as style_config",
}
# StyleConfig's fields the video's optimisation form leaves out (VideoConfig's replace them).
NOT_IN_VIDEO_STYLE = ("size",)


def clip_label(name: str) -> str:
    return CLIP_LABELS.get(name, name.replace("_", " "))


@dataclass(frozen=True)
class CheckedClip:
    """An uploaded clip that FFmpeg decodes: its container, size, rate and length."""

    format: str
    width: int
    height: int
    fps: float
    frames: int
    has_audio: bool

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def _probe(path: Path, name: str) -> ClipInfo:
    """The clip's header, or ConfigError naming ``name`` (not the server's path)."""
    from impasto.video.frames import probe

    try:
        return probe(path)
    except InvalidVideoError as e:
        raise ConfigError(str(e).replace(str(path), name)) from None


def check_clip(path: Path, name: str, max_seconds: float, max_pixels: int) -> CheckedClip:
    """Decode the upload's header and first frame; UploadError 422 (one line, naming the file)
    for a file with no video stream, a codec FFmpeg cannot decode, a clip longer than
    ``max_seconds`` or frames of more than ``max_pixels`` (each frame is decoded whole before
    it is scaled down)."""
    import av

    try:
        info = _probe(path, name)
    except ConfigError as e:
        raise UploadError(422, str(e)) from None
    if info.seconds > max_seconds:
        raise UploadError(
            422,
            f"{name} lasts {info.seconds:.1f} s; this studio takes clips of at most "
            f"{max_seconds:g} s (cut it shorter)",
        )
    if info.width * info.height > max_pixels:
        raise UploadError(
            422,
            f"{name} has frames of {info.width}x{info.height} px; this studio takes at most "
            f"{max_pixels / 1e6:g} megapixels",
        )
    with av.open(str(path)) as container:
        fmt = container.format.name
    return CheckedClip(fmt, info.width, info.height, info.fps, info.frames, info.has_audio)


@lru_cache(maxsize=1)
def video_form_fields() -> list[FormField]:
    """VideoConfig's form (but NOT_IN_VIDEO), as the image form is StyleConfig's."""
    from impasto.video.config import VideoConfig

    return settings_form(VideoConfig, NOT_IN_VIDEO)


def build_video_config(
    data: Any, *, max_video_size: int, max_steps: int, device: str = "auto"
) -> VideoConfig:
    """The studio's VideoConfig from a client's JSON object: VideoConfig's fields and
    ``style_config`` (StyleConfig's, as the image form's), within the studio's limits.

    Raises ConfigError naming the field."""
    from impasto.video.config import VideoConfig
    from impasto.video.run import check_config

    if not isinstance(data, dict):
        raise ConfigError("config must be a JSON object of VideoConfig fields")
    fields = dict(data)
    style = fields.pop("style_config", {})
    if isinstance(style, dict) and "size" in style:
        raise ConfigError("style_config.size: a video's size is its own field, size")
    scfg = build_config(style, max_size=max_video_size, max_steps=max_steps, device=device)
    try:
        cfg = VideoConfig.from_dict({**fields, "style_config": scfg.to_dict()})
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError) as e:  # a JSON type the checks missed
        raise ConfigError(f"bad config: {e}") from None
    if cfg.size > max_video_size:
        raise ConfigError(
            f"size must be at most {max_video_size} px for a video in this studio, got {cfg.size}"
        )
    if cfg.later_steps is not None and cfg.later_steps > max_steps:
        raise ConfigError(f"later_steps must be at most {max_steps} in this studio")
    check_config(cfg)
    return cfg


def check_frames(clip: Path, name: str, cfg: VideoConfig, max_seconds: float) -> range:
    """The frames the job will stylise: inside the clip and at most ``max_seconds`` long;
    ConfigError naming the clip and the range otherwise."""
    from impasto.video.frames import check_range

    info = _probe(clip, name)
    try:
        frames = check_range(info, *cfg.span())
    except ConfigError as e:
        raise ConfigError(str(e).replace(info.path.name, name)) from None
    seconds = len(frames) / info.fps
    if seconds > max_seconds:
        raise ConfigError(
            f"frames {cfg.frames!r}: {len(frames)} frames at {info.fps:g} fps last "
            f"{seconds:.1f} s; this studio takes at most {max_seconds:g} s (choose fewer frames)"
        )
    return frames


# -- the worker's part ---------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoTask:
    """What a Video-mode job runs: the clip, a style image (optimisation) or a style network,
    the settings, and how many frames that makes."""

    clip: Path
    style: Path | None
    model: StudioModel | None
    config: VideoConfig
    frames: int

    @property
    def route(self) -> str:
        return "network" if self.model is not None else "optimisation"


@dataclass(frozen=True)
class VideoOutcome:
    """What a finished video run leaves for its job's record."""

    seconds: float
    frames: int
    losses: dict[str, float] | None


def run_video(
    task: VideoTask,
    folder: Path,
    callback: Callable[[FrameEvent, torch.Tensor | None], None],
    *,
    weights: Callable[[], VGGWeights],
    models: Models,
) -> VideoOutcome:
    """Stylise the clip by ``task``'s route into ``folder/result.mp4``; ``callback`` gets each
    event with the image to preview: the step's picture within a frame, the frame as written
    once it is finished (the network route's after its de-flicker and strength blend)."""
    from impasto.network.apply import ApplyConfig
    from impasto.video.run import stylize_video, stylize_video_network

    out = folder / RESULT
    if task.model is not None:
        device = task.config.style_config.device
        network = models.open(task.model, ApplyConfig(device=device))
        result = stylize_video_network(
            task.clip, network, task.config, out=out, callback=lambda e: callback(e, preview(e))
        )
        return VideoOutcome(sum(result.seconds), result.frames, None)
    losses: list[dict[str, float]] = []

    def on_event(event: FrameEvent) -> None:
        if event.step is not None:
            losses[:] = [dict(event.step.losses)]
        callback(event, preview(event))

    assert task.style is not None
    result = stylize_video(
        task.clip, task.style, task.config, out=out, weights=weights(), callback=on_event
    )
    return VideoOutcome(sum(result.seconds), result.frames, losses[0] if losses else None)


def preview(event: FrameEvent) -> torch.Tensor | None:
    """The picture an event shows: its step's, or the finished frame's."""
    return event.image if event.step is None else event.step.image


def frame_done(event: FrameEvent) -> int:
    """The frames a video event says are done (a job's ``step``; its steps are the frames)."""
    return event.frame + (1 if event.step is None else 0)


def show_frame(job: JobRecord, event: FrameEvent) -> None:
    """A job record's live fields for a video event: frames done of the range (``step`` and
    ``total_steps``), and the steps within the current frame."""
    job.step, job.total_steps = frame_done(event), event.frames
    job.frame = min(event.frame + 1, event.frames)
    job.elapsed = event.elapsed
    job.eta = event.eta if math.isfinite(event.eta) else None
    if event.step is not None:
        s = event.step
        job.frame_step, job.frame_steps = s.step, s.total_steps
        job.scale, job.scales, job.size = s.scale, s.scales, list(s.size)
        job.losses = dict(s.losses)

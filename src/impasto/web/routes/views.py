"""What the studio's JSON routes answer, typed once: each route's ``response_model``.

The page reads these (``static/*.js``); OpenAPI (``/openapi.json``) documents them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from impasto.jsontypes import JSONObject
from impasto.web.form import FormField
from impasto.web.instant import StudioModel


class JobView(BaseModel):
    """A job as the API shows it (``GET /api/jobs/{id}``, each of ``GET /api/jobs`` and of its
    event stream): its record (a NaN loss shown as null), where its files are, its place in
    the queue."""

    id: str
    kind: str = Field(description="image, audio, instant, video or photo")
    created: float
    started: float | None
    finished: float | None
    status: str = Field(description="queued, running, done, failed or cancelled")
    content: str = Field(description='the content\'s ref ("" for a sound texture)')
    style: str = Field(description='the style\'s ref ("model:REF" for a style network)')
    content_name: str
    style_name: str
    config: JSONObject = Field(description="the settings, as the mode's config names them")
    step: int
    total_steps: int = Field(description="steps (a video: frames; Instant: 1)")
    losses: dict[str, float | None] | None
    seconds: float | None
    error: str | None
    has_preview: bool
    has_result: bool
    content_mask: str = Field(description="a photo job: the photo's map's ref (empty: none)")
    style_mask: str = Field(description="a photo job: the reference's map's ref (empty: none)")
    content_mask_name: str
    style_mask_name: str
    scale: int | None = Field(description="live: the pyramid level (0-based) of scales")
    scales: int | None
    size: list[int] | None = Field(description="live: the level's (height, width)")
    elapsed: float | None
    eta: float | None = Field(description="live: seconds left (estimated)")
    preview_version: int
    frame: int | None = Field(description="live, a video job: the frame (1-based) and its steps")
    frame_step: int | None
    frame_steps: int | None
    preview_url: str | None
    result_url: str | None
    spectrogram_url: str | None
    video_url: str | None
    route: str | None = Field(description="a video job: optimisation or network")
    content_url: str | None
    style_url: str | None
    content_view_url: str | None
    style_view_url: str | None
    content_mask_view_url: str | None
    style_mask_view_url: str | None
    position: int | None = Field(description="a queued job: how many wait before it")


class JobList(BaseModel):
    """``GET /api/jobs``: the newest first."""

    jobs: list[JobView]


class StatusView(BaseModel):
    """``GET /api/status``: the queue."""

    queued: int
    running: int
    workers: int
    queue_size: int


class Bundled(BaseModel):
    """A bundled input (a sample image, a sound, a clip) as a form offers it."""

    name: str
    label: str
    ref: str = Field(description='how a job names it: "sample:NAME", "sound:NAME", "clip:NAME"')
    url: str


class Sample(Bundled):
    role: str = Field(description="content, style or any: which picker suggests it first")


class ImageLimits(BaseModel):
    max_upload_bytes: int
    max_pixels: int
    max_size: int
    max_steps: int
    queue_size: int
    workers: int
    formats: list[str]


class ConfigView(BaseModel):
    """``GET /api/config``: the Images mode's form (StyleConfig's fields), limits, samples."""

    fields: list[FormField]
    limits: ImageLimits
    samples: list[Sample]


class PhotoConfigView(BaseModel):
    """``GET /api/photo/config``: Photo mode's form, StyleConfig's fields with photo mode's
    defaults (``impasto photo``'s); its limits and samples are ``GET /api/config``'s."""

    fields: list[FormField]


class AudioLimits(BaseModel):
    max_upload_bytes: int
    max_seconds: float
    max_steps: int
    formats: list[str]


class AudioConfigView(BaseModel):
    """``GET /api/audio/config``: AudioConfig's form, the limits and the bundled sounds."""

    fields: list[FormField]
    limits: AudioLimits
    sounds: list[Sample]


class ModelView(BaseModel):
    """A style network file found, as Instant and Video modes list it."""

    ref: str = Field(description='how a job names it: "bundled:FILE" or "user:FILE"')
    name: str
    file: str
    bundled: bool
    format: str = Field(description="safetensors or onnx")
    style_name: str | None
    width: float | None = Field(description="the network's width multiplier")
    blocks: int | None
    usable: bool
    problem: str | None = Field(description="why it cannot be used, in one line")


def model_view(m: StudioModel) -> ModelView:
    """A model file found, as the page lists it."""
    info = m.info
    return ModelView(
        ref=m.ref,
        name=m.name,
        file=m.path.name,
        bundled=m.bundled,
        format=m.path.suffix.lower().lstrip("."),
        style_name=info.style_name if info is not None else None,
        width=info.network.width if info is not None else None,
        blocks=info.network.blocks if info is not None else None,
        usable=m.problem is None,
        problem=m.problem,
    )


class InstantLimits(BaseModel):
    min_size: int
    max_size: int


class InstantConfigView(BaseModel):
    """``GET /api/instant/config``: ApplyConfig's form, the limits and the style networks."""

    fields: list[FormField]
    not_in_form: dict[str, str] = Field(description="fields left out, and why")
    limits: InstantLimits
    models: list[ModelView]
    user_dir: str
    empty_hint: str


class VideoLimits(BaseModel):
    max_upload_bytes: int
    max_seconds: float
    max_size: int
    max_steps: int


class VideoConfigView(BaseModel):
    """``GET /api/video/config``: VideoConfig's form, each frame's StyleConfig form, the
    limits, the bundled clips and the style networks."""

    fields: list[FormField]
    style_fields: list[FormField]
    not_in_form: dict[str, str]
    limits: VideoLimits
    clips: list[Bundled]
    models: list[ModelView]


class Upload(BaseModel):
    """A kept upload (201): how a job names it and where the page gets it."""

    id: str
    ref: str = Field(description='"upload:ID"')
    name: str
    format: str
    bytes: int
    url: str = Field(description="the file as sent")
    view_url: str = Field(description="the file as the page shows it")


class ImageUpload(Upload):
    width: int
    height: int


class SoundUpload(Upload):
    kind: str = Field(description="audio")
    seconds: float
    sample_rate: int
    channels: int


class ClipUpload(Upload):
    kind: str = Field(description="video")
    width: int
    height: int
    fps: float
    frames: int
    seconds: float
    has_audio: bool

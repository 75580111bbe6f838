"""Audio mode: ``GET /api/audio/config``, ``GET /api/sounds/{name}``, ``POST /api/audio/jobs``
and an audio job's results, ``GET /api/jobs/{id}/result.wav`` and ``.../spectrogram.png``.

An audio job lives in the same queue, store and gallery as an image job: it is listed, shown,
followed (server-sent events), cancelled and deleted by the same ``/api/jobs`` endpoints.
Sound uploads are ``POST /api/audio/uploads`` (in uploads.py).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from impasto.errors import ConfigError
from impasto.jsontypes import JSONObject
from impasto.web.routes.results import stem
from impasto.web.routes.state import Studio, StudioDep, media, refusals
from impasto.web.routes.views import AudioConfigView, AudioLimits, JobView, Sample
from impasto.web.sounds import (
    AUDIO_FORMATS,
    SOUND_ROLES,
    SOUNDS,
    audio_form_fields,
    build_audio_config,
    check_texture_seconds,
    sound_label,
)
from impasto.web.store import AUDIO, JobRecord

router = APIRouter()


@router.get("/api/audio/config")
async def audio_config(studio: StudioDep) -> AudioConfigView:
    """The Audio mode's form (AudioConfig's fields), its limits and the bundled sounds."""
    limits = studio.limits
    return AudioConfigView(
        fields=audio_form_fields(),
        limits=AudioLimits(
            max_upload_bytes=limits.max_upload_bytes,
            max_seconds=limits.max_audio_seconds,
            max_steps=limits.max_steps,
            formats=list(AUDIO_FORMATS),
        ),
        sounds=[
            Sample(
                name=name,
                label=sound_label(name),
                ref=f"sound:{name}",
                url=f"/api/sounds/{name}",
                role=SOUND_ROLES.get(name, "any"),
            )
            for name in SOUNDS
        ],
    )


@router.get(
    "/api/sounds/{name}",
    response_class=Response,
    responses={**media("audio/ogg", "the bundled sound"), **refusals(404, 422)},
)
async def sound(name: str) -> Response:
    path = SOUNDS.get(name)
    if path is None:
        raise HTTPException(404, f"no sound {name!r}; sounds: {', '.join(SOUNDS)}")
    return FileResponse(path, media_type="audio/ogg", headers={"Cache-Control": "max-age=3600"})


class AudioJobRequest(BaseModel):
    """An Audio-mode job: a style transfer (content and style) or, with no content, a texture
    of ``seconds`` (null: as long as the style). Any other top-level field is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    content: str | None = Field(
        default=None, description='"sound:NAME" or "upload:ID"; null for a texture'
    )
    style: str = Field(description='"sound:NAME" or "upload:ID"')
    seconds: float | None = Field(
        default=None, description="a texture's length in seconds (null: the style's length)"
    )
    config: JSONObject = Field(default_factory=dict, description="AudioConfig fields")


@router.post("/api/audio/jobs", status_code=202, responses=refusals(422, 429))
async def create_audio_job(req: AudioJobRequest, studio: StudioDep) -> JobView:
    content = None if req.content is None else studio.resolve(req.content, "content", AUDIO)
    style = studio.resolve(req.style, "style", AUDIO)
    limits = studio.limits
    cfg = build_audio_config(
        req.config,
        max_seconds=limits.max_audio_seconds,
        max_steps=limits.max_steps,
        device=limits.device,
    )
    if content is not None and req.seconds is not None:
        raise ConfigError(
            "seconds is for a texture (no content); a transfer has the content's length"
        )
    seconds = check_texture_seconds(req.seconds, cfg)
    job = studio.manager.submit_audio(content, style, cfg, seconds)
    return studio.present(job)


def _audio_file(studio: Studio, job_id: str, name: str) -> tuple[JobRecord, Path]:
    job = studio.find_job(job_id)
    path = studio.store.job_dir(job_id) / name
    if job.kind != AUDIO or not job.has_result or not path.is_file():
        raise HTTPException(404, f"job {job_id} has no {name} ({job.status})")
    return job, path


@router.get(
    "/api/jobs/{job_id}/result.wav",
    response_class=Response,
    responses={**media("audio/wav", "the sound, with its settings"), **refusals(404, 422)},
)
async def result_wav(job_id: str, studio: StudioDep) -> Response:
    job, path = _audio_file(studio, job_id, "result.wav")
    parts = [stem(job, k) for k in ("content", "style") if getattr(job, k)]
    filename = f"impasto-{'-'.join(parts)}-{job_id[:8]}.wav"
    return FileResponse(path, media_type="audio/wav", filename=filename)


@router.get(
    "/api/jobs/{job_id}/spectrogram.png",
    response_class=Response,
    responses={
        **media("image/png", "content, style and result spectrograms"),
        **refusals(404, 422),
    },
)
async def spectrogram(job_id: str, studio: StudioDep) -> Response:
    _, path = _audio_file(studio, job_id, "spectrogram.png")
    return FileResponse(path, media_type="image/png")

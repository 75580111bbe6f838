"""What every route of the studio shares: its limits, its store and job queue, and the JSON
shape of an error. Routes get the :class:`Studio` from the app (``StudioDep``)."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from impasto.web.inputs import SAMPLES
from impasto.web.jobs import JobManager, Source, sample_source, sound_source
from impasto.web.limits import Limits
from impasto.web.routes.views import JobView
from impasto.web.sounds import SOUNDS
from impasto.web.store import AUDIO, IMAGE, QUEUED, VIDEO, JobRecord, Store, is_id
from impasto.web.video import CLIPS, RESULT, clip_label

log = logging.getLogger("impasto.web")


@dataclass(frozen=True)
class Studio:
    """The state the routes share (one per app, in ``app.state.studio``)."""

    store: Store
    manager: JobManager
    limits: Limits
    poll_interval: float

    def prune(self) -> None:
        """Delete the uploads no job uses that are older than ``limits.keep_uploads``."""
        keep = self.limits.keep_uploads
        if keep is not None:
            gone = self.store.prune_uploads(keep)
            if gone:
                hours = keep / 3600
                log.info("deleted %d unused upload(s) older than %g h", gone, hours)

    def present(self, job: JobRecord) -> JobView:
        """A job as the API shows it: its record, its live state and the URLs of its images."""
        jid, done = job.id, job.has_result
        version = job.preview_version or int(job.finished or 0)
        preview = f"/api/jobs/{jid}/preview.jpg?v={version}" if job.has_preview else None
        result = f"/api/jobs/{jid}/result.png" if done else None
        spectrogram = video = route = None
        if job.kind == AUDIO:  # the result is a sound; its spectrograms are the picture
            spectrogram = f"/api/jobs/{jid}/spectrogram.png?v={version}" if done else None
            preview = spectrogram
            result = f"/api/jobs/{jid}/result.wav" if done else None
        if job.kind == VIDEO:  # the result is a clip; the preview its current frame
            route = "network" if job.style.startswith("model:") else "optimisation"
            result = video = f"/api/jobs/{jid}/{RESULT}" if done else None
        return JobView(
            **finite(asdict(job)),
            preview_url=preview,
            result_url=result,
            spectrogram_url=spectrogram,
            video_url=video,
            route=route,
            content_url=source_url(job.content),
            style_url=source_url(job.style),
            content_view_url=view_url(job.content),
            style_view_url=view_url(job.style),
            content_mask_view_url=view_url(job.content_mask),
            style_mask_view_url=view_url(job.style_mask),
            position=self.manager.position(jid) if job.status == QUEUED else None,
        )

    def find_job(self, job_id: str) -> JobRecord:
        job = self.manager.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job

    def resolve(self, ref: Any, what: str, media: str = IMAGE) -> Source:
        """The input a client's ref names ("sample:NAME" or "upload:ID" for an image,
        "sound:NAME" or "upload:ID" for a sound); 422 if none, or one of the other kind."""
        if not isinstance(ref, str):
            raise HTTPException(422, f"{what} must be a string")
        kind, _, key = ref.partition(":")
        if media == AUDIO:
            return self._resolve_sound(kind, key, ref, what)
        if media == VIDEO:
            return self._resolve_clip(kind, key, ref, what)
        if kind == "sample":
            src = sample_source(key)
            if src is None:
                raise HTTPException(
                    422, f"unknown sample {key!r} for {what}; samples: {', '.join(SAMPLES)}"
                )
            return src
        if kind == "upload":
            return self._upload(key, ref, what, IMAGE)
        raise HTTPException(422, f"{what} must be 'sample:NAME' or 'upload:ID', got {ref!r}")

    def _resolve_sound(self, kind: str, key: str, ref: str, what: str) -> Source:
        if kind == "sound":
            src = sound_source(key)
            if src is None:
                raise HTTPException(
                    422, f"unknown sound {key!r} for {what}; sounds: {', '.join(SOUNDS)}"
                )
            return src
        if kind == "upload":
            return self._upload(key, ref, what, AUDIO)
        raise HTTPException(422, f"{what} must be 'sound:NAME' or 'upload:ID', got {ref!r}")

    def _resolve_clip(self, kind: str, key: str, ref: str, what: str) -> Source:
        if kind == "clip":
            path = CLIPS.get(key)
            if path is None:
                raise HTTPException(
                    422, f"unknown clip {key!r} for {what}; clips: {', '.join(CLIPS)}"
                )
            return Source(ref, clip_label(key), path)
        if kind == "upload":
            return self._upload(key, ref, what, VIDEO)
        raise HTTPException(422, f"{what} must be 'clip:NAME' or 'upload:ID', got {ref!r}")

    def _upload(self, key: str, ref: str, what: str, media: str) -> Source:
        rec = self.store.get_upload(key)
        if rec is None or not self.store.upload_path(key).is_file():
            raise HTTPException(422, f"no upload {key!r} for {what}; upload it again")
        if rec.kind != media:
            have, want = MEDIA_NAMES[rec.kind], MEDIA_NAMES[media]
            raise HTTPException(422, f"upload {key!r} is {have}; {what} must be {want}")
        return Source(ref, rec.name, self.store.upload_path(key))


MEDIA_NAMES = {IMAGE: "an image", AUDIO: "a sound", VIDEO: "a video"}


def get_studio(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


StudioDep = Annotated[Studio, Depends(get_studio)]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Every refusal of the studio: ``{"error": message, "status": status}``."""
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a diverged loss is shown as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def source_url(ref: str) -> str | None:
    kind, _, key = ref.partition(":")
    if kind == "sample" and key in SAMPLES:
        return f"/api/samples/{key}"
    if kind == "sound" and key in SOUNDS:
        return f"/api/sounds/{key}"
    if kind == "clip" and key in CLIPS:
        return f"/api/clips/{key}"
    if kind == "upload" and is_id(key):
        return f"/api/uploads/{key}"
    return None


def view_url(ref: str) -> str | None:
    """Where the page gets an input to show (a PNG rendition for an upload it cannot show)."""
    url = source_url(ref)
    return f"{url}/view" if url is not None and ref.startswith("upload:") else url


class ErrorBody(BaseModel):
    """Every refusal's body."""

    error: str = Field(description="what was wrong, in one line (names the field or value)")
    status: int = Field(description="the HTTP status, again")


REFUSALS: dict[int, str] = {
    400: "the Host header names a host this studio does not answer",
    403: "a state-changing request from another site's page",
    404: "no such sample, sound, clip, upload, job, result or endpoint",
    409: "the job is queued or running; cancel it first",
    413: "the request body, upload, image or sound is too large (or a sound too long)",
    415: "the upload is not an image (or, for a sound upload, a sound) of an allowed format",
    422: "a bad request: a missing, unknown or bad field or setting, or an unreadable, empty "
    "or silent image or sound, or a clip that is not a readable video, too long or outside "
    "its frame range",
    429: "the queue is full (Retry-After says when to try again)",
}


# What FastAPI's ``responses=`` takes: OpenAPI response objects by status code.
Responses = dict[int | str, dict[str, Any]]


def refusals(*codes: int) -> Responses:
    """OpenAPI ``responses`` for the refusals a route can answer with."""
    return {code: {"model": ErrorBody, "description": REFUSALS[code]} for code in codes}


def media(media_type: str, what: str) -> Responses:
    """OpenAPI ``responses`` for a route that answers with ``media_type`` (not JSON)."""
    return {200: {"content": {media_type: {}}, "description": what}}

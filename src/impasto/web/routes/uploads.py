"""Uploads: ``POST /api/uploads`` (an image) and ``POST /api/audio/uploads`` (a sound), both as
the multipart field ``file``, and ``GET /api/uploads/{id}`` (either, as sent)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from impasto.web.inputs import (
    BROWSER_FORMATS,
    MEDIA_TYPES,
    UploadError,
    check_image,
    display_name,
    render_png,
)
from impasto.web.routes.state import Responses, Studio, StudioDep, error, refusals
from impasto.web.routes.views import ClipUpload, ImageUpload, SoundUpload, Upload
from impasto.web.sounds import AUDIO_MEDIA_TYPES, check_sound
from impasto.web.store import AUDIO, VIDEO, UploadRecord, new_id
from impasto.web.video import VIDEO_MEDIA_TYPES, check_clip

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file

router = APIRouter()

# An upload is an image or a sound: its GET answers with either media type.
AS_SENT: Responses = {
    200: {
        "content": {"image/*": {}, "audio/*": {}, "video/*": {}},
        "description": "the upload as sent",
    }
}
AS_SHOWN: Responses = {
    200: {
        "content": {"image/*": {}, "audio/*": {}, "video/*": {}},
        "description": "the upload as the page shows (or plays) it",
    }
}


@dataclass(frozen=True)
class _File:
    name: str
    content: bytes


async def _read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused with 413 as soon as it is known to exceed ``limit``."""
    too_large = UploadError(413, f"the upload is larger than the limit of {limit / 2**20:.3g} MB")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit + FORM_OVERHEAD:
            raise too_large
    return bytes(body)


async def _read_file(request: Request, limit: int) -> _File:
    """The form's ``file`` field, its name made safe to show."""
    data = await _read_body(request, limit)

    async def replay() -> dict[str, object]:
        return {"type": "http.request", "body": data, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=4)
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise UploadError(422, "send the file as the multipart form field 'file'")
        content = await file.read()
        name = display_name(file.filename)
    finally:
        await form.close()
    if len(content) > limit:
        raise UploadError(413, f"the upload is larger than the limit of {limit / 2**20:.3g} MB")
    if not content:
        raise UploadError(422, f"{name} is empty")
    return _File(name, content)


async def _checked_copy(
    studio: Studio, file: _File, check: Callable[[Path], Any]
) -> tuple[str, Any]:
    """Write the upload beside the others, ``check`` it (by decoding it, in a thread) and keep
    it under a new id; a refused upload leaves nothing behind. Returns (id, what check said)."""
    upload_id = new_id()
    store = studio.store
    tmp = store.uploads_dir / f".{upload_id}.part"
    try:
        tmp.write_bytes(file.content)
        checked = await run_in_threadpool(check, tmp)
        os.replace(tmp, store.upload_path(upload_id))
    finally:
        tmp.unlink(missing_ok=True)
    return upload_id, checked


def _kept(upload_id: str, file: _File, fmt: str) -> Upload:
    """What every kept upload's 201 says: its id and URLs, its name, format and size."""
    return Upload(
        id=upload_id,
        ref=f"upload:{upload_id}",
        name=file.name,
        format=fmt,
        bytes=len(file.content),
        url=f"/api/uploads/{upload_id}",
        view_url=f"/api/uploads/{upload_id}/view",
    )


async def _keep(studio: Studio, file: _File) -> ImageUpload:
    """Check the image and keep it under a new id; the answer describes it."""
    limit = studio.limits.max_pixels
    upload_id, checked = await _checked_copy(
        studio, file, lambda p: check_image(p, file.name, limit)
    )
    size = (checked.width, checked.height)
    studio.store.add_upload(upload_id, file.name, checked.format, size, len(file.content))
    await run_in_threadpool(studio.prune)
    kept = _kept(upload_id, file, checked.format).model_dump()
    return ImageUpload(**kept, width=checked.width, height=checked.height)


@router.post(
    "/api/uploads",
    status_code=201,
    response_model=ImageUpload,
    responses=refusals(413, 415, 422),
)
async def upload(request: Request, studio: StudioDep) -> ImageUpload | Response:
    try:
        file = await _read_file(request, studio.limits.max_upload_bytes)
        return await _keep(studio, file)
    except UploadError as e:
        return error(e.status, e.message)


async def _keep_sound(studio: Studio, file: _File) -> SoundUpload:
    """Check the sound (by decoding it) and keep it under a new id; the answer describes it."""
    limit = studio.limits.max_audio_seconds
    upload_id, checked = await _checked_copy(
        studio, file, lambda p: check_sound(p, file.name, limit)
    )
    studio.store.add_upload(
        upload_id, file.name, checked.format, (0, 0), len(file.content),
        kind=AUDIO, seconds=checked.seconds,
    )  # fmt: skip
    await run_in_threadpool(studio.prune)
    return SoundUpload(
        **_kept(upload_id, file, checked.format).model_dump(),
        kind=AUDIO,
        seconds=checked.seconds,
        sample_rate=checked.sample_rate,
        channels=checked.channels,
    )


@router.post(
    "/api/audio/uploads",
    status_code=201,
    response_model=SoundUpload,
    responses=refusals(413, 415, 422),
)
async def upload_sound(request: Request, studio: StudioDep) -> SoundUpload | Response:
    """A sound (WAV, FLAC, OGG or MP3, by its bytes), at most ``--max-audio-seconds`` long."""
    try:
        file = await _read_file(request, studio.limits.max_upload_bytes)
        return await _keep_sound(studio, file)
    except UploadError as e:
        return error(e.status, e.message)


async def _keep_clip(studio: Studio, file: _File) -> ClipUpload:
    """Check the clip (its header and first frame) and keep it under a new id."""
    limits = studio.limits
    upload_id, checked = await _checked_copy(
        studio,
        file,
        lambda p: check_clip(p, file.name, limits.max_video_seconds, limits.max_pixels),
    )
    studio.store.add_upload(
        upload_id, file.name, checked.format, (checked.width, checked.height),
        len(file.content), kind=VIDEO, seconds=checked.seconds,
    )  # fmt: skip
    await run_in_threadpool(studio.prune)
    return ClipUpload(
        **_kept(upload_id, file, checked.format).model_dump(),
        kind=VIDEO,
        width=checked.width,
        height=checked.height,
        fps=checked.fps,
        frames=checked.frames,
        seconds=checked.seconds,
        has_audio=checked.has_audio,
    )


@router.post(
    "/api/video/uploads",
    status_code=201,
    response_model=ClipUpload,
    responses=refusals(413, 422),
)
async def upload_clip(request: Request, studio: StudioDep) -> ClipUpload | Response:
    """A clip (anything FFmpeg reads, by its bytes), at most ``--max-video-seconds`` long."""
    try:
        file = await _read_file(request, studio.limits.max_upload_bytes)
        return await _keep_clip(studio, file)
    except UploadError as e:
        return error(e.status, e.message)


def _find_upload(studio: Studio, upload_id: str) -> UploadRecord:
    rec = studio.store.get_upload(upload_id)
    if rec is None or not studio.store.upload_path(upload_id).is_file():
        raise HTTPException(404, f"no upload {upload_id!r}")
    return rec


@router.get(
    "/api/uploads/{upload_id}",
    response_class=Response,
    responses={**AS_SENT, **refusals(404, 422)},
)
async def uploaded(upload_id: str, studio: StudioDep) -> Response:
    """The upload as it was sent."""
    store = studio.store
    rec = _find_upload(studio, upload_id)
    return FileResponse(store.upload_path(upload_id), media_type=_media_type(rec))


def _media_type(rec: UploadRecord) -> str:
    by_kind = {AUDIO: AUDIO_MEDIA_TYPES, VIDEO: VIDEO_MEDIA_TYPES}
    types = by_kind.get(rec.kind, MEDIA_TYPES)
    return types.get(rec.format, "application/octet-stream")


@router.get(
    "/api/uploads/{upload_id}/view",
    response_class=Response,
    responses={**AS_SHOWN, **refusals(404, 422)},
)
async def view(upload_id: str, studio: StudioDep) -> Response:
    """The upload as the page can show it: as sent where browsers show its format, else a PNG
    rendition (TIFF)."""
    rec = _find_upload(studio, upload_id)
    path = studio.store.upload_path(upload_id)
    if rec.format in BROWSER_FORMATS or rec.kind in (AUDIO, VIDEO):  # played as sent
        return FileResponse(path, media_type=_media_type(rec))
    data = await run_in_threadpool(render_png, path)
    return Response(data, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

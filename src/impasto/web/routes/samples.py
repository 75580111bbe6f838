"""Settings and samples: ``GET /api/config``, ``GET /api/status``, ``GET /api/samples/{name}``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException

from impasto.web.form import form_fields
from impasto.web.inputs import ALLOWED_FORMATS, SAMPLE_ROLES, SAMPLES, sample_label
from impasto.web.routes.state import StudioDep, media, refusals
from impasto.web.routes.views import ConfigView, ImageLimits, Sample, StatusView

router = APIRouter()


@router.get("/api/config")
async def config(studio: StudioDep) -> ConfigView:
    limits = studio.limits
    return ConfigView(
        fields=form_fields(),
        limits=ImageLimits(
            max_upload_bytes=limits.max_upload_bytes,
            max_pixels=limits.max_pixels,
            max_size=limits.max_size,
            max_steps=limits.max_steps,
            queue_size=limits.queue_size,
            workers=limits.workers,
            formats=list(ALLOWED_FORMATS),
        ),
        samples=[
            Sample(
                name=name,
                label=sample_label(name),
                ref=f"sample:{name}",
                url=f"/api/samples/{name}",
                role=SAMPLE_ROLES.get(name, "any"),
            )
            for name in SAMPLES
        ],
    )


@router.get("/api/status")
async def status(studio: StudioDep) -> StatusView:
    limits = studio.limits
    counts = studio.manager.counts()
    return StatusView(
        queued=counts["queued"],
        running=counts["running"],
        workers=limits.workers,
        queue_size=limits.queue_size,
    )


@router.get(
    "/api/samples/{name}",
    response_class=Response,
    responses={**media("image/jpeg", "the sample"), **refusals(404, 422)},
)
async def sample(name: str) -> Response:
    path = SAMPLES.get(name)
    if path is None:
        raise HTTPException(404, f"no sample {name!r}; samples: {', '.join(SAMPLES)}")
    return FileResponse(path, media_type="image/jpeg")

"""Instant mode: ``GET /api/instant/config`` (ApplyConfig's form, the limits, the style
networks found) and ``POST /api/instant/jobs`` (a network's one pass over a photo).

An Instant-mode job lives in the same store and gallery as the others: it is listed, shown,
followed (server-sent events), cancelled (while it waits) and deleted by the same
``/api/jobs`` endpoints, and its result is ``GET /api/jobs/{id}/result.png``.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from impasto.jsontypes import JSONObject
from impasto.network.registry import user_dir
from impasto.network.stylizer import MIN_SIDE
from impasto.web.inputs import header_size
from impasto.web.instant import (
    NOT_IN_INSTANT,
    InstantTask,
    build_apply_config,
    check_backend,
    fit_photo,
    instant_form_fields,
    train_hint,
)
from impasto.web.jobs import Source
from impasto.web.routes.state import Studio, StudioDep, refusals
from impasto.web.routes.views import InstantConfigView, InstantLimits, JobView, model_view

router = APIRouter()


@router.get("/api/instant/config")
async def instant_config(studio: StudioDep) -> InstantConfigView:
    """Instant mode's form (ApplyConfig's fields but ``device``), its limits, and the style
    networks: bundled ones first, then the user's, each with its style's name (a file that is
    not an impasto network is listed, unusable, with the reason)."""
    models = await run_in_threadpool(studio.manager.models.found)
    return InstantConfigView(
        fields=instant_form_fields(),
        not_in_form=NOT_IN_INSTANT,
        limits=InstantLimits(min_size=MIN_SIDE, max_size=studio.limits.max_size),
        models=[model_view(m) for m in models],
        user_dir=str(user_dir()),
        empty_hint=f"No style networks yet: {train_hint()}.",
    )


class InstantJobRequest(BaseModel):
    """A style network's one pass over a photo; any other top-level field is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description='a model\'s ref from GET /api/instant/config: "bundled:FILE" or "user:FILE"'
    )
    photo: str = Field(description='"sample:NAME" or "upload:ID"')
    config: JSONObject = Field(default_factory=dict, description="ApplyConfig fields")


def _task(req: InstantJobRequest, studio: Studio, photo: Source) -> InstantTask:
    """The job's run from the request: every check that the settings, the model file and the
    photo's header allow, before anything runs (ConfigError naming what is wrong)."""
    limits = studio.limits
    cfg = build_apply_config(req.config, max_size=limits.max_size, device=limits.device)
    model = studio.manager.models.find(req.model)
    check_backend(model, cfg)
    width, height = header_size(photo.path)
    cfg = fit_photo(cfg, width, height, limits.max_size)
    return InstantTask(model, photo.path, photo.name, cfg)


@router.post("/api/instant/jobs", status_code=202, responses=refusals(422, 429))
async def create_instant_job(req: InstantJobRequest, studio: StudioDep) -> JobView:
    photo = studio.resolve(req.photo, "photo")
    task = await run_in_threadpool(_task, req, studio, photo)
    model = Source(f"model:{task.model.ref}", task.model.name, task.model.path)
    job = studio.manager.submit_instant(photo, model, task)
    return studio.present(job)

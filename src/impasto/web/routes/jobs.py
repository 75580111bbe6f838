"""Jobs: submit, list, show, cancel and delete (``/api/jobs``, ``/api/jobs/{id}``)."""

from __future__ import annotations

import shutil

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from impasto.config import StyleConfig
from impasto.errors import ConfigError
from impasto.jsontypes import JSONObject
from impasto.web.form import build_config
from impasto.web.routes.state import Studio, StudioDep, error, refusals
from impasto.web.routes.views import JobList, JobView
from impasto.web.store import ACTIVE

router = APIRouter()


class JobRequest(BaseModel):
    """A job as a client asks for it; any other top-level field is refused (422 naming it), as
    unknown settings in ``config`` are."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(description='"sample:NAME" or "upload:ID"')
    style: str = Field(description='"sample:NAME" or "upload:ID"')
    config: JSONObject = Field(default_factory=dict, description="StyleConfig fields")


def studio_config(
    studio: Studio, config: JSONObject, defaults: JSONObject | None = None
) -> StyleConfig:
    """A job's StyleConfig from the client's ``config`` within the studio's limits (fields left
    out: ``defaults``, else StyleConfig's); a bad one is a ConfigError led by the field it is
    about where its message does not name one (some of StyleConfig's name only the value): the
    first field that fails on its own."""
    limits = studio.limits
    try:
        return build_config(
            config,
            max_size=limits.max_size,
            max_steps=limits.max_steps,
            device=limits.device,
            defaults=defaults,
        )
    except ConfigError as e:
        message = str(e)
        if any(name in message for name in config):
            raise
        for name, value in config.items():
            try:
                build_config({name: value}, max_size=limits.max_size, max_steps=limits.max_steps)
            except ConfigError:
                raise ConfigError(f"{name}: {message}") from None
        raise


@router.post("/api/jobs", status_code=202, responses=refusals(422, 429))
async def create_job(req: JobRequest, studio: StudioDep) -> JobView:
    content = studio.resolve(req.content, "content")
    style = studio.resolve(req.style, "style")
    cfg = studio_config(studio, req.config)
    job = studio.manager.submit(content, style, cfg)
    return studio.present(job)


@router.get("/api/jobs", responses=refusals(422))
async def list_jobs(studio: StudioDep, limit: int = 100) -> JobList:
    limit = max(1, min(limit, 500))
    return JobList(jobs=[studio.present(j) for j in studio.manager.list_jobs(limit)])


@router.get("/api/jobs/{job_id}", responses=refusals(404, 422))
async def get_job(job_id: str, studio: StudioDep) -> JobView:
    return studio.present(studio.find_job(job_id))


@router.post("/api/jobs/{job_id}/cancel", responses=refusals(404, 422))
async def cancel_job(job_id: str, studio: StudioDep) -> JobView:
    studio.find_job(job_id)
    job = studio.manager.cancel(job_id)
    assert job is not None
    return studio.present(job)


@router.delete("/api/jobs/{job_id}", status_code=204, responses=refusals(404, 409, 422))
async def delete_job(job_id: str, studio: StudioDep) -> Response:
    job = studio.find_job(job_id)
    if job.status in ACTIVE:
        return error(409, f"job {job_id} is {job.status}; cancel it first")
    studio.store.delete_job(job_id)
    await run_in_threadpool(shutil.rmtree, studio.store.job_dir(job_id), True)
    return Response(status_code=204)

"""Video mode: ``GET /api/video/config``, ``GET /api/clips/{name}``, ``POST /api/video/jobs``
and a video job's result, ``GET /api/jobs/{id}/result.mp4``.

A video job lives in the same queue, store and gallery as the others: it is listed, shown,
followed (server-sent events; ``step`` of ``total_steps`` counts frames, ``frame_step`` of
``frame_steps`` the steps within the current frame), cancelled and deleted by the same
``/api/jobs`` endpoints. Clip uploads are ``POST /api/video/uploads`` (in uploads.py).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from impasto.errors import ConfigError
from impasto.jsontypes import JSONObject
from impasto.web.form import form_fields
from impasto.web.instant import check_backend
from impasto.web.jobs import Source
from impasto.web.routes.results import stem
from impasto.web.routes.state import Studio, StudioDep, media, refusals
from impasto.web.routes.views import Bundled, JobView, VideoConfigView, VideoLimits, model_view
from impasto.web.store import VIDEO
from impasto.web.video import (
    CLIPS,
    NOT_IN_VIDEO,
    NOT_IN_VIDEO_STYLE,
    RESULT,
    VideoTask,
    build_video_config,
    check_frames,
    clip_label,
    video_form_fields,
)

router = APIRouter()


@router.get("/api/video/config")
async def video_config(studio: StudioDep) -> VideoConfigView:
    """Video mode's form (VideoConfig's fields), the optimisation's form (StyleConfig's, sent
    as ``style_config``), the limits, the bundled clips and the style networks."""
    limits = studio.limits
    models = await run_in_threadpool(studio.manager.models.found)
    return VideoConfigView(
        fields=video_form_fields(),
        style_fields=[f for f in form_fields() if f["name"] not in NOT_IN_VIDEO_STYLE],
        not_in_form=NOT_IN_VIDEO,
        limits=VideoLimits(
            max_upload_bytes=limits.max_upload_bytes,
            max_seconds=limits.max_video_seconds,
            max_size=limits.max_video_size,
            max_steps=limits.max_steps,
        ),
        clips=[
            Bundled(name=n, label=clip_label(n), ref=f"clip:{n}", url=f"/api/clips/{n}")
            for n in CLIPS
        ],
        models=[model_view(m) for m in models],
    )


@router.get(
    "/api/clips/{name}",
    response_class=Response,
    responses={**media("video/mp4", "the bundled clip"), **refusals(404, 422)},
)
async def clip(name: str) -> Response:
    path = CLIPS.get(name)
    if path is None:
        raise HTTPException(404, f"no clip {name!r}; clips: {', '.join(CLIPS)}")
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "max-age=3600"})


class VideoJobRequest(BaseModel):
    """A clip stylised by optimisation (``style``, an image) or by a style network
    (``model``): exactly one of the two. Any other top-level field is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    clip: str = Field(description='"clip:NAME" or "upload:ID" (a clip upload)')
    style: str | None = Field(
        default=None, description='optimisation: the style image, "sample:NAME" or "upload:ID"'
    )
    model: str | None = Field(
        default=None, description="network: a model's ref from GET /api/video/config"
    )
    config: JSONObject = Field(
        default_factory=dict, description="VideoConfig fields, and style_config: StyleConfig's"
    )


def _task(req: VideoJobRequest, studio: Studio, clip: Source, style: Source | None) -> VideoTask:
    """The job's run from the request: every check the settings, the clip's header and the
    model file allow, before anything runs (ConfigError naming what is wrong)."""
    from impasto.network.apply import ApplyConfig
    from impasto.video.run import check_optimisation

    limits = studio.limits
    cfg = build_video_config(
        req.config,
        max_video_size=limits.max_video_size,
        max_steps=limits.max_steps,
        device=limits.device,
    )
    model = None
    if req.model is None:
        check_optimisation(cfg)  # a strength: only with a model
    else:
        model = studio.manager.models.find(req.model)
        check_backend(model, ApplyConfig(device=limits.device))
    frames = check_frames(clip.path, clip.name, cfg, limits.max_video_seconds)
    return VideoTask(clip.path, None if style is None else style.path, model, cfg, len(frames))


@router.post("/api/video/jobs", status_code=202, responses=refusals(422, 429))
async def create_video_job(req: VideoJobRequest, studio: StudioDep) -> JobView:
    if (req.style is None) == (req.model is None):
        raise ConfigError("give a style image (style, optimisation) or a model (network), not both")
    clip = studio.resolve(req.clip, "clip", VIDEO)
    style = None if req.style is None else studio.resolve(req.style, "style")
    task = await run_in_threadpool(_task, req, studio, clip, style)
    if task.model is not None:
        style = Source(f"model:{task.model.ref}", task.model.name, task.model.path)
    assert style is not None
    job = studio.manager.submit_video(clip, style, task)
    return studio.present(job)


@router.get(
    f"/api/jobs/{{job_id}}/{RESULT}",
    response_class=Response,
    responses={**media("video/mp4", "the stylised clip (H.264)"), **refusals(404, 422)},
)
async def result_video(job_id: str, studio: StudioDep) -> Response:
    job = studio.find_job(job_id)
    path = studio.store.job_dir(job_id) / RESULT
    if job.kind != VIDEO or not job.has_result or not path.is_file():
        raise HTTPException(404, f"job {job_id} has no {RESULT} ({job.status})")
    name = "-".join(stem(job, k) for k in ("content", "style"))
    return FileResponse(path, media_type="video/mp4", filename=f"impasto-{name}-{job_id[:8]}.mp4")

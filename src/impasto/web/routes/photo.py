"""Photo mode: ``GET /api/photo/config`` (StyleConfig's form with photo mode's defaults) and
``POST /api/photo/jobs`` (a photo given a reference photo's look, Luan et al. 2017, with the
two region maps or none).

A Photo-mode job lives in the same queue, store and gallery as an image job: it is listed,
shown, followed (server-sent events), cancelled and deleted by the same ``/api/jobs``
endpoints, its result is ``GET /api/jobs/{id}/result.png`` (and Enlarge's
``enlarged.png``), and its worker calls :func:`impasto.api.photo`, as ``impasto photo`` does.
Its inputs and region maps are uploaded as any image (``POST /api/uploads``).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from impasto.config import StyleConfig
from impasto.errors import ConfigError, InvalidImageError
from impasto.jsontypes import JSONObject
from impasto.web.form import photo_defaults, photo_form_fields
from impasto.web.jobs import Source
from impasto.web.routes.jobs import studio_config
from impasto.web.routes.state import Studio, StudioDep, refusals
from impasto.web.routes.views import JobView, PhotoConfigView

router = APIRouter()


@router.get("/api/photo/config")
async def photo_config(studio: StudioDep) -> PhotoConfigView:
    """Photo mode's form: StyleConfig's fields with ``impasto photo``'s defaults."""
    return PhotoConfigView(fields=photo_form_fields())


class PhotoJobRequest(BaseModel):
    """A photo-to-photo transfer; any other top-level field is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    photo: str = Field(description='the photo to change: "sample:NAME" or "upload:ID"')
    reference: str = Field(description="the photo whose look it takes, as photo")
    content_mask: str | None = Field(
        default=None, description="the photo's region map (an image upload), or none"
    )
    style_mask: str | None = Field(
        default=None, description="the reference's region map, with the same colours, or none"
    )
    config: JSONObject = Field(
        default_factory=dict, description="StyleConfig fields; left out: photo mode's defaults"
    )


def _checked(studio: Studio, req: PhotoJobRequest, inputs: list[Source | None]) -> StyleConfig:
    """The job's settings, after every check :func:`impasto.api.photo` makes before its work
    (the settings, both region maps or neither, each map's aspect ratio, each colour of the
    photo's map in the reference's), made by the api's own :func:`impasto.api.check_photo`: a
    bad job is refused (422) when it is submitted, not failed in the worker. ``inputs``: the
    photo, the reference and the two maps (None: not given). Messages name the inputs as the
    page does."""
    from impasto.api import check_photo

    cfg = studio_config(studio, req.config, defaults=photo_defaults())
    photo, reference, cmask, smask = (None if s is None else s.path for s in inputs)
    assert photo is not None and reference is not None
    try:
        return check_photo(photo, reference, cfg, content_mask=cmask, style_mask=smask)
    except (ConfigError, InvalidImageError) as e:
        message = str(e)
        for src in inputs:  # the server's file names are no one's business
            if src is not None:
                message = message.replace(str(src.path), src.name)
        raise ConfigError(message) from None


@router.post("/api/photo/jobs", status_code=202, responses=refusals(422, 429))
async def create_photo_job(req: PhotoJobRequest, studio: StudioDep) -> JobView:
    photo = studio.resolve(req.photo, "photo")
    reference = studio.resolve(req.reference, "reference")
    cmask = None if req.content_mask is None else studio.resolve(req.content_mask, "content_mask")
    smask = None if req.style_mask is None else studio.resolve(req.style_mask, "style_mask")
    cfg = await run_in_threadpool(_checked, studio, req, [photo, reference, cmask, smask])
    masks = None if cmask is None or smask is None else (cmask, smask)
    job = studio.manager.submit_photo(photo, reference, cfg, masks)
    return studio.present(job)

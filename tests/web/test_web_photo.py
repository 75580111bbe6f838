"""Photo mode of the studio (issue 25): a photo given a reference photo's look (Luan et al. 2017)
through the api's photo(), with its two region maps optional; bad maps refused with a 422 when
the job is submitted (the api's own checks), the form StyleConfig's with photo mode's
defaults. Runs are 32-48 px, a few steps of the tiny net."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import png_bytes, read_events, upload, wait_for

from impasto.api import PHOTO_DEFAULTS, photo_config
from impasto.io.images import read_metadata
from impasto.web.form import form_fields

TINY = {"size": 32, "steps": 4, "scales": 1, "tol": 0}
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def picture(seed: int, h: int = 32, w: int = 48) -> bytes:
    rng = np.random.default_rng(seed)
    return png_bytes(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def region_map(left: tuple[int, int, int], right: tuple[int, int, int], h: int = 32, w: int = 48):
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = left
    img[:, w // 2 :] = right
    return png_bytes(img)


def ref(client: TestClient, data: bytes, name: str) -> str:
    r = upload(client, data, name)
    assert r.status_code == 201, r.text
    value: str = r.json()["ref"]
    return value


def submit(client: TestClient, **body: Any) -> Any:
    body.setdefault("config", TINY)
    return client.post("/api/photo/jobs", json=body)


@pytest.fixture
def pair(client: TestClient) -> dict[str, str]:
    return {
        "photo": ref(client, picture(1), "photo.png"),
        "reference": ref(client, picture(2), "reference.png"),
    }


def test_the_photo_form_is_style_configs_with_photo_modes_defaults(client: TestClient) -> None:
    fields = {f["name"]: f for f in client.get("/api/photo/config").json()["fields"]}
    assert set(fields) == {f["name"] for f in form_fields()}
    expected = photo_config().to_dict()
    for name in PHOTO_DEFAULTS:
        assert fields[name]["default"] == expected[name], name
        assert fields[name]["main"], name
    assert fields["photo_weight"]["default"] > 0
    assert fields["photo_weight"]["help"].endswith("(default 1e+12)")  # as `impasto photo -h`
    assert fields["scales"]["help"].endswith("(default 3)")
    assert fields["photo_epsilon"]["default"] == 1e-7  # the Laplacian's regulariser, beside it
    assert fields["photo_epsilon"]["help"].endswith("(default 1e-07)")


@pytest.mark.precision
def test_a_photo_job_with_region_maps_runs_photo_and_keeps_its_result(
    client: TestClient, pair: dict[str, str], data_dir: Path
) -> None:
    maps = {
        "content_mask": ref(client, region_map(RED, BLUE), "photo-map.png"),
        # Another resolution, the same aspect ratio; an extra colour the photo's map lacks.
        "style_mask": ref(client, region_map(BLUE, RED, 64, 96), "reference-map.png"),
    }
    r = submit(client, **pair, **maps)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "photo" and job["total_steps"] == 4
    assert job["content_mask"] == maps["content_mask"]
    assert job["style_mask_name"] == "reference-map.png"
    assert job["config"]["photo_weight"] == PHOTO_DEFAULTS["photo_weight"]  # not given: photo's
    events = read_events(client, job["id"])
    assert events[-1]["status"] == "done", events[-1]
    # Every step ran and progress only went forward (a running event may be missed when the
    # stream opens after a fast job ends, so none is required).
    steps = [e["step"] for e in events]
    assert steps == sorted(steps) and events[-1]["step"] == job["total_steps"]
    done = events[-1]
    assert "photo" in done["losses"]  # the photorealism term was in the objective
    assert done["content_mask_view_url"] and done["style_mask_view_url"]
    # In the gallery, its result a PNG with the settings, enlargeable as any picture.
    listed = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
    assert listed[job["id"]]["kind"] == "photo"
    result = data_dir / "jobs" / job["id"] / "result.png"
    assert client.get(done["result_url"]).content == result.read_bytes()
    big = client.get(f"/api/jobs/{job['id']}/enlarged.png", params={"scale": 4})  # Enlarge 4x
    assert big.status_code == 200, big.text
    with Image.open(result) as small, Image.open(io.BytesIO(big.content)) as large:
        assert large.size == (4 * small.width, 4 * small.height)
    meta = json.loads(read_metadata(result)["impasto"])
    assert meta["content"] == "photo.png" and meta["style"] == "reference.png", meta
    assert meta["config"]["photo_weight"] == PHOTO_DEFAULTS["photo_weight"], meta


@pytest.mark.precision
def test_a_photo_job_without_maps_runs_to_done(client: TestClient, pair: dict[str, str]) -> None:
    r = submit(client, **pair, config={**TINY, "photo_weight": 1e4})
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json()["id"], lambda j: j["status"] in ("done", "failed"))
    assert job["status"] == "done", job
    assert job["config"]["photo_weight"] == 1e4 and job["content_mask"] == ""


@pytest.mark.parametrize(
    ("maps", "message"),
    [
        ({"content_mask": region_map(RED, BLUE)}, "give both region maps"),
        ({"style_mask": region_map(RED, BLUE)}, "give both region maps"),
        (
            {"content_mask": region_map(RED, BLUE, 32, 32), "style_mask": region_map(RED, BLUE)},
            "content mask is 32x32 but its image is 48x32",
        ),
        (
            {"content_mask": region_map(RED, BLUE), "style_mask": region_map(RED, GREEN)},
            "missing style for mask colour #0000ff",
        ),
    ],
)
def test_bad_region_maps_are_refused_when_submitted(
    client: TestClient, pair: dict[str, str], maps: dict[str, bytes], message: str
) -> None:
    refs = {k: ref(client, v, f"{k}.png") for k, v in maps.items()}
    r = submit(client, **pair, **refs)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert message in error and "\n" not in error
    assert ".img" not in error  # the server's file names stay its own
    assert client.get("/api/jobs").json()["jobs"] == []  # nothing queued, nothing ran


def test_a_reference_maps_size_is_named_by_its_upload(
    client: TestClient, pair: dict[str, str]
) -> None:
    refs = {
        "content_mask": ref(client, region_map(RED, BLUE), "a.png"),
        "style_mask": ref(client, region_map(RED, BLUE, 48, 32), "b.png"),
    }
    r = submit(client, **pair, **refs)
    assert r.status_code == 422
    assert r.json()["error"].startswith("style mask of reference.png is 32x48"), r.text


def test_a_non_image_is_refused(client: TestClient, pair: dict[str, str]) -> None:
    r = upload(client, b"not an image at all", "map.png")
    assert r.status_code == 415
    assert "not an image" in r.json()["error"]
    r = submit(client, **pair, content_mask="sample:nope", style_mask=pair["photo"])
    assert r.status_code == 422 and "unknown sample 'nope' for content_mask" in r.json()["error"]


def test_a_bad_setting_is_a_422_naming_it(client: TestClient, pair: dict[str, str]) -> None:
    r = submit(client, **pair, config={**TINY, "photo_weight": -1})
    assert r.status_code == 422 and "photo_weight" in r.json()["error"], r.text
    for bad in (0, -1e-7, "x"):
        r = submit(client, **pair, config={**TINY, "photo_epsilon": bad})
        error = r.json()["error"]
        assert r.status_code == 422 and "photo_epsilon" in error and repr(bad) in error, r.text
    r = submit(client, **pair, config={**TINY, "size": 10_000})
    assert r.status_code == 422 and "size must be at most" in r.json()["error"], r.text

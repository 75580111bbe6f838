"""The studio's Enlarge button: a finished picture's result through the bundled upscaler,
2x or 4x, kept once made; other scales and jobs without a picture are refused."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import finished, start_job, wait_for


@pytest.mark.precision
def test_a_result_is_enlarged_and_kept(client: TestClient) -> None:
    job = start_job(client, "sample:tubingen", "sample:starry_night", size=32, steps=2, tol=0)
    done = wait_for(client, job["id"], finished)
    assert done["status"] == "done", done
    url = f"/api/jobs/{job['id']}/enlarged.png"
    r = client.get(url, params={"scale": 2})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"].endswith('-x2.png"')
    small = Image.open(io.BytesIO(client.get(done["result_url"]).content))
    big = Image.open(io.BytesIO(r.content))
    assert big.size == (small.width * 2, small.height * 2)
    assert client.get(url, params={"scale": 2}).content == r.content  # kept, not made again
    refused = client.get(url, params={"scale": 3})
    assert refused.status_code == 422 and "scale must be 2 or 4" in refused.text
    assert client.get("/api/jobs/nope/enlarged.png").status_code in (404, 422)

"""The studio's refusals and rough edges of issue 12: unknown fields, body sizes, the Host
refusal, the favicon and the API's schema, uploads the browser cannot show."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

PAIR = {"content": "sample:tubingen", "style": "sample:starry_night"}


def noise(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


# -- a: unknown top-level fields ------------------------------------------------------------------
def test_unknown_top_level_fields_are_refused_by_name(client: TestClient) -> None:
    r = client.post("/api/jobs", json={**PAIR, "bogus": 1, "colour": "red", "config": {}})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["status"] == 422
    assert "bogus" in body["error"] and "colour" in body["error"]
    assert client.get("/api/jobs").json()["jobs"] == []

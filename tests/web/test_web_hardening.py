"""The studio's refusals and rough edges of issue 12: unknown fields, body sizes, the Host
refusal, the favicon and the API's schema, uploads the browser cannot show."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import png_bytes, upload

from impasto.web.app import LOOPBACK_HOSTS, MAX_BODY_BYTES

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


def test_settings_the_run_would_refuse_are_refused_at_submission(client: TestClient) -> None:
    """Every check the settings alone allow is made when the job is submitted (422 naming
    the field), not when it runs: a step list for another number of scales, a seed torch
    cannot take, a weight that overflows float32."""
    bad = [
        ({"size": 256, "scales": 2, "min_size": 128, "steps": [3, 2, 1]}, "steps"),
        ({"size": 256, "scales": 2, "steps": 10, "final_steps": 10}, "final_steps"),
        ({"seed": 2**63}, "seed"),
        ({"style_weight": 1e308}, "style_weight"),
    ]
    for config, field in bad:
        r = client.post("/api/jobs", json={**PAIR, "config": config})
        assert r.status_code == 422, (config, r.text)
        assert field in r.json()["error"], r.text
    assert client.get("/api/jobs").json()["jobs"] == []


# -- b: request bodies that are not uploads are capped --------------------------------------------
def run_asgi(
    app: FastAPI, path: str, chunks: Iterator[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, int, bytes]:
    """POST ``chunks`` to ``app`` at ASGI level; returns the status, how many chunks the app
    read, and the response body."""
    read = 0
    out: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal read
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return out["status"], read, out["body"]


MB = 2**20


def sixty_mb() -> Iterator[bytes]:
    yield b'{"content": "sample:tubingen", "style": "sample:starry_night", "x": "'
    for _ in range(60 * 16):
        yield b"a" * (64 * 1024)


@pytest.mark.parametrize("declared", [True, False])
def test_a_large_json_body_is_413_without_being_read(make_app, declared: bool) -> None:
    headers = [(b"content-type", b"application/json")]
    if declared:
        headers.append((b"content-length", str(60 * MB + 70).encode()))
    status, read, body = run_asgi(make_app(), "/api/jobs", sixty_mb(), headers)
    assert status == 413, body
    assert b'"status":413' in body and b"limit" in body
    # Refused at the header, or at most one 64 KB chunk past the cap.
    assert read == 0 if declared else read <= 2


@pytest.mark.precision
def test_body_cap_spares_normal_requests_and_uploads(client: TestClient) -> None:
    big = client.post("/api/jobs", content=b" " * (MAX_BODY_BYTES + 1) + b"{}")
    assert big.status_code == 413 and big.json()["status"] == 413
    data = png_bytes(noise(200, 200))
    assert len(data) > 4 * MAX_BODY_BYTES
    assert upload(client, data).status_code == 201
    r = client.post("/api/jobs", json={**PAIR, "config": {"size": 32, "steps": 1}})
    assert r.status_code == 202


# -- c: Host refusal as JSON; empty uploads -------------------------------------------------------
def test_host_refusal_is_json(make_app) -> None:
    with TestClient(make_app(allowed_hosts=LOOPBACK_HOSTS)) as client:
        r = client.get("/api/status")  # Host: testserver
        assert r.status_code == 400
        assert r.json() == {"error": "host 'testserver' is not served here", "status": 400}
    for base in ("http://127.0.0.1:8000", "http://localhost", "http://[::1]:8000"):
        with TestClient(make_app(allowed_hosts=LOOPBACK_HOSTS), base_url=base) as client:
            assert client.get("/api/status").status_code == 200, base


def test_an_empty_upload_is_422_like_any_unreadable_image(client: TestClient) -> None:
    r = upload(client, b"", name="empty.png")
    assert r.status_code == 422
    assert r.json() == {"error": "empty.png is empty", "status": 422}


# -- d: favicon and the API's schema --------------------------------------------------------------
def test_favicon_is_served(client: TestClient) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in r.content
    assert '<link rel="icon"' in client.get("/").text


def test_openapi_schema_is_served_and_docs_are_off(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/jobs", "/api/uploads", "/api/jobs/{job_id}", "/api/config"} <= set(paths)
    assert "/api/{rest}" not in paths and "/" not in paths
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


# -- e: every accepted upload shows in the page ---------------------------------------------------
@pytest.mark.precision
@pytest.mark.parametrize("fmt", ["TIFF", "PNG", "BMP"])
def test_every_upload_has_a_view_the_browser_can_show(client: TestClient, fmt: str) -> None:
    buf = io.BytesIO()
    Image.fromarray(noise(30, 50)).save(buf, format=fmt)
    up = upload(client, buf.getvalue(), name=f"x.{fmt.lower()}").json()
    assert up["format"] == fmt
    r = client.get(up["view_url"])
    assert r.status_code == 200
    assert r.headers["content-type"] in ("image/png", "image/jpeg", "image/bmp")
    shown = Image.open(io.BytesIO(r.content))
    assert shown.format in ("PNG", "JPEG", "BMP") and shown.size == (50, 30)
    job = client.post("/api/jobs", json={"content": up["ref"], "style": PAIR["style"]}).json()
    assert job["content_view_url"] == up["view_url"]
    assert job["style_view_url"] == "/api/samples/starry_night"
    assert client.get(f"/api/uploads/{'0' * 32}/view").status_code == 404


@pytest.mark.precision
def test_a_diverged_run_ends_failed_with_the_weight_to_lower(make_app, tiny_weights) -> None:
    """A job whose loss overflows is never shown as done: it fails, names the weight, and
    keeps no result (issue 12: style_weight 1e308 used to end 'done' and all black)."""
    from web_helpers import finished, start_job, wait_for

    from impasto.features.weights import VGGWeights

    # Every conv 60x stronger: Gram matrices reach ~1e13, so an allowed weight overflows.
    loud = VGGWeights(
        {k: (w * 60, b * 60) for k, (w, b) in tiny_weights.convs.items()},
        tiny_weights.normalization,
        "loud",
    )
    with TestClient(make_app(weights=loud)) as client:
        job = start_job(client, *PAIR.values(), size=32, steps=2, style_weight=1e30, init="noise")
        done = wait_for(client, job["id"], finished)
        assert done["status"] == "failed", done
        assert "style_weight" in done["error"] and "\n" not in done["error"]
        assert client.get(f"/api/jobs/{job['id']}/result.png").status_code == 404


def test_jobs_run_on_the_servers_device_and_clients_cannot_choose_it(make_app) -> None:
    """Issue 18: the studio computes on `impasto serve --device`; a job naming a device is
    refused (422 naming the field), image and audio alike."""
    with TestClient(make_app(workers=0, device="cpu")) as client:
        r = client.post("/api/jobs", json={**PAIR, "config": {"device": "cuda"}})
        assert r.status_code == 422 and "device" in r.json()["error"], r.text
        r = client.post(
            "/api/audio/jobs", json={"style": "sound:rain", "config": {"device": "cpu"}}
        )
        assert r.status_code == 422 and "device" in r.json()["error"], r.text
        r = client.post("/api/jobs", json={**PAIR, "config": {"size": 32}})
        assert r.status_code == 202, r.text
        assert r.json()["config"]["device"] == "cpu"
        names = [f["name"] for f in client.get("/api/config").json()["fields"]]
        assert "device" not in names


def test_serve_refuses_a_device_the_machine_lacks(run_cli, monkeypatch, tmp_path) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run_cli(["serve", "--device", "cuda", "--data-dir", tmp_path])
    assert code == 2
    want = "impasto: error: --device cuda: this machine has no CUDA GPU; use cpu or auto"
    assert err.strip() == want

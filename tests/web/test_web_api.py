"""The studio's HTTP API with the framework's test client, on the tiny random net."""

from __future__ import annotations

import dataclasses
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import TINY, finished, png_bytes, read_events, start_job, upload, wait_for

from impasto.config import Init, StyleConfig
from impasto.io.images import read_metadata
from impasto.web.app import LOOPBACK_HOSTS
from impasto.web.form import NOT_IN_STUDIO
from impasto.web.inputs import SAMPLES
from impasto.web.store import Store

SAMPLE_PAIR = ("sample:tubingen", "sample:starry_night")
PAIR = {"content": SAMPLE_PAIR[0], "style": SAMPLE_PAIR[1]}


def gradient(h: int = 40, w: int = 40) -> np.ndarray:
    y = np.linspace(0, 255, h)[:, None] * np.ones((1, w))
    x = np.linspace(0, 255, w)[None, :] * np.ones((h, 1))
    return np.stack([x, y, 255 - x], axis=-1).astype(np.uint8)


def stripes(h: int = 48, w: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros((h, w, 3), np.uint8)
    out[..., 0] = np.where(((xx + yy) // 4) % 2 == 1, 230, 30)
    out[..., 2] = np.where((xx // 8) % 2 == 1, 200, 40)
    return out


def crafted_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with valid CRCs and almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


# -- page, config, samples -----------------------------------------------------------------------
def test_page_and_static_files(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert "impasto" in r.text and "/static/app.js" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_config_describes_every_styleconfig_field(client: TestClient) -> None:
    body = client.get("/api/config").json()
    fields = {f["name"]: f for f in body["fields"]}
    names = [f.name for f in dataclasses.fields(StyleConfig) if f.name not in NOT_IN_STUDIO]
    assert list(fields) == names
    defaults = StyleConfig().to_dict()
    for name, f in fields.items():
        assert f["default"] == defaults[name], name
    assert fields["optimizer"]["kind"] == "choice"
    assert set(fields["optimizer"]["choices"]) == {"lbfgs", "adam"}
    # init offers the keywords only: a client never names a path.
    assert fields["init"]["choices"] == [m.value for m in Init]
    assert fields["lr"]["nullable"] is True
    main = {f["name"] for f in body["fields"] if f["main"]}
    assert {"size", "style_weight", "steps", "seed"} <= main
    assert fields["style_layers"]["presets"]["upto2"] == ["relu1_1", "relu2_1"]
    assert {s["name"] for s in body["samples"]} == set(SAMPLES)
    assert body["limits"]["max_pixels"] > 0


def test_samples_are_served_by_name_only(client: TestClient) -> None:
    r = client.get("/api/samples/tubingen")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    for bad in ("nope", "..%2F..%2Fpyproject.toml", "tubingen.jpg", "%2Fetc%2Fpasswd"):
        r = client.get(f"/api/samples/{bad}")
        assert r.status_code == 404, bad
        assert "error" in r.json()


# -- uploads -------------------------------------------------------------------------------------
def test_upload_is_typed_by_content_and_stored_under_a_server_id(
    client: TestClient, data_dir: Path
) -> None:
    data = png_bytes(gradient())
    r = upload(client, data, name="../../evil.txt")  # a PNG with a lying name
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["format"] == "PNG" and (up["width"], up["height"]) == (40, 40)
    assert up["name"] == "evil.txt" and up["ref"] == f"upload:{up['id']}"
    assert client.get(up["url"]).content == data
    files = [p.name for p in (data_dir / "uploads").iterdir()]
    assert files == [f"{up['id']}.img"]


@pytest.mark.parametrize(
    ("what", "status"),
    [
        ("text", 415),
        ("truncated_jpeg", 422),
        ("truncated_png", 422),
        ("empty", 422),
        ("bomb", 413),
        ("no_file_field", 422),
    ],
)
def test_bad_uploads_are_refused_with_a_json_error(
    client: TestClient, data_dir: Path, what: str, status: int
) -> None:
    jpeg = jpeg_bytes(gradient(64, 64))
    png = png_bytes(stripes(64, 64))
    payloads = {
        "text": b"this is not an image\n" * 10,
        "truncated_jpeg": jpeg[: len(jpeg) // 2],
        "truncated_png": png[: len(png) // 2],
        "empty": b"",
        "bomb": crafted_png(100_000, 100_000),
    }
    if what == "no_file_field":
        r = client.post("/api/uploads", data={"other": "x"})
    else:
        r = upload(client, payloads[what], name=f"{what}.png")
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["error"]
    assert str(data_dir) not in body["error"]  # server paths never leak
    assert list((data_dir / "uploads").iterdir()) == []


def test_upload_limits(make_app, data_dir: Path) -> None:
    with TestClient(make_app(max_upload_bytes=2000, max_pixels=1000)) as client:
        big = upload(client, np.random.default_rng(0).bytes(5000), name="big.png")
        assert big.status_code == 413 and "limit" in big.json()["error"]
        many = upload(client, png_bytes(gradient(40, 40)), name="wide.png")  # 1600 px
        assert many.status_code == 413
        assert "1,600 pixels" in many.json()["error"]
        ok = upload(client, png_bytes(gradient(20, 20)))
        assert ok.status_code == 201
    assert [p.suffix for p in (data_dir / "uploads").iterdir()] == [".img"]


# -- jobs ----------------------------------------------------------------------------------------
@pytest.mark.precision
def test_job_streams_progress_and_gives_a_png_with_its_settings(client: TestClient) -> None:
    job = start_job(client, *SAMPLE_PAIR, size=40, steps=6, tol=0, seed=3)
    assert job["status"] in ("queued", "running")
    assert job["content_url"] == "/api/samples/tubingen"
    events = read_events(client, job["id"])
    assert events, "no events"
    assert events[-1]["status"] == "done"
    steps = [e["step"] for e in events]
    assert steps == sorted(steps)
    assert events[-1]["step"] == 6
    running = [e for e in events if e["status"] == "running" and e["step"] > 0]
    for e in running:
        assert e["total_steps"] == 6
        assert set(e["losses"]) >= {"total", "content", "style", "tv"}
        assert e["eta"] is not None and e["eta"] >= 0
        assert e["scales"] == 1 and max(e["size"]) == 40
    done = events[-1]
    assert done["seconds"] > 0 and done["error"] is None

    preview = client.get(done["preview_url"])
    assert preview.status_code == 200 and preview.content[:2] == b"\xff\xd8"
    r = client.get(done["result_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "impasto-tubingen-starry_night" in r.headers["content-disposition"]
    img = Image.open(io.BytesIO(r.content))
    assert max(img.size) == 40
    info = json.loads(img.text["impasto"])  # type: ignore[attr-defined]
    assert info["config"]["size"] == 40 and info["config"]["seed"] == 3
    assert info["content"] == "Tübingen" and info["style"] == "Starry Night"


@pytest.mark.precision
def test_job_from_uploads(client: TestClient, data_dir: Path) -> None:
    content = upload(client, png_bytes(gradient()), name="photo.png").json()
    style = upload(client, jpeg_bytes(stripes()), name="painting.jpg").json()
    job = start_job(client, content["ref"], style["ref"], **TINY)
    done = wait_for(client, job["id"], finished)
    assert done["status"] == "done", done
    assert done["content_name"] == "photo.png" and done["content_url"] == content["url"]
    meta = read_metadata(data_dir / "jobs" / job["id"] / "result.png")
    assert json.loads(meta["impasto"])["content"] == "photo.png"


@pytest.mark.precision
def test_unused_uploads_are_deleted_after_keep_uploads(make_app, data_dir: Path) -> None:
    """Uploads no job uses go after ``keep_uploads`` seconds (at start and at each new
    upload); one a job uses stays, and so does a fresh one."""
    with TestClient(make_app(keep_uploads=3600.0)) as c:
        used = upload(c, png_bytes(gradient()), name="used.png").json()
        unused = upload(c, png_bytes(gradient()), name="unused.png").json()
        job = start_job(c, used["ref"], SAMPLE_PAIR[1], **TINY)
        assert wait_for(c, job["id"], finished)["status"] == "done"
        store = c.app.state.store  # type: ignore[attr-defined]
        with store._tx() as db:  # both uploads are two hours old now
            db.execute("UPDATE uploads SET created = created - 7200")
        fresh = upload(c, png_bytes(gradient()), name="fresh.png").json()
        assert c.get(unused["url"]).status_code == 404
        assert not store.upload_path(unused["id"]).exists()
        for kept in (used, fresh):
            assert c.get(kept["url"]).status_code == 200
        # The job still runs again from its upload.
        again = start_job(c, used["ref"], SAMPLE_PAIR[1], **TINY)
        assert wait_for(c, again["id"], finished)["status"] == "done"
    # At the next start, an unused upload past its time goes too (here: the fresh one).
    store = Store(data_dir)
    with store._tx() as db:
        db.execute("UPDATE uploads SET created = created - 7200")
    store.close()
    with TestClient(make_app(keep_uploads=3600.0)) as c:
        assert c.get(fresh["url"]).status_code == 404
        assert c.get(used["url"]).status_code == 200


@pytest.mark.precision
def test_cancel_stops_a_running_job_at_a_step(make_app) -> None:
    """A cancel takes effect at the end of the step that is running: the job ends cancelled at
    a step at or after the one seen before the cancel, without a result, and the worker takes
    the next job. The job is far too long to end by itself, so the cancel is what ended it
    (the waits have generous limits only against a hang, not to time anything)."""
    steps = 1_000_000
    with TestClient(make_app(max_steps=steps)) as client:
        job = start_job(client, *SAMPLE_PAIR, size=32, steps=steps, tol=0)
        seen = wait_for(client, job["id"], lambda j: j["status"] == "running" and j["step"] >= 2)
        r = client.post(f"/api/jobs/{job['id']}/cancel")
        assert r.status_code == 200
        done = wait_for(client, job["id"], finished)
        assert done["status"] == "cancelled", done
        assert seen["step"] <= done["step"] < steps
        assert done["error"] == f"cancelled at step {done['step']}"
        assert done["result_url"] is None
        assert client.get(f"/api/jobs/{job['id']}/result.png").status_code == 404
        # The job's event stream ends on the same state, at the same step.
        last = read_events(client, job["id"])[-1]
        assert (last["status"], last["step"]) == ("cancelled", done["step"])
        assert client.get(f"/api/jobs/{job['id']}").json()["step"] == done["step"]  # stopped
        # The worker is free again.
        after = start_job(client, *SAMPLE_PAIR, **TINY)
        assert wait_for(client, after["id"], finished)["status"] == "done"


def test_cancel_a_waiting_job_and_queue_full(make_app) -> None:
    with TestClient(make_app(workers=0, queue_size=2)) as client:
        a = start_job(client, *SAMPLE_PAIR, **TINY)
        b = start_job(client, *SAMPLE_PAIR, **TINY)
        assert (a["position"], b["position"]) == (0, 1)
        r = client.post("/api/jobs", json={"content": SAMPLE_PAIR[0], "style": SAMPLE_PAIR[1]})
        assert r.status_code == 429
        assert "queue is full" in r.json()["error"] and r.headers["retry-after"]
        cancelled = client.post(f"/api/jobs/{a['id']}/cancel").json()
        assert cancelled["status"] == "cancelled"
        assert client.get(f"/api/jobs/{b['id']}").json()["position"] == 0
        assert client.get("/api/status").json()["queued"] == 1
        start_job(client, *SAMPLE_PAIR, **TINY)  # room again
        r = client.delete(f"/api/jobs/{b['id']}")
        assert r.status_code == 409


def test_unknown_job_is_404(client: TestClient) -> None:
    for job_id in ("0" * 32, "nope", "..%2F..%2Fstudio.sqlite3"):
        for path in ("", "/events", "/preview.jpg", "/result.png"):
            r = client.get(f"/api/jobs/{job_id}{path}")
            assert r.status_code == 404, (job_id, path)
            assert "error" in r.json()
        assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 404
        assert client.delete(f"/api/jobs/{job_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"content": "sample:nope", "style": "sample:starry_night"}, "unknown sample"),
        ({"content": "/etc/passwd", "style": "sample:starry_night"}, "'sample:NAME'"),
        ({"content": "upload:" + "0" * 32, "style": "sample:starry_night"}, "no upload"),
        ({"content": "upload:../../x", "style": "sample:starry_night"}, "no upload"),
        ({"style": "sample:starry_night"}, "content"),
        ({**PAIR, "config": {"size": 5}}, "size"),
        ({**PAIR, "config": {"size": 9000}}, "at most"),
        ({**PAIR, "config": {"steps": 10**6}}, "at most"),
        (
            {**PAIR, "config": {"optimizer": "sgd"}},
            "lbfgs",
        ),
        (
            {**PAIR, "config": {"init": "/etc/passwd"}},
            "init",
        ),
        ({**PAIR, "config": {"bogus": 1}}, "bogus"),
        ({**PAIR, "config": {"preserve_color": ""}}, "preserve_color"),  # found by hypothesis
        (
            {**PAIR, "config": {"style_layers": 3}},
            "style_layers",
        ),
    ],
)
def test_bad_job_requests_are_422_with_a_message(
    client: TestClient, body: dict[str, object], needle: str
) -> None:
    r = client.post("/api/jobs", json=body)
    assert r.status_code == 422, r.text
    assert needle in r.json()["error"]
    assert client.get("/api/jobs").json()["jobs"] == []


def test_engine_error_fails_the_job_with_its_message(client: TestClient) -> None:
    thin = upload(client, png_bytes(gradient(4, 64)), name="thin.png").json()
    job = start_job(client, thin["ref"], SAMPLE_PAIR[1], **TINY)
    done = wait_for(client, job["id"], finished)
    assert done["status"] == "failed"
    assert "too small" in done["error"]


@pytest.mark.precision
def test_list_and_delete(client: TestClient, data_dir: Path) -> None:
    first = start_job(client, *SAMPLE_PAIR, **TINY)
    wait_for(client, first["id"], finished)
    second = start_job(client, *SAMPLE_PAIR, **{**TINY, "seed": 1})
    wait_for(client, second["id"], finished)
    jobs = client.get("/api/jobs").json()["jobs"]
    assert [j["id"] for j in jobs] == [second["id"], first["id"]]  # newest first
    assert client.delete(f"/api/jobs/{first['id']}").status_code == 204
    assert client.get(f"/api/jobs/{first['id']}").status_code == 404
    assert not (data_dir / "jobs" / first["id"]).exists()


@pytest.mark.precision
def test_cross_site_requests_are_refused(client: TestClient) -> None:
    body = {"content": SAMPLE_PAIR[0], "style": SAMPLE_PAIR[1], "config": TINY}
    r = client.post("/api/jobs", json=body, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = client.post("/api/jobs", json=body, headers={"Origin": "http://testserver"})
    assert r.status_code == 202


def test_allowed_hosts(make_app) -> None:
    with TestClient(make_app(allowed_hosts=LOOPBACK_HOSTS)) as client:
        assert client.get("/api/status").status_code == 400  # Host: testserver
    app = make_app(allowed_hosts=LOOPBACK_HOSTS)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/api/status").status_code == 200

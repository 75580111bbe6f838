"""The studio's Audio mode: sound uploads, bundled sounds, audio jobs in the shared queue (with a
tiny AudioConfig: 8 kHz, 16 filters, a few steps), their results, cancel and the schema."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from web_helpers import finished, png_bytes, read_events, wait_for

from impasto.audio.config import AudioConfig
from impasto.audio.io import read_metadata
from impasto.web import create_app
from impasto.web.sounds import NOT_IN_FORM, SOUNDS
from impasto.web.store import Store

RATE = 8000
# 8 kHz, a 256-sample window, 16 random filters, 3 steps: a run takes well under a second.
TINY_AUDIO: dict[str, Any] = {
    "sample_rate": RATE,
    "n_fft": 256,
    "filters": 16,
    "width": 3,
    "steps": 3,
    "griffin_lim_iters": 4,
    "precision": "fp32",
    "tol": 0,
}


def tone(seconds: float = 1.0, freq: float = 440.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def sound_bytes(samples: np.ndarray, fmt: str = "WAV", rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt)
    return buf.getvalue()


def upload_sound(client: TestClient, data: bytes, name: str = "tone.wav") -> Any:
    return client.post(
        "/api/audio/uploads", files={"file": (name, data, "application/octet-stream")}
    )


def start_audio(client: TestClient, **body: Any) -> dict[str, Any]:
    body.setdefault("config", TINY_AUDIO)
    r = client.post("/api/audio/jobs", json=body)
    assert r.status_code == 202, r.text
    job: dict[str, Any] = r.json()
    return job


# -- config and bundled sounds --------------------------------------------------------------------
def test_audio_config_lists_every_field_the_limits_and_the_sounds(client: TestClient) -> None:
    body = client.get("/api/audio/config").json()
    names = [f["name"] for f in body["fields"]]
    expected = [n for n in AudioConfig().to_dict() if n not in NOT_IN_FORM]
    assert names == expected
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["optimizer"]["choices"] == ["lbfgs", "adam"]
    assert fields["steps"]["default"] == AudioConfig().steps and fields["steps"]["help"]
    assert body["limits"]["max_seconds"] == 60.0
    assert {s["ref"] for s in body["sounds"]} == {f"sound:{n}" for n in SOUNDS}
    for s in body["sounds"]:
        r = client.get(s["url"])
        assert r.status_code == 200 and r.headers["content-type"] == "audio/ogg"
        assert sf.info(io.BytesIO(r.content)).frames > 0


def test_unknown_sound_is_404(client: TestClient) -> None:
    r = client.get("/api/sounds/nope")
    assert r.status_code == 404 and r.json()["status"] == 404


# -- uploads --------------------------------------------------------------------------------------
MP3 = pytest.param(
    "MP3",
    marks=pytest.mark.skipif(
        "MP3" not in sf.available_formats(), reason="this libsndfile has no MP3"
    ),
)


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG", MP3])
def test_a_sound_upload_is_checked_kept_and_played_back(client: TestClient, fmt: str) -> None:
    data = sound_bytes(np.stack([tone(), tone(freq=220)], axis=1), fmt)  # stereo
    r = upload_sound(client, data, f"two tones.{fmt.lower()}")
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["kind"] == "audio" and up["format"] == fmt and up["channels"] == 2
    assert up["sample_rate"] == RATE and up["seconds"] == pytest.approx(1.0, abs=0.1)
    for url in (up["url"], up["view_url"]):
        back = client.get(url)
        assert back.status_code == 200 and back.content == data
        assert back.headers["content-type"].startswith("audio/")


def test_a_sound_is_judged_by_its_bytes_not_its_name(client: TestClient) -> None:
    r = upload_sound(client, sound_bytes(tone(), "FLAC"), "looks_like.png")
    assert r.status_code == 201 and r.json()["format"] == "FLAC"


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"just some text, not a sound" * 20, 415, "not a sound"),
        (png_bytes(np.zeros((8, 8, 3), np.uint8)), 415, "not a sound"),
        (b"", 422, "empty"),
        (sound_bytes(np.zeros(RATE, np.float32)), 422, "silent"),
    ],
    ids=["text", "png", "empty", "silent"],
)
def test_bad_sound_uploads_are_refused(
    client: TestClient, data: bytes, status: int, words: str
) -> None:
    r = upload_sound(client, data, "bad.wav")
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and words in body["error"] and "bad.wav" in body["error"]
    assert client.get("/api/audio/config").status_code == 200


def test_a_truncated_sound_is_refused(client: TestClient) -> None:
    r = upload_sound(client, sound_bytes(tone())[:30], "cut.wav")  # a header, no samples
    assert r.status_code in (415, 422), r.text
    assert "cut.wav" in r.json()["error"]


def test_a_sound_longer_than_the_limit_is_413(make_app: Any) -> None:
    with TestClient(make_app(max_audio_seconds=0.5)) as client:
        r = upload_sound(client, sound_bytes(tone(1.0)))
        assert r.status_code == 413
        assert "0.5 s" in r.json()["error"]
        assert client.get("/api/audio/config").json()["limits"]["max_seconds"] == 0.5


def test_a_sound_over_the_byte_limit_is_413(make_app: Any) -> None:
    with TestClient(make_app(max_upload_bytes=4000)) as client:
        r = upload_sound(client, sound_bytes(tone(1.0)))
        assert r.status_code == 413 and r.json()["status"] == 413


def test_an_image_upload_is_not_a_sound_and_the_other_way(client: TestClient) -> None:
    img = client.post(
        "/api/uploads", files={"file": ("a.png", png_bytes(np.zeros((8, 8, 3), np.uint8)))}
    ).json()
    snd = upload_sound(client, sound_bytes(tone())).json()
    r = client.post("/api/audio/jobs", json={"content": img["ref"], "style": snd["ref"]})
    assert r.status_code == 422 and "must be a sound" in r.json()["error"]
    r = client.post("/api/jobs", json={"content": snd["ref"], "style": "sample:starry_night"})
    assert r.status_code == 422 and "must be an image" in r.json()["error"]
    r = upload_sound(client, b"x" * 100)
    r2 = client.post("/api/uploads", files={"file": ("t.wav", sound_bytes(tone()))})
    assert r.status_code == 415 and r2.status_code == 415


# -- settings -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"config": {"filters": 0}}, "filters"),
        ({"config": {"filters": 10**6}}, "filters"),
        ({"config": {"optimizer": "sgd"}}, "optimizer"),
        ({"config": {"hop": 8}}, "hop"),
        ({"config": {"steps": "many"}}, "steps"),
        ({"config": {"nope": 1}}, "nope"),
        ({"config": {"max_seconds": 600}}, "max_seconds"),
        ({"seconds": 0}, "seconds"),
        ({"seconds": 61}, "seconds"),
        ({"content": "sound:speech", "seconds": 2}, "seconds"),
        ({"content": "sound:nope"}, "sound"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_audio_jobs_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    r = client.post("/api/audio/jobs", json={"style": "sound:cello", **body})
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]
    assert client.get("/api/jobs").json()["jobs"] == []


NEAR_VALID = st.sampled_from(
    [0, 1, 3, 64, 256, 8000, 0.5, -1, 1e308, "", "lbfgs", "adam", "noise", "fp32", True, None,
     [1], {"a": 1}, 2**63, 2**70]
)


@pytest.fixture(scope="module")
def idle_studio(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A studio that accepts jobs and runs none (no worker)."""
    app = create_app(tmp_path_factory.mktemp("studio"), workers=0, queue_size=10_000)
    with TestClient(app) as c:
        yield c


@settings(max_examples=120, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from([*list(AudioConfig().to_dict()), "seconds"]), value=NEAR_VALID)
def test_any_value_in_any_audio_field_is_a_job_or_a_422_naming_it(
    idle_studio: TestClient, field: str, value: Any
) -> None:
    body: dict[str, Any] = {"style": "sound:rain", "config": {"steps": 2}}
    if field == "seconds":
        body["seconds"] = value
    else:
        body["config"][field] = value
    r = idle_studio.post("/api/audio/jobs", json=body)
    assert r.status_code in (202, 422), (field, value, r.text)
    if r.status_code == 422:
        assert field in r.json()["error"], (field, value, r.text)
    else:
        stored = r.json()["config"]
        assert AudioConfig.from_dict(stored).to_dict() == stored
        idle_studio.post(f"/api/jobs/{r.json()['id']}/cancel")


# -- jobs -----------------------------------------------------------------------------------------
def test_an_audio_transfer_runs_to_done_with_a_sound_and_spectrograms(
    client: TestClient,
) -> None:
    style = upload_sound(client, sound_bytes(tone(1.5, 660.0), "FLAC"), "high.flac").json()
    job = start_audio(client, content="sound:speech", style=style["ref"])
    assert job["kind"] == "audio" and job["total_steps"] == TINY_AUDIO["steps"]
    events = read_events(client, job["id"])
    assert events[-1]["status"] == "done", events[-1]
    steps = [e["step"] for e in events if e["status"] == "running" and e["step"]]
    assert steps and steps == sorted(steps)
    assert any(e["eta"] is not None for e in events if e["status"] == "running")
    done = events[-1]
    assert done["step"] == TINY_AUDIO["steps"] and done["losses"]["style"] >= 0
    wav = client.get(done["result_url"])
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    assert "impasto-speech-high_flac" in wav.headers["content-disposition"]
    samples, rate = sf.read(io.BytesIO(wav.content))
    assert rate == RATE and samples.size == pytest.approx(5.0 * RATE, rel=0.01)  # speech: 5 s
    pic = client.get(done["spectrogram_url"])
    assert pic.status_code == 200 and pic.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(pic.content)) as im:
        assert im.width > 2 * im.height  # three panels side by side
    assert done["preview_url"] == done["spectrogram_url"]
    gallery = client.get("/api/jobs").json()["jobs"]
    assert gallery[0]["id"] == job["id"] and gallery[0]["result_url"].endswith("result.wav")
    assert client.get(f"/api/jobs/{job['id']}/result.png").status_code == 404


def test_the_result_sound_carries_its_settings(client: TestClient, data_dir: Path) -> None:
    job = start_audio(client, content="sound:speech", style="sound:cello")
    wait_for(client, job["id"], finished)
    meta = read_metadata(data_dir / "jobs" / job["id"] / "result.wav")
    assert '"filters": 16' in meta["comment"] and "Speech" in meta["comment"]


def test_a_texture_job_has_the_seconds_asked_for(client: TestClient) -> None:
    job = start_audio(client, style="sound:rain", seconds=1.25)
    assert job["content"] == "" and job["content_url"] is None
    done = wait_for(client, job["id"], finished)
    assert done["status"] == "done", done
    samples, _ = sf.read(io.BytesIO(client.get(done["result_url"]).content))
    assert samples.size == round(1.25 * RATE)
    with Image.open(io.BytesIO(client.get(done["spectrogram_url"]).content)) as im:
        assert im.width > im.height  # two panels: style and result


def test_an_audio_job_can_be_cancelled_and_deleted(make_app: Any, data_dir: Path) -> None:
    with TestClient(make_app(workers=0)) as client:  # no worker: it waits
        job = start_audio(client, content="sound:speech", style="sound:cello")
        r = client.post(f"/api/jobs/{job['id']}/cancel")
        assert r.json()["status"] == "cancelled"
        assert client.get(f"/api/jobs/{job['id']}/result.wav").status_code == 404
        assert client.delete(f"/api/jobs/{job['id']}").status_code == 204


def test_a_running_audio_job_stops_when_cancelled(client: TestClient) -> None:
    # Many steps of a larger net: it is still running when the first step is reported.
    slow = {**TINY_AUDIO, "filters": 256, "steps": 2000}
    job = start_audio(client, content="sound:speech", style="sound:cello", config=slow)
    wait_for(client, job["id"], lambda j: j["step"] >= 1 or finished(j))
    client.post(f"/api/jobs/{job['id']}/cancel")
    done = wait_for(client, job["id"], finished)
    assert done["status"] == "cancelled", done
    assert done["step"] < 2000 and done["result_url"] is None


@pytest.mark.precision
def test_a_job_list_mixes_images_and_sounds(client: TestClient) -> None:
    audio = start_audio(client, style="sound:rain", seconds=0.5)
    r = client.post(
        "/api/jobs",
        json={"content": "sample:tubingen", "style": "sample:starry_night",
              "config": {"size": 32, "steps": 2, "tol": 0}},
    )
    image = r.json()
    for j in (audio, image):
        wait_for(client, j["id"], finished)
    jobs = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
    assert jobs[audio["id"]]["kind"] == "audio" and jobs[image["id"]]["kind"] == "image"
    assert jobs[image["id"]]["result_url"].endswith("result.png")
    assert jobs[image["id"]]["spectrogram_url"] is None


# -- the store and the schema ---------------------------------------------------------------------
def test_a_schema_1_database_gains_the_kind_columns(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "studio.sqlite3")
    db.executescript(
        "CREATE TABLE jobs (id TEXT PRIMARY KEY, created REAL NOT NULL, started REAL, "
        "finished REAL, status TEXT NOT NULL, content TEXT NOT NULL, style TEXT NOT NULL, "
        "content_name TEXT NOT NULL, style_name TEXT NOT NULL, config TEXT NOT NULL, "
        "step INTEGER NOT NULL DEFAULT 0, total_steps INTEGER NOT NULL, losses TEXT, "
        "seconds REAL, error TEXT, has_preview INTEGER NOT NULL DEFAULT 0, "
        "has_result INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE uploads (id TEXT PRIMARY KEY, created REAL NOT NULL, name TEXT NOT NULL, "
        "format TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, "
        "bytes INTEGER NOT NULL);"
        "INSERT INTO jobs (id, created, status, content, style, content_name, style_name, "
        "config, total_steps) VALUES ('" + "a" * 32 + "', 1, 'done', 'sample:tubingen', "
        "'sample:starry_night', 'T', 'S', '{}', 4);"
    )
    db.close()
    store = Store(tmp_path)
    job = store.get_job("a" * 32)
    assert job is not None and job.kind == "image"


def test_the_schema_documents_the_audio_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/api/audio/config": ("get", set()),
        "/api/sounds/{name}": ("get", {"404"}),
        "/api/audio/uploads": ("post", {"413", "415", "422"}),
        "/api/audio/jobs": ("post", {"422", "429"}),
        "/api/jobs/{job_id}/result.wav": ("get", {"404"}),
        "/api/jobs/{job_id}/spectrogram.png": ("get", {"404"}),
    }
    for path, (method, codes) in expected.items():
        responses = paths[path][method]["responses"]
        assert codes | {"400", "403"} <= set(responses), (path, responses)

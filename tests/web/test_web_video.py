"""The studio's Video mode: clip uploads and the bundled clip, both routes as jobs (frames as
steps, a live preview, an H.264 result), the refusals before any work (nothing written), and
cancel (no video left). Clips are the bundled street clip cut to 3-4 frames at 48 px; the
optimisation runs on the tiny random VGG, the network route on a tiny saved network."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from web_helpers import (
    finished,
    png_bytes,
    read_events,
    save_tiny_network,
    upload,
    wait_for,
)

from impasto.video.config import VideoConfig
from impasto.video.frames import VideoWriter, bundled_clip, probe, read_frames
from impasto.web.sounds import SOUNDS
from impasto.web.video import NOT_IN_VIDEO

MODEL = "user:tiny.safetensors"
OPTIMISE = {"size": 32, "later_steps": 2, "style_config": {"steps": 4, "tol": 0}}


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bundled street clip's first 4 frames at 48 px, as an MP4 (H.264)."""
    path = tmp_path_factory.mktemp("clip") / "tiny.mp4"
    with VideoWriter(path, 10.0) as out:
        for frame in read_frames(bundled_clip(), range(4), 48):
            out.write(frame)
    return path.read_bytes()


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    save_tiny_network(folder / "tiny.safetensors")
    monkeypatch.setenv("IMPASTO_MODELS", str(folder))
    monkeypatch.setattr("impasto.web.instant.bundled_dir", lambda: tmp_path / "no-bundled")
    return folder


@pytest.fixture
def studio(client: TestClient, models: Path) -> Iterator[TestClient]:
    yield client


def upload_clip(client: TestClient, data: bytes, name: str = "clip.mp4") -> Any:
    return client.post("/api/video/uploads", files={"file": (name, data, "video/mp4")})


def clip_ref(client: TestClient, data: bytes) -> str:
    r = upload_clip(client, data)
    assert r.status_code == 201, r.text
    ref: str = r.json()["ref"]
    return ref


def submit(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/video/jobs", json=body)
    assert r.status_code == 202, r.text
    job: dict[str, Any] = r.json()
    return job


def refused(client: TestClient, body: dict[str, Any]) -> str:
    r = client.post("/api/video/jobs", json=body)
    assert r.status_code == 422, r.text
    message: str = r.json()["error"]
    assert "\n" not in message
    return message


def result_of(client: TestClient, job: dict[str, Any], tmp_path: Path) -> Path:
    r = client.get(job["result_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert "attachment" in r.headers["content-disposition"]
    path = tmp_path / "result.mp4"
    path.write_bytes(r.content)
    return path


# -- the form, the clips, uploads ---------------------------------------------------------------
def test_config_has_the_video_form_the_optimisation_form_clips_and_models(
    studio: TestClient,
) -> None:
    body = studio.get("/api/video/config").json()
    names = [f["name"] for f in body["fields"]]
    assert names == [n for n in VideoConfig().to_dict() if n not in NOT_IN_VIDEO]
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["fill"]["choices"] == ["content", "previous", "warped"]
    assert fields["strength"]["default"] == 1  # ApplyConfig's setting: a network's painting
    style_names = [f["name"] for f in body["style_fields"]]
    assert "steps" in style_names and "size" not in style_names
    assert body["limits"]["max_seconds"] == 10.0 and body["limits"]["max_size"] == 512
    assert [c["ref"] for c in body["clips"]] == ["clip:street"]
    assert [m["ref"] for m in body["models"]] == [MODEL]
    r = studio.get("/api/clips/street")
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert studio.get("/api/clips/nope").status_code == 404


def test_a_clip_upload_is_described_and_played_back_as_sent(
    client: TestClient, clip_bytes: bytes
) -> None:
    r = upload_clip(client, clip_bytes, "tiny.mp4")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "video" and body["frames"] == 4 and body["fps"] == 10.0
    assert (body["width"], body["height"]) == (48, 36)
    got = client.get(body["view_url"])
    assert got.headers["content-type"] == "video/mp4" and got.content == clip_bytes


# -- both routes ---------------------------------------------------------------------------------
@pytest.mark.precision
def test_the_optimisation_route_runs_frame_by_frame_with_previews(
    client: TestClient, clip_bytes: bytes, tmp_path: Path
) -> None:
    ref = clip_ref(client, clip_bytes)
    config = {**OPTIMISE, "frames": "0:3"}
    job = submit(client, {"clip": ref, "style": "sample:starry_night", "config": config})
    assert job["kind"] == "video" and job["total_steps"] == 3 and job["route"] == "optimisation"
    events = read_events(client, job["id"])
    done = events[-1]
    assert done["status"] == "done", done
    steps = [e for e in events if e["status"] == "running" and e["frame_step"]]
    assert steps and all(1 <= e["frame"] <= 3 for e in steps)
    assert done["step"] == 3 and done["preview_url"] and done["video_url"] == done["result_url"]
    assert set(done["losses"]) >= {"content", "style"}
    assert client.get(done["preview_url"]).headers["content-type"] == "image/jpeg"
    info = probe(result_of(client, done, tmp_path))
    assert (info.frames, info.width, info.height, info.codec) == (3, 32, 24, "h264")


@pytest.mark.precision
def test_the_network_route_runs_on_the_bundled_clip(studio: TestClient, tmp_path: Path) -> None:
    body = {"clip": "clip:street", "model": MODEL, "config": {"size": 32, "frames": "2:5"}}
    job = submit(studio, body)
    assert job["route"] == "network" and job["content_name"].startswith("Street")
    job = wait_for(studio, job["id"], finished)
    assert job["status"] == "done", job
    assert job["step"] == 3 and job["has_preview"]
    info = probe(result_of(studio, job, tmp_path))
    assert (info.frames, info.width, info.height) == (3, 32, 24)
    assert job in studio.get("/api/jobs").json()["jobs"]


@pytest.mark.precision
def test_a_network_jobs_strength_0_gives_the_clips_frames(studio: TestClient, tmp_path) -> None:
    from impasto.video.run import quantised

    config = {"size": 32, "frames": "2:4", "crf": 0, "strength": 0}
    job = submit(studio, {"clip": "clip:street", "model": MODEL, "config": config})
    assert job["config"]["strength"] == 0
    job = wait_for(studio, job["id"], finished)
    assert job["status"] == "done", job
    got = torch.cat(list(read_frames(result_of(studio, job, tmp_path))))
    with VideoWriter(tmp_path / "frames.mp4", 10.0, crf=0) as out:  # the frames, as written
        for frame in read_frames(bundled_clip(), range(2, 4), 32):
            out.write(quantised(frame))
    frames = torch.cat(list(read_frames(tmp_path / "frames.mp4")))
    assert got.shape == frames.shape and (got - frames).abs().max() <= 1 / 255
    # The preview is the last frame as written (after the blend), not the network's painting.
    shown = decode_jpeg(studio.get(job["preview_url"]).content)
    assert shown.shape == frames[-1:].shape and (shown - frames[-1:]).abs().mean() < 0.02


# -- refusals before any work --------------------------------------------------------------------
def test_uploads_that_are_not_readable_clips_are_refused_and_not_kept(
    make_app: Any, data_dir: Path, clip_bytes: bytes
) -> None:
    with TestClient(make_app(max_video_seconds=0.3, max_pixels=1000)) as client:
        sound = SOUNDS[next(iter(SOUNDS))].read_bytes()
        cases = {
            "noise.mp4": (b"\x00\x01not a video at all" * 40, "not a video FFmpeg can read"),
            "tone.ogg": (sound, "has no video stream"),
            "long.mp4": (clip_bytes, "lasts 0.4 s; this studio takes clips of at most 0.3 s"),
            "large.mp4": (short(clip_bytes), "frames of 48x36 px; this studio takes at most 0.001"),
            "garbled.mp4": (garbled(clip_bytes), "cannot decode its h264 video"),
        }
        for name, (data, expected) in cases.items():
            r = upload_clip(client, data, name)
            assert r.status_code == 422, r.text
            message = r.json()["error"]
            assert expected in message and name in message and "\n" not in message
            assert str(data_dir) not in message
        assert not [p for p in (data_dir / "uploads").iterdir()]


def test_jobs_outside_the_clip_or_the_limits_are_refused_before_any_work(
    studio: TestClient, clip_bytes: bytes, data_dir: Path
) -> None:
    ref = clip_ref(studio, clip_bytes)
    style = "sample:starry_night"
    msg = refused(studio, {"clip": ref, "style": style, "config": {"frames": "2:9"}})
    assert "frame range 2:9 is outside clip.mp4, which has 4 frames" in msg
    msg = refused(studio, {"clip": ref, "style": style, "config": {"size": 640}})
    assert "size must be at most 512 px" in msg
    msg = refused(studio, {"clip": ref, "style": style, "model": MODEL})
    assert "not both" in msg
    msg = refused(studio, {"clip": ref, "model": "user:nope.safetensors"})
    assert "unknown model" in msg
    image = upload(studio, _png()).json()["ref"]
    msg = refused(studio, {"clip": image, "style": style})
    assert "is an image; clip must be a video" in msg
    msg = refused(studio, {"clip": ref, "style": style, "config": {"fill": "blur"}})
    assert "fill" in msg
    for bad, shown in ((-0.1, "-0.1"), (1.5, "1.5"), ("x", "'x'")):
        msg = refused(studio, {"clip": ref, "model": MODEL, "config": {"strength": bad}})
        assert f"strength must be a number from 0 to 1, got {shown}" in msg
    msg = refused(studio, {"clip": ref, "style": style, "config": {"strength": 0.5}})
    assert msg.startswith("strength 0.5 applies only with a style network")
    assert studio.get("/api/jobs").json()["jobs"] == []
    assert not (data_dir / "jobs").exists() or not list((data_dir / "jobs").iterdir())


def test_a_range_longer_than_the_limit_is_refused(make_app: Any) -> None:
    with TestClient(make_app(max_video_seconds=1.0)) as client:
        body = {"clip": "clip:street", "style": "sample:starry_night", "config": {"size": 32}}
        msg = refused(client, body)
        assert "30 frames at 10 fps last 3.0 s; this studio takes at most 1 s" in msg


def short(mp4: bytes) -> bytes:
    """The first 2 frames of ``mp4`` (0.2 s), as an MP4."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
        src.write_bytes(mp4)
        with VideoWriter(out, 10.0) as writer:
            for frame in read_frames(src, range(2)):
                writer.write(frame)
        return out.read_bytes()


def garbled(mp4: bytes) -> bytes:
    """``mp4`` with its frames' data (the mdat box's payload) overwritten: the container and
    its h264 stream read, the frames do not decode."""
    data = bytearray(mp4)
    at = data.find(b"mdat")
    size = int.from_bytes(data[at - 4 : at], "big")
    data[at + 4 : at - 4 + size] = bytes(0xFF if k % 3 else 0 for k in range(size - 8))
    return bytes(data)


def _png() -> bytes:

    return png_bytes(np.full((20, 24, 3), 128, np.uint8))


# -- cancel --------------------------------------------------------------------------------------
@pytest.mark.precision
def test_cancel_stops_the_job_and_leaves_no_video(
    client: TestClient, clip_bytes: bytes, data_dir: Path
) -> None:
    ref = clip_ref(client, clip_bytes)
    config = {**OPTIMISE, "later_steps": 5000, "style_config": {"steps": 4, "tol": 0}}
    job = submit(client, {"clip": ref, "style": "sample:starry_night", "config": config})
    wait_for(client, job["id"], lambda j: (j["frame"] or 0) >= 2 and bool(j["frame_step"]))
    assert client.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
    job = wait_for(client, job["id"], finished)
    assert job["status"] == "cancelled" and "nothing was written" in job["error"]
    assert job["result_url"] is None
    left = sorted(p.name for p in (data_dir / "jobs" / job["id"]).iterdir())
    assert left == ["preview.jpg"]
    assert client.get(f"/api/jobs/{job['id']}/result.mp4").status_code == 404


def decode_jpeg(data: bytes) -> torch.Tensor:
    """A (1, 3, H, W) tensor in [0, 1] from JPEG bytes."""
    import io

    import numpy as np
    from PIL import Image

    array = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(array).permute(2, 0, 1)[None]

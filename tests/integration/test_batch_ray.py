"""``impasto batch --ray`` on a real Ray cluster: a head node and a second node on loopback
(two raylets on this machine), a worker process killed in the middle of an item.

The cluster is started with ``ray start --block`` in sessions of its own and stopped by
signalling those two processes (never ``ray stop``, which stops every Ray on the machine).
Skipped, with the reason, only where Ray is not installed or cannot start here.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from impasto.batch.manifest import MANIFEST_NAME
from pictures import make_clip

ray = pytest.importorskip("ray", reason="Ray is not installed (make install adds the ray extra)")

START_LIMIT = 90.0  # seconds for a node to come up (hang guard, not a speed assertion)
BATCH_LIMIT = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ports(*flags: str) -> list[str]:
    return [f"--{flag}={_free_port()}" for flag in flags]


# The cluster, its driver and nothing else share a token made for this run (Ray's token
# authentication, explicit so that no ~/.ray/auth_token left by another Ray changes the test).
RAY_SETTINGS = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN": secrets.token_hex(32),
}


def _ray_env() -> dict[str, str]:
    return {**os.environ, **RAY_SETTINGS}


def _start_node(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    tool = Path(sys.executable).with_name("ray")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(tool), "start", "--block", "--node-ip-address=127.0.0.1", "--num-cpus=1",
             "--object-store-memory=100000000", "--disable-usage-stats", *args,
             *_ports("dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                     "metrics-export-port", "runtime-env-agent-port")],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=_ray_env(),
        )  # fmt: skip
    end = time.monotonic() + START_LIMIT
    while b"block forever" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > end:
            _stop_node(proc)
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            pytest.skip(f"Ray cannot start here: {' | '.join(tail)}")
        time.sleep(0.2)
    return proc


def _stop_node(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to `ray start --block` stops the processes it started; then the rest of its
    process group (the session made for it), by that group's id."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A head node and a second node, one CPU each, on 127.0.0.1: yields the head's address."""
    tmp_path = tmp_path_factory.mktemp("ray_logs")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit
    port = _free_port()
    head = _start_node(
        ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}",
         *_ports("dashboard-port")],
        tmp_path / "head.log",
    )  # fmt: skip
    nodes = [head]
    try:
        nodes.append(_start_node([f"--address=127.0.0.1:{port}"], tmp_path / "node2.log"))
        yield f"127.0.0.1:{port}"
    finally:
        for proc in reversed(nodes):
            _stop_node(proc)
        shutil.rmtree(temp, ignore_errors=True)


def _photos(folder: Path, n: int, side: int = 48) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(
            folder / f"p{i}.png"
        )
    return folder


def _rows(out: Path) -> list[tuple[str, int, str, str]]:
    with contextlib.closing(sqlite3.connect(out / MANIFEST_NAME, timeout=30)) as db:
        return db.execute(
            "SELECT status, attempts, output, coalesce(worker, '') FROM items ORDER BY id"
        ).fetchall()


def _wait_for_running(proc: subprocess.Popen[str], out: Path) -> int:
    """The pid of a worker process that is running an item, once one is."""
    return _wait_for_status(proc, out, "running")


def _wait_for_status(proc: subprocess.Popen[str], out: Path, wanted: str) -> int:
    """The pid of a worker process with an item in status ``wanted``, once there is one."""
    end = time.monotonic() + BATCH_LIMIT
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"the batch ended before a worker could be killed: {proc.communicate()}")
        with contextlib.suppress(sqlite3.OperationalError):
            if (out / MANIFEST_NAME).is_file():
                for status, _, _, worker in _rows(out):
                    if status == wanted and ":" in worker:
                        return int(worker.rsplit(":", 1)[1])
        time.sleep(0.05)
    pytest.fail("no item started on the cluster")


def test_a_batch_spreads_over_two_nodes_and_survives_a_killed_worker(
    ray_cluster: str, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    photos = _photos(tmp_path / "photos", 6)
    out = tmp_path / "styled"
    argv = [sys.executable, "-m", "impasto", "batch", str(photos), "--style", str(style_path),
            "-o", str(out), "--weights", str(weights_file), "--size", "48", "--steps", "150",
            "--precision", "fp32", "-q", "--ray", ray_cluster]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_ray_env())  # fmt: skip
    try:
        victim = _wait_for_running(proc, out)
        os.kill(victim, signal.SIGKILL)  # a Ray worker process of this test's cluster
        _, stderr = proc.communicate(timeout=BATCH_LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "6 done, 0 failed" in stderr
    rows = _rows(out)
    assert [r[0] for r in rows] == ["done"] * 6
    # The item the dead worker held (or, if it had just finished, the next one sent to it)
    # failed once and was retried: nothing lost, nothing run twice to the end.
    assert sorted(r[1] for r in rows) == [1, 1, 1, 1, 1, 2]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(r[2] for r in rows)
    assert list(out.glob("*.part")) == []
    nodes = {re.sub(r":\d+$", "", r[3]) for r in rows}
    assert len(nodes) == 2, nodes  # both raylets ran items
    assert f":{victim}" not in " ".join(r[3] for r in rows if r[1] == 2)


def test_ray_auto_takes_ray_address(
    ray_cluster: str, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    photos = _photos(tmp_path / "photos", 2)
    out = tmp_path / "styled"
    argv = [sys.executable, "-m", "impasto", "batch", str(photos), "--style", str(style_path),
            "-o", str(out), "--weights", str(weights_file), "--size", "32", "--steps", "2", "-q",
            "--ray", "auto"]  # fmt: skip
    env = {**_ray_env(), "RAY_ADDRESS": ray_cluster}
    done = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=BATCH_LIMIT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "2 done, 0 failed" in done.stderr
    assert all(r[0] == "done" and "/" in r[3] for r in _rows(out))  # run by Ray workers


def test_an_address_that_does_not_answer_is_one_line(
    run_cli, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    photos = _photos(tmp_path / "photos", 1)
    with socket.socket() as silent:  # listens, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        for address in (f"127.0.0.1:{_free_port()}", f"127.0.0.1:{silent.getsockname()[1]}"):
            code, _, stderr = run_cli(
                ["batch", str(photos), "--style", str(style_path), "-o", str(tmp_path / "o"),
                 "--weights", str(weights_file), "-q", "--ray", address]
            )  # fmt: skip
            assert code == 2
            assert stderr.startswith(f"impasto: error: no Ray cluster answers at {address}")
            assert stderr.count("\n") == 1


# -- the network route: Ray Data's map_batches with an actor pool ---------------------------------
@pytest.fixture
def ray_data() -> None:
    """Skip where Ray Data's own dependencies are missing (the ray extra without [data])."""
    for name in ("pandas", "pyarrow"):
        pytest.importorskip(name, reason="Ray Data is not installed: pip install 'ray[data]'")


def _model(path: Path, width: float) -> Path:
    """A style network's model file (random weights: the route, not the painting)."""
    from impasto.network.config import NetworkConfig
    from impasto.network.info import NetworkInfo
    from impasto.network.model import build_network
    from impasto.network.modelfile import save_network

    cfg = NetworkConfig(width=width, blocks=1 if width < 0.5 else 5)
    info = NetworkInfo(cfg, "painting.png", "cd" * 32, {"steps": 1})
    return save_network(build_network(cfg, seed=5), path, info)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).astype(int)


def test_network_batches_run_on_a_ray_data_actor_pool(
    ray_data: None, ray_cluster: str, tmp_path: Path, run_cli
) -> None:
    photos = _photos(tmp_path / "photos", 8)
    (photos / "broken.jpg").write_text("not a picture")
    model = _model(tmp_path / "tiny.safetensors", 0.125)
    # The Ray workers measure what auto picks in their own processes: the precision is pinned.
    argv = ["batch", str(photos), "--network", str(model), "--size", "40", "--precision", "fp32",
            "-q"]  # fmt: skip
    out = tmp_path / "fast"
    done = subprocess.run(
        [sys.executable, "-m", "impasto", *argv, "-o", str(out), "--ray", ray_cluster],
        capture_output=True, text=True, env=_ray_env(), timeout=BATCH_LIMIT, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the broken photo
    assert "8 done, 1 failed" in done.stderr and "broken.jpg" in done.stderr
    rows = _rows(out)
    assert sorted(r[0] for r in rows) == ["done"] * 8 + ["failed"]
    assert all("/" in r[3] for r in rows if r[0] == "done")  # painted by Ray workers
    # The same command in this process paints the same pictures (one 8-bit level apart at
    # most: the batches of the forward passes may differ).
    code, _, stderr = run_cli([*argv, "-o", str(tmp_path / "here")])
    assert code == 1, stderr
    for status, _, name, _ in rows:
        if status == "done":
            assert np.abs(_pixels(out / name) - _pixels(tmp_path / "here" / name)).max() <= 1
    assert list(out.glob("*.part")) == []


def test_a_killed_actor_is_replaced_and_its_photos_painted(
    ray_data: None, ray_cluster: str, tmp_path: Path
) -> None:
    photos = _photos(tmp_path / "photos", 24, side=256)
    model = _model(tmp_path / "full.safetensors", 0.5)  # ~0.2 s a photo: time to kill one
    out = tmp_path / "fast"
    argv = [sys.executable, "-m", "impasto", "batch", str(photos), "--network", str(model),
            "-o", str(out), "-q", "--ray", ray_cluster]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_ray_env())  # fmt: skip
    try:
        victim = _wait_for_status(proc, out, "done")
        os.kill(victim, signal.SIGKILL)  # an actor of the pool, with blocks left to paint
        _, stderr = proc.communicate(timeout=BATCH_LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "24 done, 0 failed" in stderr
    rows = _rows(out)
    assert [r[0] for r in rows] == ["done"] * 24 and [r[1] for r in rows] == [1] * 24
    assert sorted(p.name for p in out.glob("*.png")) == sorted(r[2] for r in rows)
    assert list(out.glob("*.part")) == []


def test_a_clip_through_the_network_route_on_ray_is_the_local_one(
    ray_data: None, ray_cluster: str, tmp_path: Path, run_cli
) -> None:
    from impasto.video.frames import read_frames

    inputs = _photos(tmp_path / "inputs", 1)
    make_clip(inputs / "walk.mp4", 6, (48, 64))
    model = _model(tmp_path / "tiny.safetensors", 0.125)
    argv = ["batch", str(inputs), "--network", str(model), "--size", "48", "--deflicker", "0.8",
            "--strength", "0.5", "--precision", "fp32", "--crf", "0", "-q"]  # fmt: skip
    out = tmp_path / "ray"
    done = subprocess.run(
        [sys.executable, "-m", "impasto", *argv, "-o", str(out), "--ray", ray_cluster],
        capture_output=True, text=True, env=_ray_env(), timeout=BATCH_LIMIT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = _rows(out)
    assert sorted(r[0] for r in rows) == ["done", "done"]
    clip = next(r for r in rows if r[2].endswith(".mp4"))
    assert "/" in clip[3]  # the frames were painted by Ray workers
    code, _, stderr = run_cli([*argv, "-o", str(tmp_path / "here")])
    assert code == 0, stderr
    ours = list(read_frames(out / clip[2]))
    theirs = list(read_frames(tmp_path / "here" / clip[2]))
    assert len(ours) == len(theirs) == 6
    # The same frames, de-flickered in the same order; the passes' batches may differ (float
    # sums in another order). Lossless (--crf 0): x264 wrote other bytes for the same frames
    # from one process to the next, 16/255 apart once decoded (CI, before --crf).
    assert max(float((a - b).abs().max()) for a, b in zip(ours, theirs, strict=True)) <= 2 / 255
    assert list(out.glob("*.part")) == [] and not list((out / ".impasto-clips").glob("*"))


def test_a_clip_by_optimisation_runs_on_a_worker_a_few_frames_a_call(
    ray_cluster: str, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    from impasto.video.frames import probe

    inputs = _photos(tmp_path / "inputs", 1)
    make_clip(inputs / "walk.mp4", 5, (48, 64))  # two calls to the worker: 4 frames, then 1
    out = tmp_path / "styled"
    argv = [sys.executable, "-m", "impasto", "batch", str(inputs), "--style", str(style_path),
            "-o", str(out), "--weights", str(weights_file), "--size", "48", "--steps", "3",
            "--scales", "1", "--later-steps", "2", "--temporal-weight", "1e6",
            "--precision", "fp32", "-q", "--ray", ray_cluster]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, env=_ray_env(), timeout=BATCH_LIMIT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "2 done, 0 failed" in done.stderr
    rows = _rows(out)
    assert all(r[0] == "done" and "/" in r[3] for r in rows)  # run by Ray workers
    clip = next(r for r in rows if r[2].endswith(".mp4"))
    info = probe(out / clip[2])
    assert info.frames == 5 and max(info.width, info.height) == 48
    assert list(out.glob("*.part")) == [] and list(out.glob(".*.part")) == []


def test_a_clip_whose_worker_dies_goes_on_from_the_frames_kept(
    ray_cluster: str, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    from impasto.video.checkpoint import frame_path
    from impasto.video.frames import probe

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    make_clip(inputs / "walk.mp4", 10, (48, 64))
    out = tmp_path / "styled"
    argv = [sys.executable, "-m", "impasto", "batch", str(inputs), "--style", str(style_path),
            "-o", str(out), "--weights", str(weights_file), "--size", "48", "--steps", "3",
            "--scales", "1", "--later-steps", "40", "--temporal-weight", "1e6",
            "--precision", "fp32", "-q", "--ray", ray_cluster]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_ray_env())  # fmt: skip
    try:
        victim = _wait_for_running(proc, out)
        end = time.monotonic() + BATCH_LIMIT
        kept = out / ".impasto-clips"
        while not list(kept.glob(f"*/{frame_path('.', 3)}")):  # the first call's 4 frames
            assert time.monotonic() < end and proc.poll() is None, "no frames were kept"
            time.sleep(0.05)
        os.kill(victim, signal.SIGKILL)  # the worker, on the clip's second call
        _, stderr = proc.communicate(timeout=BATCH_LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "1 done, 0 failed" in stderr
    [(status, attempts, name, worker)] = _rows(out)
    assert status == "done" and attempts == 2 and f":{victim}" not in worker
    assert probe(out / name).frames == 10
    assert not list(kept.iterdir())  # the kept frames went once the video was written

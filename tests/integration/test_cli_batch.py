"""``impasto batch`` from the command line (in process, and killed in a subprocess)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from impasto.batch.manifest import MANIFEST_NAME
from impasto.io.images import read_metadata
from pictures import make_clip

QUICK = ["--size", "32", "--steps", "2", "--precision", "fp32", "-q"]


def _photos(folder: Path, n: int, size: int = 32) -> Path:
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(n)
    for i in range(n):
        arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"p{i}.png")
    return folder


def _argv(photos: Path, style: Path, out: Path, weights: Path, *more: str) -> list[str]:
    return ["batch", str(photos), "--style", str(style), "-o", str(out), "--weights", str(weights),
            *QUICK, *more]  # fmt: skip


def _rows(out: Path) -> list[tuple[str, int, str]]:
    with sqlite3.connect(out / MANIFEST_NAME) as db:
        return db.execute("SELECT status, attempts, output FROM items ORDER BY id").fetchall()


def test_batch_runs_resumes_and_reports(
    run_cli, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    photos = _photos(tmp_path / "photos", 2)
    out = tmp_path / "styled"
    code, stdout, stderr = run_cli(_argv(photos, style_path, out, weights_file))
    assert code == 0, stderr
    assert stdout == ""
    assert "2 done, 0 failed, 0 skipped" in stderr
    pngs = sorted(out.glob("*.png"))
    assert [p.name.split("__")[0] for p in pngs] == ["p0", "p1"]
    info = json.loads(read_metadata(pngs[0])["impasto"])
    assert info["config"]["steps"] == 2 and info["content"].endswith("p0.png")

    _photos(tmp_path / "photos", 3)  # p0..p2 anew: different contents, so three new items
    code, _, stderr = run_cli(_argv(photos, style_path, out, weights_file))
    assert code == 0 and "3 done, 0 failed, 0 skipped" in stderr
    code, _, stderr = run_cli(_argv(photos, style_path, out, weights_file))
    assert code == 0 and "0 done, 0 failed, 3 skipped" in stderr

    code, stdout, _ = run_cli(["batch", "status", str(out)])
    assert code == 0
    assert stdout.splitlines()[0] == f"{out}: 5 items: 5 done, 0 failed, 0 left"


def test_a_changed_setting_makes_new_items(
    run_cli, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    photos = _photos(tmp_path / "photos", 1)
    out = tmp_path / "styled"
    assert run_cli(_argv(photos, style_path, out, weights_file))[0] == 0
    code, _, stderr = run_cli(_argv(photos, style_path, out, weights_file, "--seed", "7"))
    assert code == 0 and "1 done, 0 failed, 0 skipped" in stderr
    outputs = sorted(p.name for p in out.glob("*.png"))
    assert len(outputs) == 2 and outputs[0].split("__")[2] != outputs[1].split("__")[2]
    seeds = {json.loads(read_metadata(out / n)["impasto"])["config"]["seed"] for n in outputs}
    assert 7 in seeds and len(seeds) == 2
    _, stdout, _ = run_cli(["batch", "status", str(out)])
    assert stdout.count("settings ") == 2


def test_failed_items_are_reported_retried_and_set_the_exit_status(
    run_cli, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    photos = _photos(tmp_path / "photos", 1)
    (photos / "broken.jpg").write_text("not a picture")
    out = tmp_path / "styled"
    argv = _argv(photos, style_path, out, weights_file, "--attempts", "2")
    code, _, stderr = run_cli(argv)
    assert code == 1
    assert "1 done, 1 failed, 0 skipped" in stderr
    assert "failed: broken.jpg x style.png (1 attempts):" in stderr
    code, _, stderr = run_cli(argv)
    assert code == 1 and "(2 attempts)" in stderr and "1 skipped" in stderr
    code, _, stderr = run_cli(argv)  # given up: not run again, still reported
    assert code == 1 and "0 done, 1 failed, 1 skipped" in stderr
    assert sorted(r[:2] for r in _rows(out)) == [("done", 1), ("failed", 2)]
    _, stdout, _ = run_cli(["batch", "status", str(out)])
    assert "1 failed" in stdout and "broken.jpg" in stdout


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty", "no photos in"),
        ("no_style", "give at least one style image"),
        ("output_is_file", "the output folder is a file"),
        ("output_unmakeable", "cannot make the output folder"),
        ("no_output", "give the output folder with -o OUT"),
        ("bad_style", "not an image file"),
        ("attempts", "--attempts must be at least 1"),
        ("bad_setting", "--steps"),
        ("status_missing", "no batch manifest"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    run_cli, tmp_path: Path, style_path: Path, weights_file: Path, case: str, message: str
) -> None:
    photos = _photos(tmp_path / "photos", 1)
    out = tmp_path / "styled"
    argv = _argv(photos, style_path, out, weights_file)
    if case == "empty":
        (tmp_path / "empty").mkdir()
        argv[1] = str(tmp_path / "empty")
    elif case == "no_style":
        argv[2:4] = []
    elif case == "output_is_file":
        out.write_text("x")
    elif case == "output_unmakeable":
        argv[argv.index("-o") + 1] = "/proc/impasto-batch-out"
    elif case == "no_output":
        argv[argv.index("-o") : argv.index("-o") + 2] = []
    elif case == "bad_style":
        (tmp_path / "bad.png").write_text("text")
        argv[3] = str(tmp_path / "bad.png")
    elif case == "attempts":
        argv += ["--attempts", "0"]
    elif case == "bad_setting":
        argv += ["--steps", "-3"]
    elif case == "status_missing":
        argv = ["batch", "status", str(tmp_path)]
    code, stdout, stderr = run_cli(argv)
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and message in stderr, stderr
    assert stdout == ""


def test_output_folder_not_writable(
    run_cli, tmp_path: Path, style_path: Path, weights_file: Path, monkeypatch
) -> None:
    """(Tests may run as root, which may write anywhere: the permission check is stubbed.)"""
    photos = _photos(tmp_path / "photos", 1)
    out = tmp_path / "styled"
    out.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != out and real(p, mode))
    code, _, stderr = run_cli(_argv(photos, style_path, out, weights_file))
    assert code == 2 and stderr == f"impasto: error: the output folder is not writable: {out}\n"


def _wait_for(predicate, what: str, limit: float = 120.0) -> None:
    end = time.monotonic() + limit  # a hang guard, not a speed assertion
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_killed_batch_loses_nothing(tmp_path: Path, style_path: Path, weights_file: Path) -> None:
    """SIGKILL a batch while an item runs: the same command finishes the batch, with every
    output written once and the interrupted item retried."""
    photos = _photos(tmp_path / "photos", 3, size=48)
    out = tmp_path / "styled"
    argv = [sys.executable, "-m", "impasto", *_argv(photos, style_path, out, weights_file)]
    argv[argv.index("2", argv.index("--steps"))] = "40"  # items long enough to be caught
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:

        def one_done_one_running() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"the batch ended before it was killed: {proc.communicate()}")
            if not (out / MANIFEST_NAME).is_file():
                return False
            try:
                statuses = [r[0] for r in _rows(out)]
            except sqlite3.OperationalError:  # the table is being made
                return False
            return "done" in statuses and "running" in statuses

        _wait_for(one_done_one_running, "an item to run after one is done")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    before = _rows(out)
    assert [r[0] for r in before].count("running") == 1
    again = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    after = _rows(out)
    assert [r[0] for r in after] == ["done"] * 3
    killed = next(i for i, r in enumerate(before) if r[0] == "running")
    assert after[killed][1] == 2  # the interrupted attempt counted, then it was retried
    assert sorted(p.name for p in out.glob("*.png")) == sorted(r[2] for r in after)


def test_ctrl_c_stops_after_the_step_and_puts_the_item_back(
    tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    photos = _photos(tmp_path / "photos", 2, size=48)
    out = tmp_path / "styled"
    argv = [sys.executable, "-m", "impasto", *_argv(photos, style_path, out, weights_file)]
    argv[argv.index("2", argv.index("--steps"))] = "400"
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:

        def running() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"the batch ended before Ctrl-C: {proc.communicate()}")
            with contextlib.suppress(sqlite3.OperationalError):
                return (out / MANIFEST_NAME).is_file() and "running" in [r[0] for r in _rows(out)]
            return False

        _wait_for(running, "an item to run")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 130, stderr
    assert stderr.splitlines()[-1] == (
        "impasto: batch interrupted; run the same command again to go on"
    )
    assert _rows(out)[0][:2] == ("queued", 0)  # back in the queue, no attempt


# -- the network route ----------------------------------------------------------------------------
@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A tiny style network's model file (random weights: the route, not the painting)."""
    from impasto.network.config import NetworkConfig
    from impasto.network.info import NetworkInfo
    from impasto.network.model import build_network
    from impasto.network.modelfile import save_network

    small = NetworkConfig(width=0.125, blocks=1)
    info = NetworkInfo(small, "painting.png", "cd" * 32, {"steps": 1})
    return save_network(build_network(small, seed=5), tmp_path / "starry.safetensors", info)


@pytest.mark.precision
def test_network_batch_runs_resumes_and_takes_a_model_by_name(
    run_cli, tmp_path: Path, model_file: Path, monkeypatch
) -> None:
    photos = _photos(tmp_path / "photos", 3)
    out = tmp_path / "fast"
    argv = ["batch", str(photos), "--network", str(model_file), "-o", str(out), "-q"]
    code, stdout, stderr = run_cli([*argv, "--size", "24", "--threads", "1"])
    assert code == 0, stderr
    assert stdout == "" and "3 done, 0 failed, 0 skipped" in stderr
    pngs = sorted(out.glob("*.png"))
    assert [p.name.split("__")[:2] for p in pngs] == [[f"p{i}", "starry"] for i in range(3)]
    with Image.open(pngs[0]) as first:
        assert first.size == (24, 24)
    info = json.loads(read_metadata(pngs[0])["impasto"])
    assert info["model"] == "starry.safetensors" and info["apply"]["size"] == 24
    # Again, the model named as `impasto apply` takes it (the user's models folder): done.
    monkeypatch.setenv("IMPASTO_MODELS", str(model_file.parent))
    argv[argv.index(str(model_file))] = "starry"
    code, _, stderr = run_cli([*argv, "--size", "24"])
    assert code == 0 and "0 done, 0 failed, 3 skipped" in stderr
    code, _, stderr = run_cli(argv)  # another size: new items beside the others
    assert code == 0 and "3 done, 0 failed, 0 skipped" in stderr
    assert len(list(out.glob("*.png"))) == 6


def test_network_batch_takes_the_strength(run_cli, tmp_path: Path, model_file: Path) -> None:
    photos = _photos(tmp_path / "photos", 1)
    out = tmp_path / "fast"
    argv = ["batch", str(photos), "--network", str(model_file), "-o", str(out), "-q"]
    code, _, stderr = run_cli([*argv, "--strength", "0", "--precision", "fp32"])
    assert code == 0, stderr
    (png,) = out.glob("*.png")
    with Image.open(photos / "p0.png") as a, Image.open(png) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b.convert("RGB")))
    assert json.loads(read_metadata(png)["impasto"])["apply"]["strength"] == 0


@pytest.mark.parametrize(
    ("more", "message"),
    [
        (["--style", "STYLE"], "give --style or --network, not both"),
        (["--steps", "5"], "--steps does not apply with --network"),
        (["--weights", "w.pt"], "--weights does not apply with --network"),
        (["--backend", "tensorflow"], "unknown --backend 'tensorflow'; choose one of: auto"),
        (["--size", "2"], "--size must be an integer of at least 8 px"),
        (["--strength", "1.5"], "--strength must be a number from 0 to 1, got 1.5"),
    ],
)
def test_network_flags_are_checked_before_any_work(
    run_cli, tmp_path: Path, model_file: Path, style_path: Path, more: list[str], message: str
) -> None:
    photos = _photos(tmp_path / "photos", 1)
    out = tmp_path / "fast"
    more = [str(style_path) if m == "STYLE" else m for m in more]
    argv = ["batch", str(photos), "--network", str(model_file), "-o", str(out), "-q", *more]
    code, stdout, stderr = run_cli(argv)
    assert code == 2 and stderr.count("\n") == 1 and message in stderr, stderr
    assert not out.exists() and stdout == ""


def test_a_bad_model_or_backend_without_network_is_one_line(
    run_cli, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    photos = _photos(tmp_path / "photos", 1)
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"\x00" * 64)
    argv = ["batch", str(photos), "--network", str(fake), "-o", str(tmp_path / "o"), "-q"]
    code, _, stderr = run_cli(argv)
    assert code == 2 and stderr.count("\n") == 1 and str(fake) in stderr, stderr
    code, _, stderr = run_cli([*_argv(photos, style_path, tmp_path / "o", weights_file),
                               "--backend", "torch"])  # fmt: skip
    assert code == 2 and stderr == "impasto: error: --backend applies only with --network\n"


def test_batch_takes_clips_beside_photos(
    run_cli, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    from impasto.video.frames import probe

    inputs = _photos(tmp_path / "inputs", 1)
    make_clip(inputs / "walk.mp4", 3)
    out = tmp_path / "styled"
    more = ("--scales", "1", "--later-steps", "1", "--frames", "1:3", "--temporal-weight", "1e6")
    code, _, stderr = run_cli(_argv(inputs, style_path, out, weights_file, *more))
    assert code == 0, stderr
    assert "2 done, 0 failed, 0 skipped" in stderr
    [video] = out.glob("*.mp4")
    assert video.name.startswith("walk__") and probe(video).frames == 2
    # Only the clip's settings changed: the photo is skipped, the clip made anew.
    code, _, stderr = run_cli(_argv(inputs, style_path, out, weights_file, *more[:-2]))
    assert code == 0 and "1 done, 0 failed, 1 skipped" in stderr, stderr
    code, _, stderr = run_cli(["batch", "status", str(out)])
    assert code == 0


def test_clip_settings_are_checked_before_any_work(
    run_cli, tmp_path: Path, style_path: Path, weights_file: Path
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    make_clip(inputs / "walk.mp4", 3)
    out = tmp_path / "styled"
    code, _, stderr = run_cli(_argv(inputs, style_path, out, weights_file, "--size", "33"))
    assert code == 2 and "--size" in stderr and "33" in stderr and stderr.count("\n") == 1
    code, _, stderr = run_cli(["batch", str(inputs), "--network", "x.onnx", "-o", str(out),
                               "--later-steps", "3"])  # fmt: skip
    assert code == 2 and "--later-steps does not apply with --network" in stderr
    assert not (out / MANIFEST_NAME).exists()

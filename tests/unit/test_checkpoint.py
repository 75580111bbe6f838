"""Checkpoints: an interrupted and resumed run gives the same image as an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from impasto import Cancelled, StepEvent, stylize
from impasto.api import Checkpointing, resume
from impasto.errors import CheckpointError
from impasto.optim.checkpoint import FILE

# Two scales (24 px then 40 px), noise init so the seed matters, and no early stop.
RUN = {"size": 40, "scales": 2, "min_size": 24, "steps": (6, 5), "init": "noise", "tol": 0.0}


def _cancel_at(step: int):
    def callback(event: StepEvent) -> None:
        if event.step == step:
            raise Cancelled(f"test stop at {step}")

    return callback


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("stop_at", [3, 6, 8])  # inside scale 1, at its end, inside scale 2
def test_resume_gives_the_same_image_as_an_uninterrupted_run(
    tiny_weights, content_tensor, style_tensor, tmp_path: Path, optimizer: str, stop_at: int
) -> None:
    full = stylize(
        content_tensor, style_tensor, weights=tiny_weights, optimizer=optimizer, seed=5, **RUN
    )
    spec = Checkpointing(tmp_path / "ckpt", every=100, extra={"output": "x.png"})
    with pytest.raises(Cancelled, match="checkpoint saved"):
        stylize(
            content_tensor,
            style_tensor,
            weights=tiny_weights,
            optimizer=optimizer,
            seed=5,
            callback=_cancel_at(stop_at),
            checkpoint=spec,
            **RUN,
        )
    assert (tmp_path / "ckpt" / FILE).is_file()
    steps_seen: list[int] = []
    resumed = resume(
        tmp_path / "ckpt", weights=tiny_weights, callback=lambda e: steps_seen.append(e.step)
    )
    assert steps_seen[0] == stop_at + 1 and steps_seen[-1] == 11
    assert torch.equal(full.tensor, resumed.tensor)
    assert resumed.history == full.history
    assert resumed.extra == {"output": "x.png"}


def test_periodic_checkpoints_are_written_every_n_steps(
    tiny_weights, content_tensor, style_tensor, tmp_path: Path
) -> None:
    seen: list[float] = []

    def watch(event: StepEvent) -> None:
        p = tmp_path / "ck" / FILE
        seen.append(p.stat().st_mtime_ns if p.exists() else 0)

    stylize(
        content_tensor,
        style_tensor,
        weights=tiny_weights,
        callback=watch,
        checkpoint=Checkpointing(tmp_path / "ck", every=4),
        **RUN,
    )
    # Nothing before step 4; a new file at steps 4 and 8.
    assert seen[:3] == [0, 0, 0]
    assert seen[3] > 0 and seen[7] > seen[3]
    assert not [p for p in (tmp_path / "ck").iterdir() if p.name != FILE]  # no temp files


def test_resume_without_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        resume(tmp_path)
    (tmp_path / FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        resume(tmp_path)


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_the_job(
    tmp_path: Path, weights_file: Path, content_path: Path, style_path: Path
) -> None:
    """The real thing: SIGINT to a running `impasto stylize --checkpoint`, then `impasto
    resume`, which writes the output the first command asked for, pixel for pixel the same as
    an uninterrupted run's."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path("src").resolve())}
    cmd = [sys.executable, "-m", "impasto"]

    def args(out: Path) -> list[str]:
        return [
            "stylize",
            str(content_path),
            str(style_path),
            "-o",
            str(out),
            "--weights",
            str(weights_file),
            "--size",
            "32",
            "--steps",
            "60",
            "--tol",
            "0",
            "-q",
            "--init",
            "noise",
            "--seed",
            "3",
        ]

    full = tmp_path / "full.png"
    subprocess.run(cmd + args(full), env=env, check=True, timeout=120)

    out, ckpt, snaps = tmp_path / "out.png", tmp_path / "ckpt", tmp_path / "snaps"
    extra = ["--checkpoint", str(ckpt), "--save-every", "1", "--snapshot-dir", str(snaps)]
    proc = subprocess.Popen(cmd + args(out) + extra, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not snaps.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in err and "Traceback" not in err
    assert not out.exists()
    assert (ckpt / FILE).is_file()

    done = subprocess.run(
        [*cmd, "resume", str(ckpt), "-q"], env=env, timeout=120, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == full.read_bytes()
    assert (snaps / "step_00060.png").is_file()  # the job's snapshots went on after resuming

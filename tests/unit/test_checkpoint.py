"""Checkpoints: an interrupted and resumed run gives the same image as an uninterrupted one."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
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


def _interrupt(content, style, weights, folder: Path, at: int, **run) -> None:
    """A run stopped at step ``at`` that leaves its checkpoint in ``folder``."""
    with pytest.raises(Cancelled):
        stylize(
            content, style, weights=weights, callback=_cancel_at(at),
            checkpoint=Checkpointing(folder, every=100), **run,
        )  # fmt: skip


@pytest.mark.precision
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


@pytest.mark.precision
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


# `impasto` run as a command, held inside the callback of step STOP until the test's SIGINT
# has been handled: the run cannot end by itself, and the signal arrives at a known step.
HELD_CLI = """
import signal, sys, time
import impasto, impasto.api, impasto.cli

STOP = int(sys.argv[1])
real = impasto.api.stylize


def stylize(*args, callback, **kwargs):
    def held(event):
        if event.step == STOP:
            handled = []
            cli_handler = signal.getsignal(signal.SIGINT)

            def note(signum, frame):
                cli_handler(signum, frame)
                handled.append(signum)

            signal.signal(signal.SIGINT, note)
            print(f"holding at step {event.step}", flush=True)
            while not handled:
                time.sleep(0.01)
        callback(event)

    return real(*args, callback=held, **kwargs)


for module in (impasto, impasto.api, impasto.cli):
    if hasattr(module, "stylize"):
        module.stylize = stylize
sys.exit(impasto.cli.main(sys.argv[2:]))
"""


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_the_job(
    tmp_path: Path, weights_file: Path, content_path: Path, style_path: Path
) -> None:
    """The real thing: SIGINT to a running `impasto stylize --checkpoint`, then `impasto
    resume`, which writes the output the first command asked for, pixel for pixel the same as
    an uninterrupted run's. The first command is held at step 5 until the signal is handled,
    so it stops at step 5 (timeouts only guard against a hang)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path("src").resolve())}
    cmd = [sys.executable, "-m", "impasto"]
    stop, steps = 5, 12

    def args(out: Path) -> list[str]:
        return [
            "stylize", str(content_path), str(style_path), "-o", str(out),
            "--weights", str(weights_file), "--size", "32", "--steps", str(steps), "--tol", "0",
            "-q", "--init", "noise", "--seed", "3",
            "--precision", "fp32",  # two processes compared: each would measure `auto` anew
        ]  # fmt: skip

    full = tmp_path / "full.png"
    subprocess.run(cmd + args(full), env=env, check=True, timeout=120)

    out, ckpt, snaps = tmp_path / "out.png", tmp_path / "ckpt", tmp_path / "snaps"
    extra = ["--checkpoint", str(ckpt), "--save-every", "1", "--snapshot-dir", str(snaps)]
    held = [sys.executable, "-c", HELD_CLI, str(stop)]
    with subprocess.Popen(
        held + args(out) + extra, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        if line != f"holding at step {stop}\n":
            proc.kill()
            pytest.fail(f"the run did not reach step {stop}: {line!r} {proc.communicate()}")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"stopped at step {stop}; checkpoint saved" in err and "Traceback" not in err
    assert not out.exists()
    assert (ckpt / FILE).is_file()
    done_before = {p.name: p.stat().st_mtime_ns for p in snaps.iterdir()}
    assert sorted(done_before) == [f"step_{s:05d}.png" for s in range(1, stop + 1)]

    done = subprocess.run(
        [*cmd, "resume", str(ckpt), "-q"], env=env, timeout=120, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == full.read_bytes()
    # The job's snapshots went on after resuming, from the step after the stop.
    after = {p.name: p.stat().st_mtime_ns for p in snaps.iterdir()}
    assert sorted(after) == [f"step_{s:05d}.png" for s in range(1, steps + 1)]
    assert all(after[name] == t for name, t in done_before.items())


# Ctrl-C before the change of scale (a checkpoint is saved at the stop), and a crash after
# it (the last checkpoint is at step 21; the frame kept at step 25 must not count twice).
@pytest.mark.precision
@pytest.mark.parametrize(("stop_at", "crash"), [(12, False), (25, True)])
def test_resume_writes_the_animation_and_plot_the_command_asked_for(
    tmp_path: Path,
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
    weights_file: Path,
    content_path: Path,
    style_path: Path,
    stop_at: int,
    crash: bool,
) -> None:
    """`--animate`/`--plot` survive an interruption: the resumed job writes the animation
    with every frame, the ones from before the stop included, as an uninterrupted run does."""
    from PIL import Image, ImageSequence

    from impasto.cli import pictures as viz_cli

    def args(tag: str) -> list[str]:
        return [
            "stylize",
            content_path,
            style_path,
            "-o",
            tmp_path / f"{tag}.png",
            "--weights",
            weights_file,
            "--size",
            "40",
            "--scales",
            "2",
            "--min-size",
            "24",
            "--steps",
            "30",
            "--tol",
            "0",
            "-q",
            "--animate",
            tmp_path / f"{tag}.gif",
            "--animate-every",
            "5",
            "--plot",
            tmp_path / f"{tag}.svg",
        ]

    assert run_cli(args("full"))[0] == 0

    original = viz_cli.Recorder.callback

    def stopping(self: viz_cli.Recorder, event: StepEvent) -> None:
        original(self, event)
        if self.folder is not None and event.step == stop_at:
            raise (RuntimeError if crash else Cancelled)(f"test stop at {stop_at}")

    ckpt = tmp_path / "ckpt"
    split_args = [*args("split"), "--checkpoint", ckpt, "--checkpoint-every", "7"]
    with monkeypatch.context() as m:
        m.setattr(viz_cli.Recorder, "callback", stopping)
        if crash:
            with pytest.raises(RuntimeError):
                run_cli(split_args)
        else:
            code, _, err = run_cli(split_args)
            assert code == 130, err
    assert not (tmp_path / "split.gif").exists() and not (tmp_path / "split.svg").exists()

    code, _, err = run_cli(["resume", ckpt, "-q"])
    assert code == 0, err

    def frames(path: Path) -> list[bytes]:
        with Image.open(path) as im:
            return [f.convert("RGB").tobytes() for f in ImageSequence.Iterator(im)]

    full, split = frames(tmp_path / "full.gif"), frames(tmp_path / "split.gif")
    assert len(split) == len(full) >= 7  # steps 1, 5, ..., 30
    assert split == full
    # Each frame once, the replayed ones included (a GIF would merge a repeated frame).
    kept = json.loads((ckpt / viz_cli.RECORDER_FOLDER / viz_cli.RECORDER_STATE).read_text())
    assert [f["step"] for f in kept["frames"]] == [1, 5, 10, 15, 20, 25, 30]
    assert (tmp_path / "split.png").read_bytes() == (tmp_path / "full.png").read_bytes()
    # The plot marks the change of scale whether it came before or after the stop.
    assert (tmp_path / "split.svg").read_text().count("stroke-dasharray") == (
        tmp_path / "full.svg"
    ).read_text().count("stroke-dasharray")


def test_resume_keeps_the_precision_auto_chose_when_the_run_began(
    tiny_weights, content_tensor, style_tensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``auto`` is a timing measurement that a loaded machine can tip either way between
    processes; the checkpoint keeps what it resolved to, so the resumed run does not switch."""
    import impasto.features.extractor as extractor

    run = {**RUN, "precision": "auto", "seed": 5}
    monkeypatch.setattr(extractor, "bf16_is_faster", lambda: True)
    full = stylize(content_tensor, style_tensor, weights=tiny_weights, **run)
    _interrupt(content_tensor, style_tensor, tiny_weights, tmp_path / "ckpt", 3, **run)
    monkeypatch.setattr(extractor, "bf16_is_faster", lambda: False)  # the machine changed its mind
    resumed = resume(tmp_path / "ckpt", weights=tiny_weights)
    assert full.sources["precision"] == resumed.sources["precision"] == "bf16"
    assert torch.equal(full.tensor, resumed.tensor)


def test_a_checkpoint_from_before_final_share_resumes_with_its_own_plan(
    tiny_weights, content_tensor, style_tensor, tmp_path: Path
) -> None:
    """Checkpoints written before ``final_share`` existed ran their step plan with a third at
    the full size; resuming one must keep that plan, not take today's default share."""
    from impasto.optim.checkpoint import Checkpoint, load_checkpoint

    run = {**RUN, "steps": 9, "precision": "fp32"}
    _interrupt(content_tensor, style_tensor, tiny_weights, tmp_path / "ckpt", 2, **run)
    state = load_checkpoint(tmp_path / "ckpt").to_dict()
    assert Checkpoint.from_dict(state).inputs.config.final_share == pytest.approx(8 / 15)
    del state["config"]["final_share"]
    assert Checkpoint.from_dict(state).inputs.config.final_share == pytest.approx(1 / 3)

"""``impasto video`` and ``impasto resume`` for a video, in process: the tiny random VGG, a
4-frame 32x48 synthetic clip; bad input is one line and exit status 2 before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from impasto.video.checkpoint import load_video_checkpoint
from impasto.video.frames import probe, read_frames
from pictures import make_clip

QUICK = ["--size", "48", "--steps", "3", "--later-steps", "2", "--scales", "1"]
QUICK += ["--precision", "fp32", "-q"]


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip.mp4", fps=8.0, speed=(-3, 0))


def test_video_writes_the_clip(run_cli, clip, style_path, weights_file, tmp_path) -> None:
    out = tmp_path / "out.mp4"
    argv = ["video", clip, style_path, "-o", out, "--weights", weights_file, *QUICK]
    code, stdout, stderr = run_cli([*argv, "--frames", "1:4", "--temporal-weight", "1e5"])
    assert code == 0, stderr
    assert stdout == "" and stderr == ""
    info = probe(out)
    assert (info.frames, info.width, info.height, info.fps) == (3, 48, 32, 8.0)
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


def test_progress_and_the_summary_line(run_cli, clip, style_path, weights_file, tmp_path) -> None:
    out = tmp_path / "out.gif"
    argv = ["video", clip, style_path, "-o", out, "--weights", weights_file, *QUICK[:-1]]
    code, _, stderr = run_cli([*argv, "--frames", "0:2"])
    assert code == 0, stderr
    assert "frame" in stderr and f"wrote {out} (2 frames" in stderr
    assert len(list(read_frames(out))) == 2


def test_resume_continues_a_video(run_cli, clip, style_path, weights_file, tmp_path) -> None:
    out = tmp_path / "out.webm"
    folder = tmp_path / "run"
    argv = ["video", clip, style_path, "-o", out, "--weights", weights_file, *QUICK]
    code, _, stderr = run_cli([*argv, "--frames", "0:2", "--checkpoint", folder])
    assert code == 0, stderr
    checkpoint = load_video_checkpoint(folder)
    assert checkpoint.progress.done == 2
    out.unlink()
    code, _, stderr = run_cli(["resume", folder, "-q"])  # all done: the video is written again
    assert code == 0, stderr
    assert probe(out).frames == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--frames", "2:9"], "frame range 2:9 is outside clip.mp4, which has 4 frames"),
        (["--frames", "x"], "--frames must be START:STOP"),
        (["--size", "47"], "--size must be an even number"),
        (["--later-steps", "0"], "--later-steps must be a positive integer"),
        (["--fill", "blur"], "unknown --fill 'blur'; choose one of: content, previous, warped"),
        (["--steps", "3,3"], "--steps gives 2 counts but the run has 1 --scales"),
        (["--device", "cuda:7"], "cuda:7"),
    ],
)
def test_bad_settings(run_cli, clip, style_path, tmp_path, extra, message) -> None:
    out = tmp_path / "out.mp4"
    code, _, stderr = run_cli(["video", clip, style_path, "-o", out, *QUICK, *extra])
    assert code == 2
    assert stderr.startswith("impasto: error:") and message in stderr
    assert stderr.count("\n") == 1
    assert not out.exists()


def test_bad_inputs(run_cli, clip, style_path, content_path, tmp_path) -> None:
    cases = [
        (["video", tmp_path / "none.mp4", style_path, "-o", tmp_path / "a.mp4"], "no such video"),
        (["video", content_path, style_path, "-o", tmp_path / "a.mp4"], "not a video"),
        (["video", clip, style_path, "-o", tmp_path / "a.avi"], "'.avi'"),
        (["video", clip, style_path, "-o", tmp_path / "no" / "a.mp4"], "no"),
        (["video", clip, "-o", tmp_path / "a.mp4"], "give a STYLE image or --network"),
        (["video", clip, style_path, "--network", "x", "-o", tmp_path / "a.mp4"], "one of them"),
        (["video", clip, tmp_path / "none.png", "-o", tmp_path / "a.mp4"], "none.png"),
        (["resume", tmp_path], "no checkpoint"),
    ]
    for argv, message in cases:
        code, _, stderr = run_cli([*argv, "-q"])
        assert code == 2, (argv, stderr)
        assert stderr.startswith("impasto: error:") and message in stderr, (argv, stderr)
        assert stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "content.png", "style.png"]


def test_help_lists_the_video_flags(run_cli) -> None:
    code, stdout, _ = run_cli(["video", "--help"])
    assert code == 0
    for flag in ("--frames", "--later-steps", "--temporal-weight", "--fill", "--deflicker"):
        assert flag in stdout
    text = " ".join(stdout.split())
    assert "--size SIZE long side of the output frames, in pixels (default 384)" in text
    assert "(default 512)" not in text  # StyleConfig's --size is not the video's
    assert "--style-weight" in stdout and "--network" in stdout


def _model(tmp_path: Path) -> Path:
    from impasto.network.config import NetworkConfig
    from impasto.network.info import NetworkInfo
    from impasto.network.model import build_network
    from impasto.network.modelfile import StyleNetwork

    small = NetworkConfig(width=0.125, blocks=1)
    return StyleNetwork(build_network(small, seed=3), NetworkInfo(small)).save(
        tmp_path / "m.safetensors"
    )


@pytest.mark.precision
def test_the_network_route(run_cli, clip, tmp_path) -> None:
    model = _model(tmp_path)
    out = tmp_path / "fast.gif"
    argv = ["video", clip, "--network", model, "-o", out, "--size", "48", "-q"]
    code, _, stderr = run_cli([*argv, "--deflicker", "0.5"])
    assert code == 0, stderr
    assert len(list(read_frames(out))) == 4
    code, _, stderr = run_cli([*argv, "--deflicker", "1"])
    assert code == 2 and "--deflicker must be in [0, 1)" in stderr
    code, _, stderr = run_cli([*argv, "--checkpoint", tmp_path / "ck"])
    assert code == 2 and "the network route needs none" in stderr


def test_the_network_routes_strength_blends_the_frames_in(run_cli, clip, tmp_path) -> None:
    """0 gives the clip's frames at the output size, 1 the painting as without the flag, 0.5
    lies between (lossless, so the frames decode as they were written)."""
    import torch

    from impasto.video.frames import VideoWriter
    from impasto.video.run import quantised

    model = _model(tmp_path)
    argv = ["video", clip, "--network", model, "--size", "48", "--crf", "0", "-q"]

    def run(name: str, *extra: str) -> torch.Tensor:
        code, _, stderr = run_cli([*argv, "--precision", "fp32", "-o", tmp_path / name, *extra])
        assert code == 0, stderr
        return torch.cat(list(read_frames(tmp_path / name)))

    plain, painted = run("plain.mp4"), run("one.mp4", "--strength", "1")
    assert torch.equal(plain, painted)
    with VideoWriter(tmp_path / "frames.mp4", 8.0, crf=0) as writer:
        for frame in read_frames(clip, size=48):
            writer.write(quantised(frame))
    frames = torch.cat(list(read_frames(tmp_path / "frames.mp4")))
    assert (run("none.mp4", "--strength", "0") - frames).abs().max() <= 1 / 255
    half = run("half.mp4", "--strength", "0.5")
    assert (half - (painted + frames) / 2).abs().mean() < 2 / 255
    assert (painted - frames).abs().mean() > 10 / 255  # the three clips do differ


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-0.1", "--strength must be a number from 0 to 1, got -0.1"),
        ("1.5", "--strength must be a number from 0 to 1, got 1.5"),
        ("nan", "--strength must be a number from 0 to 1, got nan"),
        ("x", "argument --strength: invalid float value: 'x'"),
    ],
)
def test_a_bad_strength_is_refused_before_any_work(run_cli, clip, tmp_path, value, message):
    out = tmp_path / "out.mp4"
    argv = ["video", clip, "--network", tmp_path / "none.safetensors", "-o", out, "-q"]
    code, _, stderr = run_cli([*argv, "--strength", value])
    assert code == 2 and stderr.startswith("impasto: error:") and message in stderr, stderr
    assert stderr.count("\n") == 1 and not out.exists()


def test_the_strength_applies_only_with_a_network(run_cli, clip, style_path, tmp_path) -> None:
    out = tmp_path / "out.mp4"
    code, _, stderr = run_cli(["video", clip, style_path, "-o", out, "--strength", "0.5", "-q"])
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert "impasto: error: --strength applies only with --network" in stderr
    assert not out.exists()

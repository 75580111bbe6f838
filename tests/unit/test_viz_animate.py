"""Animations: which steps become frames, frame sizes, side-by-side layout, captions, and the
GIF/WebP/MP4 files read back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impasto.api import stylize
from impasto.errors import OutputError
from impasto.optim.events import StepEvent
from impasto.viz.animate import (
    GAP,
    FrameRecorder,
    check_animation_path,
    frame_interval,
    render_frames,
    write_animation,
)


def _event(step: int, total: int, scale: int = 0, scales: int = 1, side: int = 16) -> StepEvent:
    image = torch.full((1, 3, side, side), step / total)
    losses = {"content": 1.0, "style": 2.0, "tv": 0.5, "total": 3.5}
    return StepEvent(step, total, scale, scales, (side, side), losses, 0.1, image)


@pytest.mark.parametrize(
    ("total", "every"), [(1, 1), (40, 1), (100, 1), (101, 2), (200, 2), (201, 3), (5000, 50)]
)
def test_frame_interval_gives_50_to_100_frames(total: int, every: int) -> None:
    assert frame_interval(total) == every
    frames = total // every
    assert frames <= 100
    if total >= 100:
        assert frames >= 50


def test_recorder_keeps_first_every_nth_and_last_step() -> None:
    rec = FrameRecorder(every=4)
    for step in range(1, 11):
        rec(_event(step, 10))
    assert [f.step for f in rec.frames] == [1, 4, 8, 10]


def test_recorder_picks_interval_from_run_length() -> None:
    rec = FrameRecorder()
    for step in range(1, 301):
        rec(_event(step, 300, side=4))
    assert rec.every == 3
    assert 50 <= len(rec.frames) <= 101
    assert rec.frames[-1].step == 300


def test_recorder_copies_the_live_image() -> None:
    rec = FrameRecorder(every=1)
    ev = _event(1, 2)
    rec(ev)
    ev.image.fill_(0.0)  # the run goes on changing its tensor
    assert np.asarray(rec.frames[0].image).mean() > 0


def test_recorder_shrinks_large_frames() -> None:
    rec = FrameRecorder(every=1, max_size=8)
    rec(_event(1, 1, side=16))
    assert rec.frames[0].image.size == (8, 8)


def test_bad_interval() -> None:
    with pytest.raises(OutputError, match="positive"):
        FrameRecorder(every=0)


@pytest.fixture
def multiscale_run(tiny_weights, content_tensor, style_tensor):
    """A two-scale run (24 then 32 px) that stopped early or not, with its recorder."""
    rec = FrameRecorder(every=2)
    result = stylize(
        content_tensor,
        style_tensor,
        weights=tiny_weights,
        size=32,
        scales=2,
        min_size=24,
        steps=7,
        tol=0,
        callback=rec,
    )
    rec.finish(result)
    return rec, result


@pytest.mark.precision
def test_frames_of_a_multiscale_run_share_the_final_size(multiscale_run) -> None:
    rec, result = multiscale_run
    assert [f.step for f in rec.frames] == [1, 2, 4, 6, 7]
    sizes = {f.image.size for f in rec.frames}
    assert sizes == {(24, 24), (32, 32)}  # coarse frames come in smaller
    frames = rec.render(annotate=False)
    assert len(frames) == 5
    assert {im.size for im in frames} == {(32, 32)}
    # The last frame is the result itself.
    assert np.array_equal(np.asarray(frames[-1]), np.asarray(result.image))


@pytest.mark.precision
def test_finish_adds_the_final_image_when_the_run_stopped_early(tiny_weights) -> None:
    rec = FrameRecorder(every=5)
    content = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    result = stylize(
        content, content, weights=tiny_weights, size=32, scales=1, steps=12, callback=rec
    )
    steps = len(result.history)
    rec.finish(result)
    assert rec.frames[-1].step == steps
    rec.finish(result)  # idempotent
    assert [f.step for f in rec.frames].count(steps) == 1


@pytest.mark.precision
def test_side_by_side_and_caption(multiscale_run, content_tensor, style_tensor) -> None:
    rec, _ = multiscale_run
    plain = rec.render(annotate=False)
    side = rec.render(content=content_tensor, style=style_tensor, annotate=False)
    assert side[0].size == (3 * 32 + 2 * GAP, 32)
    # The middle panel is the frame itself.
    assert np.array_equal(np.asarray(side[-1])[:, 32 + GAP : 64 + GAP], np.asarray(plain[-1]))
    only_content = rec.render(content=content_tensor, annotate=False)
    assert only_content[0].size == (2 * 32 + GAP, 32)

    captioned = rec.render(content=content_tensor, style=style_tensor)
    w, h = captioned[0].size
    assert w == 3 * 32 + 2 * GAP and h > 32  # a text band under the panels
    band = np.asarray(captioned[0])[32:]
    assert (band < 128).any()  # dark text on the white band
    # Different steps, different captions.
    assert not np.array_equal(np.asarray(captioned[0])[32:], np.asarray(captioned[1])[32:])


def test_render_without_frames() -> None:
    with pytest.raises(OutputError, match="no frames"):
        render_frames([])


def _frames(n: int = 6, size: tuple[int, int] = (33, 21)) -> list[Image.Image]:
    return [Image.new("RGB", size, (40 * k % 256, 255 - 40 * k % 256, 128)) for k in range(n)]


def test_gif_frames_and_durations(tmp_path: Path) -> None:
    out = write_animation(_frames(6), tmp_path / "run.gif", fps=20, hold=1.0)
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == 6 and im.size == (33, 21)
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
    assert durations[:-1] == [50] * 5
    assert durations[-1] == 1050  # the last frame is held
    assert [p.name for p in tmp_path.iterdir()] == ["run.gif"]  # no temp file left


def test_webp(tmp_path: Path) -> None:
    out = write_animation(_frames(5), tmp_path / "run.webp")
    with Image.open(out) as im:
        assert im.format == "WEBP" and im.n_frames == 5 and im.size == (33, 21)


def _decode_mp4(path: Path, width: int, height: int) -> np.ndarray:
    """All frames of ``path`` as (N, H, W, 3) uint8, decoded by the ffmpeg binary that
    imageio-ffmpeg ships (imageio's own reader leaves pipes open, which pytest flags)."""
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    cmd = [exe, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    assert len(raw) % (width * height * 3) == 0
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def test_mp4(tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg")
    frames = _frames(4)
    out = write_animation(frames, tmp_path / "run.mp4", fps=10, hold=0.5)
    video = _decode_mp4(out, 34, 22)  # padded to even sides for H.264
    assert len(video) == 4 + 5  # half a second more of the last frame at 10 fps
    # Lossy, but close: the first frame's colour survives the encoding.
    want = np.asarray(frames[0], dtype=np.float32)
    assert np.abs(video[0, :21, :33].astype(np.float32) - want).mean() < 12
    assert [p.name for p in tmp_path.iterdir()] == ["run.mp4"]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("run.avi", "unknown animation extension '.avi'"),
        ("run", "unknown animation extension '(none)'"),
        ("missing/run.gif", "folder does not exist"),
    ],
)
def test_bad_animation_paths(tmp_path: Path, name: str, words: str) -> None:
    with pytest.raises(OutputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        write_animation(_frames(2), tmp_path / name)
    with pytest.raises(OutputError):
        check_animation_path(tmp_path / name)


def test_animation_path_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "d.gif").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        check_animation_path(tmp_path / "d.gif")


def test_frames_of_different_sizes(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="differ in size"):
        write_animation([*_frames(1, (8, 8)), *_frames(1, (9, 8))], tmp_path / "x.gif")


def test_mp4_without_the_video_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails
    with pytest.raises(OutputError, match=r"pip install 'impasto\[video\]'"):
        check_animation_path(tmp_path / "run.mp4")
    check_animation_path(tmp_path / "run.gif")  # the others need no extra

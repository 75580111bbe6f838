"""A video run keeps each finished frame; a stopped run resumes at the next frame and writes
the same video as an uninterrupted one (fp32, tiny random VGG, a 4-frame synthetic clip)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from impasto.config import StyleConfig
from impasto.errors import Cancelled, CheckpointError
from impasto.io.images import load_image
from impasto.video.checkpoint import (
    FILE,
    frame_path,
    is_video_checkpoint,
    load_video_checkpoint,
)
from impasto.video.config import VideoConfig
from impasto.video.optimise import FrameEvent
from impasto.video.run import resume_video, stylize_video
from pictures import make_clip

CONFIG = VideoConfig(
    size=48,
    later_steps=3,
    temporal_weight=1e6,
    style_config=StyleConfig(steps=4, scales=1, precision="fp32", tol=0.0),
)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip.mp4")


def _frames(folder: Path, n: int) -> list[torch.Tensor]:
    return [load_image(frame_path(folder, i)) for i in range(n)]


def test_resume_writes_the_same_video(tiny_weights, clip: Path, style_tensor, tmp_path) -> None:
    whole = stylize_video(
        clip, style_tensor, CONFIG, out=tmp_path / "whole.gif", weights=tiny_weights,
        checkpoint=tmp_path / "whole",
    )  # fmt: skip
    assert whole.frames == 4

    def stop_in_frame_2(event: FrameEvent) -> None:
        if event.frame == 2 and event.step is not None and event.step.step == 2:
            raise Cancelled("stop")

    folder = tmp_path / "stopped"
    out = tmp_path / "resumed.gif"
    with pytest.raises(Cancelled, match="after 2 finished frames") as stopped:
        stylize_video(
            clip, style_tensor, CONFIG, out=out, weights=tiny_weights, checkpoint=folder,
            callback=stop_in_frame_2,
        )  # fmt: skip
    assert stopped.value.checkpoint == folder
    assert not out.exists()  # nothing half-written
    assert is_video_checkpoint(folder)
    assert load_video_checkpoint(folder).progress.done == 2

    events: list[FrameEvent] = []
    resumed = resume_video(folder, weights=tiny_weights, callback=events.append)
    assert resumed.out == out and resumed.frames == 4
    assert {e.frame for e in events} == {2, 3}  # frames 0 and 1 were not run again
    for a, b in zip(_frames(tmp_path / "whole", 4), _frames(folder, 4), strict=True):
        assert torch.equal(a, b)
    last_a = load_video_checkpoint(tmp_path / "whole").progress.last_output
    last_b = load_video_checkpoint(folder).progress.last_output
    assert last_a is not None and last_b is not None and torch.equal(last_a, last_b)
    # GIF (Pillow) encodes the same frames to the same bytes; x264 was seen to vary under load.
    assert (tmp_path / "whole.gif").read_bytes() == out.read_bytes()


def test_a_missing_or_damaged_checkpoint_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no video checkpoint"):
        load_video_checkpoint(tmp_path)
    assert not is_video_checkpoint(tmp_path)
    (tmp_path / FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_video_checkpoint(tmp_path)


def test_a_kept_frame_that_went_missing_is_refused(
    tiny_weights, clip: Path, style_tensor, tmp_path
) -> None:
    folder = tmp_path / "run"
    config = CONFIG.replace(frames="0:2")
    stylize_video(
        clip, style_tensor, config, out=tmp_path / "a.gif", weights=tiny_weights, checkpoint=folder
    )
    frame_path(folder, 1).unlink()
    with pytest.raises(CheckpointError, match="frame 1 is missing"):
        resume_video(folder, weights=tiny_weights)


def test_the_result_reports_times_and_the_temporal_error(
    tiny_weights, clip: Path, style_tensor, tmp_path
) -> None:
    config = CONFIG.replace(frames="1:4")
    result = stylize_video(
        clip, style_tensor, config, out=tmp_path / "a.gif", weights=tiny_weights, measure=True
    )
    assert result.route == "optimisation" and result.frames == 3
    assert all(s > 0 for s in result.seconds)
    assert result.temporal_error is not None and 0.0 <= result.temporal_error < 1.0
    assert result.later_seconds == pytest.approx(sum(result.seconds[1:]) / 2)


def test_a_video_checkpoint_from_before_final_share_keeps_a_third() -> None:
    """The first frame's plan of a run checkpointed before ``final_share`` existed."""
    from impasto.video.checkpoint import _video_config

    data = VideoConfig().to_dict()
    assert _video_config(data).first.final_share == pytest.approx(8 / 15)
    del data["style_config"]["final_share"]
    assert _video_config(data).first.final_share == pytest.approx(1 / 3)

"""The temporal error: zero for a still clip, small for one that only moves, large for flicker."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from impasto.errors import InvalidImageError
from impasto.io.images import load_image
from impasto.video.measure import input_motion, temporal_error, temporal_errors
from impasto.video.synthetic import Motion, synthetic_clip


def test_temporal_error_separates_motion_from_flicker(samples_dir: Path) -> None:
    photo = load_image(samples_dir / "tubingen.jpg")
    clip = synthetic_clip(photo, frames=5, size=(48, 64), motion=Motion(pan=(2.0, 1.0)))
    motion = input_motion(clip.frames)
    assert len(motion.flows) == len(motion.masks) == 4
    moving = temporal_error(clip.frames, motion)  # the inputs themselves: motion, no flicker
    g = torch.Generator().manual_seed(0)
    flicker = [(f + 0.05 * torch.randn(f.shape, generator=g)).clamp(0, 1) for f in clip.frames]
    assert moving < 0.025
    assert temporal_error(flicker, motion) > 2 * moving + 0.02
    # Computing the motion once or from the frames gives the same figure.
    assert temporal_error(flicker, clip.frames) == pytest.approx(temporal_error(flicker, motion))


def test_a_still_clip_scores_zero_and_one_frame_scores_zero() -> None:
    frame = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(1))
    assert temporal_errors([frame] * 3, [frame] * 3) == [pytest.approx(0.0, abs=1e-6)] * 2
    assert temporal_error([frame], [frame]) == 0.0


def test_outputs_must_match_the_inputs() -> None:
    frames = [torch.rand(1, 3, 16, 16) for _ in range(3)]
    with pytest.raises(InvalidImageError, match="2 output frames for 3 input frames"):
        temporal_error(frames[:2], frames)
    with pytest.raises(InvalidImageError, match="working size"):
        temporal_error([torch.rand(1, 3, 8, 8)] * 3, frames)

"""Optical flow, warping and the consistency mask, against motion known exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from impasto.errors import ConfigError, InvalidImageError
from impasto.io.images import load_image
from impasto.video.flow import (
    FramePair,
    carry,
    consistency,
    flows_both_ways,
    optical_flow,
    reliable_flow,
    warp,
)
from impasto.video.synthetic import Motion, SyntheticClip, synthetic_clip

MOTION = Motion(pan=(3.0, 1.0), zoom=1.02, square=24, speed=(-5, 1))


@pytest.fixture(scope="module")
def clip(samples_dir: Path) -> SyntheticClip:
    photo = load_image(samples_dir / "tubingen.jpg")
    return synthetic_clip(photo, frames=4, size=(96, 128), motion=MOTION)


def _constant(h: int, w: int, dx: float, dy: float) -> torch.Tensor:
    return torch.tensor([dx, dy]).view(1, 2, 1, 1).expand(1, 2, h, w).clone()


def test_warp_moves_an_image_by_a_known_shift() -> None:
    a = torch.rand(2, 3, 20, 30, generator=torch.Generator().manual_seed(0))
    b = torch.roll(a, shifts=(2, 3), dims=(-2, -1))  # b(p) = a(p - (3, 2))
    back = warp(b, _constant(20, 30, 3.0, 2.0))  # a(p) = b(p + (3, 2))
    assert torch.allclose(back[..., :-2, :-3], a[..., :-2, :-3], atol=1e-5)
    # Half a pixel on a linear ramp: bilinear interpolation is exact there.
    ramp = torch.arange(30.0).view(1, 1, 1, 30).expand(1, 1, 20, 30)
    half = warp(ramp, _constant(20, 30, 0.5, 0.0))
    assert torch.allclose(half[..., :-1], ramp[..., :-1] + 0.5, atol=1e-4)
    assert torch.allclose(half[..., -1], ramp[..., -1])  # the border is replicated
    assert torch.allclose(warp(a, torch.zeros(1, 2, 20, 30)), a, atol=1e-5)
    with pytest.raises(InvalidImageError, match="does not fit"):
        warp(a, torch.zeros(1, 2, 10, 30))


def test_flow_of_the_synthetic_pan_is_close_to_the_truth(clip: SyntheticClip) -> None:
    for t in range(1, len(clip.frames)):
        flow = optical_flow(clip.frames[t], clip.frames[t - 1])
        assert flow.shape == (1, 2, 96, 128) and flow.dtype == torch.float32
        visible = clip.visible[t]
        error = (flow - clip.flows[t]).norm(dim=1, keepdim=True)
        assert (error * visible).sum() / visible.sum() < 0.5  # px, mean endpoint error
        moved = clip.flows[t].norm(dim=1).mean()
        assert moved > 2.0  # the motion is not trivially small
        # The convention: warping the previous frame by the flow gives this frame.
        again = warp(clip.frames[t - 1], flow)
        diff = (again - clip.frames[t]).abs().mean(dim=1, keepdim=True)
        assert (diff * visible).sum() / visible.sum() < 0.03


def test_the_true_flow_warps_the_previous_frame_onto_this_one(clip: SyntheticClip) -> None:
    for t in range(1, len(clip.frames)):
        again = warp(clip.frames[t - 1], clip.flows[t])
        diff = (again - clip.frames[t]).abs().mean(dim=1, keepdim=True)
        visible = clip.visible[t]
        assert (diff * visible).sum() / visible.sum() < 0.015
        assert (diff * (1 - visible)).sum() / (1 - visible).sum() > 0.05  # occluded: it differs


def test_consistency_marks_the_uncovered_strip_and_keeps_the_rest(clip: SyntheticClip) -> None:
    for t in range(1, len(clip.frames)):
        forward = optical_flow(clip.frames[t], clip.frames[t - 1])
        backward = optical_flow(clip.frames[t - 1], clip.frames[t])
        mask = consistency(forward, backward)
        assert mask.shape == (1, 1, 96, 128)
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        visible, occluded = clip.visible[t], clip.occluded[t]
        assert occluded.sum() > 100
        assert ((1 - mask) * occluded).sum() / occluded.sum() > 0.5
        assert (mask * visible).sum() / visible.sum() > 0.9


def test_reliable_flow_at_half_the_side_is_the_true_flow_at_full_size(
    clip: SyntheticClip,
) -> None:
    for t in range(1, len(clip.frames)):
        full = reliable_flow(clip.frames[t], clip.frames[t - 1])
        forward, mask = reliable_flow(clip.frames[t], clip.frames[t - 1], side=64)
        assert forward.shape == (1, 2, 96, 128) and mask.shape == (1, 1, 96, 128)
        assert torch.equal(full[0], optical_flow(clip.frames[t], clip.frames[t - 1]))
        visible, occluded = clip.visible[t], clip.occluded[t]
        # Pixels of the full frame, not of the half-size one: the flow was scaled back up.
        error = (forward - clip.flows[t]).norm(dim=1, keepdim=True)
        assert (error * visible).sum() / visible.sum() < 0.75
        assert (mask * visible).sum() / visible.sum() > 0.8
        assert (mask * occluded).sum() / occluded.sum() < 0.5
        assert 0.0 <= mask.min() and mask.max() <= 1.0
    small = reliable_flow(clip.frames[1], clip.frames[0], side=512)  # no larger than asked
    assert torch.equal(small[0], optical_flow(clip.frames[1], clip.frames[0]))


def test_consistency_rules_on_hand_made_flows() -> None:
    h, w = 16, 24
    forward = _constant(h, w, 2.0, 0.0)
    backward = _constant(h, w, -2.0, 0.0)
    mask = consistency(forward, backward)
    assert mask[..., :, : w - 2].min() == 1  # the two flows cancel
    assert mask[..., :, w - 2 :].max() == 0  # matches beyond the right edge
    backward[..., 4:8, :] = 3.0  # disagreeing rows: disoccluded
    mask = consistency(forward, backward)
    assert mask[..., 4:8, :].max() == 0 and mask[..., 9:, : w - 2].min() == 1
    step = torch.zeros(1, 2, h, w)
    step[:, 0, :, 12:] = 1.5  # a motion boundary at column 12 (the backward flow agrees)
    back = torch.zeros(1, 2, h, w)
    back[:, 0, :, 13:] = -1.5
    mask = consistency(step, back)
    assert mask[..., :, 11:13].max() == 0 and mask[..., :, :10].min() == 1


def test_carry_warps_the_previous_output_and_checks_it(clip: SyntheticClip) -> None:
    output = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    pair = carry(output, clip.frames[1], clip.frames[0])
    assert isinstance(pair, FramePair)
    assert pair.warped.shape == output.shape and pair.mask.shape == (1, 1, 96, 128)
    truth = warp(output, clip.flows[1])
    both = pair.mask * clip.visible[1]
    # Where the mask trusts the flow, the carried output lands where the true flow puts it
    # (random pixels: a tenth of a pixel off already changes them by a few hundredths).
    diff = (pair.warped - truth).abs().mean(dim=1, keepdim=True)
    assert (diff * both).sum() / both.sum() < 0.1
    assert torch.equal(output, output.clone())  # the caller's tensor is untouched


def test_synthetic_clip_refuses_a_camera_that_leaves_the_photo() -> None:
    photo = torch.rand(1, 3, 40, 40)
    with pytest.raises(ConfigError, match="leaves the photo"):
        synthetic_clip(photo, frames=20, size=(32, 32), motion=Motion(pan=(4.0, 0.0)))
    with pytest.raises(InvalidImageError, match="differ in shape"):
        optical_flow(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 10))


def test_flows_do_not_depend_on_what_was_computed_before(clip: SyntheticClip) -> None:
    """The same frames give the same flows whatever was computed before. (A DIS object reused
    per thread once broke this in a full suite run; this check did not reproduce that alone,
    so it guards the property, and the route's equality tests guard the rest.)"""
    a, b = clip.frames[1], clip.frames[0]
    forward, backward = flows_both_ways(a, b)
    assert torch.equal(forward, optical_flow(a, b)) and torch.equal(backward, optical_flow(b, a))
    small = torch.nn.functional.interpolate(clip.frames[3], scale_factor=0.5, mode="area")
    optical_flow(small, small.flip(-1))  # something else, at another size, in between
    again, _ = flows_both_ways(a, b)
    assert torch.equal(again, forward)
    with pytest.raises(InvalidImageError, match="differ in shape"):
        flows_both_ways(a, b[..., :-2])

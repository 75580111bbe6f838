"""The optimisation route for video (Ruder et al. 2016) on tiny synthetic clips and the tiny
random VGG: warm starts, the temporal term, the settings, the events."""

from __future__ import annotations

import pytest
import torch

from impasto.config import StyleConfig
from impasto.errors import ConfigError
from impasto.video.config import (
    LATER_OVERHEAD,
    Fill,
    VideoConfig,
    first_frame_work,
    later_steps_for,
)
from impasto.video.flow import FramePair, consistency, optical_flow, warp
from impasto.video.optimise import FrameEvent, make_engine, stylize_frames, warm_start
from impasto.video.synthetic import Motion, synthetic_clip

FP32 = StyleConfig(steps=8, scales=1, precision="fp32", tol=0.0, seed=3)


def _photo(seed: int = 0, h: int = 72, w: int = 96) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, h // 8, w // 8, generator=g)
    smooth = torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear")
    return (0.7 * smooth + 0.3 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


def _clip(frames: int = 4) -> list[torch.Tensor]:
    motion = Motion(pan=(1.5, 0.0), square=8, speed=(-2, 0))
    return synthetic_clip(_photo(), frames=frames, size=(32, 48), motion=motion).frames


def _temporal_error(outputs: list[torch.Tensor], frames: list[torch.Tensor]) -> float:
    """Mean masked squared difference of each output and the previous one warped."""
    errors = []
    for t in range(1, len(outputs)):
        forward = optical_flow(frames[t], frames[t - 1])
        mask = consistency(forward, optical_flow(frames[t - 1], frames[t]))
        diff = outputs[t] - warp(outputs[t - 1], forward)
        errors.append(float((mask * diff * diff).sum() / (3 * mask.sum())))
    return sum(errors) / len(errors)


def _run(tiny_weights, frames, **changes) -> list[torch.Tensor]:
    cfg = VideoConfig(size=48, later_steps=5, style_config=FP32, **changes)
    engine = make_engine(_photo(7, 64, 64), cfg, tiny_weights)
    return [f.output for f in stylize_frames(engine, frames, len(frames))]


def test_the_temporal_term_lowers_the_temporal_error(tiny_weights) -> None:
    frames = _clip(4)
    free = _run(tiny_weights, frames, temporal_weight=0.0)
    held = _run(tiny_weights, frames, temporal_weight=1e6)
    assert _temporal_error(held, frames) < 0.5 * _temporal_error(free, frames)
    # The first frame is a still run: the temporal term cannot touch it.
    assert torch.equal(held[0], free[0])


def test_later_frames_are_warm_started_runs_of_later_steps(tiny_weights) -> None:
    frames = _clip(3)
    events: list[FrameEvent] = []
    cfg = VideoConfig(size=48, later_steps=4, style_config=FP32.replace(steps=7))
    engine = make_engine(_photo(7, 64, 64), cfg, tiny_weights)
    done = list(stylize_frames(engine, frames, 3, callback=events.append))
    assert [f.index for f in done] == [0, 1, 2]
    steps = [e for e in events if e.step is not None]
    assert [sum(1 for e in steps if e.frame == k) for k in range(3)] == [7, 4, 4]
    later = [e.step for e in steps if e.frame == 1]
    assert all(s is not None and "temporal" in s.losses for s in later)
    assert all(e.step is not None and "temporal" not in e.step.losses for e in steps[:7])
    finished = [e for e in events if e.step is None]
    assert [e.frame for e in finished] == [0, 1, 2]
    assert all(e.seconds is not None and e.seconds > 0 for e in finished)
    assert finished[-1].eta == 0.0
    assert done[1].output.shape == frames[1].shape


def test_deterministic(tiny_weights) -> None:
    frames = _clip(3)
    a = _run(tiny_weights, frames)
    b = _run(tiny_weights, frames)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.precision
def test_auto_precision_is_resolved_once_for_the_clip(tiny_weights, auto_precision) -> None:
    cfg = VideoConfig(size=48, style_config=FP32.replace(precision="auto"))
    engine = make_engine(_photo(7, 64, 64), cfg, tiny_weights)
    assert engine.config.first.precision.value == auto_precision
    assert engine.prepared is not None


def test_colour_preservation_computes_targets_per_frame(tiny_weights) -> None:
    frames = _clip(2)
    cfg = VideoConfig(size=48, later_steps=3, style_config=FP32.replace(preserve_color="luminance"))
    engine = make_engine(_photo(7, 64, 64), cfg, tiny_weights)
    assert engine.prepared is None
    outs = [f.output for f in stylize_frames(engine, frames, 2)]
    assert outs[1].shape == frames[1].shape


@pytest.mark.parametrize("fill", list(Fill))
def test_warm_start_fills_where_the_mask_is_zero(fill: Fill) -> None:
    warped = torch.full((1, 3, 4, 4), 0.9)
    frame = torch.full((1, 3, 4, 4), 0.2)
    previous = torch.full((1, 3, 4, 4), 0.5)
    mask = torch.ones(1, 1, 4, 4)
    mask[..., :2] = 0.0
    start = warm_start(FramePair(warped, mask), frame, previous, fill)
    assert torch.all(start[..., 2:] == 0.9)
    expected = {Fill.CONTENT: 0.2, Fill.PREVIOUS: 0.5, Fill.WARPED: 0.9}[fill]
    assert torch.allclose(start[..., :2], torch.full((1, 3, 4, 2), expected))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"frames": "5:2"}, "'5:2'"),
        ({"frames": "a:b"}, "'a:b'"),
        ({"size": 8}, "size"),
        ({"size": 385}, "385"),
        ({"later_steps": 0}, "later_steps"),
        ({"later_steps": 2.5}, "later_steps"),
        ({"temporal_weight": -1.0}, "temporal_weight"),
        ({"deflicker": 1.5}, "deflicker must be in"),
        ({"fill": "blur"}, "'blur'"),
        ({"strength": -0.1}, "strength must be a number from 0 to 1, got -0.1"),
        ({"strength": 1.5}, "strength must be a number from 0 to 1, got 1.5"),
        ({"strength": float("nan")}, "strength must be a number from 0 to 1, got nan"),
        ({"strength": "x"}, "strength must be a number from 0 to 1, got 'x'"),
        ({"strength": True}, "strength must be a number from 0 to 1, got True"),
    ],
)
def test_bad_settings_name_the_value(changes, named) -> None:
    with pytest.raises(ConfigError, match=named):
        VideoConfig(**changes)


def test_the_optimisation_refuses_a_strength_before_any_work(tmp_path) -> None:
    from impasto.video.run import stylize_video

    with pytest.raises(ConfigError, match=r"strength 0\.5 applies only with a style network"):
        stylize_video(tmp_path / "none.mp4", tmp_path / "none.png", VideoConfig(strength=0.5),
                      out=tmp_path / "out.mp4")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_settings_round_trip_and_the_frame_configs() -> None:
    cfg = VideoConfig(frames="3:9", size=96, later_steps=12, style_config=FP32.replace(scales=2))
    assert VideoConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.span() == (3, 9)
    assert VideoConfig(frames=":").span() == (0, None)
    assert cfg.first.size == 96 and cfg.first.scales == 2
    assert cfg.later.size == 96 and cfg.later.scales == 1 and cfg.later.steps == 12
    with pytest.raises(ConfigError, match="unknown setting"):
        VideoConfig.from_dict({"sise": 3})


@pytest.mark.parametrize("size", [64, 192, 256, 384, 512, 768, 1024])
def test_by_default_a_later_frame_is_under_a_third_of_the_first_frames_work(size) -> None:
    cfg = VideoConfig(size=size)
    assert cfg.later_steps is None
    steps = cfg.later.steps
    assert steps == later_steps_for(cfg.first) >= 1
    # Its steps and their overhead, in full-size evaluations, against the first frame's pyramid.
    assert (steps + LATER_OVERHEAD) <= first_frame_work(cfg.first) / 3
    # One step more would take it past 0.3 of the first frame.
    assert steps + 1 + LATER_OVERHEAD > 0.3 * first_frame_work(cfg.first)


def test_the_first_frames_work_counts_each_scale_by_its_pixels() -> None:
    # 256 px from 128 px in two scales, 30 steps: 16 at the full size (8/15), 14 at 128 px.
    first = StyleConfig(size=256, scales=2, min_size=128, steps=30)
    assert first_frame_work(first) == pytest.approx(14 * 0.25 + 16)
    # a third at the full size: 20 and 10
    assert first_frame_work(first.replace(final_share=1 / 3)) == pytest.approx(20 * 0.25 + 10)
    assert first_frame_work(first.replace(scales=1)) == 30
    # Larger frames: a smaller share of the pyramid at the full size, so fewer later steps.
    counts = [VideoConfig(size=s).later_step_count for s in (256, 384, 512, 1024)]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]


def test_an_explicit_later_steps_is_kept_and_a_tiny_first_frame_still_leaves_one() -> None:
    assert VideoConfig(size=512, later_steps=12).later.steps == 12
    assert VideoConfig(size=48, style_config=FP32.replace(steps=3)).later.steps == 1

"""The network route: per-frame passes, batched, and flicker reduction without ghosting."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from impasto.errors import ConfigError, InvalidImageError
from impasto.io.images import load_image
from impasto.network.apply import ApplyConfig
from impasto.network.config import NetworkConfig
from impasto.network.info import NetworkInfo
from impasto.network.model import build_network
from impasto.network.modelfile import StyleNetwork
from impasto.network.stylizer import Stylizer
from impasto.video.flow import consistency, optical_flow
from impasto.video.measure import input_motion, temporal_error
from impasto.video.network_route import Deflicker, network_frames, stylize_frames
from impasto.video.synthetic import Motion, SyntheticClip, synthetic_clip

SMALL = NetworkConfig(width=0.125, blocks=1)


def _network() -> StyleNetwork:
    return StyleNetwork(build_network(SMALL, seed=3), NetworkInfo(SMALL))


class Flickering(Stylizer):
    """A tiny random network whose output flickers: fresh noise on every frame, as a real
    network's texture changes from frame to frame on near-identical inputs."""

    def __init__(self, amount: float = 0.08) -> None:
        super().__init__(NetworkInfo(SMALL))
        self.inner = _network()
        self.amount = amount
        self.noise = torch.Generator().manual_seed(0)

    def run(self, batch: torch.Tensor) -> torch.Tensor:
        clean = self.inner.run(batch)
        noise = torch.randn(clean.shape, generator=self.noise) * self.amount
        return (clean + noise).clamp(0, 1)


@pytest.fixture(scope="module")
def clip(samples_dir: Path) -> SyntheticClip:
    photo = load_image(samples_dir / "tubingen.jpg")
    return synthetic_clip(photo, frames=6, size=(64, 96), motion=Motion(square=16, speed=(-4, 0)))


def test_deflickered_output_has_a_lower_temporal_error_than_raw(clip: SyntheticClip) -> None:
    motion = input_motion(clip.frames)
    pairs = list(network_frames(Flickering(), clip.frames, batch=4))
    raw = [r for _, r in pairs]
    deflicker = Deflicker()
    out = [deflicker(f, r) for f, r in pairs]
    assert len(out) == len(clip.frames) and out[0].shape == (1, 3, 64, 96)
    assert temporal_error(out, motion) < 0.6 * temporal_error(raw, motion)


def test_where_the_flow_is_unreliable_the_output_is_the_raw_output(clip: SyntheticClip) -> None:
    """No ghosting: the consistency mask's zeros (the uncovered strip, the square's edges,
    the borders) keep the raw output exactly, and the first frame is raw."""
    pairs = list(network_frames(Flickering(), clip.frames))
    deflicker = Deflicker()
    for t, (frame, raw) in enumerate(pairs):
        out = deflicker(frame, raw)
        if t == 0:
            assert torch.equal(out, raw)
            continue
        before = clip.frames[t - 1]
        forward = optical_flow(frame, before)
        unreliable = consistency(forward, optical_flow(before, frame)) == 0
        assert unreliable.sum() > 50
        assert torch.equal(out[unreliable.expand_as(out)], raw[unreliable.expand_as(raw)])
        assert not torch.equal(out, raw)


def test_strength_zero_is_the_raw_network_and_batches_do_not_change_it(
    clip: SyntheticClip,
) -> None:
    network = _network()
    one = list(stylize_frames(network, clip.frames, strength=0.0, batch=1))
    three = list(stylize_frames(network, clip.frames, strength=0.0, batch=3))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(one, three, strict=True))
    assert all(torch.equal(o, network.run(f)) for o, f in zip(one, clip.frames, strict=True))
    frames = [f.clone() for f in clip.frames]
    list(stylize_frames(network, frames))
    assert all(torch.equal(a, b) for a, b in zip(frames, clip.frames, strict=True))


def test_the_strength_blends_the_deflickered_painting_with_each_frame(
    clip: SyntheticClip,
) -> None:
    network = _network()

    def route(strength: float) -> list[torch.Tensor]:
        return list(stylize_frames(network, clip.frames, config=ApplyConfig(strength=strength)))

    painted = route(1.0)
    deflicker = Deflicker()  # the route before the strength: the network, de-flickered
    assert all(
        torch.equal(out, deflicker(frame, network.run(frame)))
        for out, frame in zip(painted, clip.frames, strict=True)
    )
    assert all(torch.equal(a, b) for a, b in zip(route(0.0), clip.frames, strict=True))
    for half, paint, frame in zip(route(0.5), painted, clip.frames, strict=True):
        assert torch.allclose(half, (paint + frame) / 2, atol=1e-6)
        assert (half >= torch.minimum(paint, frame) - 1e-6).all()
        assert (half <= torch.maximum(paint, frame) + 1e-6).all()
        assert not torch.equal(half, paint) and not torch.equal(half, frame)


def test_the_apply_settings_keep_colours_at_the_frames_own_size(clip: SyntheticClip) -> None:
    config = ApplyConfig(size=32, preserve_color="luminance")
    out = list(stylize_frames(_network(), clip.frames[:2], config=config))
    assert out[0].shape == clip.frames[0].shape


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"strength": 1.0}, "deflicker must be in"),
        ({"strength": -0.1}, "deflicker must be in"),
        ({"strength": "high"}, "deflicker must be a number"),
        ({"tolerance": 0.0}, "tolerance must be above 0"),
        ({"batch": 0}, "batch must be"),
    ],
)
def test_bad_settings_are_refused_before_any_frame(kwargs: dict[str, object], words: str) -> None:
    def frames():  # type: ignore[no-untyped-def]
        raise AssertionError("a frame was read")
        yield

    with pytest.raises(ConfigError, match=words):
        stylize_frames(_network(), frames(), **kwargs)  # type: ignore[arg-type]


def test_overlapped_carries_give_the_same_outputs_as_one_thread(clip: SyntheticClip) -> None:
    network = Flickering()
    ahead = list(stylize_frames(network, clip.frames, overlap=True))
    network.noise.manual_seed(0)
    serial = list(stylize_frames(network, clip.frames, overlap=False))
    assert len(ahead) == len(clip.frames)
    assert all(torch.equal(a, b) for a, b in zip(ahead, serial, strict=True))
    # The filter's halves called apart are the filter.
    network.noise.manual_seed(0)
    pairs = list(network_frames(network, clip.frames))
    whole, halves = Deflicker(), Deflicker()
    for (frame, raw), out in zip(pairs, ahead, strict=True):
        assert torch.equal(whole(frame, raw), out)
        assert torch.equal(halves.blend(raw, halves.carry(frame)), out)


def test_a_frame_that_cannot_be_read_stops_the_route_with_its_own_error(
    clip: SyntheticClip,
) -> None:
    def frames():  # type: ignore[no-untyped-def]
        yield from clip.frames[:3]
        raise InvalidImageError("frame 3 is corrupt")

    outputs = stylize_frames(_network(), frames())
    with pytest.raises(InvalidImageError, match="frame 3 is corrupt"):
        list(outputs)
    # Closing early waits for the frame in flight and ends quietly.
    early = stylize_frames(_network(), iter(clip.frames))
    next(early)
    early.close()  # type: ignore[attr-defined]

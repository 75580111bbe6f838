"""The audio model: random features, the objective, transfer and texture (tiny and seeded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from impasto.audio.config import AudioConfig
from impasto.audio.features import RandomConv1d
from impasto.audio.io import read_metadata
from impasto.audio.objective import StyleTerm, as_image, gram_distance
from impasto.audio.spectral import log_magnitude
from impasto.audio.transfer import normalise_loudness, texture, transfer
from impasto.errors import Cancelled, ConfigError, InvalidAudioError
from impasto.losses.functional import gram_matrix, style_layer_loss
from impasto.optim.events import StepEvent

RATE = 8000
TINY = AudioConfig(
    sample_rate=RATE,
    n_fft=256,
    filters=64,
    width=5,
    steps=15,
    griffin_lim_iters=16,
    precision="fp32",
    tol=0,
)


def chirpy(seconds: float, seed: int) -> np.ndarray:
    """A tone whose loudness comes and goes (the content: a clear envelope)."""
    t = np.arange(round(seconds * RATE)) / RATE
    envelope = (np.sin(2 * np.pi * 2.0 * t) > 0).astype(np.float32)
    rng = np.random.default_rng(seed)
    return (
        0.5 * envelope * np.sin(2 * np.pi * 300 * t) + 0.01 * rng.standard_normal(t.size)
    ).astype(np.float32)


def buzzy(seconds: float, seed: int) -> np.ndarray:
    """A bright, steady noise band (the style)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(round(seconds * RATE))
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1 / RATE)
    spec[(f < 1500) | (f > 2500)] = 0
    y = np.fft.irfft(spec, x.size)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def features(cfg: AudioConfig, x: np.ndarray) -> torch.Tensor:
    """The run's features of ``x`` at the level the run analyses its inputs."""
    net = RandomConv1d(cfg.bins, cfg.filters, cfg.width, cfg.seed)
    spec = log_magnitude(torch.from_numpy(normalise_loudness(x)), cfg.n_fft, cfg.hop_length)
    return net(spec.unsqueeze(0))


def test_random_features_are_seeded() -> None:
    a = RandomConv1d(129, 16, 5, seed=1).weight
    assert torch.equal(a, RandomConv1d(129, 16, 5, seed=1).weight)
    assert not torch.equal(a, RandomConv1d(129, 16, 5, seed=2).weight)
    out = RandomConv1d(129, 16, 5, seed=1)(torch.rand(1, 129, 20))
    assert out.shape == (1, 16, 20) and out.min() >= 0  # ReLU, same length


@pytest.mark.parametrize("frames", [6, 40])  # the frame-product path and the Gram path
def test_style_term_is_the_engines_gram_loss(frames: int) -> None:
    g = torch.Generator().manual_seed(0)
    style, feats = torch.rand(1, 16, 9, generator=g), torch.rand(1, 16, frames, generator=g)
    term = StyleTerm(style)
    assert term.use_kernel(frames) == (frames == 6)
    target = gram_matrix(as_image(style))
    expected = style_layer_loss(gram_matrix(as_image(feats)), target) / style_layer_loss(
        torch.zeros_like(target), target
    )
    assert float(term(feats)) == pytest.approx(float(expected), rel=1e-4)


def test_tiny_transfer_moves_toward_the_style_and_keeps_the_content() -> None:
    content, style = chirpy(1.0, 0), buzzy(1.0, 1)
    events: list[StepEvent] = []
    result = transfer(content, style, TINY.replace(style_weight=20.0), events.append)
    assert result.samples.shape == content.shape and result.samples.dtype == np.float32
    assert float(np.abs(result.samples).max()) <= 1.0
    s = features(TINY, style)
    before = gram_distance(features(TINY, content), s)
    after = gram_distance(RandomConv1d(TINY.bins, 64, 5, 0)(result.spectrogram[None]), s)
    assert after < before / 5
    assert [e.step for e in events] == list(range(1, 16))
    assert events[-1].losses["style"] < events[0].losses["style"]


def test_transfer_is_repeatable() -> None:
    content, style = chirpy(0.5, 0), buzzy(0.5, 1)
    cfg = TINY.replace(steps=3, griffin_lim_iters=2)
    a, b = transfer(content, style, cfg), transfer(content, style, cfg)
    assert np.array_equal(a.samples, b.samples)


def test_texture_has_any_length_and_the_style_statistics(tmp_path: Path) -> None:
    style = buzzy(0.5, 2)
    result = texture(style, 1.25, TINY.replace(steps=20))
    assert result.samples.shape == (round(1.25 * RATE),) and result.content is None
    s = features(TINY, style)
    noise = np.random.default_rng(0).standard_normal(round(1.25 * RATE)).astype(np.float32)
    net = RandomConv1d(TINY.bins, TINY.filters, TINY.width, TINY.seed)
    got = gram_distance(net(result.spectrogram[None]), s)
    assert got < gram_distance(features(TINY, 0.3 * noise), s)
    out = result.save(tmp_path / "t.wav")
    meta = read_metadata(out)
    assert '"filters": 64' in meta["comment"] and "texture" in meta["title"]


@pytest.mark.parametrize("seconds", [0, -1.0, 0.01, 1000.0])
def test_texture_refuses_zero_short_or_too_long(seconds: float) -> None:
    with pytest.raises(ConfigError, match="seconds"):
        texture(buzzy(0.5, 2), seconds, TINY)


@pytest.mark.parametrize(
    "sound, needle",
    [
        (np.zeros(0, np.float32), "empty"),
        (np.zeros(4000, np.float32), "silent"),
        (np.ones(100, np.float32) * 0.5, "too short"),
        (np.ones(RATE * 70, np.float32), "limit"),
    ],
)
def test_bad_samples_are_refused(sound: np.ndarray, needle: str) -> None:
    with pytest.raises(InvalidAudioError, match=needle):
        transfer(sound, buzzy(0.5, 1), TINY)


def test_a_callback_can_cancel() -> None:
    def stop(event: StepEvent) -> None:
        raise Cancelled(f"stopped at {event.step}")

    with pytest.raises(Cancelled, match="stopped at 1"):
        transfer(chirpy(0.5, 0), buzzy(0.5, 1), TINY, stop)

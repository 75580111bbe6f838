"""The STFT round trip and Griffin-Lim (impasto.audio.spectral)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from impasto.audio.spectral import (
    frames_for,
    griffin_lim,
    istft,
    log_magnitude,
    magnitude,
    samples_for,
    stft,
)

RATE, N_FFT, HOP = 8000, 256, 64


def test_stft_round_trip_is_exact() -> None:
    x = torch.randn(4000, generator=torch.Generator().manual_seed(0))
    spec = stft(x, N_FFT, HOP)
    assert spec.shape == (N_FFT // 2 + 1, frames_for(4000, HOP))
    y = istft(spec, N_FFT, HOP, 4000)
    assert torch.allclose(x, y, atol=1e-5)


def test_log_magnitude_inverts_to_magnitude() -> None:
    x = torch.randn(2000, generator=torch.Generator().manual_seed(1))
    log_mag = log_magnitude(x, N_FFT, HOP)
    assert log_mag.min() >= 0
    assert torch.allclose(magnitude(log_mag), stft(x, N_FFT, HOP).abs(), rtol=1e-4, atol=1e-4)
    assert samples_for(frames_for(1984, HOP), HOP) == 1984


def test_griffin_lim_on_a_pure_tone_recovers_its_pitch() -> None:
    t = torch.arange(RATE) / RATE
    x = 0.5 * torch.sin(2 * torch.pi * 500.0 * t)
    mag = magnitude(log_magnitude(x, N_FFT, HOP))
    g = torch.Generator().manual_seed(0)
    y = griffin_lim(mag, N_FFT, HOP, RATE, iters=32, generator=g)
    spectrum = np.abs(np.fft.rfft(y.numpy() * np.hanning(RATE)))
    assert np.argmax(spectrum) * RATE / RATE == pytest.approx(500, abs=2)  # 1 Hz bins
    rebuilt = stft(y, N_FFT, HOP).abs()
    assert float((rebuilt - mag).norm() / mag.norm()) < 0.2  # consistent with the magnitude


def test_griffin_lim_is_repeatable_with_a_seed() -> None:
    mag = magnitude(log_magnitude(torch.randn(1000), N_FFT, HOP))
    a = griffin_lim(mag, N_FFT, HOP, 1000, 4, torch.Generator().manual_seed(5))
    b = griffin_lim(mag, N_FFT, HOP, 1000, 4, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)

"""Measurements of a result, for benchmarks, tests and reports (never part of the loss)."""

from __future__ import annotations

import numpy as np
import torch

from impasto.audio.config import AudioConfig
from impasto.audio.features import RandomConv1d
from impasto.audio.objective import gram_distance
from impasto.audio.spectral import log_magnitude
from impasto.audio.transfer import normalise_loudness


def loudness_envelope(samples: np.ndarray, hop: int) -> np.ndarray:
    """RMS loudness in dB of consecutive ``hop``-sample frames: (frames,)."""
    x = np.asarray(samples, dtype=np.float64)
    frames = len(x) // hop
    rms = np.sqrt((x[: frames * hop].reshape(frames, hop) ** 2).mean(axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-5))


def envelope_correlation(a: np.ndarray, b: np.ndarray, hop: int) -> float:
    """Pearson correlation of the loudness envelopes of two sounds (over the shorter one)."""
    ea, eb = loudness_envelope(a, hop), loudness_envelope(b, hop)
    n = min(len(ea), len(eb))
    return float(np.corrcoef(ea[:n], eb[:n])[0, 1])


def style_distances(
    result: np.ndarray, content: np.ndarray, style: np.ndarray, config: AudioConfig
) -> tuple[float, float]:
    """Relative Gram distances to ``style`` of the result and of the content, each measured
    on the waveform (what is heard, after Griffin-Lim), with the run's own random features in
    fp32: (result's, content's). The inputs are taken at the level the run analysed them."""
    net = RandomConv1d(config.bins, config.filters, config.width, config.seed)

    def features(x: np.ndarray) -> torch.Tensor:
        spec = log_magnitude(
            torch.from_numpy(np.asarray(x, dtype=np.float32)), config.n_fft, config.hop_length
        )
        with torch.no_grad():
            return net(spec.unsqueeze(0))

    content, style = normalise_loudness(content), normalise_loudness(style)
    target = features(style)
    return gram_distance(features(result), target), gram_distance(features(content), target)

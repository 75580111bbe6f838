"""The short-time Fourier transform, the log-magnitude spectrogram and Griffin-Lim.

Ulyanov & Lebedev (2016) optimise S = log(1 + |STFT(x)|): the logarithm compresses the
loudness range the way hearing does, so quiet partials count, and the +1 keeps silence finite.
The phase is not modelled; Griffin & Lim (1984) recover a waveform whose STFT magnitude is
close to the optimised one, here with the momentum of Perraudin, Balazs & Søndergaard (2013,
"fast Griffin-Lim"), which reaches in about 100 iterations what the plain method needs
several hundred for.
"""

from __future__ import annotations

import torch

MOMENTUM = 0.99  # Perraudin et al. 2013: 0.99 converges fastest in their experiments


def _window(n_fft: int) -> torch.Tensor:
    return torch.hann_window(n_fft, dtype=torch.float32)


def stft(samples: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Complex STFT of (samples,) → (n_fft // 2 + 1, frames); centred frames, Hann window."""
    return torch.stft(
        samples, n_fft, hop_length=hop, window=_window(n_fft), center=True, return_complex=True
    )


def istft(spec: torch.Tensor, n_fft: int, hop: int, length: int) -> torch.Tensor:
    """Inverse of :func:`stft` (least-squares overlap-add) → (length,)."""
    return torch.istft(spec, n_fft, hop_length=hop, window=_window(n_fft), length=length)


def log_magnitude(samples: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """log(1 + |STFT|) of (samples,) → (bins, frames), float32."""
    return torch.log1p(stft(samples, n_fft, hop).abs()).to(torch.float32)


def magnitude(log_mag: torch.Tensor) -> torch.Tensor:
    """|STFT| from log(1 + |STFT|); negative values (no magnitude) become zero."""
    return torch.expm1(log_mag.clamp(min=0.0))


def frames_for(samples: int, hop: int) -> int:
    """Frames of a centred STFT of ``samples`` samples."""
    return samples // hop + 1


def samples_for(frames: int, hop: int) -> int:
    """Samples whose centred STFT has ``frames`` frames."""
    return (frames - 1) * hop


def griffin_lim(
    mag: torch.Tensor,
    n_fft: int,
    hop: int,
    length: int,
    iters: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A waveform (length,) whose STFT magnitude approximates ``mag`` (bins, frames).

    Starts from random phase (drawn from ``generator``: runs are repeatable) and alternates
    between the signal and its consistent spectrogram, with fast Griffin-Lim's momentum.
    """
    phase = torch.rand(mag.shape, generator=generator) * (2 * torch.pi)
    angles = torch.polar(torch.ones_like(mag), phase)
    previous = torch.zeros_like(angles)
    signal = istft(mag * angles, n_fft, hop, length)
    for _ in range(iters):
        rebuilt = stft(signal, n_fft, hop)
        accelerated = rebuilt - (MOMENTUM / (1 + MOMENTUM)) * previous
        previous = rebuilt
        angles = accelerated / accelerated.abs().clamp(min=1e-16)
        signal = istft(mag * angles, n_fft, hop, length)
    return signal

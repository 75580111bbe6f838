"""Making the low-resolution inputs of training and of the benchmark from high-resolution
pictures: a Gaussian blur, then the engine's antialiased bicubic shrink, rounded to 8 bits
(Johnson et al. 2016, section 4.2: blur with sigma 1.0, then bicubic)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from impasto.preprocess.resize import resize


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, C, H, W) blurred with a separable Gaussian of ``sigma`` px (reflected borders);
    a copy unchanged for sigma below 0.05."""
    if sigma < 0.05:
        return x.clone()
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t**2) / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    h = F.conv2d(
        F.pad(x, (radius, radius, 0, 0), mode="reflect"),
        k.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
        groups=c,
    )
    return F.conv2d(
        F.pad(h, (0, 0, radius, radius), mode="reflect"),
        k.view(1, 1, -1, 1).repeat(c, 1, 1, 1),
        groups=c,
    )


def shrink(x: torch.Tensor, scale: int, sigma: float = 0.0) -> torch.Tensor:
    """(N, C, H, W) → (N, C, H // scale, W // scale): blurred with ``sigma``, shrunk by
    antialiased bicubic, and rounded to 8-bit levels as a saved picture would be."""
    h, w = x.shape[-2] // scale, x.shape[-1] // scale
    small = resize(gaussian_blur(x, sigma), (h, w))
    return (small * 255.0).round() / 255.0

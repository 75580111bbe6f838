"""Sizes and resampling.

Sizes are given as the long side in pixels; the short side follows the aspect ratio.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def fit_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(H, W) scaled so that max(H, W) == long_side, each side at least 1 pixel."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (N, C, H, W) to ``size`` = (H', W'): antialiased bicubic when shrinking, so
    downscaled style images keep their texture instead of aliasing; bicubic when enlarging."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x.clone()
    shrinking = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    out = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=shrinking)
    return out.clamp(0.0, 1.0)


def resize_long_side(x: torch.Tensor, long_side: int) -> torch.Tensor:
    return resize(x, fit_long_side(x.shape[-2], x.shape[-1], long_side))


MAX_RATIO = 2.0  # largest step between neighbouring scales


def pyramid_sizes(size: int, scales: int, min_size: int) -> list[int]:
    """Long sides of a coarse-to-fine run, in geometric progression from ``min_size`` up to
    ``size``: at least ``scales`` of them, and more where needed so that neighbouring sizes
    differ by at most MAX_RATIO (an upsampled image more than twice smaller is too blurred
    for the few steps a large scale gets). One size when ``scales`` is 1."""
    if scales <= 1 or min_size >= size:
        return [size]
    scales = max(scales, math.ceil(math.log(size / min_size, MAX_RATIO) - 1e-9) + 1)
    ratio = (size / min_size) ** (1.0 / (scales - 1))
    sizes = [round(min_size * ratio**k) for k in range(scales - 1)] + [size]
    out: list[int] = []
    for s in sizes:
        if not out or s > out[-1]:
            out.append(s)
    return out


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) with reflected borders."""
    if sigma <= 0:
        return x.clone()
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if radius < 1:
        return x.clone()
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    kx = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    y = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    y = F.conv2d(y, kx, groups=c)
    y = F.pad(y, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(y, ky, groups=c)

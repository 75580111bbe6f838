"""Sizes and resampling.

Sizes are given as the long side in pixels; the short side follows the aspect ratio.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from impasto.errors import ConfigError


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


# The long side above which the full size's share of the steps (StyleConfig.final_share)
# shrinks with a full-size step's cost (issue 13, docs/quality.md).
FINAL_REF = 512


def default_final_steps(steps: int, sizes: list[int], share: float) -> int:
    """The full size's steps of a ``steps`` total when ``final_steps`` is not set: ``share``
    of them (the default 8/15, a little over half) up to FINAL_REF px; above it the time of
    that share at FINAL_REF px rather than the count (a step costs (size / FINAL_REF)² as
    much): of 150, 80 up to 512 px, 20 at 1024, 5 at 2048. Measured at 512 px: 13 full-size
    steps (the old 1/size spread) left a regular grain and 2.7x the style distance of 60
    (tubingen x starry_night); 60 of 180 were dominated by a plain run on a held-out pair, 80
    of 150 by none (issue 28). Every smaller scale keeps at least one step."""
    cost = min(1.0, (FINAL_REF / sizes[-1]) ** 2)
    return max(1, min(round(steps * share * cost), steps - (len(sizes) - 1)))


def plan_steps(
    steps: int | tuple[int, ...], sizes: list[int], final: int | None, share: float
) -> list[int]:
    """Steps per scale, coarse to fine. A total gives the last scale (the full size) ``final``
    steps, or :func:`default_final_steps` of ``share`` where that is None, and spreads the
    rest over the smaller scales in proportion to 1/size (a step at twice the size costs four
    times as much), every scale at least one. One count per scale is taken as it is."""
    if isinstance(steps, tuple):
        if final is not None:
            raise ConfigError(
                "final_steps needs steps as a total; with one count per scale, the last count "
                "is already the final scale's"
            )
        if len(steps) != len(sizes):
            raise ConfigError(
                f"steps gives {len(steps)} counts but the run has {len(sizes)} scales "
                f"({', '.join(map(str, sizes))} px)"
            )
        return list(steps)
    if len(sizes) == 1:
        if final is not None:
            raise ConfigError(
                f"final_steps needs more than one scale; this run has only one ({sizes[0]} px), "
                "and steps already counts its steps"
            )
        return [steps]
    if final is None:
        final = default_final_steps(steps, sizes, share)
    elif not 0 < final <= steps - (len(sizes) - 1):
        raise ConfigError(
            f"final_steps {final} leaves {steps - final} of the {steps} steps for the "
            f"{len(sizes) - 1} smaller scales; each needs at least one"
        )
    return [*spread_steps(steps - final, sizes[:-1]), final]


def spread_steps(steps: int, sizes: list[int]) -> list[int]:
    """``steps`` over ``sizes`` in proportion to 1/size, each at least one."""
    weights = [1.0 / s for s in sizes]
    raw = [steps * w / sum(weights) for w in weights]
    out = [max(1, int(r)) for r in raw]
    # Hand out what rounding down left, largest remainders first.
    for k in sorted(range(len(raw)), key=lambda k: raw[k] - int(raw[k]), reverse=True):
        if sum(out) >= steps:
            break
        out[k] += 1
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

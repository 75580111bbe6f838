"""The suite's synthetic pictures and clip, written once: tests/conftest.py builds its fixtures
from them, and a test module that needs another size imports them (``from pictures import ...``;
tests/ is on the path once pytest has read tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def gradient_array(h: int = 40, w: int = 40) -> np.ndarray:
    """A smooth colour gradient, like an out-of-focus photo: (H, W, 3) uint8."""
    y = np.linspace(0.0, 1.0, h)[:, None]
    x = np.linspace(0.0, 1.0, w)[None, :]
    r = 255 * x * np.ones_like(y)
    g = 255 * y * np.ones_like(x)
    b = 255 * (0.5 + 0.5 * np.sin(3 * x + 2 * y))
    return np.stack([r, g, b], axis=-1).round().clip(0, 255).astype(np.uint8)


def painting_array(h: int = 48, w: int = 48) -> np.ndarray:
    """Diagonal coloured stripes on a checkerboard, like a bold painting: (H, W, 3) uint8."""
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = ((xx + yy) // 4) % 2
    checks = ((xx // 8) + (yy // 8)) % 2
    out = np.zeros((h, w, 3), np.uint8)
    out[..., 0] = np.where(stripes == 1, 230, 30)
    out[..., 1] = np.where(checks == 1, 200, 60)
    out[..., 2] = np.where(stripes ^ checks == 1, 40, 180)
    return out


def make_clip(
    path: Path,
    frames: int = 4,
    size: tuple[int, int] = (32, 48),
    fps: float = 10.0,
    speed: tuple[int, int] = (-2, 0),
) -> Path:
    """A synthetic clip of ``size`` (H, W) frames written to ``path``: a seeded random photo
    panned under a moving 8 px square (impasto.video.synthetic), ``speed`` its velocity."""
    import torch

    from impasto.video.frames import VideoWriter
    from impasto.video.synthetic import Motion, synthetic_clip

    g = torch.Generator().manual_seed(0)
    photo = torch.nn.functional.interpolate(
        torch.rand(1, 3, 9, 12, generator=g), size=(72, 96), mode="bilinear"
    )
    clip = synthetic_clip(photo, frames, size, Motion(pan=(1.5, 0.0), square=8, speed=speed))
    with VideoWriter(path, fps) as out:
        for frame in clip.frames:
            out.write(frame)
    return path

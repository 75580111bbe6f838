"""Synthetic clips whose motion is known exactly, for tests and benchmarks.

A camera pans (and zooms) over a photo while a textured square moves across the frame in the
other direction, so each frame has background motion, an object with its own motion, and a
strip of background the object uncovers (disocclusion). For every frame t ≥ 1 the clip holds
the true backward flow (frame t → frame t-1, the convention of :func:`flow.optical_flow`:
pixel p of frame t is at p + flow[p] in frame t-1) and the true visibility: 1 where pixel p
was visible in frame t-1 (what :func:`flow.consistency` estimates), 0 where it was hidden
behind the square or outside the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from impasto.errors import ConfigError
from impasto.preprocess.resize import resize

MARGIN = 1.5  # the photo is resized to this many times the frame, so the camera can move


@dataclass(frozen=True)
class SyntheticClip:
    """``frames[t]`` (1, 3, H, W) in [0, 1]; ``flows[t]`` (1, 2, H, W) pixels, frame t → t-1
    (zeros for t = 0); ``visible[t]`` (1, 1, H, W) in {0, 1} (ones for t = 0)."""

    frames: list[torch.Tensor]
    flows: list[torch.Tensor]
    visible: list[torch.Tensor]

    @property
    def occluded(self) -> list[torch.Tensor]:
        """The true occlusion masks: 1 where a pixel of frame t had no match in frame t-1."""
        return [1.0 - v for v in self.visible]


@dataclass(frozen=True)
class Motion:
    """How the camera and the square move, per frame: the camera's pan in frame pixels
    (x, y), its zoom factor (above 1 zooms in), and the square's side and velocity in whole
    pixels (so its flow is exact)."""

    pan: tuple[float, float] = (1.5, 0.5)
    zoom: float = 1.0
    square: int = 12
    speed: tuple[int, int] = (-3, 0)


def _camera(t: int, motion: Motion, h: int, w: int) -> tuple[float, float, float]:
    """Frame t's camera: photo point q = centre + scale * (p - frame centre)."""
    scale = motion.zoom ** (-t)
    cx = (w * MARGIN - 1) / 2 + motion.pan[0] * t
    cy = (h * MARGIN - 1) / 2 + motion.pan[1] * t
    return cx, cy, scale


def _background_points(t: int, motion: Motion, h: int, w: int) -> torch.Tensor:
    """(H, W, 2) photo coordinates (x, y) seen by each pixel of frame t."""
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    cx, cy, scale = _camera(t, motion, h, w)
    return torch.stack([cx + scale * (xs - (w - 1) / 2), cy + scale * (ys - (h - 1) / 2)], -1)


def _to_frame(points: torch.Tensor, t: int, motion: Motion, h: int, w: int) -> torch.Tensor:
    """The inverse of :func:`_background_points`: photo points → frame t's pixels."""
    cx, cy, scale = _camera(t, motion, h, w)
    x = (points[..., 0] - cx) / scale + (w - 1) / 2
    y = (points[..., 1] - cy) / scale + (h - 1) / 2
    return torch.stack([x, y], -1)


def _square_at(t: int, motion: Motion, h: int, w: int) -> tuple[int, int]:
    """Top-left (x, y) of the square in frame t: it starts on the side it moves away from."""
    x0 = w - motion.square - 2 if motion.speed[0] < 0 else 2
    y0 = (h - motion.square) // 2
    return x0 + motion.speed[0] * t, y0 + motion.speed[1] * t


def _square_texture(side: int) -> torch.Tensor:
    """A colour checkerboard with a gradient: strong texture for the flow to lock on to."""
    ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    checker = ((xs // 3 + ys // 3) % 2).to(torch.float32)
    ramp = xs.to(torch.float32) / max(side - 1, 1)
    return torch.stack([0.15 + 0.7 * checker, 0.9 - 0.6 * ramp, 0.2 + 0.6 * (1 - checker)])[None]


def _inside(xy: torch.Tensor, x0: float, y0: float, x1: float, y1: float) -> torch.Tensor:
    return (xy[..., 0] >= x0) & (xy[..., 0] <= x1) & (xy[..., 1] >= y0) & (xy[..., 1] <= y1)


def synthetic_clip(
    photo: torch.Tensor,
    frames: int = 6,
    size: tuple[int, int] = (48, 64),
    motion: Motion = Motion(),
) -> SyntheticClip:
    """A clip of ``frames`` frames of ``size`` = (H, W) over ``photo`` (1, 3, h, w) in [0, 1].

    The photo is resized to 1.5 times the frame, so the camera may travel a quarter of the
    frame each way; a motion that leaves the photo is refused with a :class:`ConfigError`.
    """
    h, w = size
    bg = resize(photo.to(torch.float32), (round(h * MARGIN), round(w * MARGIN)))
    ph, pw = bg.shape[-2:]
    texture = _square_texture(motion.square)
    clip = SyntheticClip([], [], [])
    for t in range(frames):
        points = _background_points(t, motion, h, w)
        if not _inside(points, 0, 0, pw - 1, ph - 1).all():
            raise ConfigError(
                f"the camera leaves the photo by frame {t} (pan {motion.pan}, zoom "
                f"{motion.zoom}); use fewer frames or a slower motion"
            )
        x, y = points[..., 0] * 2 / (pw - 1) - 1, points[..., 1] * 2 / (ph - 1) - 1
        grid = torch.stack([x, y], -1)
        frame = F.grid_sample(bg, grid[None].to(torch.float32), align_corners=True)
        square = _paste(frame, texture, _square_at(t, motion, h, w))
        flow, visible = _truth(t, points, square, motion, h, w)
        clip.frames.append(frame.clamp(0, 1))
        clip.flows.append(flow)
        clip.visible.append(visible)
    return clip


def _paste(frame: torch.Tensor, texture: torch.Tensor, at: tuple[int, int]) -> torch.Tensor:
    """Draw ``texture`` with its top-left at ``at`` (clipped to the frame), in place; returns
    the (H, W) bool mask of the square's pixels."""
    h, w = frame.shape[-2:]
    side = texture.shape[-1]
    x0, y0 = at
    mask = torch.zeros(h, w, dtype=torch.bool)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if fx0 < fx1 and fy0 < fy1:
        frame[..., fy0:fy1, fx0:fx1] = texture[..., fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
        mask[fy0:fy1, fx0:fx1] = True
    return mask


def _truth(
    t: int, points: torch.Tensor, square: torch.Tensor, motion: Motion, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame t's true backward flow and visibility (see the module docstring)."""
    if t == 0:
        return torch.zeros(1, 2, h, w), torch.ones(1, 1, h, w)
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    here = torch.stack([xs, ys], -1)
    before = _to_frame(points, t - 1, motion, h, w)  # the background's match in frame t-1
    sx, sy = _square_at(t - 1, motion, h, w)
    side = motion.square
    # A background pixel was hidden if its match lies on the square of frame t-1 (pixel
    # centres of the square span [s, s + side - 1]; half a pixel more on each side).
    hidden = _inside(before, sx - 0.5, sy - 0.5, sx + side - 0.5, sy + side - 0.5)
    shift = torch.tensor([-float(motion.speed[0]), -float(motion.speed[1])], dtype=torch.float64)
    match = torch.where(square[..., None], here + shift, before)
    visible = _inside(match, -0.5, -0.5, w - 0.5, h - 0.5) & (square | ~hidden)
    flow = (match - here).permute(2, 0, 1)[None].to(torch.float32)
    return flow, visible[None, None].to(torch.float32)

"""The upscaling network: FSRCNN's hourglass (Dong, Loy & Tang, ECCV 2016) with sub-pixel
heads (Shi et al., CVPR 2016), one per scale on a shared body, adding a residual to the bicubic
enlargement."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from impasto.superres.config import UpscalerConfig, check_scale


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    # Reflection padding: no dark rim along the borders, and a tile's edge sees mirrored
    # pixels rather than zeros (the overlap then hides the difference).
    return nn.Conv2d(cin, cout, k, padding=k // 2, padding_mode="reflect" if k > 1 else "zeros")


class Upscaler(nn.Module):
    """(N, 3, h, w) in [0, 1] and a scale r → (N, 3, r h, r w): bicubic plus a learnt residual
    (unclamped; callers clamp)."""

    def __init__(self, config: UpscalerConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or UpscalerConfig()
        d, s = cfg.features, cfg.shrink
        layers: list[nn.Module] = [_conv(3, d, 5), nn.PReLU(d), _conv(d, s, 1), nn.PReLU(s)]
        for _ in range(cfg.mapping):
            layers += [_conv(s, s, 3), nn.PReLU(s)]
        layers += [_conv(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({f"x{r}": _conv(d, 3 * r * r, 3) for r in cfg.scales})
        for head in self.heads.values():
            assert isinstance(head, nn.Conv2d)
            nn.init.normal_(head.weight, std=1e-3)  # starts as bicubic, not as noise
            if head.bias is not None:
                nn.init.zeros_(head.bias)

    def forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        r = check_scale(scale)
        key = f"x{r}"
        if key not in self.heads:
            raise ValueError(f"this network has no x{r} head (it has {', '.join(self.heads)})")
        base = F.interpolate(x, scale_factor=r, mode="bicubic", align_corners=False)
        return base + F.pixel_shuffle(self.heads[key](self.body(x)), r)


class AtScale(nn.Module):
    """One scale of an :class:`Upscaler` as a one-input module (what ONNX export takes)."""

    def __init__(self, model: Upscaler, scale: int) -> None:
        super().__init__()
        self.model, self.scale = model, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, self.scale)


def build_upscaler(config: UpscalerConfig | None = None, seed: int = 0) -> Upscaler:
    """A freshly initialised network; the same ``seed`` gives the same weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Upscaler(config)

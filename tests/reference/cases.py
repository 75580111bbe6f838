"""Small fp32 runs whose outputs were saved by ``make_reference.py`` before the core reshape
(issue 11): the reshape must not change what a run computes. Each case exercises one path of
the run: the pyramid, resume state, Adam, colour modes, blends, masks, tiles, textures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from impasto.api import Result, Style, stylize, synthesize_texture
from impasto.features.weights import VGGWeights


def _pattern(h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, max(2, h // 8), max(2, w // 8), generator=g)
    smooth = torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear")
    return (0.7 * smooth + 0.3 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


RGB = tuple[int, int, int]


def _halves(h: int, w: int, left: RGB, right: RGB) -> torch.Tensor:
    out = torch.zeros(1, 3, h, w)
    out[..., : w // 2] = torch.tensor(left, dtype=torch.float32).view(1, 3, 1, 1) / 255
    out[..., w // 2 :] = torch.tensor(right, dtype=torch.float32).view(1, 3, 1, 1) / 255
    return out


RED, BLUE = (255, 0, 0), (0, 0, 255)
FP32 = {"precision": "fp32", "tol": 0.0}
CONTENT = {"init": "content"}  # the default init when these were recorded (issue 13 changed it)


def _pyramid_noise_lbfgs(w: VGGWeights) -> Result:
    return stylize(
        _pattern(40, 40, 1), _pattern(48, 48, 2), weights=w, size=40, scales=2, min_size=24,
        steps=(6, 5), init="noise", seed=5, **FP32,
    )


def _adam_luminance_layer_weights(w: VGGWeights) -> Result:
    return stylize(
        _pattern(32, 40, 3), _pattern(40, 32, 4), weights=w, size=40, scales=1, steps=8,
        optimizer="adam", preserve_color="luminance", style_layer_weights=(1, 2, 3, 4, 5), **FP32,
        **CONTENT,
    )


def _blend_histogram_final_steps(w: VGGWeights) -> Result:
    return stylize(
        _pattern(48, 48, 5), [Style(_pattern(48, 48, 6), 0.7), Style(_pattern(40, 40, 7), 0.3)],
        weights=w, size=48, scales=3, min_size=24, steps=12, final_steps=5,
        preserve_color="histogram", init="blur", tv_weight=10.0, **FP32,
    )


def _masks_and_scale_mix(w: VGGWeights) -> Result:
    return stylize(
        _pattern(48, 48, 8), Style(_pattern(48, 48, 9), mask=_halves(48, 48, RED, BLUE)),
        weights=w, content_mask=_halves(48, 48, BLUE, RED), coarse_style=_pattern(48, 48, 10),
        size=48, scales=2, min_size=32, steps=(4, 4), pooling="max", padding="zeros", **FP32,
        **CONTENT,
    )


def _regions_tiled(w: VGGWeights) -> Result:
    return stylize(
        _pattern(96, 128, 11),
        [
            Style(_pattern(64, 64, 12), region="#ff0000"),
            Style(_pattern(64, 64, 13), region="#0000ff"),
        ],
        weights=w, content_mask=_halves(96, 128, RED, BLUE), size=128, scales=1, steps=4,
        tile=64, style_layers="upto2", content_layers="relu2_1", **FP32, **CONTENT,
    )


def _texture(w: VGGWeights) -> Result:
    return synthesize_texture(
        _pattern(48, 48, 14), weights=w, shape=(32, 48), scales=2, min_size=24, steps=(5, 4),
        seed=3, **FP32,
    )


CASES: dict[str, Callable[[VGGWeights], Result]] = {
    "pyramid_noise_lbfgs": _pyramid_noise_lbfgs,
    "adam_luminance_layer_weights": _adam_luminance_layer_weights,
    "blend_histogram_final_steps": _blend_histogram_final_steps,
    "masks_and_scale_mix": _masks_and_scale_mix,
    "regions_tiled": _regions_tiled,
    "texture": _texture,
}


def record(result: Result) -> dict[str, Any]:
    return {"tensor": result.tensor, "history": result.history}

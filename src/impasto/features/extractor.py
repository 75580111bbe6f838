"""Runs an image through VGG19 and returns the activations the losses ask for."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from impasto.config import LAYER_NAMES, Padding, Pooling, Precision
from impasto.features.vgg import build_vgg, deepest
from impasto.features.weights import VGGWeights


class FeatureExtractor(nn.Module):
    """Image in sRGB [0, 1], (N, 3, H, W) → {layer name: activation (N, C_l, H_l, W_l)}.

    The network's own input normalisation (Caffe BGR mean or torchvision mean/std) is applied
    here, so callers always speak sRGB. The network ends at the deepest requested layer.
    """

    def __init__(
        self,
        weights: VGGWeights,
        layers: Iterable[str],
        pooling: Pooling = Pooling.MAX,
        padding: Padding = Padding.ZERO,
    ) -> None:
        super().__init__()
        self.layers = tuple(sorted(set(layers), key=LAYER_NAMES.index))
        self.normalization = weights.normalization
        self.net = build_vgg(weights, deepest(self.layers), pooling, padding)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.normalization.apply(x)
        out: dict[str, torch.Tensor] = {}
        wanted = set(self.layers)
        for name, module in self.net.named_children():
            h = module(h)
            if name in wanted:
                out[name] = h
        return out


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True where the CPU has bfloat16 dot-product instructions (AVX512-BF16 or AMX), the
    only case in which bfloat16 convolutions are faster than float32 on a CPU."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(precision: Precision) -> bool:
    if precision is Precision.AUTO:
        return cpu_has_native_bf16()
    return precision is Precision.BF16

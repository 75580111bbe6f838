"""Runs an image through VGG19 and returns the activations the losses ask for."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from impasto.config import Padding, Pooling, Precision
from impasto.features.vgg import build_vgg, deepest
from impasto.features.weights import VGGWeights
from impasto.layers import LAYER_NAMES


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
    """True where the CPU has bfloat16 dot-product instructions (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@functools.cache
def bf16_is_faster() -> bool:
    """Whether bfloat16 autocast beats float32 for a VGG-like conv forward + backward here.

    Measured once per process (a few tens of milliseconds), because the instruction flags do
    not tell: on a 2-core AVX512-BF16 machine without AMX, oneDNN's bfloat16 convolutions
    measured 1.4-2x *slower* than float32 (benchmarks/step_time.py prints both).
    """
    if not cpu_has_native_bf16():
        return False
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).requires_grad_(False)
    x = torch.rand(1, 64, 48, 48, generator=torch.Generator().manual_seed(0))

    def run(bf16: bool) -> float:
        best = float("inf")
        for _ in range(3):
            xi = x.clone().requires_grad_(True)
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                y = conv(conv(xi))
            y.float().sum().backward()
            best = min(best, time.perf_counter() - start)
        return best

    run(False), run(True)  # warm up both paths
    return run(True) < 0.8 * run(False)


def use_bf16(precision: Precision) -> bool:
    """bf16 when asked; with ``auto``, only where it measured clearly faster."""
    if precision is Precision.AUTO:
        return bf16_is_faster()
    return precision is Precision.BF16

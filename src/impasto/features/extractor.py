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


PROBE_ROUNDS = 5  # interleaved fp32/bf16 pairs; the fastest of each is compared
PROBE_MARGIN = 0.8  # bf16 must take at most this fraction of fp32's time


def _conv_pass_seconds(conv: nn.Module, x: torch.Tensor, bf16: bool) -> float:
    """Seconds of one forward + backward of two convolutions, in bf16 autocast or fp32."""
    xi = x.clone().requires_grad_(True)
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y = conv(conv(xi))
    y.float().sum().backward()
    return time.perf_counter() - start


def bf16_wins(fp32: list[float], bf16: list[float]) -> bool:
    """The decision from interleaved timings: the fastest bf16 pass clearly beats the fastest
    fp32 one. The minimum, not a mean: on a shared machine other work only ever adds time
    (measured here under load: the same fp32 pass took 20 to 600 ms)."""
    return bool(fp32 and bf16) and min(bf16) < PROBE_MARGIN * min(fp32)


@functools.cache
def bf16_is_faster() -> bool:
    """Whether bfloat16 autocast beats float32 for a VGG-like conv forward + backward here.

    Measured once per process (well under a second on a quiet machine), because the
    instruction flags do not tell: on a 2-core AVX512-BF16 machine without AMX, oneDNN's
    bfloat16 convolutions measured 1.4-2x *slower* than float32 (benchmarks/step_time.py prints
    both), while a 2-core Zen 4 trains a style network 3x faster in bf16. The two paths are
    timed in alternation, PROBE_ROUNDS times each, so that load from other processes falls on
    both alike; three runs of each in a row, as before, let one burst of load decide (it
    picked fp32 on that Zen 4 while other jobs ran).
    """
    if not cpu_has_native_bf16():
        return False
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).requires_grad_(False)
    x = torch.rand(1, 64, 48, 48, generator=torch.Generator().manual_seed(0))
    threads = torch.get_num_threads()
    # One thread: the per-core speed is what differs between the two, and a thread team waiting
    # on a core that another process holds made 2-thread timings swing 10x here.
    torch.set_num_threads(1)
    try:
        _conv_pass_seconds(conv, x, False), _conv_pass_seconds(conv, x, True)  # warm up both
        fp32: list[float] = []
        bf16: list[float] = []
        for _ in range(PROBE_ROUNDS):
            fp32.append(_conv_pass_seconds(conv, x, False))
            bf16.append(_conv_pass_seconds(conv, x, True))
    finally:
        torch.set_num_threads(threads)
    return bf16_wins(fp32, bf16)


def use_bf16(precision: Precision) -> bool:
    """bf16 when asked; with ``auto``, only where it measured clearly faster."""
    if precision is Precision.AUTO:
        return bf16_is_faster()
    return precision is Precision.BF16

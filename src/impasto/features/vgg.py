"""The VGG19 network, built from a weight set and cut after the deepest layer a run needs."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from impasto.config import Padding, Pooling
from impasto.errors import WeightsError
from impasto.features.weights import VGGWeights
from impasto.layers import LAYER_NAMES


class PaddedConv2d(nn.Conv2d):
    """A 3x3 conv whose non-zero padding falls back to replicate on maps of one pixel, where
    reflection is undefined (tiny images reach the deepest layers as 1-pixel maps)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding_mode == "zeros":
            return super().forward(x)
        mode = self.padding_mode if min(x.shape[-2:]) > 1 else "replicate"
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode=mode), self.weight, self.bias)


def pools_before(layer: str) -> int:
    """How many 2x2 poolings an image passes through before reaching ``layer``."""
    return sum(1 for n in LAYER_NAMES[: LAYER_NAMES.index(layer)] if n.startswith("pool"))


def deepest(layers: Iterable[str]) -> str:
    """The layer among ``layers`` that comes last in VGG19."""
    return max(layers, key=LAYER_NAMES.index)


def build_vgg(
    weights: VGGWeights,
    upto: str,
    pooling: Pooling = Pooling.MAX,
    padding: Padding = Padding.ZERO,
) -> nn.Sequential:
    """VGG19's layers from ``conv1_1`` to ``upto`` inclusive, named as in LAYER_NAMES.

    Parameters are frozen: style transfer optimises the image, never the network.
    """
    if upto not in LAYER_NAMES:
        raise WeightsError(f"unknown layer {upto!r}")
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    for name in LAYER_NAMES[: LAYER_NAMES.index(upto) + 1]:
        kind = name[:4]
        if kind == "conv":
            if name not in weights.convs:
                raise WeightsError(
                    f"weights {weights.source} have no layer {name}, which {upto} needs"
                )
            w, b = weights.convs[name]
            conv = PaddedConv2d(w.shape[1], w.shape[0], 3, padding=1, padding_mode=padding.value)
            with torch.no_grad():
                conv.weight.copy_(w)
                conv.bias.copy_(b)  # type: ignore[union-attr]
            modules[name] = conv
        elif kind == "relu":
            modules[name] = nn.ReLU(inplace=False)
        else:
            modules[name] = nn.MaxPool2d(2, 2) if pooling is Pooling.MAX else nn.AvgPool2d(2, 2)
    net = nn.Sequential(modules)
    net.requires_grad_(False)
    return net.eval()

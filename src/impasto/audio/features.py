"""The feature "network" of Ulyanov & Lebedev (2016): one random, untrained 1-D convolution.

The spectrogram's frequency bins are the input channels, so every filter spans the whole
spectrum and ``width`` frames of time; a ReLU follows. The paper found that a single wide
layer of random filters captures sound texture as well as trained networks did, and that many
filters (4096) matter more than depth. Nothing is learned, so the weights are drawn from the
seed: the same seed gives the same features and the same result.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

from impasto.audio.config import AudioPrecision


class RandomConv1d:
    """``filters`` random filters over (bins, ``width``) windows of a log spectrogram.

    The weights are N(0, std^2) with the notebook's std = sqrt(2) * sqrt(2 / ((bins + filters)
    * width)): Glorot's scale times the ReLU gain, so activations keep the input's magnitude.
    """

    def __init__(
        self,
        bins: int,
        filters: int,
        width: int,
        seed: int,
        precision: AudioPrecision = AudioPrecision.FP32,
    ) -> None:
        generator = torch.Generator().manual_seed(seed)
        std = math.sqrt(2.0) * math.sqrt(2.0 / ((bins + filters) * width))
        self.weight = torch.randn(filters, bins, width, generator=generator) * std
        self.width = width
        self.precision = precision

    def to(self, device: torch.device) -> RandomConv1d:
        """The same filters on ``device`` (drawn on the CPU, so a seed means the same net)."""
        self.weight = self.weight.to(device)
        return self

    def __call__(self, spec: torch.Tensor) -> torch.Tensor:
        """(1, bins, frames) → (1, filters, frames), float32.

        The ends are padded by reflection, as the images' convolutions are: zero padding would
        read as a click of silence at both ends and give the edge frames their own statistics.
        """
        half = self.width // 2
        mode = "reflect" if spec.shape[-1] > half else "replicate"
        x = F.pad(spec, (half, self.width - 1 - half), mode=mode)
        bf16 = self.precision is AudioPrecision.BF16
        kind = spec.device.type
        ctx = torch.autocast(kind, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            out = F.relu(F.conv1d(x, self.weight))
        return out.to(torch.float32)

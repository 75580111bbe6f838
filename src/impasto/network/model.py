"""The image transformation network of Johnson, Alahi & Fei-Fei (ECCV 2016), with the changes
the literature settled on since:

* instance normalisation instead of batch normalisation (Ulyanov, Vedaldi & Lempitsky 2016,
  "Instance Normalization: The Missing Ingredient for Fast Stylization");
* reflection padding in every convolution, so the borders have real neighbours (zero padding
  leaves dark frames and stripes along the edges);
* resize-convolution upsampling (nearest-neighbour resize, then a convolution) instead of
  transposed convolutions, whose uneven kernel overlap draws checkerboards (Odena, Dumoulin &
  Olah 2016, "Deconvolution and Checkerboard Artifacts"); the resize is nearest (their
  recipe) or bilinear (``NetworkConfig.upsample``), which blends neighbours so that the
  convolution after it sees no 2 px phase pattern (trained on the_scream, it painted fewer grey
  2 px rows but more colour-fringed lines: docs/network.md, "Fine lines").

Images in and out are sRGB in [0, 1], (N, 3, H, W), of any size: the decoder resizes back to
the encoder's sizes exactly, so odd sides come out as they went in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from impasto.network.config import NetworkConfig


class ConvLayer(nn.Sequential):
    """Reflection pad, convolution, and (unless ``last``) instance norm and ReLU."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int = 1,
        *,
        relu: bool = True,
        norm: bool = True,
    ) -> None:
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(c_in, c_out, kernel, stride=stride),
        ]
        if norm:
            layers.append(nn.InstanceNorm2d(c_out, affine=True))
        if relu:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Two 3x3 conv layers with an identity shortcut (Johnson et al., after He et al. 2016;
    the ReLU after the sum is dropped, as in Gross & Wilber's "Training and investigating
    residual nets")."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3), ConvLayer(channels, channels, 3, relu=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformNet(nn.Module):
    """(N, 3, H, W) in [0, 1] → (N, 3, H, W) in [0, 1], one pass.

    9x9 conv (c1), two stride-2 3x3 convs (c2, c3), ``blocks`` residual blocks at c3,
    two resize-convolutions back up (c2, c1), a 9x9 conv to RGB and a sigmoid (Johnson et al.
    use a scaled tanh; a sigmoid is the same curve mapped onto [0, 1]).
    """

    def __init__(self, config: NetworkConfig | None = None) -> None:
        super().__init__()
        self.config = config or NetworkConfig()
        c1, c2, c3 = self.config.channels
        self.down1 = ConvLayer(3, c1, 9)
        self.down2 = ConvLayer(c1, c2, 3, stride=2)
        self.down3 = ConvLayer(c2, c3, 3, stride=2)
        self.res = nn.Sequential(*(ResidualBlock(c3) for _ in range(self.config.blocks)))
        self.up2 = ConvLayer(c3, c2, 3)
        self.up1 = ConvLayer(c2, c1, 3)
        self.out = ConvLayer(c1, 3, 9, relu=False, norm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h1 = self.down1(x)
        h2 = self.down2(h1)
        h = self.res(self.down3(h2))
        # Resize to the encoder's own sizes (not "times two"), so odd sides round-trip.
        h = self.up2(self._resize(h, h2))
        h = self.up1(self._resize(h, h1))
        return torch.sigmoid(self.out(h))

    def _resize(self, h: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        mode = self.config.upsample.value
        corners = None if mode == "nearest" else False
        return F.interpolate(h, size=like.shape[-2:], mode=mode, align_corners=corners)


def build_network(config: NetworkConfig | None = None, seed: int = 0) -> TransformNet:
    """A freshly initialised network; the same ``seed`` gives the same weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TransformNet(config)

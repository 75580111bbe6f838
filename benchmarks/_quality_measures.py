"""Quality measures for benchmarks/quality.py that are not the optimised objective.

* **content distance**: how far the output's VGG19 features at a layer the objective does not
  use (``relu3_2`` by default; the objective keeps the photo at ``relu4_2``) are from the
  photo's, as a mean squared difference divided by the photo features' mean square (0 for the
  photo itself; the mean square includes the features' mean, so unrelated images score well
  below 2);
* **style distance**: the sliced Wasserstein distance (Heitz et al. 2021, "A Sliced Wasserstein
  Loss for Neural Texture Synthesis") between the distributions of the output's and the
  painting's feature vectors at ``relu1_1`` ... ``relu4_1``, the painting taken at the output's
  scale. The objective matches Gram matrices (second moments) only; the SWD compares whole
  distributions along random directions, so it does not grade the objective's own homework;
* **Gram distances**, per layer: ``|G(output) - G(painting)|^2 / |G(painting)|^2`` at each
  style layer, the painting at the output's scale. These are what the objective matches (a run
  grades its own homework here), reported beside the SWD to see which layers' statistics a
  run has not converged (issue 28: the deep ones);
* **band**, on pixels alone: the share of a picture's grey-level spectrum at the frequencies of
  a pattern repeating every 4 px (periods 4 and 2 px along either axis), in parts per 10,000:
  the fine regular lines that an upscaler's sub-pixel heads or a style network's
  stride-2 / resize-convolution decoder can paint, and that neither distance above sees;
* **colour lines**, on pixels alone: the power of the green-magenta chroma (G - (R+B)/2) at
  periods of 2 to 9 px, in any direction: the colour-fringed lines a style network can paint
  where ``band``'s grey levels stay clean (a bilinear decoder did). Only meaningful as a ratio
  between two pictures of the same size.

Both run the engine's own network pieces (FeatureExtractor on loaded weights) in fp32, without
gradients, whatever precision the run used. The random directions come from a seeded CPU
generator, one per layer, so a score depends only on the two images and the seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

from impasto.features.extractor import FeatureExtractor
from impasto.features.weights import VGGWeights
from impasto.layers import LAYER_NAMES
from impasto.losses.functional import gram_matrix
from impasto.preprocess.resize import resize, resize_long_side

CONTENT_LAYER = "relu3_2"
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
PROJECTIONS = 128
MEMO = 24  # images whose activations are kept, least recently used out (512 px: ~150 MB each)


def _quantiles(sorted_values: torch.Tensor, k: int) -> torch.Tensor:
    """(P, N) rows sorted ascending → (P, k): the values at the k mid-point quantiles, so two
    samples of different sizes are compared at the same quantile levels."""
    n = sorted_values.shape[1]
    if n == k:
        return sorted_values
    idx = ((torch.arange(k, dtype=torch.float64) + 0.5) * (n / k)).floor().long().clamp(max=n - 1)
    return sorted_values[:, idx]


def directions(channels: int, projections: int, seed: int) -> torch.Tensor:
    """(C, P) random unit directions, drawn from a CPU generator seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(channels, projections, generator=g, dtype=torch.float32)
    return d / d.norm(dim=0, keepdim=True)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, dirs: torch.Tensor) -> float:
    """Squared sliced 2-Wasserstein distance between two samples of C-dim vectors.

    a: (N, C), b: (M, C), dirs: (C, P) unit directions. Each sample is projected on every
    direction, sorted, and compared at min(N, M) common quantile levels; the result is the
    mean squared difference over directions and quantiles (Heitz et al. 2021, eq. 5, with
    quantile matching where the sizes differ). Symmetric in a and b; 0 for equal samples.
    """
    pa = torch.sort((a @ dirs).T, dim=1).values
    pb = torch.sort((b @ dirs).T, dim=1).values
    k = min(pa.shape[1], pb.shape[1])
    return float(((_quantiles(pa, k) - _quantiles(pb, k)) ** 2).mean())


def _vectors(feature: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) activation → (H*W, C) feature vectors, fp32."""
    return feature[0].flatten(1).T.float()


class Measures:
    """The content and style distances on one network (the loaded VGG19 weights)."""

    def __init__(
        self,
        weights: VGGWeights,
        content_layer: str = CONTENT_LAYER,
        style_layers: Sequence[str] = STYLE_LAYERS,
        projections: int = PROJECTIONS,
        seed: int = 0,
    ) -> None:
        self.content_layer = content_layer
        self.style_layers = tuple(style_layers)
        self.projections = projections
        self.seed = seed
        self.extractor = FeatureExtractor(weights, (content_layer, *self.style_layers)).eval()
        self._memo: dict[tuple[tuple[int, ...], str], dict[str, torch.Tensor]] = {}

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """VGG19's activations of ``x``, kept for the last few images by their bytes: the
        same photo, painting or output is scored against several others (one forward pass
        instead of one per distance)."""
        x = x.detach().float().contiguous()
        key = (tuple(x.shape), hashlib.sha1(x.numpy().tobytes()).hexdigest())
        if key in self._memo:
            self._memo[key] = self._memo.pop(key)  # the most recently used last
        else:
            with torch.no_grad():
                self._memo[key] = self.extractor(x)
            while len(self._memo) > MEMO:
                self._memo.pop(next(iter(self._memo)))
        return self._memo[key]

    def content_distance(self, output: torch.Tensor, photo: torch.Tensor) -> float:
        """mean((F(output) - F(photo))²) / mean(F(photo)²) at the content layer, the photo
        resized to the output's size. 0 for the photo itself."""
        photo = resize(photo, (output.shape[-2], output.shape[-1]))
        fo = self._features(output)[self.content_layer]
        fp = self._features(photo)[self.content_layer]
        return float(((fo - fp) ** 2).mean() / (fp**2).mean().clamp_min(1e-12))

    def style_distance(self, output: torch.Tensor, painting: torch.Tensor) -> float:
        """The mean over the style layers of the sliced Wasserstein distance between the
        output's and the painting's feature vectors, each layer's divided by the painting
        features' mean square there (so the layers weigh alike). The painting is resized so
        that its long side equals the output's."""
        painting = resize_long_side(painting, max(output.shape[-2:]))
        fo, fp = self._features(output), self._features(painting)
        total = 0.0
        for layer in self.style_layers:
            a, b = _vectors(fo[layer]), _vectors(fp[layer])
            dirs = directions(a.shape[1], self.projections, self.seed + LAYER_NAMES.index(layer))
            total += sliced_wasserstein(a, b, dirs) / float((b**2).mean().clamp_min(1e-12))
        return total / len(self.style_layers)

    def gram_distances(self, output: torch.Tensor, painting: torch.Tensor) -> dict[str, float]:
        """Per style layer, the squared Frobenius distance between the output's and the
        painting's Gram matrices (``F F^T / HW``), divided by the painting's squared norm: 0
        for the painting itself (at the output's scale, as for the style distance)."""
        painting = resize_long_side(painting, max(output.shape[-2:]))
        fo, fp = self._features(output), self._features(painting)
        out = {}
        for layer in self.style_layers:
            go, gp = gram_matrix(fo[layer]), gram_matrix(fp[layer])
            out[layer] = float(((go - gp) ** 2).sum() / (gp**2).sum().clamp_min(1e-12))
        return out


def _power(plane: torch.Tensor) -> torch.Tensor:
    """The power spectrum of a 2-D map, its mean removed, under a Hann window (float64)."""
    g = plane.double()
    g = g - g.mean()
    h, w = g.shape
    window = torch.outer(torch.hann_window(h, dtype=g.dtype), torch.hann_window(w, dtype=g.dtype))
    return torch.fft.fft2(g * window).abs() ** 2


def band(picture: torch.Tensor, period: int = 4, reach: int = 3) -> float:
    """Parts per 10,000 of the picture's grey-level spectrum (Hann window) within ``reach``
    bins of the frequencies of a ``period`` px pattern (k/period cycles per px, k > 0): a grid
    whose sign follows the picture, which upscale_finetune.grid's averaging misses, shows here.
    impasto stylize's 512 px outputs give about 3 (the_scream); its networks 9-30."""
    power = _power(picture.mean(1)[0])
    h, w = power.shape
    mask = torch.zeros(h, w, dtype=torch.bool)
    for ky in range(period):
        for kx in range(period):
            if ky == kx == 0:
                continue
            cy, cx = round(ky * h / period), round(kx * w / period)
            rows = [(cy + d) % h for d in range(-reach, reach + 1)]
            cols = [(cx + d) % w for d in range(-reach, reach + 1)]
            mask[torch.tensor(rows)[:, None], torch.tensor(cols)[None, :]] = True
    return float(power[mask].sum() / power.sum() * 1e4)


def colour_lines(picture: torch.Tensor, shortest: float = 2.0, longest: float = 9.0) -> float:
    """Power (Hann window) of the picture's green-magenta chroma at periods from ``shortest``
    to ``longest`` px along any direction; compare pictures of one size by their ratio."""
    x = picture[0].double()
    power = _power(x[1] - (x[0] + x[2]) / 2)
    h, w = power.shape
    fy = torch.fft.fftfreq(h, dtype=power.dtype)[:, None]
    fx = torch.fft.fftfreq(w, dtype=power.dtype)[None, :]
    f = torch.sqrt(fy**2 + fx**2)
    return float(power[(f >= 1 / longest) & (f <= 1 / shortest)].sum())

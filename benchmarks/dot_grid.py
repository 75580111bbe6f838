"""Issue 27: where the tiled 4096 px route's dot grid, about 8 px apart, comes from.

A large run's last scale starts from the previous scale's result enlarged 2x and, by default,
takes very few steps there (1 at 4096 px, 4 at 2048). Those steps move along the objective's
gradient. This script takes that start (a photo at SIZE/2 enlarged 2x), and prints, for each
style layer alone and for their sum (the default's equal layer weights), the gradient's root
mean square and how far its spectrum peaks on the lattices of periods 2, 4, 8 and 16 px above
the spectrum around those peaks (1: no lattice). A layer behind k 2x2 poolings sees the image
on a grid of 2^k px, so its gradient repeats with that period.

    python benchmarks/dot_grid.py [--size 1024] [--content tubingen] [--style starry_night]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from _common import image_path
from impasto.config import StyleConfig
from impasto.features.extractor import FeatureExtractor
from impasto.features.weights import load_weights
from impasto.io.images import load_image
from impasto.losses.functional import gram_matrix, style_layer_loss
from impasto.preprocess.resize import resize_long_side

PERIODS = (2, 4, 8, 16)


def lattice_ratio(grad: torch.Tensor, period: int) -> float:
    """Mean spectrum magnitude (channel-averaged gradient, Hann window) on the lattice of
    frequencies (k/period, l/period), over its mean in a ring 3-10 bins around each peak."""
    a = grad[0].mean(0).double().numpy()
    a = a - a.mean()
    h, w = a.shape
    f = np.abs(np.fft.fft2(a * np.outer(np.hanning(h), np.hanning(w))))
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    on = np.zeros_like(f, dtype=bool)
    near = np.zeros_like(f, dtype=bool)
    unit = 1.0 / min(h, w)
    for ky in range(-period // 2, period // 2 + 1):
        for kx in range(-period // 2, period // 2 + 1):
            if ky == kx == 0:
                continue
            d = np.hypot(fy - ky / period, fx - kx / period)
            on |= d < 1.5 * unit
            near |= (d > 3 * unit) & (d < 10 * unit)
    return float(f[on].mean() / f[near].mean())


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(3 * sigma + 0.5)
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = (k / k.sum()).repeat(3, 1, 1, 1)
    x = F.pad(x, (r, r, r, r), mode="reflect")
    x = F.conv2d(x, k.view(3, 1, 1, -1), groups=3)
    return F.conv2d(x, k.view(3, 1, -1, 1), groups=3)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--content", default="tubingen")
    p.add_argument("--style", default="starry_night")
    p.add_argument(
        "--blur",
        type=float,
        default=3.0,
        help="Gaussian sigma (px) on the start: a JPEG photo's 8x8 blocks would show as an 8 px "
        "lattice in every layer's gradient (0: the start as it is)",
    )
    args = p.parse_args(argv)
    cfg = StyleConfig()
    layers = cfg.style_layers
    ext = FeatureExtractor(load_weights(), layers, cfg.pooling, cfg.padding).eval()
    style = resize_long_side(load_image(image_path(f"{args.style}.jpg")), args.size)
    with torch.no_grad():
        targets = {k: gram_matrix(v) for k, v in ext(style).items()}
    small = resize_long_side(load_image(image_path(f"{args.content}.jpg")), args.size // 2)
    start = F.interpolate(small, scale_factor=2, mode="bilinear", align_corners=False)
    if args.blur > 0:
        start = gaussian_blur(start, args.blur)
    x = start.clone().requires_grad_(True)
    feats = ext(x)
    losses = {k: style_layer_loss(gram_matrix(feats[k]), targets[k]) for k in layers}
    print(f"start {tuple(start.shape[-2:])}, the style layers' loss and gradient (equal weights)")
    print("layer      loss      grad rms  " + "  ".join(f"{p:>2} px" for p in PERIODS))
    rows = [(k, losses[k]) for k in layers] + [("sum", sum(losses.values()))]
    for name, loss in rows:
        (g,) = torch.autograd.grad(loss, x, retain_graph=True)
        ratios = "  ".join(f"{lattice_ratio(g, p):5.1f}" for p in PERIODS)
        rms = float(g.pow(2).mean().sqrt())
        print(f"{name:8} {float(loss.detach()):9.3g} {rms:10.3g}  {ratios}")


if __name__ == "__main__":
    main()

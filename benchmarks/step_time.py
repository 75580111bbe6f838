"""Seconds per optimisation step at 256 and 512 px, and the GFLOP/s that implies.

One step is one forward and backward pass of VGG19 (cut after the deepest layer needed, here
relu5_1) plus the losses, on tubingen x starry_night with the default settings, in fp32 and
with bfloat16 autocast. FLOPs counted:
every conv that runs, 2 * C_in * C_out * 9 * H * W for the forward pass and the same again for
the backward pass (the weights are frozen, so only the gradient with respect to the input is
computed), plus the Gram matrices (2 * N^2 * M per style layer, forward and backward).

    python benchmarks/step_time.py [--sizes 256 512] [--steps 10]
"""

from __future__ import annotations

import argparse
import time

import torch

from _common import image_path
from impasto.config import Optimizer, StyleConfig
from impasto.features.extractor import FeatureExtractor
from impasto.features.vgg import deepest
from impasto.features.weights import load_weights
from impasto.io.images import load_image
from impasto.losses.objective import objective_for
from impasto.optim.loop import optimize
from impasto.preprocess.resize import fit_long_side, resize, resize_long_side


def step_flops(
    extractor: FeatureExtractor, hw: tuple[int, int], style_layers: tuple[str, ...]
) -> float:
    """Conv and Gram FLOPs of one forward + backward pass at image size ``hw``."""
    h, w = hw
    channels = 3
    total = 0.0
    for name, module in extractor.net.named_children():
        if isinstance(module, torch.nn.Conv2d):
            channels = module.out_channels
            total += 2 * 2 * module.in_channels * channels * 9 * h * w
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
        if name in style_layers:
            total += 2 * 2 * channels * channels * h * w
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()

    cfg = StyleConfig()
    weights = load_weights()
    content = load_image(image_path("tubingen.jpg"))
    style = load_image(image_path("starry_night.jpg"))
    extractor = FeatureExtractor(
        weights, cfg.content_layers + cfg.style_layers, cfg.pooling, cfg.padding
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}; network cut at "
        f"{deepest(cfg.content_layers + cfg.style_layers)}"
    )
    head = ("size", "H x W", "precision", "s/step", "GFLOP/step", "GFLOP/s")
    print("{:>6} {:>10} {:>9} {:>8} {:>11} {:>8}".format(*head))
    for size, bf16 in [(s, b) for s in args.sizes for b in (False, True)]:
        hw = fit_long_side(content.shape[-2], content.shape[-1], size)
        c = resize(content, hw)
        s = resize_long_side(style, size)
        objective = objective_for(extractor, c, s, cfg, autocast=bf16)
        optimize(c, objective, optimizer=Optimizer.LBFGS, lr=1.0, steps=2)  # warm-up
        t0 = time.perf_counter()
        optimize(c, objective, optimizer=Optimizer.LBFGS, lr=1.0, steps=args.steps)
        per_step = (time.perf_counter() - t0) / args.steps
        gflop = step_flops(extractor, hw, cfg.style_layers) / 1e9
        print(
            f"{size:>6} {hw[0]:>4} x {hw[1]:<4} {'bf16' if bf16 else 'fp32':>9} {per_step:>8.3f} "
            f"{gflop:>11.1f} "
            f"{gflop / per_step:>8.1f}"
        )


if __name__ == "__main__":
    main()

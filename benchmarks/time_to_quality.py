"""Time to quality: the default (coarse-to-fine) method against the plain one.

On tubingen x starry_night at 512 px (long side), runs

* **plain**: single scale, fp32, L-BFGS from the content image, no early stop, the same
  alpha/beta/layers/TV as the default, recording the objective after every step;
* **default**: ``impasto.stylize`` with its default settings (coarse-to-fine, early stop);
* optionally **default, bf16** (``--bf16``), to show what mixed precision does to quality.

Every final image is scored with the same objective, at full resolution and in fp32 (the
plain method's own objective). The time-to-quality ratio is the time the plain method needs
to reach the default's final objective, divided by the default's time. When the plain run
does not get there within its budget, the ratio is reported as a lower bound.

    python benchmarks/time_to_quality.py [--size 512] [--plain-steps 300] [--bf16]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import impasto
from _common import ROOT, image_path
from impasto.config import Precision, StyleConfig
from impasto.features.extractor import FeatureExtractor
from impasto.features.weights import load_weights
from impasto.io.images import load_image, save_image
from impasto.losses.objective import Objective, objective_for
from impasto.optim.events import StepEvent
from impasto.preprocess.resize import fit_long_side, resize, resize_long_side


def full_res_objective(weights, content, style, cfg: StyleConfig) -> Objective:
    """The plain method's objective at ``cfg.size``, fp32: the common yardstick."""
    ex = FeatureExtractor(weights, cfg.content_layers + cfg.style_layers, cfg.pooling, cfg.padding)
    hw = fit_long_side(content.shape[-2], content.shape[-1], cfg.size)
    style = resize_long_side(style, max(16, round(cfg.size * cfg.style_scale)))
    return objective_for(ex, resize(content, hw), style, cfg)


def score(objective: Objective, image: torch.Tensor) -> float:
    with torch.no_grad():
        total, _ = objective(image)
    return float(total)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--plain-steps", type=int, default=300)
    ap.add_argument("--bf16", action="store_true", help="also run the default method in bf16")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    weights = load_weights()
    content = load_image(image_path("tubingen.jpg"))
    style = load_image(image_path("starry_night.jpg"))
    default = StyleConfig(size=args.size)
    yardstick = full_res_objective(weights, content, style, default)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; size {args.size}")

    rows = []
    runs = [("default", default)]
    if args.bf16:
        runs.append(("default, bf16", default.replace(precision=Precision.BF16)))
    for name, cfg in runs:
        result = impasto.stylize(content, style, cfg, weights=weights)
        value = score(yardstick, result.tensor)
        save_image(result.tensor, args.out / f"{name.replace(', ', '_')}.png")
        rows.append((name, result.seconds, len(result.history), value))
        print(f"{name}: {result.seconds:.1f} s, {len(result.history)} steps, objective {value:.4g}")

    plain = default.replace(scales=1, precision=Precision.FP32, tol=0.0, steps=args.plain_steps)
    trace: list[tuple[float, float]] = []
    start = time.perf_counter()

    def record(event: StepEvent) -> None:
        trace.append((time.perf_counter() - start, event.losses["total"]))

    result = impasto.stylize(content, style, plain, weights=weights, callback=record)
    save_image(result.tensor, args.out / "plain.png")
    plain_value = score(yardstick, result.tensor)
    rows.append(("plain", result.seconds, len(result.history), plain_value))

    print()
    print(
        "| method | time (s) | steps | objective at full size, fp32 | plain needs (s) "
        "| time-to-quality |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, seconds, steps, value in rows:
        if name == "plain":
            print(f"| plain (1 scale, fp32) | {seconds:.1f} | {steps} | {value:.4g} | | 1 |")
            continue
        reached = next((t for t, v in trace if v <= value), None)
        if reached is None:
            need, ratio = f"> {trace[-1][0]:.0f}", f"> {trace[-1][0] / seconds:.1f}"
        else:
            need, ratio = f"{reached:.0f}", f"{reached / seconds:.1f}"
        print(f"| {name} | {seconds:.1f} | {steps} | {value:.4g} | {need} | {ratio} |")


if __name__ == "__main__":
    main()

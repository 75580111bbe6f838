"""Time to quality: the default (coarse-to-fine) method against the plain one.

On tubingen x starry_night at 512 px (long side), runs

* **plain**: single scale, fp32, L-BFGS from the content image, no early stop, the same
  alpha/beta/layers/TV as the default, recording the objective after every step;
* **classic**: the method as published and as neural-style / neural-style-pt run it by
  default: white-noise start, ``torch.optim.LBFGS`` (history 100, lr 1) unbounded during the
  run and clamped to [0, 1] when saved, the same objective; its trace is the clamped image's
  score every few evaluations (the scoring time is not counted);
* **default**: ``impasto.stylize`` with its default settings (coarse-to-fine, early stop);
* optionally **default, bf16** (``--bf16``), to show what mixed precision does to quality.

It then prints why coarse to fine does not shorten the plain run here: how much of what the
plain run still changes after step 40 lies in the finest octaves (detail that no coarser scale
can hold), and how the style image itself scores against its own targets once halved and
enlarged back (what an upsampled scale starts from).

Every final image is scored with the same objective, at full resolution and in fp32 (the
plain method's own objective). The time-to-quality ratio is the time a baseline (plain or
classic) needs to reach the default's final objective, divided by the default's time. When a
baseline does not get there within its budget, the ratio is reported as a lower bound.

    python benchmarks/time_to_quality.py [--size 512] [--plain-steps 300]
                                         [--classic-steps 500] [--bf16]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import impasto
from _common import ROOT, image_path
from impasto.config import Precision, StyleConfig
from impasto.features.extractor import FeatureExtractor
from impasto.features.weights import load_weights
from impasto.io.images import load_image, save_image
from impasto.losses.functional import gram_matrix, style_layer_loss
from impasto.losses.objective import Objective, objective_for
from impasto.optim.events import StepEvent
from impasto.preprocess.resize import fit_long_side, resize, resize_long_side


def yardstick_style(style: torch.Tensor, cfg: StyleConfig) -> torch.Tensor:
    """The style image at the size the yardstick takes its targets from."""
    return resize_long_side(style, max(16, round(cfg.size * cfg.style_scale)))


def full_res_objective(weights, content, style, cfg: StyleConfig) -> Objective:
    """The plain method's objective at ``cfg.size``, fp32: the common yardstick."""
    ex = FeatureExtractor(weights, cfg.content_layers + cfg.style_layers, cfg.pooling, cfg.padding)
    hw = fit_long_side(content.shape[-2], content.shape[-1], cfg.size)
    return objective_for(ex, resize(content, hw), yardstick_style(style, cfg), cfg)


def score(objective: Objective, image: torch.Tensor) -> float:
    with torch.no_grad():
        total, _ = objective(image)
    return float(total)


def classic(
    objective: Objective, shape: tuple[int, ...], steps: int, seed: int, every: int = 5
) -> tuple[torch.Tensor, list[tuple[float, float]], float, int]:
    """The published recipe: noise start, torch's L-BFGS over the whole budget, clamp at the end.

    Returns (clamped image, [(seconds, clamped score)], seconds, evaluations)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=generator).requires_grad_(True)
    opt = torch.optim.LBFGS(
        [x],
        lr=1.0,
        max_iter=steps,
        max_eval=steps + steps // 4,
        tolerance_grad=-1.0,
        tolerance_change=-1.0,
        history_size=100,
    )
    trace: list[tuple[float, float]] = []
    clock = {"start": time.perf_counter(), "evals": 0}

    def closure() -> torch.Tensor:
        opt.zero_grad()
        total, _ = objective(x)
        total.backward()
        clock["evals"] += 1
        if clock["evals"] % every == 0:  # score what would be saved now; not timed
            paused = time.perf_counter()
            value = score(objective, x.detach().clamp(0.0, 1.0))
            trace.append((paused - clock["start"], value))
            clock["start"] += time.perf_counter() - paused
        return total

    opt.step(closure)  # type: ignore[no-untyped-call]
    seconds = time.perf_counter() - clock["start"]
    return x.detach().clamp(0.0, 1.0), trace, seconds, int(clock["evals"])


def octave_shares(change: torch.Tensor, octaves: int = 4) -> list[float]:
    """Shares of a change's energy per octave of a Laplacian pyramid, finest first, then the
    rest (periods of 2-4 px, 4-8 px, ...). Band energies are counted per full-size pixel; the
    bands are not exactly orthogonal, so the shares are approximate."""
    energies, level = [], change
    for k in range(octaves):
        low = F.avg_pool2d(level, 2)
        up = F.interpolate(low, size=level.shape[-2:], mode="bilinear", align_corners=False)
        energies.append(float(((level - up) ** 2).sum()) * 4**k)
        level = low
    energies.append(float((level**2).sum()) * 4**octaves)
    return [e / sum(energies) for e in energies]


def layer_style_losses(objective: Objective, image: torch.Tensor) -> dict[str, float]:
    """Each style layer's weighted term (beta * w_l * E_l) for ``image``."""
    with torch.no_grad():
        feats = objective.extractor(image)
    return {
        name: objective.style_weight
        * objective.style_layer_weights[name]
        * float(style_layer_loss(gram_matrix(feats[name]), target))
        for name, target in objective.style_targets.items()
    }


def reached(trace: list[tuple[float, float]], value: float, seconds: float) -> tuple[str, str]:
    """(seconds the baseline needed to score ``value`` or better, ratio to ``seconds``)."""
    hit = next((t for t, v in trace if v <= value), None)
    if hit is None:
        return f"> {trace[-1][0]:.0f}", f"> {trace[-1][0] / seconds:.1f}"
    return f"{hit:.0f}", f"{hit / seconds:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--plain-steps", type=int, default=300)
    ap.add_argument("--classic-steps", type=int, default=500, help="0 skips the classic run")
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

    snapshots: dict[int, torch.Tensor] = {}

    def record(event: StepEvent) -> None:
        trace.append((time.perf_counter() - start, event.losses["total"]))
        if event.step == 40:
            snapshots[40] = event.image.detach().clone()

    result = impasto.stylize(content, style, plain, weights=weights, callback=record)
    save_image(result.tensor, args.out / "plain.png")
    plain_value = score(yardstick, result.tensor)
    plain_row = ("plain (1 scale, fp32, L-BFGS)", result.seconds, len(result.history), plain_value)
    print(f"plain: {result.seconds:.1f} s, {len(result.history)} steps, obj. {plain_value:.4g}")

    baselines = {"plain": trace}
    classic_row = None
    if args.classic_steps > 0:
        shape = (1, 3, *fit_long_side(content.shape[-2], content.shape[-1], args.size))
        image, ctrace, seconds, evals = classic(yardstick, shape, args.classic_steps, default.seed)
        save_image(image, args.out / "classic.png")
        value = score(yardstick, image)
        classic_row = ("classic (noise, torch L-BFGS)", seconds, evals, value)
        baselines["classic"] = ctrace
        print(f"classic: {seconds:.1f} s, {evals} evaluations, objective {value:.4g}")

    print()
    head = "| method | time (s) | steps | objective at full size, fp32 |"
    rule = "| --- | ---: | ---: | ---: |"
    for name in baselines:
        head += f" {name} needs (s) | ratio to {name} |"
        rule += " ---: | ---: |"
    print(head)
    print(rule)
    for name, seconds, steps, value in rows:
        cells = [reached(t, value, seconds) for t in baselines.values()]
        extra = "".join(f" {need} | {ratio} |" for need, ratio in cells)
        print(f"| {name} | {seconds:.1f} | {steps} | {value:.4g} |{extra}")
    for row in (plain_row, classic_row):
        if row is not None:
            name, seconds, steps, value = row
            print(f"| {name} | {seconds:.1f} | {steps} | {value:.4g} |" + " |" * 2 * len(baselines))

    print("\nWhy coarse to fine does not shorten the plain run:")
    if 40 in snapshots:
        shares = octave_shares(result.tensor - snapshots[40])
        bands = ", ".join(
            f"{2 ** (k + 1)}-{2 ** (k + 2)} px {v:.0%}" for k, v in enumerate(shares[:-1])
        )
        print(
            f"- what plain changes after step 40, by period: {bands}, coarser {shares[-1]:.0%}; "
            "a 2x smaller scale cannot hold the first band and blurs the second"
        )
    full_style = yardstick_style(style, default)
    halved = resize(
        resize_long_side(full_style, max(16, max(full_style.shape[-2:]) // 2)),
        tuple(full_style.shape[-2:]),  # type: ignore[arg-type]
    )
    sharp, blurred = (layer_style_losses(yardstick, im) for im in (full_style, halved))
    print(
        "- the style image itself, halved and enlarged back, against its own targets at "
        f"{args.size} px: "
        + ", ".join(f"{n} {blurred[n]:.3g}" for n in blurred)
        + f"; as is: {sum(sharp.values()):.3g}. An upsampled scale starts about that far from the "
        "style, and its few steps must paint the detail back"
    )


if __name__ == "__main__":
    main()

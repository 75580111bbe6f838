"""What the painting fine-tune of ``stylize --upscale`` buys (docs/upscale.md, "The fine-tune
on the painting"): the bundled upscaler and its fine-tunes of STEPS steps on starry_night, each
scored on starry_night itself (shrunk 4x, enlarged back) and on the_scream, a painting it never
saw: PSNR and the engine's relu2_2 content error to the original; the 4 px grid of a 4x
enlargement of tubingen.jpg (:func:`grid`, and :func:`band` for a grid whose sign follows the
picture); the seconds each fine-tune took. Fine-tunes go to
a fresh cache folder (none is reused).

    python benchmarks/upscale_finetune.py 50 100 [--grid-weights 0,3]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import torch

import impasto.data
from _quality_measures import band
from impasto.features.extractor import FeatureExtractor
from impasto.features.weights import load_weights
from impasto.io.images import load_image
from impasto.losses.functional import content_layer_loss
from impasto.superres import finetune
from impasto.superres.apply import Enlarger, open_upscaler
from impasto.superres.degrade import shrink
from impasto.superres.finetune import finetuned
from impasto.superres.train import phase_detail

SAMPLES = Path(impasto.data.__file__).parent / "samples"
PAINTINGS = ("starry_night", "the_scream")


def score(enlarger: Enlarger, path: Path, extractor: FeatureExtractor) -> tuple[float, float]:
    """(PSNR dB, relu2_2 content error) of ``path`` shrunk 4x and enlarged back."""
    hr = load_image(path)
    h, w = hr.shape[-2:]
    hr = hr[..., : h // 4 * 4, : w // 4 * 4]
    out = enlarger.enlarge(shrink(hr, 4), 4)
    mse = float(((out - hr) ** 2).mean())
    with torch.no_grad():
        feature = float(content_layer_loss(extractor(out)["relu2_2"], extractor(hr)["relu2_2"]))
    return 10 * math.log10(1 / mse), feature


def grid(picture: torch.Tensor, period: int = 4) -> float:
    """Grey levels (0-255) of a pattern repeating every ``period`` px (the sub-pixel heads'
    grid): the spread of the picture's fine detail averaged over every position modulo
    ``period`` (:func:`impasto.superres.train.phase_detail` over the whole picture). Strokes
    average away; a grid stays. The bundled upscaler's x4 gives about 0.2."""
    return float(phase_detail(picture[:1], period)[0, 0, 0].std() * 255)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("steps", type=int, nargs="+", help="fine-tune steps to try")
    parser.add_argument("--grid-weights", default=f"{finetune.FINETUNE_GRID_WEIGHT:g}",
                        help="grid term weights to try, comma-separated (0: none)")  # fmt: skip
    args = parser.parse_args()
    os.environ["IMPASTO_CACHE"] = tempfile.mkdtemp(prefix="impasto-finetune-")
    vgg = load_weights(None)
    extractor = FeatureExtractor(vgg, ("relu2_2",)).eval()
    rows: list[tuple[str, Enlarger, float]] = [("bundled", open_upscaler(), 0.0)]
    for weight in (float(w) for w in args.grid_weights.split(",")):
        finetune.FINETUNE_GRID_WEIGHT = weight  # what finetune_config reads
        for steps in args.steps:
            started = time.perf_counter()
            tuned = finetuned([SAMPLES / "starry_night.jpg"], 4, steps, weights=vgg)
            seconds = time.perf_counter() - started
            rows.append((f"{steps} steps, grid {weight:g}", tuned.enlarger, seconds))
    for name, enlarger, seconds in rows:
        scores = [score(enlarger, SAMPLES / f"{p}.jpg", extractor) for p in PAINTINGS]
        pairs = zip(PAINTINGS, scores, strict=True)
        text = "  ".join(f"{p} {db:.2f} dB {f:.3g}" for p, (db, f) in pairs)
        big = enlarger.enlarge(load_image(SAMPLES / "tubingen.jpg"), 4)
        print(f"{name:20} {seconds:6.1f} s  {text}  4 px grid {grid(big):.2f}"
              f"  band {band(big):.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

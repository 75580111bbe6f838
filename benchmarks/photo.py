"""Photo-to-photo benchmark (issue 25): ``impasto photo`` against Luan et al. 2017's published
results and against region-wise colour transfer, on the pairs of ../shared/photoreal.

For each pair inN (photo ``input/inN.png``, reference ``style/tarN.png``, region maps
``segmentation/inN.png`` and ``tarN.png``) at ``--size`` px it scores

* **impasto**: ``impasto.photo`` with its defaults (and the two maps), run in a child process
  so its peak memory (ru_maxrss) is its own;
* **paper**: the authors' result ``bestN_t_1000.png`` from ``--paper DIR`` (their repository's
  ``examples/final_results``; not bundled, the pairs are for non-commercial use), resized to
  the photo's size at ``--size``;
* **colour**: the photo with each region recoloured to the reference's region statistics
  (Reinhard-style; ``preprocess.color.match_region_colors``, the start of impasto's run),

with the measures of ``_photo_measures.py`` (edge SSIM with the photo, 5x5 affine residual,
region colour distance to the reference) and the style distance of ``_quality_measures.py``
(sliced Wasserstein at VGG19 relu1_1..relu4_1, against the reference). It writes a markdown
table, ``rows.json`` (reused with ``--reuse``) and a contact sheet (photo, reference, colour,
impasto, paper) as a small JPEG.

    python benchmarks/photo.py --paper out/paper [--pairs 2,6,10] [--size 512]
        [--out-dir out/bench/photo] [--sheet docs/images/photo_sheet.jpg] [--reuse]
        [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw

import impasto
from _common import ROOT
from _photo_measures import affine_residual, edge_ssim, region_color_distance
from _quality_measures import Measures
from impasto.api import PHOTO_FEATHER
from impasto.features.weights import load_weights
from impasto.io.atomic import atomic_write
from impasto.io.images import load_image, save_image
from impasto.losses.targets import fit_masks
from impasto.preprocess.color import match_region_colors
from impasto.preprocess.masks import match_mask_palettes, parse_color_mask
from impasto.preprocess.resize import resize, resize_long_side
from impasto.viz._draw import fit, font
from quality import cpu_name

DATA = ROOT.parent / "shared" / "photoreal"
PAIRS = "2,6,10,14,18,22,26,30,34,38,42,46,50,54,58"
METHODS = ("colour", "impasto", "paper")
THUMB = 200


@dataclass
class Row:
    pair: int
    method: str
    edge_ssim: float
    affine: float
    color: float
    swd: float
    seconds: float = 0.0
    peak_mb: float = 0.0
    precision: str = ""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paper", type=Path, required=True, help="folder of bestN_t_1000.png")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--pairs", default=PAIRS)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--out-dir", type=Path, default=ROOT / "out" / "bench" / "photo")
    p.add_argument("--sheet", type=Path, default=None)
    p.add_argument("--reuse", action="store_true", help="keep rows already in rows.json")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a StyleConfig setting for impasto's runs",
    )
    return p.parse_args(argv)


def _overrides(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _files(data: Path, n: int) -> dict[str, Path]:
    return {
        "photo": data / "input" / f"in{n}.png",
        "reference": data / "style" / f"tar{n}.png",
        "photo_map": data / "segmentation" / f"in{n}.png",
        "reference_map": data / "segmentation" / f"tar{n}.png",
    }


def _run_impasto(
    files: dict[str, Path], size: int, out: Path, overrides: dict[str, Any]
) -> dict[str, Any]:
    """In a child process: one impasto.photo run; its time and peak resident memory."""
    t = time.perf_counter()
    result = impasto.photo(
        files["photo"],
        files["reference"],
        content_mask=files["photo_map"],
        style_mask=files["reference_map"],
        size=size,
        **overrides,
    )
    seconds = time.perf_counter() - t
    result.save(out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak, "precision": result.sources.get("precision", "")}


def _regions(files: dict[str, Path], hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The photo's region masks at ``hw`` and the reference's, paired, at its own size."""
    colors, masks = parse_color_mask(load_image(files["photo_map"]))
    ref_colors, ref_masks = parse_color_mask(load_image(files["reference_map"]))
    pairs = match_mask_palettes(colors, ref_colors)
    return fit_masks(masks, hw), ref_masks[pairs]


def _score(
    out: torch.Tensor,
    photo: torch.Tensor,
    ref: torch.Tensor,
    masks: tuple[torch.Tensor, torch.Tensor],
    measures: Measures,
) -> dict[str, float]:
    ref_masks = fit_masks(masks[1], (ref.shape[-2], ref.shape[-1]))
    return {
        "edge_ssim": edge_ssim(out, photo),
        "affine": affine_residual(out, photo),
        "color": region_color_distance(out, ref, masks[0], ref_masks),
        "swd": measures.style_distance(out, ref),
    }


def run_pair(n: int, args: argparse.Namespace, measures: Measures, pool: cf.Executor) -> list[Row]:
    files = _files(args.data, n)
    photo = resize_long_side(load_image(files["photo"]), args.size)
    hw = (photo.shape[-2], photo.shape[-1])
    ref = resize_long_side(load_image(files["reference"]), args.size)
    masks = _regions(files, hw)
    outputs = args.out_dir / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    ref_masks = fit_masks(masks[1], (ref.shape[-2], ref.shape[-1]))
    colour = match_region_colors(
        photo, ref, masks[0], ref_masks, feather=max(1.0, max(hw) / PHOTO_FEATHER)
    )
    save_image(colour, outputs / f"colour{n}.png")
    rows = [Row(n, "colour", **_score(colour, photo, ref, masks, measures))]
    path = outputs / f"impasto{n}.png"
    cost = pool.submit(_run_impasto, files, args.size, path, _overrides(args.set)).result()
    rows.append(Row(n, "impasto", **_score(load_image(path), photo, ref, masks, measures), **cost))
    paper = args.paper / f"best{n}_t_1000.png"
    if paper.exists():
        rows.append(
            Row(n, "paper", **_score(resize(load_image(paper), hw), photo, ref, masks, measures))
        )
    return rows


def table(rows: list[Row], args: argparse.Namespace) -> str:
    head = (
        f"{len({r.pair for r in rows})} pairs at {args.size} px; CPU: {cpu_name()}; "
        f"impasto: {_overrides(args.set) or 'defaults'}\n\n"
        "| pair | method | edge SSIM (higher) | affine residual x1e4 (lower) | region colour "
        "W2 (lower) | style SWD (lower) | seconds | peak MB |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    lines = []
    for r in sorted(rows, key=lambda r: (r.pair, METHODS.index(r.method))):
        cost = (
            f"{r.seconds:.0f} ({r.precision}) | {r.peak_mb:.0f}" if r.method == "impasto" else " | "
        )
        lines.append(
            f"| in{r.pair} | {r.method} | {r.edge_ssim:.3f} | {r.affine:.3f} | {r.color:.1f} | "
            f"{r.swd:.3f} | {cost} |"
        )
    return head + "\n".join(lines) + "\n\n" + summary(rows) + "\n"


def summary(rows: list[Row]) -> str:
    """Means over the pairs every method has, and impasto's wins against the paper."""
    pairs = sorted(
        {r.pair for r in rows if r.method == "paper"}
        & {r.pair for r in rows if r.method == "impasto"}
    )
    out = [
        f"Means over {len(pairs)} pairs:\n",
        "| method | edge SSIM | affine x1e4 | colour W2 | SWD | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in METHODS:
        sel = [r for r in rows if r.method == m and r.pair in pairs]
        if not sel:
            continue

        def mean(key: str, sel: list[Row] = sel) -> float:
            return sum(getattr(r, key) for r in sel) / len(sel)

        secs = f"{mean('seconds'):.0f}" if m == "impasto" else ""
        out.append(
            f"| {m} | {mean('edge_ssim'):.3f} | {mean('affine'):.3f} | {mean('color'):.1f} | "
            f"{mean('swd'):.3f} | {secs} |"
        )
    return "\n".join(out)


def sheet(rows: list[Row], args: argparse.Namespace, path: Path) -> None:
    """One line per pair, as tall as its tallest picture: photo, reference, colour transfer,
    impasto, the paper's."""
    labels = ("photo", "reference", "colour transfer", "impasto", "Luan et al.")
    lines = [_sheet_line(args, n) for n in sorted({r.pair for r in rows})]
    cell, pad, top = THUMB, 4, 18
    height = top + sum(max(t.height for t in line) + pad for line in lines)
    img = Image.new("RGB", (len(labels) * (cell + pad) + pad, height), "white")
    draw = ImageDraw.Draw(img)
    for i, label in enumerate(labels):
        draw.text((pad + i * (cell + pad), 2), label, fill="black", font=font(12))
    y = top
    for line in lines:
        for i, thumb in enumerate(line):
            img.paste(thumb, (pad + i * (cell + pad), y))
        y += max(t.height for t in line) + pad
    with atomic_write(path) as tmp:
        img.save(tmp, format="JPEG", quality=82)


def _sheet_line(args: argparse.Namespace, n: int) -> list[Image.Image]:
    """Pair ``n``'s five pictures at THUMB px (an empty one where a file is missing)."""
    files = _files(args.data, n)
    srcs = [
        files["photo"],
        files["reference"],
        args.out_dir / "outputs" / f"colour{n}.png",
        args.out_dir / "outputs" / f"impasto{n}.png",
        args.paper / f"best{n}_t_1000.png",
    ]
    return [
        fit(Image.open(src).convert("RGB"), (THUMB, THUMB))
        if src.exists()
        else Image.new("RGB", (THUMB, 1), "white")
        for src in srcs
    ]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    store = args.out_dir / "rows.json"
    rows = (
        [Row(**r) for r in json.loads(store.read_text())] if args.reuse and store.exists() else []
    )
    done = {r.pair for r in rows if r.method == "impasto"}
    measures = Measures(load_weights())
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(1, mp_context=ctx, max_tasks_per_child=1) as pool:
        for n in (int(p) for p in args.pairs.split(",")):
            if n in done:
                continue
            rows += run_pair(n, args, measures, pool)
            store.write_text(json.dumps([asdict(r) for r in rows], indent=1))
            print(table([r for r in rows if r.pair == n], args).split("\n\n")[1], flush=True)
    text = table(rows, args)
    (args.out_dir / "table.md").write_text(text)
    print(text)
    if args.sheet is not None:
        sheet(rows, args, args.sheet)


if __name__ == "__main__":
    main()

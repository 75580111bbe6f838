"""Quality against training steps: a style network saved along its training run, each save
scored on never-seen photos against ``impasto stylize``'s default, as ``benchmarks/network.py
--quality`` scores the bundled networks (issue 26 asks for this curve where the table's limits
are not reached).

    python benchmarks/network_curve.py RUN [RUN ...] [--train PAINTING --steps 250,500,...
                                        --photos-train DIR [-- TRAIN FLAGS]]
                                        [--photos DIR] [--size 512] [--refs DIR]
                                        [--baseline MODEL ...] [--plot PATH]
                                        [--sheet PATH [--columns RUN_N,RUN_N,...]]

Each RUN is a folder of ``step_N.safetensors`` files (the network after N steps of that run).
Each save gets four ratios to stylize's, median and worst over the photos: content distance,
style distance, fine lines (``_quality_measures.band``, grey levels) and colour lines
(``colour_lines``, green-magenta chroma): the last two are what neither distance sees.
``--train`` makes them first: ``impasto train PAINTING`` to the first count, then ``--resume`` on
to each next one (a resumed run equals an uninterrupted one, tested), copying the model file
after each; the flags after ``--`` are the run's recipe (``--from MODEL`` among them). A RUN
whose files exist is trained on from its last save. ``--refs`` is where stylize's outputs are
cached (network.py's ``--out``: reuse its 512 px references, they take minutes each).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from impasto.config import StyleConfig
from impasto.features.device import arithmetic, cpu_model
from impasto.io.atomic import atomic_write
from impasto.io.images import load_image
from impasto.network.modelfile import load_network
from network import (
    Ratios,
    Scored,
    crops_sheet,
    never_seen,
    quality_measures,
    ratios,
    score_network,
)

IMPASTO = [str(Path(sys.executable).with_name("impasto"))]


def saves(run: Path) -> list[tuple[int, Path]]:
    """The run's model files by step count."""
    found = [(int(p.stem.removeprefix("step_")), p) for p in run.glob("step_*.safetensors")]
    return sorted(found)


def train_segments(run: Path, painting: Path, photos: Path, steps: list[int],
                   flags: list[str]) -> None:  # fmt: skip
    """Train ``run`` to each count in ``steps`` in turn, keeping a model file per count."""
    run.mkdir(parents=True, exist_ok=True)
    model, ckpt = run / "net.safetensors", run / "ckpt"
    done = {n for n, _ in saves(run)}
    for n in steps:
        if n in done:
            continue
        if ckpt.exists():
            cmd = [*IMPASTO, "train", "--resume", str(ckpt), "--steps", str(n), "-q"]
        else:
            cmd = [*IMPASTO, "train", str(painting), "--photos", str(photos), "-o", str(model),
                   "--checkpoint", str(ckpt), "--steps", str(n), "-q", *flags]  # fmt: skip
        print("impasto", " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True)
        shutil.copyfile(model, run / f"step_{n}.safetensors")


def score_runs(runs: list[Path], baselines: list[Path], photos: list[Path], size: int,
               refs_dir: Path) -> dict[str, list[tuple[int, Ratios]]]:  # fmt: skip
    """Each run's saves (and each baseline, at the steps its file records) scored; scores
    are kept in ``refs_dir``/curve_cache.json by the model file's hash, the photos and the size,
    so a run trained on is scored only for its new saves."""
    measures = quality_measures()
    refs: dict[tuple[str, str], Scored] = {}
    cache_path = refs_dir / "curve_cache.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    curves: dict[str, list[tuple[int, Ratios]]] = {}
    todo = [(run.name, n, p) for run in runs for n, p in saves(run)]
    todo += [(p.stem, int(load_network(p).info.training.get("steps_run", 0)), p)  # type: ignore[arg-type]
             for p in baselines]  # fmt: skip
    for name, n, path in todo:
        key = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {size} " + ",".join(
            p.name for p in photos
        )
        label = f"{name}_{n}"
        outputs = all((refs_dir / f"network_{p.stem}_{label}.png").is_file() for p in photos)
        if key in cache and "fringes_median" not in cache[key] and outputs:
            cache[key].update(texture_from_files(refs_dir, photos, path, label))
        elif key not in cache or "fringes_median" not in cache[key]:  # or its outputs are gone
            rows = score_network(measures, path, photos, size, refs_dir, False, refs, label)
            cache[key] = asdict(ratios(rows)[label])
        with atomic_write(cache_path) as f:
            f.write(json.dumps(cache, indent=1).encode())
        r = Ratios(**cache[key])
        curves.setdefault(name, []).append((n, r))
        c = f"{r.content_median:5.2f}x ({r.content_worst:5.2f}x)"
        st = f"{r.style_median:5.2f}x ({r.style_worst:5.2f}x)"
        t = f"{r.texture_median:5.2f}x ({r.texture_worst:5.2f}x)"
        f = f"{r.fringes_median:5.2f}x ({r.fringes_worst:5.2f}x)"
        print(f"{name:<22} {n:>6} steps   content {c}   style {st}   fine lines {t}"
              f"   colour lines {f}", flush=True)  # fmt: skip
    return curves


def texture_from_files(refs_dir: Path, photos: list[Path], model: Path,
                       label: str) -> dict[str, float]:  # fmt: skip
    """The fine-lines and colour-lines ratios (network.py's ``texture_*`` and ``fringes_*``)
    of a save scored before they were, from the outputs that scoring left in ``refs_dir``."""
    from _quality_measures import band, colour_lines

    style = Path(load_network(model).info.style_name).stem
    ours = [load_image(refs_dir / f"network_{p.stem}_{label}.png") for p in photos]
    refs = [load_image(refs_dir / f"stylize_{p.stem}_{style}.png") for p in photos]
    out = {}
    for key, measure in (("texture", band), ("fringes", colour_lines)):
        r = [measure(a) / measure(b) for a, b in zip(ours, refs, strict=True)]
        out |= {f"{key}_median": statistics.median(r), f"{key}_worst": max(r)}
    return out


def plot(curves: dict[str, list[tuple[int, Ratios]]], path: Path, title: str) -> None:
    """Median (and worst, dashed) style, content, fine-lines and colour-lines ratios against
    steps, one line per run."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(18.4, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 4)
    for ax, key, label in ((axes[0], "style", "style distance / stylize's"),
                           (axes[1], "content", "content distance / stylize's"),
                           (axes[2], "texture", "fine lines (grey, 2-4 px) / stylize's"),
                           (axes[3], "fringes", "colour lines (2-9 px) / stylize's")):  # fmt: skip
        for k, (name, pts) in enumerate(curves.items()):
            xs = [n for n, _ in pts]
            med = [getattr(r, f"{key}_median") for _, r in pts]
            worst = [getattr(r, f"{key}_worst") for _, r in pts]
            color = f"C{k}"
            ax.plot(xs, med, "o-" if len(pts) > 1 else "*", color=color, ms=5 if len(pts) > 1
                    else 12, label=f"{name} (median)")  # fmt: skip
            ax.plot(xs, worst, "--" if len(pts) > 1 else "x", color=color, alpha=0.5,
                    label=f"{name} (worst)")  # fmt: skip
        if key in ("texture", "fringes"):
            ax.axhline(1.0, color="0.4", lw=0.8, ls=":")  # stylize's own amount
            ax.set_yscale("log")
        else:
            ax.axhline(1.5, color="0.4", lw=0.8, ls=":", label="issue 26's limit, 1.5x")
        ax.set_xscale("log")
        ticks = sorted({n for pts in curves.values() for n, _ in pts})
        ax.set_xticks(ticks, [str(n) for n in ticks], fontsize=7, rotation=45)
        ax.minorticks_off()
        ax.set_xlabel("training steps")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    with atomic_write(path) as f:
        fig.savefig(f, format=path.suffix.lstrip("."))


def sheet_columns(curves: dict[str, list[tuple[int, Ratios]]], style: str) -> list[str]:
    """The photo, stylize's output, then each run's first, middle and last save."""
    columns = ["photo", f"stylize {style}"]
    for name, pts in curves.items():
        picks = sorted({0, len(pts) // 2, len(pts) - 1})
        columns += [f"{name}_{pts[k][0]}" for k in picks]
    return columns


def main() -> None:
    argv = sys.argv[1:]
    flags = argv[argv.index("--") + 1 :] if "--" in argv else []
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, nargs="+", help="folders of step_N.safetensors")
    ap.add_argument("--train", type=Path, metavar="PAINTING", help="train the (one) run first")
    ap.add_argument("--steps", default="250,500,1000,2000,4000", help="with --train")
    ap.add_argument("--photos-train", type=Path, default=Path("out/models/photos"))
    ap.add_argument("--photos", type=Path, default=None, help="never-seen photos besides "
                    "impasto's two (scripts/never_seen_photos.py)")  # fmt: skip
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--refs", type=Path, default=Path("out/network"))
    ap.add_argument("--baseline", type=Path, nargs="*", default=[], metavar="MODEL")
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=None, help="100%% crops of the outputs of "
                    "each run's first, middle and last save beside stylize's")  # fmt: skip
    ap.add_argument("--columns", default=None, help="with --sheet: these saves instead, as "
                    "RUN_STEPS names (cw10_4000,the_scream_1158)")  # fmt: skip
    args = ap.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if args.train:
        if len(args.runs) != 1:
            ap.error("--train trains one RUN folder")
        steps = [int(s) for s in args.steps.split(",")]
        train_segments(args.runs[0], args.train, args.photos_train, steps, flags)
    args.refs.mkdir(parents=True, exist_ok=True)
    precision = arithmetic(StyleConfig().precision, torch.device("cpu")).name
    title = (f"{cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
             f"{args.size} px, stylize's references in {precision}")  # fmt: skip
    print(title)
    photos = never_seen(args.photos)
    curves = score_runs(args.runs, args.baseline, photos, args.size, args.refs)
    table = {k: [{"steps": n, **asdict(r)} for n, r in v] for k, v in curves.items()}
    with atomic_write(args.refs / "curve.json") as f:
        f.write(json.dumps(table, indent=1).encode())
    if args.plot:
        plot(curves, args.plot, title)
        print(f"wrote {args.plot}")
    if args.sheet:
        first = (saves(args.runs[0]) or [(0, args.baseline[0])])[0][1]
        style = Path(load_network(first).info.style_name).stem
        columns = sheet_columns(curves, style)
        if args.columns:
            columns = columns[:2] + args.columns.split(",")
        print(f"wrote {crops_sheet(args.refs, photos, args.size, args.sheet, columns=columns)}")


if __name__ == "__main__":
    main()

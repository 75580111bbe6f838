"""Quality benchmark: the default settings against the plain method's style-weight curve.

For each content x style pair (by default the two pairs of the README and tubingen x shipwreck,
so that each bundled painting is in one: van Gogh's swirls, Munch's long bands, Turner's broad
washes and spray) it runs

* **plain**: ``impasto.stylize(..., scales=1, steps=N, tol=0, init="content")``, one scale,
  L-BFGS from the photo with no early stop, at several style weights (multiples of the default
  beta/alpha);
* **default**: ``impasto.stylize`` with its defaults, only the size set;
* **candidates** (``--candidate NAME:KEY=VALUE,...``, repeatable): the default with those
  StyleConfig settings changed, each a point beside the default's;

and scores every output with two measures that are not the objective it optimised
(benchmarks/_quality_measures.py): a content distance (VGG19 relu3_2 features against the
photo's, normalised) and a style distance (sliced Wasserstein distance of the relu1_1..relu4_1
feature distributions against the painting at the output's scale). Lower is better on both.

It prints and writes a markdown table, draws the trade-off (content distance against style
distance, one curve per method, one panel per pair) and a contact sheet of the outputs with
100% crops.

    python benchmarks/quality.py [--quick] [--size 512] [--plain-steps 500]
        [--pairs tubingen:starry_night,golden_gate:the_scream,tubingen:shipwreck]
        [--weights 0.3,1,3,10] [--candidate NAME:KEY=VALUE,... ...]
        [--out-dir out/bench/quality] [--plot docs/images/quality_tradeoff.png]
        [--sheet docs/images/quality_sheet.jpg] [--table out/bench/quality/table.md]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import platform
import subprocess
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw

import impasto
from _common import ROOT, image_path
from _quality_measures import CONTENT_LAYER, STYLE_LAYERS, Measures
from impasto.config import StyleConfig
from impasto.features.weights import load_weights
from impasto.io.atomic import atomic_write
from impasto.io.images import load_image, save_image
from impasto.preprocess.resize import resize_long_side
from impasto.viz._draw import BACKGROUND, draw_lines, fit, font
from impasto.viz.grid import contact_sheet
from impasto.viz.plot import PALETTE, _save

DEFAULT_PAIRS = "tubingen:starry_night,golden_gate:the_scream,tubingen:shipwreck"
DEFAULT_WEIGHTS = "0.3,1,3,10"
TIMES = "\u00d7"  # the multiplication sign, for labels
CROP = 128  # side of the 100% crop beside each output
THUMB = 256  # long side of the outputs on the contact sheet


@dataclass
class Row:
    pair: str
    method: str
    style_weight: float
    content_distance: float
    style_distance: float
    seconds: float
    steps: int
    precision: str
    image: str
    # The run's full settings (StyleConfig's fields as JSON): what --reuse matches on, so a
    # changed default is run again rather than taken from an older run.
    config: str = ""
    # Per style layer, the Gram distance to the painting (Measures.gram_distances): beside the
    # SWD, which layers' statistics a run has not converged. Empty in rows kept before.
    gram: dict[str, float] = field(default_factory=dict)


def cpu_name() -> str:
    """lscpu's model name, else the platform's processor string."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def candidate(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME:KEY=VALUE,...`` as (NAME, {KEY: VALUE}), the values parsed by StyleConfig's own
    field types (a bad key or value is refused here, before any run)."""
    import typing

    from impasto.config import number_type
    from impasto.errors import ConfigError

    name, _, spec = text.partition(":")
    hints = typing.get_type_hints(StyleConfig)
    settings: dict[str, Any] = {}
    for item in _items(spec):
        key, _, value = item.partition("=")
        if key not in hints:
            raise argparse.ArgumentTypeError(f"{key!r} is not a StyleConfig setting")
        parse = number_type(hints[key])
        settings[key] = parse(value) if parse else value
    if not name or not settings:
        raise argparse.ArgumentTypeError(f"use NAME:KEY=VALUE,..., got {text!r}")
    try:
        StyleConfig(**settings)  # a value out of range: refused before any run
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return name, settings


def _items(spec: str) -> list[str]:
    """``KEY=VALUE`` items of a comma-separated spec, where a value may itself hold commas
    (one step count per scale: ``steps=40,30,30,60,tol=0``): a piece without ``=`` belongs
    to the item before it."""
    items: list[str] = []
    for piece in filter(None, spec.split(",")):
        if "=" in piece or not items:
            items.append(piece)
        else:
            items[-1] += f",{piece}"
    return items


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="first look: 192 px, 150 plain steps")
    p.add_argument("--size", type=int, default=None, help="long side in px (default 512)")
    p.add_argument("--plain-steps", type=int, default=None, help="plain run steps (default 500)")
    p.add_argument("--pairs", default=DEFAULT_PAIRS, help="content:style,... (sample names)")
    p.add_argument(
        "--weights", default=DEFAULT_WEIGHTS, help='plain style weights, x default ("": none)'
    )
    p.add_argument(
        "--candidate",
        action="append",
        default=[],
        type=candidate,
        metavar="NAME:KEY=VALUE,...",
        help="the default with these StyleConfig settings changed (repeatable), e.g. "
        "more-fine:final_steps=200",
    )
    p.add_argument("--projections", type=int, default=128, help="SWD random directions")
    p.add_argument(
        "--redraw",
        action="store_true",
        help="no runs: table and figures from OUT/rows.json (give the same size and steps)",
    )
    p.add_argument(
        "--reuse",
        action="store_true",
        help="take a run from OUT/runs.json instead of running it again when its pair and "
        "full settings match (whatever a candidate is named) and its output is still there",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the SWD directions")
    p.add_argument("--out-dir", type=Path, default=ROOT / "out" / "bench" / "quality")
    p.add_argument("--table", type=Path, default=None, help="markdown table (default OUT/table.md)")
    p.add_argument("--plot", type=Path, default=ROOT / "docs" / "images" / "quality_tradeoff.png")
    p.add_argument("--sheet", type=Path, default=ROOT / "docs" / "images" / "quality_sheet.jpg")
    args = p.parse_args(argv)
    args.size = args.size or (192 if args.quick else 512)
    args.plain_steps = args.plain_steps or (150 if args.quick else 500)
    args.table = args.table or args.out_dir / "table.md"
    return args


def _file(name: str) -> Path:
    """A sample's name (``tubingen``), a file name in the samples, or a path to any image (a
    held-out pair: photos and paintings the project's files do not hold)."""
    if Path(name).is_file():
        return Path(name)
    return image_path(name if "." in name else f"{name}.jpg")


def _runs(args: argparse.Namespace) -> list[tuple[str, float, dict[str, Any]]]:
    """(method, style weight, StyleConfig overrides) of every run of a pair."""
    base = StyleConfig()
    runs: list[tuple[str, float, dict[str, Any]]] = [("default", 1.0, {})]
    runs += [(name, 1.0, settings) for name, settings in args.candidate]
    for w in (float(x) for x in args.weights.split(",") if x):  # "": no plain runs
        overrides = {
            "scales": 1,
            "steps": args.plain_steps,
            "tol": 0.0,
            "style_weight": base.style_weight * w,
            "init": "content",  # the plain method starts from the photo, whatever the default
        }
        runs.append(("plain", w, overrides))
    return runs


def config_key(size: int, overrides: dict[str, Any]) -> str:
    """A run's full settings as JSON: the defaults as they are now, with its overrides."""
    cfg = StyleConfig(size=size, **overrides)
    return json.dumps(asdict(cfg), sort_keys=True, default=str)


def _cached(args: argparse.Namespace) -> list[Row]:
    path = args.out_dir / "runs.json"
    return [Row(**r) for r in json.loads(path.read_text())] if path.exists() else []


def _keep(args: argparse.Namespace, row: Row) -> None:
    """Add a finished run to OUT/runs.json, every run that ever finished there: what --reuse
    takes from (rows.json holds only the last invocation's runs, for --redraw)."""
    rows = [r for r in _cached(args) if (r.pair, r.config) != (row.pair, row.config)]
    with atomic_write(args.out_dir / "runs.json") as f:
        f.write(json.dumps([asdict(r) for r in [*rows, row]], indent=1).encode())


def _with_new_fields(key: str) -> str:
    """A stored run's settings with the StyleConfig fields added since it ran, at their
    defaults: a field that did not exist then is a field the run left at its default, so a new
    setting does not make every earlier run look different (a changed default still does)."""
    if not key:
        return key
    settings = json.loads(key)
    defaults = json.loads(json.dumps(asdict(StyleConfig()), default=str))
    for name, value in defaults.items():
        settings.setdefault(name, value)
    return json.dumps(settings, sort_keys=True, default=str)


def _earlier(args: argparse.Namespace) -> dict[tuple[str, str], Row]:
    """--reuse: the finished runs whose outputs are still there, by (pair, settings): a run is
    its settings, whatever name a candidate had then."""
    if not args.reuse:
        return {}
    runs = (r for r in _cached(args) if Path(r.image).exists())
    return {(r.pair, _with_new_fields(r.config)): r for r in runs}


@dataclass(frozen=True)
class Pair:
    content: str
    style: str
    photo: torch.Tensor
    painting: torch.Tensor

    @property
    def label(self) -> str:
        return f"{self.content} {TIMES} {self.style}"


@dataclass(frozen=True)
class Tools:
    """What every run of the benchmark shares: the weights, the measures, the arguments."""

    vgg: Any
    measures: Measures
    args: argparse.Namespace


def _run(pair: Pair, method: str, w: float, overrides: dict[str, Any], key: str, t: Tools) -> Row:
    """One run, scored and kept in OUT/runs.json."""
    args = t.args
    res = impasto.stylize(pair.photo, pair.painting, size=args.size, weights=t.vgg, **overrides)
    name = f"{pair.content}_{pair.style}_{method}" + (f"_x{w:g}" if method == "plain" else "")
    # The settings' hash in the name: a changed default does not overwrite the output of an
    # earlier run that --reuse may still take.
    tag = hashlib.sha256(key.encode()).hexdigest()[:8]
    path = args.out_dir / f"{name.replace('/', '_').replace(' ', '_')}_{tag}.png"
    res.save(path)
    row = Row(
        pair=pair.label,
        method=method,
        style_weight=w,
        content_distance=t.measures.content_distance(res.tensor, pair.photo),
        style_distance=t.measures.style_distance(res.tensor, pair.painting),
        seconds=res.seconds,
        gram=t.measures.gram_distances(res.tensor, pair.painting),
        steps=len(res.history),
        precision=res.sources.get("precision", "?"),
        image=str(path),
        config=key,
    )
    _keep(args, row)
    return row


def run_pair(
    content: str, style: str, args: argparse.Namespace, vgg: Any, measures: Measures
) -> list[Row]:
    pair = Pair(content, style, load_image(_file(content)), load_image(_file(style)))
    tools = Tools(vgg, measures, args)
    earlier = _earlier(args)
    rows = []
    for method, w, overrides in _runs(args):
        key = config_key(args.size, overrides)
        found = earlier.get((pair.label, key))
        row = (
            _run(pair, method, w, overrides, key, tools)
            if found is None
            else replace(found, method=method, style_weight=w)
        )
        print(
            f"  {row.pair:28s} {_weight(row):11s} content {row.content_distance:.4f}  "
            f"style {row.style_distance:.4f}  Gram {_grams(row)}  {row.seconds:6.1f} s  "
            f"{row.steps} steps "
            f"({row.precision}){'' if found is None else '  (reused)'}",
            flush=True,
        )
        rows.append(row)
    return rows


def photo_rows(rows: list[Row], args: argparse.Namespace, measures: Measures) -> list[Row]:
    """The photo itself, resized to the run's size, scored as an output: content distance 0,
    and the style distance every run starts from (a yardstick for the table, not plotted)."""
    out = []
    for pair in pairs(rows):
        content, style = (s.strip() for s in pair.split(TIMES))
        photo = resize_long_side(load_image(_file(content)), args.size)
        painting = load_image(_file(style))
        d = measures.style_distance(photo, painting)
        gram = measures.gram_distances(photo, painting)
        out.append(Row(pair, "photo", 0.0, 0.0, d, 0.0, 0, "fp32", str(_file(content)), "", gram))
    return out


def pairs(rows: list[Row]) -> list[str]:
    """The pairs of these rows, in the order they first appear."""
    return list(dict.fromkeys(r.pair for r in rows))


def _weight(r: Row) -> str:
    return f"plain {TIMES}{r.style_weight:g}" if r.method == "plain" else r.method


def _grams(r: Row) -> str:
    """The per-layer Gram distances, shallow to deep, as ``0.012 / 0.034 / ...``."""
    return " / ".join(f"{r.gram[layer]:.3g}" for layer in STYLE_LAYERS if layer in r.gram)


def table(rows: list[Row], cpu: str, args: argparse.Namespace) -> str:
    head = (
        f"{args.size} px, plain = 1 scale, {args.plain_steps} L-BFGS steps, no early stop; "
        f"content distance at {CONTENT_LAYER}, style distance = SWD at {','.join(STYLE_LAYERS)} "
        f"({args.projections} directions, seed {args.seed}), Gram distance per layer "
        f"(|G - G_painting|² / |G_painting|², {' / '.join(STYLE_LAYERS)}); CPU: {cpu}, "
        f"torch {torch.__version__}"
    )
    lines = [
        head,
        "",
        "| pair | method | style weight | content distance | style distance | Gram distances "
        "| seconds | steps | CPU | precision |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        w = {"default": "default", "photo": ""}.get(r.method, f"{TIMES}{r.style_weight:g}")
        lines.append(
            f"| {r.pair} | {r.method} | {w} | {r.content_distance:.4f} | {r.style_distance:.4f} "
            f"| {_grams(r)} | {r.seconds:.1f} | {r.steps} | {cpu} | {r.precision} |"
            if r.method != "photo"
            else f"| {r.pair} | photo (the start) | | 0 | {r.style_distance:.4f} | {_grams(r)} "
            "| | | | |"
        )
    return "\n".join(lines) + "\n"


def plain_content_at(plain: list[Row], style: float) -> float | None:
    """The plain curve's content distance at this style distance, read off the straight line
    between the two plain points on either side of it; None outside the curve's range."""
    pts = sorted((r.style_distance, r.content_distance) for r in plain)
    for (s0, c0), (s1, c1) in itertools.pairwise(pts):
        if s0 <= style <= s1:
            return c0 if s1 == s0 else c0 + (c1 - c0) * (style - s0) / (s1 - s0)
    return None


def _dominates(a: Row, b: Row) -> bool:
    """a is lower than b on both distances: nearer the photo and nearer the painting."""
    return a.content_distance < b.content_distance and a.style_distance < b.style_distance


def verdict(rows: list[Row], pair: str) -> str:
    """Issue 13's targets for one pair, as a line: which plain points dominate the default and
    which it dominates, where it lies against the plain curve at its own style distance, and
    its time against the plain runs'."""
    default = next(r for r in rows if r.pair == pair and r.method == "default")
    plain = [r for r in rows if r.pair == pair and r.method == "plain"]

    def names(points: list[Row]) -> str:
        return ", ".join(f"{TIMES}{r.style_weight:g}" for r in points) or "no plain point"

    at = plain_content_at(plain, default.style_distance)
    if at is not None:
        curve = f"the plain curve at its style distance: content {at:.4f}, " + (
            "below it" if default.content_distance < at else "not below it"
        )
    elif plain and default.style_distance < min(r.style_distance for r in plain):
        curve = "nearer the painting than every plain point"
    else:
        curve = "farther from the painting than every plain point"
    share = default.seconds / (sum(r.seconds for r in plain) / len(plain)) if plain else 0.0
    return (
        f"- {pair}: dominated by {names([r for r in plain if _dominates(r, default)])}; "
        f"dominates {names([r for r in plain if _dominates(default, r)])}; {curve}; "
        f"time {share:.2f} of a plain run"
    )


def plot(rows: list[Row], path: Path, title: str) -> None:
    """Content distance against style distance, one panel per pair, one curve per method."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = pairs(rows)
    fig = Figure(figsize=(5.2 * len(panels), 4.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, pair in zip(axes, panels, strict=True):
        mine = [r for r in rows if r.pair == pair]
        for k, method in enumerate(dict.fromkeys(r.method for r in mine)):
            pts = sorted((r for r in mine if r.method == method), key=lambda r: r.style_weight)
            xs = [r.style_distance for r in pts]
            ys = [r.content_distance for r in pts]
            secs = sum(r.seconds for r in pts) / len(pts)
            ax.plot(xs, ys, "o-", color=PALETTE[k], label=f"{method} (~{secs:.0f} s a run)")
            for r in pts:
                text = (
                    f"{TIMES}{r.style_weight:g}, {r.seconds:.0f} s"
                    if method == "plain"
                    else (f"{r.seconds:.0f} s")
                )
                ax.annotate(
                    text,
                    (r.style_distance, r.content_distance),
                    fontsize=8,
                    xytext=(4, 4),
                    textcoords="offset points",
                )
        ax.set_title(pair)
        ax.set_xlabel("style distance (SWD to the painting; lower = more painting)")
        ax.set_ylabel(f"content distance ({CONTENT_LAYER}; lower = more photo)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(fig, path)


def _open(path: str | Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def _cell(img: Image.Image) -> Image.Image:
    """The output, shrunk to at most THUMB px (never enlarged), with a 100% crop of its centre
    beside it, pixel for pixel; a red frame on the output marks where the crop is from."""
    side = min(CROP, img.width, img.height)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    crop = img.crop((left, top, left + side, top + side))
    thumb = fit(img, (THUMB, THUMB)) if max(img.size) > THUMB else img.copy()
    k = thumb.width / img.width
    cell = Image.new("RGB", (thumb.width + 4 + side, max(thumb.height, side + 16)), BACKGROUND)
    cell.paste(thumb, (0, 0))
    frame = [round(left * k), round(top * k), round((left + side) * k) - 1]
    frame.append(round((top + side) * k) - 1)
    ImageDraw.Draw(cell).rectangle(frame, outline=(255, 0, 0))
    cell.paste(crop, (thumb.width + 4, 0))
    draw_lines(ImageDraw.Draw(cell), ["100%"], font(10), (thumb.width + 4, side + 2, side))
    return cell


def sheet(rows: list[Row], path: Path, args: argparse.Namespace) -> None:
    """One contact sheet per pair (photo and painting above), stacked into one JPEG."""
    parts = []
    for pair in pairs(rows):
        mine = [r for r in rows if r.pair == pair]
        content, style = (s.strip() for s in pair.split(TIMES))
        cells = [_cell(_open(r.image)) for r in mine]
        labels = [
            (f"{r.method} x{r.style_weight:g}" if r.method == "plain" else r.method)
            + f" · content {r.content_distance:.3f} · style {r.style_distance:.3f}"
            + f" · {r.seconds:.0f} s"
            for r in mine
        ]
        parts.append(
            contact_sheet(
                cells,
                labels,
                content=_open(_file(content)),
                style=_open(_file(style)),
                title=f"{content} x {style} · {args.size} px · plain: 1 scale, "
                f"{args.plain_steps} steps",
                columns=3,
            )
        )
    width = max(p.width for p in parts)
    out = Image.new("RGB", (width, sum(p.height for p in parts)), BACKGROUND)
    y = 0
    for p in parts:
        out.paste(p, (0, y))
        y += p.height
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(out, path)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    cpu = cpu_name()
    vgg = load_weights()
    measures = Measures(vgg, projections=args.projections, seed=args.seed)
    print(f"quality benchmark: {args.size} px, plain {args.plain_steps} steps, CPU {cpu}")
    rows: list[Row] = []
    if args.redraw:
        rows = [Row(**r) for r in json.loads((args.out_dir / "rows.json").read_text())]
    for pair in [] if args.redraw else args.pairs.split(","):
        content, style = pair.split(":")
        rows += run_pair(content.strip(), style.strip(), args, vgg, measures)
        # Kept after every pair, so an interrupted run leaves what it measured.
        with atomic_write(args.out_dir / "rows.json") as f:
            f.write(json.dumps([asdict(r) for r in rows], indent=1).encode())
    refs = photo_rows(rows, args, measures)
    # Each pair's photo row first, then its runs.
    ordered = [r for ref in refs for r in (ref, *(x for x in rows if x.pair == ref.pair))]
    md = table(ordered, cpu, args)
    if any(r.method == "default" for r in rows) and any(r.method == "plain" for r in rows):
        md += "\nIssue 13's targets:\n\n" + "\n".join(verdict(rows, p) for p in pairs(rows)) + "\n"
    print()
    print(md)
    with atomic_write(args.table) as f:
        f.write(md.encode())
    title = f"{args.size} px · plain: 1 scale, {args.plain_steps} steps · {cpu}"
    plot(rows, args.plot, title)
    sheet(rows, args.sheet, args)
    print(f"wrote {args.table}, {args.plot}, {args.sheet}")


if __name__ == "__main__":
    main()

"""Style networks, measured side by side in one run on the CPU it runs on:

* apply: seconds to paint one photo (512 px long side by default) with the default network
  under onnxruntime and torch eager, beside ``impasto stylize``'s default at the same size;
* quality: on photos that were in neither training nor validation (impasto's tubingen.jpg and
  golden_gate.jpg), each bundled network's output against ``impasto stylize``'s default,
  scored by the quality benchmark's content and style distances (benchmarks/_quality_measures.py);
* training: seconds per step of candidate recipes (batch, crop, deepest style layer, width);
* ``--table``: docs/images/network-table.png, the photos and each bundled style, with the time
  per image.

    python benchmarks/network.py [--size 512] [--repeats 5] [--no-stylize] [--quality]
                                 [--candidates] [--table] [--out out/network]

``--quality`` keeps the stylize outputs in ``--out`` and reuses them on the next run (they
take a minute or more each); ``--fresh`` recomputes them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from _common import ROOT, SAMPLES
from impasto.features.device import cpu_model
from impasto.io.images import load_image, save_image
from impasto.network.config import NetworkConfig, TrainConfig
from impasto.network.export import onnx_session_for
from impasto.network.info import NetworkInfo
from impasto.network.model import build_network
from impasto.network.modelfile import StyleNetwork, load_network
from impasto.network.registry import bundled_dir
from impasto.network.stylizer import Stylizer
from impasto.preprocess.resize import resize_long_side

NEVER_SEEN = ("tubingen.jpg", "golden_gate.jpg")  # not in the training photos (scripts/)
TABLE = ROOT / "docs" / "images" / "network-table.png"


def seconds(net: Stylizer, x: torch.Tensor, repeats: int) -> float:
    net.run(x)  # warm up (oneDNN and onnxruntime pick their kernels on the first run)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        net.run(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def default_network() -> StyleNetwork:
    """A bundled network when there is one (the same arithmetic as a fresh one)."""
    files = sorted(bundled_dir().glob("*.safetensors"))
    if files:
        return load_network(files[0])
    cfg = NetworkConfig()
    return StyleNetwork(build_network(cfg), NetworkInfo(cfg))


def apply_times(size: int, repeats: int) -> dict[str, float]:
    photo = resize_long_side(load_image(SAMPLES / "tubingen.jpg"), size)
    net = default_network()
    h, w = photo.shape[-2:]
    out = {
        "onnxruntime": seconds(onnx_session_for(net), photo, repeats),
        "torch": seconds(net, photo, repeats),
    }
    print(f"\napply one {w}x{h} photo, default network (width {net.info.network.width:g}, "
          f"{net.info.network.blocks} blocks), median of {repeats}:")  # fmt: skip
    for k, v in out.items():
        print(f"  {k:<12} {v:.3f} s")
    return out


def stylize_image(photo: str | Path, style: str, size: int) -> tuple[torch.Tensor, float]:
    from impasto.api import stylize
    from impasto.config import StyleConfig

    start = time.perf_counter()
    result = stylize(SAMPLES / photo, SAMPLES / style, StyleConfig(size=size))
    return result.tensor, time.perf_counter() - start


@dataclass(frozen=True)
class Scored:
    photo: str
    style: str
    method: str
    content: float
    style_distance: float
    texture: float = float("nan")  # _quality_measures.band: fine lines of period 2-4 px
    fringes: float = float("nan")  # _quality_measures.colour_lines: green-magenta, 2-9 px


def stylize_cached(
    photo: str | Path, style: str, size: int, out: Path, fresh: bool
) -> torch.Tensor:
    path = out / f"stylize_{Path(photo).stem}_{Path(style).stem}.png"
    if path.is_file() and not fresh:
        return load_image(path)
    image, t = stylize_image(photo, style, size)
    print(f"  stylize {photo} x {style}: {t:.1f} s")
    save_image(image, path)
    return image


def never_seen(folder: Path | None) -> list[Path]:
    """impasto's two never-seen samples, then the photos in ``folder`` (the six of
    scripts/never_seen_photos.py), in name order."""
    photos = [SAMPLES / n for n in NEVER_SEEN]
    if folder is not None:
        found = folder.resolve().iterdir()  # absolute: stylize_image joins it to SAMPLES
        photos += sorted(p for p in found if p.suffix.lower() in (".jpg", ".png"))
    return photos


def quality_measures() -> Any:
    """The quality benchmark's content and style distances on the real VGG19."""
    sys_path_measures()
    from _quality_measures import Measures
    from impasto.features.weights import load_weights

    return Measures(load_weights())


def score_network(
    measures: Any, model: Path, photos: list[Path], size: int, out: Path, fresh: bool,
    refs: dict[tuple[str, str], Scored], label: str | None = None,
) -> list[Scored]:  # fmt: skip
    """One network's rows on ``photos``, each followed by stylize's for the same photo and
    painting (scored once into ``refs``, cached as an image in ``out``); ``label`` names the
    network in the rows and output files (default: the file's stem)."""
    from _quality_measures import band, colour_lines

    net = load_network(model)
    style = net.info.style_name
    painting = load_image(SAMPLES / style)
    name = label or model.stem
    rows = []
    for path in photos:
        image = resize_long_side(load_image(path), size)
        ours = net.stylize(image)
        save_image(ours, out / f"network_{path.stem}_{name}.png")
        if (path.name, style) not in refs:  # --fresh recomputes each once a run
            ref = stylize_cached(path, style, size, out, fresh)
            refs[path.name, style] = Scored(path.name, style, "stylize",
                                            measures.content_distance(ref, image),
                                            measures.style_distance(ref, painting),
                                            band(ref), colour_lines(ref))  # fmt: skip
        rows.append(Scored(path.name, style, name, measures.content_distance(ours, image),
                           measures.style_distance(ours, painting), band(ours),
                           colour_lines(ours)))  # fmt: skip
        rows.append(refs[path.name, style])
    return rows


def quality(
    size: int, out: Path, fresh: bool, models: list[Path] | None = None,
    photos: list[Path] | None = None,
) -> list[Scored]:  # fmt: skip
    """Each bundled network (or each of ``models``) against stylize's default on the
    never-seen photos (``photos``, or impasto's two)."""
    measures = quality_measures()
    rows: list[Scored] = []
    refs: dict[tuple[str, str], Scored] = {}  # stylize's, scored once for every network
    for model in models or sorted(bundled_dir().glob("*.safetensors")):
        rows += score_network(measures, model, photos or never_seen(None), size, out, fresh, refs)
    print("\nquality (lower is better; the network's over stylize's in brackets):")
    print("photo            style              method             content   style")
    for r in rows:
        base = next(b for b in rows if (b.photo, b.style, b.method) == (r.photo, r.style,
                                                                         "stylize"))
        ratio = f"({r.content / base.content:.2f}x, {r.style_distance / base.style_distance:.2f}x)"
        print(f"{r.photo:<16} {r.style:<18} {r.method:<18} {r.content:7.3f} "
              f"{r.style_distance:7.4f}  {ratio if r.method != 'stylize' else ''}")  # fmt: skip
    summarize(rows)
    (out / "quality.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return rows


@dataclass(frozen=True)
class Ratios:
    """One network's distances over stylize's, over the photos."""

    photos: int
    content_median: float
    content_worst: float
    style_median: float
    style_worst: float
    texture_median: float = float("nan")  # band's ratio: 1 is stylize's amount of fine lines
    texture_worst: float = float("nan")
    fringes_median: float = float("nan")  # colour_lines' ratio: 1 is stylize's
    fringes_worst: float = float("nan")


def ratios(rows: list[Scored]) -> dict[str, Ratios]:
    """Per network (method): the median and worst of its ratios to stylize over the photos."""
    base = {(r.photo, r.style): r for r in rows if r.method == "stylize"}
    out = {}
    for method in sorted({r.method for r in rows} - {"stylize"}):
        mine = [r for r in rows if r.method == method]
        c = [r.content / base[r.photo, r.style].content for r in mine]
        s = [r.style_distance / base[r.photo, r.style].style_distance for r in mine]
        t = [r.texture / base[r.photo, r.style].texture for r in mine]
        f = [r.fringes / base[r.photo, r.style].fringes for r in mine]
        out[method] = Ratios(len(mine), statistics.median(c), max(c), statistics.median(s),
                             max(s), statistics.median(t), max(t), statistics.median(f),
                             max(f))  # fmt: skip
    return out


def summarize(rows: list[Scored]) -> None:
    """Per network: the median and worst of its ratios to stylize over the photos, against
    issue 26's limit of 1.5x on each distance."""
    print("\nper network over the photos (network / stylize; limit 1.5x):")
    print("network                photos   content median, worst   style median, worst"
          "   fine lines median, worst   colour lines median, worst")  # fmt: skip
    for method, r in ratios(rows).items():
        print(f"{method:<22} {r.photos:>6}   {r.content_median:6.2f}x, {r.content_worst:5.2f}x"
              f"         {r.style_median:6.2f}x, {r.style_worst:5.2f}x"
              f"         {r.texture_median:6.2f}x, {r.texture_worst:5.2f}x"
              f"         {r.fringes_median:6.2f}x, {r.fringes_worst:5.2f}x")  # fmt: skip


def sys_path_measures() -> None:
    import sys

    here = str(Path(__file__).parent)
    if here not in sys.path:
        sys.path.insert(0, here)


CANDIDATES: tuple[tuple[int, int, str, float], ...] = (
    # batch, crop, deepest style layer, network width
    (4, 256, "relu4_1", 0.5),
    (4, 192, "relu4_1", 0.5),
    (4, 128, "relu4_1", 0.5),
    (2, 128, "relu4_1", 0.5),
    (2, 128, "relu3_1", 0.5),
    (2, 128, "relu4_1", 0.25),
)


def candidates(steps: int) -> None:
    """Seconds per training step of each candidate recipe, with the real VGG19 in the
    precision ``auto`` picks here (bf16 on a CPU where it measured faster)."""
    from impasto.features.device import arithmetic
    from impasto.features.weights import load_weights
    from impasto.network.checkpoint import TrainInputs
    from impasto.network.photos import PhotoSet
    from impasto.network.train import _Trainer

    cpu = torch.device("cpu")
    arith = arithmetic(TrainConfig().precision, cpu)
    vgg = load_weights()
    photos = [load_image(SAMPLES / n) for n in NEVER_SEEN]
    u8 = tuple((resize_long_side(p, 400)[0] * 255).round().to(torch.uint8) for p in photos)
    style = load_image(SAMPLES / "starry_night.jpg")
    print(f"\ntraining steps ({arith.name}, {torch.get_num_threads()} threads), "
          f"median of {steps} after a warm-up:")  # fmt: skip
    print("batch  crop  deepest   width   s/step   crops/s")
    all_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    for batch, crop, deepest, width in CANDIDATES:
        layers = all_layers[: all_layers.index(deepest) + 1]
        cfg = TrainConfig(batch_size=batch, crop_size=crop, style_layers=layers, validation=0)
        inputs = TrainInputs(cfg, NetworkConfig(width=width), style, "s", "", "", None, arith.name)
        trainer = _Trainer.start(inputs, vgg, PhotoSet(u8, NEVER_SEEN, 0), None, arith)
        trainer.train_step()
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            trainer.train_step()
            times.append(time.perf_counter() - start)
        per = statistics.median(times)
        print(f"{batch:5d}  {crop:4d}  {deepest}  {width:5g}  {per:7.2f}  {batch / per:8.2f}")


def table(size: int, path: Path = TABLE) -> Path:
    """The README's picture: a row per never-seen photo, the photo then each bundled style,
    each labelled with its seconds (torch, this CPU); rows as tall as their pictures."""
    from PIL import Image, ImageDraw

    models = sorted(bundled_dir().glob("*.safetensors"))
    nets = [load_network(m) for m in models]
    cell, label = 256, 18
    rows = []
    for photo in NEVER_SEEN:
        image = resize_long_side(load_image(SAMPLES / photo), size)
        pics = [(image, photo)]
        for net in nets:
            seconds_ = seconds(net, image, 1)
            pics.append((net.stylize(image), f"{seconds_:.2f} s at {size} px"))
        thumbs = []
        for pic, text in pics:
            thumb = _pil(pic)
            thumb.thumbnail((cell, cell))
            thumbs.append((thumb, text))
        rows.append(thumbs)
    height = label + sum(label + max(t.height for t, _ in row) for row in rows)
    sheet = Image.new("RGB", ((1 + len(nets)) * cell, height), "white")
    draw = ImageDraw.Draw(sheet)
    for j, name in enumerate(["photo", *(m.stem for m in models)]):
        draw.text((j * cell + 4, 2), name, fill="black")
    y = label
    for row in rows:
        for j, (thumb, text) in enumerate(row):
            draw.text((j * cell + 4, y + 2), text, fill="black")
            sheet.paste(thumb, (j * cell, y + label))
        y += label + max(t.height for t, _ in row)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    sheet.save(tmp)
    tmp.replace(path)
    return path


def bundled_columns() -> list[str]:
    """The sheet's columns for the bundled networks: the photo, then per style stylize's
    output ("stylize STYLE") beside each network's (its file's stem)."""
    columns = ["photo"]
    for model in sorted(bundled_dir().glob("*.safetensors")):
        style = Path(load_network(model).info.style_name).stem
        if f"stylize {style}" not in columns:
            columns.append(f"stylize {style}")
        columns.append(model.stem)
    return columns


def crops_sheet(
    out: Path, photos: list[Path], size: int, path: Path, crop: int = 160,
    columns: list[str] | None = None,
) -> Path:  # fmt: skip
    """100% crops from the centre of each photo's outputs that ``--quality`` left in ``out``:
    a row per photo, one column per name in ``columns`` (default: :func:`bundled_columns`)."""
    from PIL import Image, ImageDraw

    columns = columns or bundled_columns()
    label = 16
    sheet = Image.new("RGB", (len(columns) * crop, label + len(photos) * (crop + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, name in enumerate(columns):
        draw.text((j * crop + 3, 2), name, fill="black")
    for i, photo in enumerate(photos):
        stem, y = photo.stem, label + i * (crop + label)
        files: list[str | None] = [None, *(f"stylize_{stem}_{c[8:]}.png" if c.startswith("stylize ")
                         else f"network_{stem}_{c}.png" for c in columns[1:])]  # fmt: skip
        draw.text((3, y + 2), stem, fill="black")
        for j, file in enumerate(files):
            image = (resize_long_side(load_image(photo), size) if file is None
                     else load_image(out / file))  # fmt: skip
            h, w = image.shape[-2:]
            top, left = (h - crop) // 2, (w - crop) // 2
            sheet.paste(_pil(image[..., top : top + crop, left : left + crop]),
                        (j * crop, y + label))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    sheet.save(tmp, quality=92)
    tmp.replace(path)
    return path


def _pil(x: torch.Tensor):  # type: ignore[no-untyped-def]
    from PIL import Image

    arr = (x[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-stylize", action="store_true", help="skip the stylize timing")
    ap.add_argument("--quality", action="store_true", help="score the bundled networks")
    ap.add_argument("--models", type=Path, nargs="+", help="with --quality: score these instead")
    ap.add_argument("--fresh", action="store_true", help="recompute cached stylize outputs")
    ap.add_argument("--photos", type=Path, default=None,
                    help="with --quality: also the photos in this folder "
                    "(scripts/never_seen_photos.py)")  # fmt: skip
    ap.add_argument("--candidates", type=int, default=0, metavar="STEPS",
                    help="time the training recipes, STEPS steps each")  # fmt: skip
    ap.add_argument("--table", action="store_true", help=f"write {TABLE.relative_to(ROOT)}")
    ap.add_argument("--out", type=Path, default=Path("out/network"))
    ap.add_argument("--sheet", type=Path, default=None,
                    help="with --quality: 100%% crops of the outputs to this file")  # fmt: skip
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu_model()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          "networks in fp32")  # fmt: skip
    times = apply_times(args.size, args.repeats)
    if not args.no_stylize:
        image, t = stylize_image("tubingen.jpg", "starry_night.jpg", args.size)
        save_image(image, args.out / "stylize_tubingen_starry_night.png")  # --quality's too
        ort, eager = t / times["onnxruntime"], t / times["torch"]
        print(f"impasto stylize, defaults, {args.size} px, same run: {t:.1f} s "
              f"({ort:.0f}x onnxruntime, {eager:.0f}x torch)")  # fmt: skip
    if args.quality:
        photos = never_seen(args.photos)
        quality(args.size, args.out, args.fresh, args.models, photos)
        if args.sheet:
            print(f"wrote {crops_sheet(args.out, photos, args.size, args.sheet)}")
    if args.candidates:
        candidates(args.candidates)
    if args.table:
        print(f"wrote {table(args.size)}")


if __name__ == "__main__":
    main()

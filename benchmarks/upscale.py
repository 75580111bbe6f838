"""The upscaler against bicubic and Lanczos, on photos it was not trained on, in one run on the
CPU it runs on:

* quality: each photo (a 512 px centre crop) shrunk 4x (antialiased bicubic, 8 bits) and
  enlarged back 4x; PSNR against the original, and the VGG19 feature distance to the original
  at relu2_2 and relu4_2 (the engine's content error, ``content_layer_loss``), each as a ratio
  to bicubic's;
* speed: seconds for a 1024 px output (x4 from 256 px, x2 from 512 px), torch and onnxruntime,
  median of ``--repeats``;
* ``--sheet``: docs/images/upscale_sheet.jpg, 100% crops of bicubic, Lanczos, impasto and the
  original side by side.

    python benchmarks/upscale.py [--model FILE] [--repeats 5] [--sheet] [--threads 2]

The photos: impasto's tubingen.jpg and golden_gate.jpg (samples, kept out of every training
set), and mate-backgrounds' Dune.jpg and LadyBird.jpg, which scripts/training_photos.py
leaves out of the upscaler's photos (fetched with apt-get download into --wallpapers).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from _common import ROOT, image_path
from impasto.features.device import cpu_model
from impasto.features.extractor import FeatureExtractor
from impasto.features.weights import load_weights
from impasto.io.images import load_image, pil_to_tensor, tensor_to_pil
from impasto.losses.functional import content_layer_loss
from impasto.preprocess.resize import resize
from impasto.superres.apply import Enlarger, open_upscaler
from impasto.superres.degrade import shrink

SHEET = ROOT / "docs" / "images" / "upscale_sheet.jpg"
MATE = Path("usr/share/backgrounds/mate/nature")
HELD_OUT = ("Dune.jpg", "LadyBird.jpg")
CROP = 512
LAYERS = ("relu2_2", "relu4_2")


def photos(wallpapers: Path) -> dict[str, torch.Tensor]:
    """name → a square centre crop of CROP px (or the short side, if smaller); wallpapers
    first shrunk to a short side of 720 px, as the training photos are."""
    paths = [image_path("tubingen.jpg"), image_path("golden_gate.jpg")]
    paths += [
        wallpapers / "root" / MATE / n
        for n in HELD_OUT
        if (wallpapers / "root" / MATE / n).is_file()
    ]
    out = {}
    for p in paths:
        x = load_image(p)
        h, w = x.shape[-2:]
        if min(h, w) > 720:
            x = resize(x, (round(h * 720 / min(h, w)), round(w * 720 / min(h, w))))
            x = (x * 255).round() / 255
        h, w = x.shape[-2:]
        side = min(CROP, h, w) // 4 * 4
        top, left = (h - side) // 2, (w - side) // 2
        out[p.stem] = x[..., top : top + side, left : left + side].contiguous()
    return out


def bicubic(small: torch.Tensor, r: int) -> torch.Tensor:
    return F.interpolate(small, scale_factor=r, mode="bicubic", align_corners=False).clamp(0, 1)


def lanczos(small: torch.Tensor, r: int) -> torch.Tensor:
    img = tensor_to_pil(small)
    return pil_to_tensor(img.resize((img.width * r, img.height * r), Image.LANCZOS))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    a8, b8 = (a * 255).round(), (b * 255).round()  # as saved pictures
    mse = float(((a8 - b8) ** 2).mean())
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def distances(
    ext: FeatureExtractor, out: torch.Tensor, target: dict[str, torch.Tensor]
) -> dict[str, float]:
    with torch.no_grad():
        feats = ext((out * 255).round() / 255)
    return {n: float(content_layer_loss(feats[n], target[n])) for n in LAYERS}


def quality(
    enlarger: Enlarger, pics: dict[str, torch.Tensor]
) -> dict[str, dict[str, dict[str, float]]]:
    ext = FeatureExtractor(load_weights(), LAYERS)
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for name, hr in pics.items():
        small = shrink(hr, 4)
        with torch.no_grad():
            target = {k: v.detach() for k, v in ext(hr).items()}
        outs = {
            "bicubic": bicubic(small, 4),
            "lanczos": lanczos(small, 4),
            "impasto": enlarger.enlarge(small, 4),
        }
        rows[name] = {
            m: {"psnr": psnr(o, hr), **distances(ext, o, target)} for m, o in outs.items()
        }
    return rows


def seconds(enlarger: Enlarger, side: int, r: int, repeats: int) -> float:
    x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    enlarger.enlarge(x, r)  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        enlarger.enlarge(x, r)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sheet(enlarger: Enlarger, pics: dict[str, torch.Tensor], path: Path, box: int = 160) -> Path:
    """Rows: a 100% crop of each photo; columns: bicubic, Lanczos, impasto, original."""
    rows = []
    for hr in pics.values():
        small = shrink(hr, 4)
        outs = [bicubic(small, 4), lanczos(small, 4), enlarger.enlarge(small, 4), hr]
        top, left = hr.shape[-2] // 2 - box // 2, hr.shape[-1] // 2 - box // 2
        rows.append(torch.cat([o[..., top : top + box, left : left + box] for o in outs], dim=-1))
    grid = torch.cat(rows, dim=-2)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensor_to_pil(grid).save(path, quality=92)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--model", default=None, help="upscaler file; default: the bundled one")
    ap.add_argument("--wallpapers", type=Path, default=ROOT / "out/cache/mate-backgrounds")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-speed", action="store_true", help="quality only")
    ap.add_argument("--sheet", action="store_true", help=f"write {SHEET.relative_to(ROOT)}")
    ap.add_argument("--json", type=Path, default=ROOT / "out/upscale/bench.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pics = photos(args.wallpapers)
    torch_net = open_upscaler(args.model)
    print(f"CPU: {cpu_model()}, {args.threads} threads, torch fp32; photos: {', '.join(pics)}")
    rows = quality(torch_net, pics)
    print("| photo | method | PSNR dB | relu2_2 | relu4_2 |\n| --- | --- | --- | --- | --- |")
    for name, by in rows.items():
        base = by["bicubic"]
        for m, v in by.items():
            rel = " | ".join(f"{v[n] / base[n]:.2f}x" for n in LAYERS)
            print(f"| {name} | {m} | {v['psnr']:.2f} ({v['psnr'] - base['psnr']:+.2f}) | {rel} |")
    speed: dict[str, float] = {}
    nets = [] if args.no_speed else [("torch", torch_net)]
    nets += [] if args.no_speed else [("onnxruntime", open_upscaler(args.model, "onnxruntime"))]
    for label, net in nets:
        for side, r in ((256, 4), (512, 2)):
            speed[f"{label} x{r}"] = seconds(net, side, r, args.repeats)
            print(f"{label} x{r} {side}->{side * r} px: {speed[f'{label} x{r}']:.2f} s")
    if args.sheet:
        print(f"wrote {sheet(torch_net, pics, SHEET)}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"cpu": cpu_model(), "quality": rows, "seconds": speed}, indent=1)
    )


if __name__ == "__main__":
    main()

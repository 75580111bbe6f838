"""Issue 25's guided-filter post-pass, measured: benchmarks/photo.py's impasto outputs refitted
as locally affine functions of their photos (the colour guided filter, radius r, ridge eps) and
scored by photo.py's measures beside the outputs as they are.

    python benchmarks/photo_postpass.py --pairs 2,6,10 --post 2,1e-5 --post 4,1e-4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import photo as bench
from _common import ROOT
from _quality_measures import Measures
from impasto.features.weights import load_weights
from impasto.io.images import load_image
from impasto.preprocess.matting import guided_enlarge
from impasto.preprocess.resize import resize_long_side


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=bench.DATA)
    p.add_argument("--outputs", type=Path, default=ROOT / "out" / "bench" / "photo" / "outputs")
    p.add_argument("--pairs", default=bench.PAIRS)
    p.add_argument("--size", type=int, default=512, help="the size photo.py ran at")
    p.add_argument("--post", action="append", default=[], help="RADIUS,EPS (repeatable)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    posts = [(0, 0.0)] + [(int(r), float(e)) for r, e in (s.split(",") for s in args.post)]
    measures = Measures(load_weights())
    print("pair  radius  eps     edge_ssim  affine  colour  swd")
    for n in (int(x) for x in args.pairs.split(",")):
        files = bench._files(args.data, n)
        photo = resize_long_side(load_image(files["photo"]), args.size)
        ref = resize_long_side(load_image(files["reference"]), args.size)
        masks = bench._regions(files, (photo.shape[-2], photo.shape[-1]))
        out = load_image(args.outputs / f"impasto{n}.png")
        for radius, eps in posts:
            q = out if radius == 0 else guided_enlarge(out, photo, photo, radius=radius, eps=eps)
            s = bench._score(q, photo, ref, masks, measures)
            print(
                f"in{n:<3} {radius:>6}  {eps:<7g} {s['edge_ssim']:9.4f}  {s['affine']:6.4f}"
                f"  {s['color']:6.2f}  {s['swd']:.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

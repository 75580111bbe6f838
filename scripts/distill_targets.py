"""Make the targets of a distilled style network (issue 26): ``impasto stylize``'s default on
every training photo, written as TARGETS/<the photo's path under PHOTOS>.png, which is where
``impasto train --targets TARGETS`` looks for them.

    python scripts/distill_targets.py PHOTOS PAINTING TARGETS [--size 512] [--jobs 2]

Resumable: a photo whose target exists is skipped, and each target is written atomically (a
stopped run leaves no half-written file). ``--jobs`` runs that many stylize runs side by side,
one torch thread each (on 2 cores, two one-thread runs finish sooner than one two-thread run
after another). The targets are the engine's own outputs (``impasto.api.stylize``, the same
settings as the CLI's default); each PNG carries its settings.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path


def _target_of(photo: Path, photos: Path, targets: Path) -> Path:
    return (targets / photo.relative_to(photos)).with_suffix(".png")


def _stylize(photo: Path, painting: Path, out: Path, size: int) -> tuple[Path, float]:
    import torch

    import impasto

    torch.set_num_threads(1)
    start = time.perf_counter()
    result = impasto.stylize(photo, painting, size=size)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.save(out)  # atomic: temp file and rename
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    from impasto.network.photos import find_photos

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("photos", type=Path)
    ap.add_argument("painting", type=Path)
    ap.add_argument("targets", type=Path)
    ap.add_argument("--size", type=int, default=512, help="stylize's --size (default 512)")
    ap.add_argument("--jobs", type=int, default=2, help="runs side by side (default 2)")
    args = ap.parse_args(argv)
    if not args.painting.is_file():
        print(f"error: painting not found: {args.painting}", file=sys.stderr)
        return 2
    todo = [
        p for p in find_photos(args.photos)
        if not _target_of(p, args.photos, args.targets).exists()
    ]  # fmt: skip
    print(f"{len(todo)} target(s) to make in {args.targets}", flush=True)
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        futures = [
            pool.submit(
                _stylize, p, args.painting, _target_of(p, args.photos, args.targets), args.size
            )
            for p in todo
        ]
        for done, future in enumerate(as_completed(futures), 1):
            out, seconds = future.result()
            print(f"[{done}/{len(todo)}] {out} ({seconds:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

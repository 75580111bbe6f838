"""Peak memory and time per output size, 512 → 4096 px.

Each size runs in a fresh process (``impasto stylize`` on tubingen x starry_night with the
default settings unless ``--steps`` is given), so the peak resident set size (ru_maxrss of the
child) belongs to that size alone. Scales above 4.2 megapixels compute their loss on tiles
(losses/tiled.py), which is what keeps 4096 px within this machine's 24 GB.

    python benchmarks/memory.py [--sizes 512 1024 2048 4096] [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, image_path


def run(size: int, steps: str | None, out: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in GiB, exit code) of one stylize run in a child process."""
    cmd = [
        sys.executable,
        "-m",
        "impasto",
        "stylize",
        str(image_path("tubingen.jpg")),
        str(image_path("starry_night.jpg")),
        "-o",
        str(out),
        "--size",
        str(size),
        "-q",
    ]
    if steps:
        cmd += ["--steps", steps]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    # wait4 gives this child's own resource usage; ru_maxrss is in KiB on Linux.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss / 2**20, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    ap.add_argument("--steps", help="passed to --steps (a total or per-scale counts)")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print("| long side | time (s) | peak RSS (GiB) | result |")
    print("| ---: | ---: | ---: | --- |")
    for size in sorted(args.sizes):
        out = args.out / f"memory_{size}.png"
        seconds, peak, code = run(size, args.steps, out)
        status = f"out/bench/{out.name}" if code == 0 else f"failed (exit {code})"
        print(f"| {size} | {seconds:.0f} | {peak:.1f} | {status} |", flush=True)


if __name__ == "__main__":
    main()

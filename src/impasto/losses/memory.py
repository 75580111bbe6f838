"""When a scale's loss is computed on tiles: the memory a whole-image pass needs, against what
this machine (or its container) has. Measured figures from benchmarks/memory.py."""

from __future__ import annotations

import functools
import os
from pathlib import Path

# Above this many pixels a scale's loss is computed on tiles (see losses/tiled.py), which keeps
# memory bounded: a whole 4096 x 3072 image does not fit in 24 GB for a backward pass. On a
# machine with less memory the threshold is lower: see tile_above().
TILE_ABOVE = 4_200_000
AUTO_TILE = 768
# Peak memory of a scale computed whole, from benchmarks/memory.py: about 3.5 KiB per pixel
# (VGG19 forward and backward to relu5_1, the L-BFGS state) over ~0.5 GiB for the rest.
BYTES_PER_PIXEL = 3.5 * 1024
BASE_BYTES = 0.5 * 2**30
MEMORY_SHARE = 0.6  # of the machine's (or container's) memory a whole scale may take


def memory_limit() -> int | None:
    """Bytes this process may use at most: the physical memory, or the container's limit
    (cgroup v2 or v1) where that is lower; None where neither can be read."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # "max" or a huge number: no limit
            limits.append(int(text))
    positive = [v for v in limits if v > 0]
    return min(positive) if positive else None


@functools.cache
def tile_above() -> int:
    """Pixels above which a scale is computed on tiles: TILE_ABOVE, or fewer where the
    machine's memory could not hold such a scale computed whole (never below one tile)."""
    return threshold(memory_limit())


def threshold(limit: int | None) -> int:
    """Pixels above which a scale is tiled, for ``limit`` bytes of memory (None: unknown)."""
    if limit is None:
        return TILE_ABOVE
    return max(AUTO_TILE * AUTO_TILE, min(TILE_ABOVE, pixels_that_fit(limit)))


def pixels_that_fit(limit: int) -> int:
    """How many pixels a scale computed whole may have in ``limit`` bytes."""
    return int((MEMORY_SHARE * limit - BASE_BYTES) / BYTES_PER_PIXEL)


def tile_for(forced: int, hw: tuple[int, int], device_free: int | None = None) -> int:
    """The tile size for a scale of ``hw`` pixels: ``forced`` when the settings ask for tiles,
    else AUTO_TILE where the scale is above the threshold, else 0 (whole image). On a GPU
    the threshold follows ``device_free``, the device's free bytes, not the machine's RAM."""
    above = tile_above() if device_free is None else threshold(device_free)
    return forced or (AUTO_TILE if hw[0] * hw[1] > above else 0)

"""What the benchmark scripts share: where the images are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "src" / "impasto" / "data" / "samples"
SHARED = ROOT.parent / "shared" / "images"


def image_path(name: str) -> Path:
    """The full-size image from ../shared/images when there, else the bundled 512 px copy."""
    p = SHARED / name
    return p if p.exists() else SAMPLES / name

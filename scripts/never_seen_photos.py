"""Gather the never-seen photos of the style networks' quality table (issue 26).

    python scripts/never_seen_photos.py out/never_seen [--cache out/cache/plasma]

Six photographs from Debian's plasma-workspace-wallpapers (fetched with ``apt-get download``
into the cache folder, unpacked with ``dpkg-deb -x``), copied into FOLDER with a SOURCES.md
that names each file's author and licence. No bundled network was trained on them, and
scripts/training_photos.py does not gather them, so they stay never-seen when the networks are
retrained; benchmarks/network.py --quality scores on them beside impasto's tubingen.jpg and
golden_gate.jpg. Nothing here is copied into the project.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training_photos import Photo, _copy, unpacked, write_sources

PACKAGE = "plasma-workspace-wallpapers"
DATA = Path("usr/share/wallpapers")
# (wallpaper folder, image file, what it shows); author and licence come from its
# metadata.json. The package's debian/copyright says GPL-2+ for every file.
PLASMA_NEVER_SEEN: tuple[tuple[str, str, str], ...] = (
    ("EveningGlow", "1920x1080.jpg", "rowing boats on a lake shore at sunset"),
    ("Path", "1920x1080.jpg", "a path through a pine forest"),
    ("BytheWater", "1920x1080.jpg", "a wooden jetty over a lake"),
    ("FallenLeaf", "1920x1080.jpg", "autumn leaves on grass, shallow focus"),
    ("Grey", "1920x1080.jpg", "a facade of curved white bands"),
    ("ColorfulCups", "2560x1600.jpg", "stacked paper cups from above"),
)


def _metadata(folder: Path) -> tuple[str, str]:
    """(authors, licence) as the wallpaper's metadata.json states them."""
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))["KPlugin"]
    authors = ", ".join(a.get("Name", "?") for a in meta.get("Authors", []))
    return authors or "?", meta.get("License", "?")


def gather(folder: Path, cache: Path) -> tuple[list[Photo], list[str]]:
    found = unpacked(PACKAGE, cache)
    if found is None:
        return [], [f"{PACKAGE} (apt-get download {PACKAGE})"]
    root, version = found
    photos, missing = [], []
    for name, image, what in PLASMA_NEVER_SEEN:
        src = root / DATA / name / "contents" / "images" / image
        if not src.is_file():
            missing.append(f"{PACKAGE}:{name}/{image}")
            continue
        authors, licence = _metadata(root / DATA / name)
        rel = _copy(src, folder, Path(f"{name}.jpg"))
        photos.append(Photo(rel, f"{PACKAGE} (Debian)", version,
                            f"{licence} (metadata.json); GPL-2+ (debian/copyright)",
                            f"{what}, {authors}"))  # fmt: skip
    return photos, missing


INTRO = (
    "# Never-seen photos of the style networks' quality table",
    "",
    "Gathered by scripts/never_seen_photos.py; no bundled network was trained on them.",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("folder", type=Path, help="where the photos and SOURCES.md go")
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path("out/cache/plasma"),
        help=f"cache folder for {PACKAGE} (fetched with apt-get download, 94 MB)",
    )
    args = ap.parse_args()
    photos, missing = gather(args.folder, args.cache)
    write_sources(args.folder, photos, missing, INTRO)
    print(f"{len(photos)} never-seen photo(s) in {args.folder}")
    if missing:
        print("not available here: " + ", ".join(missing), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

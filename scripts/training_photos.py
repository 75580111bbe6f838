"""Gather the photos the bundled style networks are trained on, from packages, never from the
web at run time: Debian's ``opencv-doc`` (its examples/data photos), scikit-image's bundled
data, matplotlib's sample data. Each file is recorded with its package, version and licence in
``SOURCES.md`` beside the photos.

    python scripts/training_photos.py out/photos [--opencv-doc out/cache/opencv-doc]
    impasto train starry_night.jpg --photos out/photos --validation 2 -o starry.safetensors

Layout: ``DIR/<package>/<file>`` for training and ``DIR/validation/<file>`` for the two photos
held out for the previews (impasto's trainer holds out the last ``--validation`` photos in
sorted order, and ``validation/`` sorts last). impasto's own ``tubingen.jpg`` and
``golden_gate.jpg`` are not copied: they are the never-seen photos of the quality comparison
(benchmarks/network.py).

opencv-doc: when ``--opencv-doc CACHE`` does not hold the unpacked package yet, the script runs
``apt-get download opencv-doc`` there (about 95 MB) and ``dpkg-deb -x``. A package that is not
installed or cannot be fetched is skipped and named, so the folder is what the machine has.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

OPENCV_DATA = Path("usr/share/doc/opencv-doc/examples/data")
OPENCV_LICENCE = (
    "Apache-2.0 AND BSD-3-Clause (opencv-doc's /usr/share/doc/opencv-doc/copyright, Files: *)"
)

# Real colour photos only: no charts, calibration boards, drawings, renders, text or logos.
OPENCV_PHOTOS: tuple[tuple[str, str], ...] = (
    ("aero1.jpg", "aerial view of a town"),
    ("aero3.jpg", "aerial view of a town and a coast"),
    ("aloeL.jpg", "an aloe in a pot (Middlebury stereo)"),
    ("apple.jpg", "an apple"),
    ("baboon.jpg", "a mandrill's face"),
    ("building.jpg", "an office building"),
    ("butterfly.jpg", "a butterfly on a leaf"),
    ("chicky_512.png", "a dog"),
    ("ela_original.jpg", "a notebook"),
    ("fruits.jpg", "cut fruit"),
    ("graf1.png", "a graffiti wall (Oxford affine dataset)"),
    ("leuvenA.jpg", "a street of old brick houses"),
    ("messi5.jpg", "a footballer on a pitch"),
    ("orange.jpg", "an orange"),
    ("rubberwhale1.png", "toys on a table (Middlebury flow)"),
    ("smarties.png", "sweets on white"),
    ("stuff.jpg", "things on a desk"),
)
# Held out of training for the previews.
OPENCV_VALIDATION: tuple[tuple[str, str], ...] = (
    ("home.jpg", "a palace under a blue sky"),
    ("squirrel_cls.jpg", "a squirrel on a branch"),
)

# skimage/data files; licences as scikit-image's skimage/data/_fetchers.py docstrings state.
SKIMAGE_PHOTOS: tuple[tuple[str, str, str], ...] = (
    ("astronaut.png", "Eileen Collins, NASA", "public domain"),
    ("chelsea.png", "Chelsea the cat, Stefan van der Walt", "CC0"),
    ("coffee.png", "a cup of coffee, Rachel Michetti", "CC0"),
    ("rocket.jpg", "a Falcon 9 launch, SpaceX", "public domain"),
)
MATPLOTLIB_PHOTOS: tuple[tuple[str, str, str], ...] = (
    ("grace_hopper.jpg", "Grace Hopper, US Navy photograph", "public domain"),
)

# Debian's mate-backgrounds: its nature/ wallpapers are photographs at 1280-2560 px, the
# high-resolution detail the upscaler learns from (--wallpapers; the style networks do not use
# them). Authors as /usr/share/doc/mate-backgrounds/copyright names them; all GPL-2+.
MATE_DATA = Path("usr/share/backgrounds/mate/nature")
MATE_LICENCE = "GPL-2+ (mate-backgrounds' /usr/share/doc/mate-backgrounds/copyright)"
MATE_PHOTOS: tuple[tuple[str, str], ...] = (
    ("Aqua.jpg", "a water drop, Charles Barbin"),
    ("Blinds.jpg", "a green leaf's veins, Lennart Poettering and Andrea Cimitan"),
    ("FreshFlower.jpg", "an orange flower, Jens Ansorg"),
    ("Garden.jpg", "a red flower, Charles Barbin"),
    ("GreenMeadow.jpg", "grass, Timothy Schellhase and Lapo Calamandrei"),
    ("RainDrops.jpg", "rain drops on leaves, blackcombwhistler07"),
    ("Storm.jpg", "a storm over a plain, Sergey Nazarov"),
    ("TwoWings.jpg", "dandelion seeds, Charles Barbin and Hylke Bons"),
    ("Wood.jpg", "grained wood, Jean-François Fortin Tam"),
    ("YellowFlower.jpg", "a yellow flower, Charles Barbin"),
)
# Kept out of training: photos the upscaler never saw, for benchmarks/upscale.py.
MATE_HELD_OUT: tuple[tuple[str, str], ...] = (
    ("Dune.jpg", "dune grass by the sea, Marco Cogoni and Hylke Bons"),
    ("LadyBird.jpg", "a ladybird among flowers, Charles Barbin"),
)


@dataclass(frozen=True)
class Photo:
    """One gathered file and where it came from."""

    path: Path  # relative to the output folder
    package: str
    version: str
    licence: str
    what: str


def package_dir(name: str) -> Path | None:
    """Where the Python package ``name`` is installed, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def opencv_doc(cache: Path) -> tuple[Path, str] | None:
    """(the unpacked examples/data folder, the package version), fetching it with apt-get
    into ``cache`` when it is not there; None when apt cannot fetch it."""
    data = cache / OPENCV_DATA
    debs = sorted(cache.glob("opencv-doc_*.deb"))
    if not debs:
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["apt-get", "download", "opencv-doc"], cwd=cache, check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"opencv-doc: apt-get download failed ({e}); skipped", file=sys.stderr)
            return None
        debs = sorted(cache.glob("opencv-doc_*.deb"))
    if not debs:
        return None
    deb = debs[-1]
    if not data.is_dir():
        subprocess.run(["dpkg-deb", "-x", str(deb), str(cache)], check=True)
    version = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return data, version


def unpacked(package: str, cache: Path) -> tuple[Path, str] | None:
    """(the folder ``package``'s .deb is unpacked in, its version), fetched with
    ``apt-get download`` into ``cache`` when not there yet; None when apt cannot fetch it."""
    debs = sorted(cache.glob(f"{package}_*.deb"))
    if not debs:
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["apt-get", "download", package], cwd=cache, check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"{package}: apt-get download failed ({e}); skipped", file=sys.stderr)
            return None
        debs = sorted(cache.glob(f"{package}_*.deb"))
    if not debs:
        return None
    root = cache / "root"
    if not (root / "usr/share/doc" / package).is_dir():
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(root)], check=True)
    version = subprocess.run(
        ["dpkg-deb", "-f", str(debs[-1]), "Version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return root, version


def gather_mate(folder: Path, cache: Path) -> tuple[list[Photo], list[str]]:
    found = unpacked("mate-backgrounds", cache)
    if found is None:
        return [], ["mate-backgrounds (apt-get download mate-backgrounds)"]
    root, version = found
    out, missing = [], []
    for name, what in MATE_PHOTOS:
        src = root / MATE_DATA / name
        if not src.is_file():
            missing.append(f"mate-backgrounds:{name}")
            continue
        rel = _copy(src, folder, Path("mate-backgrounds") / name)
        out.append(Photo(rel, "mate-backgrounds (Debian)", version, MATE_LICENCE, what))
    return out, missing


def _copy(src: Path, folder: Path, rel: Path) -> Path:
    target = folder / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    return rel


def gather_opencv(folder: Path, cache: Path) -> tuple[list[Photo], list[str]]:
    found = opencv_doc(cache)
    if found is None:
        return [], ["opencv-doc (apt-get download opencv-doc)"]
    data, version = found
    out, missing = [], []
    for entries, sub in ((OPENCV_PHOTOS, "opencv-doc"), (OPENCV_VALIDATION, "validation")):
        for name, what in entries:
            if not (data / name).is_file():
                missing.append(f"opencv-doc:{name}")
                continue
            rel = _copy(data / name, folder, Path(sub) / name)
            out.append(Photo(rel, "opencv-doc (Debian)", version, OPENCV_LICENCE, what))
    return out, missing


def gather_python(
    folder: Path, module: str, dist: str, inside: str, entries: tuple[tuple[str, str, str], ...]
) -> tuple[list[Photo], list[str]]:
    root = package_dir(module)
    if root is None:
        return [], [f"{dist} (pip install {dist})"]
    version = importlib.metadata.version(dist)
    out, missing = [], []
    for name, what, licence in entries:
        src = root / inside / name
        if not src.is_file():
            missing.append(f"{dist}:{inside}/{name}")
            continue
        out.append(Photo(_copy(src, folder, Path(dist) / name), dist, version, licence, what))
    return out, missing


TRAINING_INTRO = (
    "# Training photos of impasto's style networks",
    "",
    "Gathered by scripts/training_photos.py from installed or apt-fetched packages.",
    "`validation/` is held out of training (the previews); impasto's tubingen.jpg and",
    "golden_gate.jpg are kept out altogether (the never-seen photos of the quality check).",
)


def write_sources(
    folder: Path, photos: list[Photo], missing: list[str], intro: tuple[str, ...] = TRAINING_INTRO
) -> Path:
    """FOLDER/SOURCES.md: ``intro``, then a row per photo (package, version, licence)."""
    lines = [
        *intro,
        "",
        "| file | package | version | licence | what |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {p.path} | {p.package} | {p.version} | {p.licence} | {p.what} |" for p in photos]
    if missing:
        lines += ["", "Not available on the machine that gathered these: " + ", ".join(missing)]
    path = folder / "SOURCES.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def gather(
    folder: Path, cache: Path, wallpapers: Path | None = None
) -> tuple[list[Photo], list[str]]:
    photos, missing = gather_opencv(folder, cache)
    if wallpapers is not None:
        more, gone = gather_mate(folder, wallpapers)
        photos += more
        missing += gone
    for module, dist, inside, entries in (
        ("skimage", "scikit-image", "data", SKIMAGE_PHOTOS),
        ("matplotlib", "matplotlib", "mpl-data/sample_data", MATPLOTLIB_PHOTOS),
    ):
        more, gone = gather_python(folder, module, dist, inside, entries)
        photos += more
        missing += gone
    write_sources(folder, photos, missing)
    return photos, missing


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("folder", type=Path, help="where the photos and SOURCES.md go")
    ap.add_argument(
        "--opencv-doc",
        type=Path,
        default=Path("out/cache/opencv-doc"),
        help="cache folder for the opencv-doc package (fetched with apt-get download)",
    )
    ap.add_argument(
        "--wallpapers",
        type=Path,
        default=None,
        help="also the mate-backgrounds photographs (the upscaler's training set), with this "
        "cache folder for the package (fetched with apt-get download)",
    )
    args = ap.parse_args()
    photos, missing = gather(args.folder, args.opencv_doc, args.wallpapers)
    held = sum(1 for p in photos if p.path.parts[0] == "validation")
    print(f"{len(photos) - held} training and {held} validation photo(s) in {args.folder}")
    if missing:
        print("skipped (not available here): " + ", ".join(missing))


if __name__ == "__main__":
    main()

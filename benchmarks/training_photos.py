"""Gather training photos for style networks from packages already installed, never from the
network: each entry of SOURCES names a package, a file inside it and its licence. Packages that
are not installed are skipped and named, so the folder is reproducible from `pip install`s.

    python benchmarks/training_photos.py out/photos
    impasto train starry_night.jpg --photos out/photos -o starry.safetensors

scikit-image ships the most (pip install scikit-image); matplotlib is already one of impasto's
dependencies.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
from pathlib import Path

# (package, path inside the package, what it is and its licence; scikit-image's are as its
# skimage/data/README.txt lists them)
SOURCES: tuple[tuple[str, str, str], ...] = (
    ("impasto", "data/samples/tubingen.jpg", "Tübingen, Neckarfront: jcjohnson/neural-style"),
    ("impasto", "data/samples/golden_gate.jpg", "Golden Gate Bridge: jcjohnson/neural-style"),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "Grace Hopper, US Navy: public domain"),
    ("skimage", "data/astronaut.png", "Eileen Collins, NASA: public domain"),
    ("skimage", "data/chelsea.png", "Chelsea the cat, Stefan van der Walt: CC0"),
    ("skimage", "data/coffee.png", "a cup of coffee, Rachel Michetti: CC0"),
    ("skimage", "data/rocket.jpg", "Falcon 9 launch, SpaceX: CC0"),
    ("skimage", "data/hubble_deep_field.jpg", "Hubble deep field, NASA: public domain"),
)


def package_dir(name: str) -> Path | None:
    """Where ``name`` is installed, found without importing (running) it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def gather(folder: Path) -> tuple[list[Path], list[str]]:
    copied, missing = [], []
    for package, inside, _ in SOURCES:
        root = package_dir(package)
        src = root / inside if root is not None else None
        if src is None or not src.is_file():
            missing.append(f"{package}:{inside}")
            continue
        target = folder / package / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        copied.append(target)
    return copied, missing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    args = ap.parse_args()
    copied, missing = gather(args.folder)
    print(f"copied {len(copied)} photo(s) into {args.folder}")
    if missing:
        print("not installed here (skipped): " + ", ".join(missing))


if __name__ == "__main__":
    main()

"""The training photos: found recursively in a folder, decoded once up front (so an empty or
unreadable folder is refused before training starts), kept small, and cut into random crops
with flips and scale jitter drawn from the run's own ``torch.Generator``.

With targets (distillation: the pictures ``impasto stylize`` made of the same photos, one per
photo at the same path under another folder), each photo is resized to its target's size and
the two are cut at the same place, at the targets' own scale."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from impasto.errors import InvalidImageError
from impasto.io.images import load_image
from impasto.preprocess.resize import fit_long_side, resize

log = logging.getLogger(__name__)

PHOTO_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp")


def find_photos(folder: str | os.PathLike[str]) -> list[Path]:
    """JPEG, PNG and WebP files under ``folder`` (recursively), sorted; InvalidImageError for
    a missing folder or one without any."""
    d = Path(folder)
    if not d.is_dir():
        raise InvalidImageError(f"photo folder not found or not a folder: {d}")
    found = sorted(p for p in d.rglob("*") if p.suffix.lower() in PHOTO_EXTENSIONS and p.is_file())
    if not found:
        raise InvalidImageError(
            f"no photos in {d} (looked recursively for {', '.join(PHOTO_EXTENSIONS)})"
        )
    return found


def _short_side_to(x: torch.Tensor, side: int) -> torch.Tensor:
    """Shrink (never enlarge) so the short side is ``side``."""
    h, w = x.shape[-2:]
    if min(h, w) <= side:
        return x
    long_side = math.ceil(side * max(h, w) / min(h, w))
    return resize(x, fit_long_side(h, w, long_side))


@dataclass(frozen=True)
class PhotoSet:
    """Decoded photos as uint8 (3, H, W), each shrunk to a short side of at most ``side``;
    ``skipped`` counts the files that could not be read."""

    photos: tuple[torch.Tensor, ...]
    names: tuple[str, ...]
    skipped: int
    targets: tuple[torch.Tensor, ...] = ()  # one per photo, the same size, or none

    def __len__(self) -> int:
        return len(self.photos)

    def split(self, held_out: int) -> tuple[PhotoSet, PhotoSet]:
        """(training, validation): the last ``held_out`` photos are held out, when at least
        as many photos are left for training."""
        k = held_out if len(self) >= 2 * held_out else 0
        n = len(self) - k
        return (
            PhotoSet(self.photos[:n], self.names[:n], self.skipped, self.targets[:n]),
            PhotoSet(self.photos[n:], self.names[n:], 0, self.targets[n:]),
        )


def load_photos(folder: str | os.PathLike[str], side: int) -> PhotoSet:
    """Every readable photo under ``folder``, shrunk to a short side of at most ``side``.
    Unreadable files are skipped with a logged warning and counted; none readable is an
    InvalidImageError."""
    photos, names, skipped = [], [], 0
    for path in find_photos(folder):
        try:
            x = load_image(path)
        except InvalidImageError as e:
            log.warning("skipping %s", e)
            skipped += 1
            continue
        photos.append(_as_bytes(_short_side_to(x, side)))
        names.append(str(path))
    if not photos:
        raise InvalidImageError(f"none of the {skipped} image files in {folder} could be read")
    if skipped:
        log.warning(
            "skipped %d unreadable file(s) of %d in %s", skipped, skipped + len(photos), folder
        )
    return PhotoSet(tuple(photos), tuple(names), skipped)


def short_side_size(h: int, w: int, short: int, least: int) -> tuple[int, int]:
    """(H, W) of an h x w picture scaled so that its short side is ``short``, neither side
    under ``least`` (a crop must fit)."""
    return max(least, round(h * short / min(h, w))), max(least, round(w * short / min(h, w)))


def _as_bytes(x: torch.Tensor) -> torch.Tensor:
    return (x[0] * 255.0).round().clamp(0, 255).to(torch.uint8)


def find_target(photo: Path, photos: Path, targets: Path) -> Path | None:
    """The target of ``photo`` (a file under ``photos``): the image at the same relative path
    under ``targets``, with any of the photo extensions (stylize writes PNG)."""
    rel = photo.relative_to(photos)
    for ext in PHOTO_EXTENSIONS:
        candidate = (targets / rel).with_suffix(ext)
        if candidate.is_file():
            return candidate
    return None


def load_pairs(folder: str | os.PathLike[str], targets: str | os.PathLike[str]) -> PhotoSet:
    """Every photo under ``folder`` with its target under ``targets``, the photo resized to
    the target's size. A photo without a target, or any unreadable file, is an
    InvalidImageError naming it (a distillation set is made whole, not skipped through)."""
    root, goal = Path(folder), Path(targets)
    if not goal.is_dir():
        raise InvalidImageError(f"targets folder not found or not a folder: {goal}")
    paths = find_photos(root)
    found = {p: find_target(p, root, goal) for p in paths}
    missing = [p for p, t in found.items() if t is None]
    if missing:
        raise InvalidImageError(
            f"{len(missing)} of {len(paths)} photos have no target in {goal}, "
            f"e.g. {missing[0].relative_to(root)} (make them with impasto batch or stylize)"
        )
    photos, made = [], []
    for path, target_path in found.items():
        assert target_path is not None
        target = load_image(target_path)
        h, w = target.shape[-2:]
        photos.append(_as_bytes(resize(load_image(path), (h, w))))
        made.append(_as_bytes(target))
    return PhotoSet(tuple(photos), tuple(str(p) for p in paths), 0, tuple(made))


def _cut(x: torch.Tensor, crop: int, flip: bool, g: torch.Generator) -> torch.Tensor:
    """A ``crop`` square of (N, C, H, W) at a place drawn from ``g``, all N pictures cut at
    the same place, mirrored together at random (when ``flip``)."""
    top = int(torch.randint(x.shape[-2] - crop + 1, (), generator=g))
    left = int(torch.randint(x.shape[-1] - crop + 1, (), generator=g))
    x = x[..., top : top + crop, left : left + crop]
    if flip and float(torch.rand((), generator=g)) < 0.5:
        x = x.flip(-1)
    return x


def pair_crops(
    pairs: PhotoSet, batch: int, crop: int, flip: bool, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(photo crops, target crops), each (batch, 3, crop, crop) float32 in [0, 1]: random
    pairs cut at the same random place at their own scale (a pair smaller than ``crop`` is
    enlarged first) and mirrored together. Draws from ``g`` as :func:`random_crops` does."""
    photos, targets = [], []
    for i in torch.randint(len(pairs), (batch,), generator=g).tolist():
        x = torch.stack([pairs.photos[i], pairs.targets[i]]).to(torch.float32) / 255.0
        h, w = x.shape[-2:]
        if min(h, w) < crop:
            x = resize(x, short_side_size(h, w, crop, crop))
        x = _cut(x, crop, flip, g)
        photos.append(x[:1])
        targets.append(x[1:])
    return torch.cat(photos), torch.cat(targets)


def random_crops(
    photos: PhotoSet, batch: int, crop: int, jitter: float, flip: bool, g: torch.Generator
) -> torch.Tensor:
    """(batch, 3, crop, crop) float32 in [0, 1]: random photos, each resized so its short
    side is ``crop`` times a factor drawn from [1, 1 + jitter], cut at a random place and
    mirrored at random. All draws come from ``g`` (so a resumed run draws the same crops)."""
    out = []
    for i in torch.randint(len(photos), (batch,), generator=g).tolist():
        x = photos.photos[i].unsqueeze(0).to(torch.float32) / 255.0
        factor = 1.0 + jitter * float(torch.rand((), generator=g))
        h, w = x.shape[-2:]
        short = max(crop, round(crop * factor))
        size = short_side_size(h, w, short, crop)
        out.append(_cut(resize(x, size), crop, flip, g))
    return torch.cat(out)

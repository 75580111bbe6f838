"""The network route of a batch (``impasto batch PHOTOS --network MODEL``): photos through a
trained style network (Johnson et al. 2016), several per forward pass where their sizes allow.

A style network is fully convolutional with instance normalisation (each image normalised on
its own, Ulyanov et al. 2016), so a batch of N photos of one size gives the N outputs of N
single passes, for less than N times the cost of one (one call into the convolution kernels
instead of N). Photos are grouped by their *decoded* size: photos of one size are resized to
one output size by :func:`impasto.network.apply.stylize_image` exactly as ``impasto apply``
resizes them, so a grouped output is the output ``impasto apply`` writes for that photo.

Both runners use this module: ``local`` in this process, ``ray_data`` in each actor of a Ray
Data actor pool. Only the process that holds the manifest writes the outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from impasto.batch.manifest import Item, Manifest
from impasto.errors import DeviceError

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from impasto.network.apply import ApplyConfig
    from impasto.network.stylizer import Stylizer

# At most this many photos, and this many output pixels, per forward pass: the activations
# grow with the pixels of the whole batch (32 channels at full size, 64 and 128 at a half and
# a quarter), and the gain from batching is in small photos, whose single passes are too small
# to keep the cores busy; a photo over the budget goes alone.
MAX_BATCH = 8
MAX_BATCH_PIXELS = 1 << 21

K = TypeVar("K")


def output_pixels(height: int, width: int, size: int | None) -> int:
    """The pixels of a photo's output: its own size, or scaled to a long side of ``size``."""
    if size is None:
        return height * width
    scale = size / max(height, width)
    return max(1, round(height * scale)) * max(1, round(width * scale))


@dataclass
class Groups(Generic[K]):
    """Photos waiting for a forward pass, by decoded size. :meth:`add` returns the groups that
    are ready: a group is run when it is full (``max_batch`` photos or ``max_pixels`` output
    pixels), and the oldest group is run early when the photos held would make more than two
    full passes, so memory stays bounded however many sizes the photos have."""

    size: int | None
    max_batch: int = MAX_BATCH
    max_pixels: int = MAX_BATCH_PIXELS
    _held: dict[tuple[int, int], list[tuple[K, torch.Tensor]]] = field(default_factory=dict)
    _pixels: dict[tuple[int, int], int] = field(default_factory=dict)

    def add(self, key: K, image: torch.Tensor) -> list[list[tuple[K, torch.Tensor]]]:
        shape = (int(image.shape[-2]), int(image.shape[-1]))
        self._held.setdefault(shape, []).append((key, image))
        self._pixels[shape] = self._pixels.get(shape, 0) + output_pixels(*shape, self.size)
        ready = []
        if len(self._held[shape]) >= self.max_batch or self._pixels[shape] >= self.max_pixels:
            ready.append(self._pop(shape))
        while sum(self._pixels.values()) > 2 * self.max_pixels:
            ready.append(self._pop(next(iter(self._held))))
        return ready

    def rest(self) -> Iterator[list[tuple[K, torch.Tensor]]]:
        """The groups still held (at the end of the photos)."""
        while self._held:
            yield self._pop(next(iter(self._held)))

    def keys(self) -> list[K]:
        """Every key still held."""
        return [k for group in self._held.values() for k, _ in group]

    def _pop(self, shape: tuple[int, int]) -> list[tuple[K, torch.Tensor]]:
        self._pixels.pop(shape)
        return self._held.pop(shape)


def paint(network: Stylizer, images: list[torch.Tensor], config: ApplyConfig) -> torch.Tensor:
    """One forward pass over ``images`` ((1, 3, H, W) each, all one size) at the settings of
    ``config``, as :func:`impasto.network.apply.stylize_image` paints one: (N, 3, h, w)."""
    import torch

    from impasto.network.apply import stylize_image

    try:
        return stylize_image(network, torch.cat(images), config)
    except torch.OutOfMemoryError:
        h, w = images[0].shape[-2:]
        raise DeviceError(
            f"out of memory on {config.device} for {len(images)} photo(s) of {w}x{h} px: "
            "lower --size, or use the cpu"
        ) from None


def to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) → the 8-bit RGB picture that is written (the same rounding as
    :func:`impasto.io.images.save_image`)."""
    from impasto.io.images import tensor_to_pil

    return tensor_to_pil(image)


def write_painting(
    manifest: Manifest,
    item: Item,
    picture: Image.Image,
    meta: dict[str, str],
    seconds: float,
    worker: str,
) -> Item:
    """Write an item's output atomically (the model and settings in its PNG), then mark it
    done."""
    from impasto.io.images import save_image

    save_image(picture, manifest.folder / item.output, meta)
    manifest.finish(item.id, seconds, worker)
    return manifest.get(item.id)


def by_model(manifest: Manifest, item_ids: tuple[int, ...]) -> dict[str, list[Item]]:
    """The items of a plan by model file (each model is opened once), in the plan's order."""
    out: dict[str, list[Item]] = {}
    for item_id in item_ids:
        item = manifest.get(item_id)
        out.setdefault(item.style, []).append(item)
    return out

"""What every way of running a style network shares: the input conventions.

A :class:`Stylizer` paints a Pillow image (→ a Pillow image), a path (→ a Pillow image), a
tensor (3, H, W) or (N, 3, H, W) in [0, 1] (→ a tensor of the same shape), or a list of any of
these (→ a list). Subclasses implement only :meth:`run`, one batch through the network.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import overload

import torch
from PIL import Image

from impasto.errors import InvalidImageError
from impasto.io.images import load_image, tensor_to_pil
from impasto.network.info import NetworkInfo
from impasto.preprocess.resize import resize_long_side

MIN_SIDE = 8  # the 9x9 reflection padding needs sides above 4; two halvings leave 2 px


class Stylizer(ABC):
    """A trained style network behind a backend (torch or onnxruntime); ``info`` says what
    it is (architecture, style, training)."""

    def __init__(self, info: NetworkInfo) -> None:
        self.info = info

    @property
    def precision(self) -> str:
        """The arithmetic a pass runs in: "fp32", "bf16" or "fp16"."""
        return "fp32"

    @abstractmethod
    def run(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float32 in [0, 1] → (N, 3, H, W) float32 in [0, 1]."""

    @overload
    def stylize(self, image: torch.Tensor, size: int | None = None) -> torch.Tensor: ...
    @overload
    def stylize(
        self, image: Image.Image | str | os.PathLike[str], size: int | None = None
    ) -> Image.Image: ...
    @overload
    def stylize(
        self,
        image: list[torch.Tensor | Image.Image | str | os.PathLike[str]],
        size: int | None = None,
    ) -> list[torch.Tensor | Image.Image]: ...

    def stylize(self, image: object, size: int | None = None) -> object:
        """Paint ``image`` in the network's style, resized first to a long side of ``size``
        px when given. Never modifies a caller's tensor."""
        if isinstance(image, list):
            return [self.stylize(i, size) for i in image]
        if isinstance(image, torch.Tensor):
            batch = image.detach().to(torch.float32)
            single = batch.dim() == 3
            if single:
                batch = batch.unsqueeze(0)
            if batch.dim() != 4 or batch.shape[1] != 3:
                raise InvalidImageError(
                    f"expected a (3, H, W) or (N, 3, H, W) tensor, got {tuple(image.shape)}"
                )
            out = self.run(_fit(batch, size))
            return out[0] if single else out
        if isinstance(image, (Image.Image, str, os.PathLike)):
            return tensor_to_pil(self.run(_fit(load_image(image), size)))
        raise InvalidImageError(
            f"cannot stylize a {type(image).__name__}: give a path, a Pillow image or a tensor"
        )


def _fit(batch: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is not None:
        if size < MIN_SIDE:
            raise InvalidImageError(f"size must be at least {MIN_SIDE} px, got {size}")
        batch = resize_long_side(batch, size)
    if min(batch.shape[-2:]) < MIN_SIDE:
        raise InvalidImageError(
            f"image of {batch.shape[-1]}x{batch.shape[-2]} px is too small for the network "
            f"(sides of at least {MIN_SIDE} px)"
        )
    return batch.contiguous()

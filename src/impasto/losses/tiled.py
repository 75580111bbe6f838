"""The objective on overlapping tiles, for outputs too large to differentiate in one piece.

Galerne et al. 2022 ("Scaling Painting Style Transfer") keep the style statistics global while
computing gradients tile by tile. The Gram matrix of the whole image is the sum of its tiles'
(unnormalised) Gram matrices when each tile contributes only the feature positions of its own
interior, so one step is:

1. without autograd, run every tile (its interior plus a margin of context) through the network,
   crop the features to the interior and accumulate S_l = sum F F^T and the content error;
2. from the global G_l = S_l / M_l, the loss and its derivative C_l = dL/dS_l (a constant);
3. with autograd, run every tile again and back-propagate the surrogate <C_l, F F^T> plus its
   content error; the tile's pixel gradient (margin included) adds into the image's gradient.

The result equals the untiled gradient wherever the margin covers the receptive field of the
deepest layer; beyond that, features near a tile edge see reflected instead of real context, a
small error that overlapping margins keep away from the seams. Peak memory is that of one tile.

Region masks (guided Gram matrices, :mod:`impasto.losses.guided`) decompose the same way: for
region k, S_k = sum (F m_k)(F m_k)^T and W_k = sum m_k^2 over every tile's interior give the
global G_k = S_k / W_k, so masked runs can be tiled too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from impasto.features.extractor import FeatureExtractor
from impasto.features.vgg import pools_before
from impasto.losses.functional import (
    content_layer_loss,
    realism_loss,
    style_layer_loss,
    tv_loss,
)
from impasto.losses.guided import EMPTY_REGION, guided_style_loss
from impasto.losses.temporal import TemporalTarget, temporal_loss


def tile_spans(
    length: int, tile: int, margin: int, align: int
) -> Iterator[tuple[int, int, int, int]]:
    """(interior start, interior end, tile start, tile end) along one axis.

    Interiors partition [0, length); starts are multiples of ``align`` (the network's total
    downsampling), so every layer's features crop exactly.
    """
    tile = max(align, tile // align * align)
    margin = (margin + align - 1) // align * align
    for start in range(0, length, tile):
        end = min(length, start + tile)
        yield start, end, max(0, start - margin), min(length, end + margin)


def feature_size(hw: tuple[int, int], layer: str) -> tuple[int, int]:
    """(h, w) of ``layer``'s maps for an image of ``hw`` pixels (each 2x2 pooling floors)."""
    k = pools_before(layer)
    return hw[0] >> k, hw[1] >> k


def image_tiles(
    layers: tuple[str, ...], h: int, w: int, tile: int, margin: int
) -> list[tuple[slice, slice, slice, slice]]:
    """(tile rows, tile cols, interior rows, interior cols) covering an h x w image, with
    interiors aligned to the total downsampling of ``layers``."""
    align = 2 ** max(pools_before(n) for n in layers)
    out = []
    for y0, y1, ty0, ty1 in tile_spans(h, tile, margin, align):
        for x0, x1, tx0, tx1 in tile_spans(w, tile, margin, align):
            out.append((slice(ty0, ty1), slice(tx0, tx1), slice(y0, y1), slice(x0, x1)))
    return out


def interior(
    feats: torch.Tensor, name: str, tile: tuple[slice, slice, slice, slice]
) -> tuple[torch.Tensor, tuple[slice, slice]]:
    """A tile's features at ``name`` cropped to its interior, and where they sit in the
    whole image's feature map."""
    f = 2 ** pools_before(name)
    ty, tx, y, x = tile
    assert ty.start is not None and tx.start is not None
    rows = slice((y.start - ty.start) // f, (y.stop - ty.start) // f)
    cols = slice((x.start - tx.start) // f, (x.stop - tx.start) // f)
    where = (
        slice(y.start // f, y.start // f + rows.stop - rows.start),
        slice(x.start // f, x.start // f + cols.stop - cols.start),
    )
    return feats[..., rows, cols], where


def _interiors(
    extractor: FeatureExtractor,
    image: torch.Tensor,
    layers: tuple[str, ...],
    tile: int,
    margin: int,
) -> Iterator[tuple[str, torch.Tensor, tuple[slice, slice]]]:
    """(layer, a tile's maps cropped to its interior, where they sit in the whole image's
    maps), tile after tile; one network pass per tile."""
    h, w = image.shape[-2:]
    for t in image_tiles(extractor.layers, h, w, tile, margin):
        feats = extractor(image[..., t[0], t[1]])
        for n in layers:
            f, where = interior(feats[n], n, t)
            yield n, f, where


@torch.no_grad()
def tiled_features(
    extractor: FeatureExtractor,
    image: torch.Tensor,
    layers: tuple[str, ...],
    tile: int,
    margin: int = 96,
) -> dict[str, torch.Tensor]:
    """The whole image's activations at ``layers`` (float32), computed a tile at a time, so
    the peak memory is one tile's network pass plus the maps asked for (content targets of a
    large image: relu4_2 is 1/64 of the pixels, 512 channels)."""
    hw = (image.shape[-2], image.shape[-1])
    out: dict[str, torch.Tensor] = {}
    for n, f, where in _interiors(extractor, image, layers, tile, margin):
        if n not in out:
            out[n] = torch.zeros((1, f.shape[1], *feature_size(hw, n)), device=image.device)
        out[n][..., where[0], where[1]] = f.to(torch.float32)
    return out


@torch.no_grad()
def tiled_grams(
    extractor: FeatureExtractor,
    image: torch.Tensor,
    layers: tuple[str, ...],
    tile: int,
    margin: int = 96,
    masks: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """M-normalised Gram matrices of a large image at ``layers``, (1, N, N) each, summed over
    tiles (equal to ``gram_matrix`` of the whole image's maps up to the margins' effect). With
    ``masks`` (per layer, (K, h, w) at the whole image's feature resolution) that layer's
    entry is instead the K guided Gram matrices, as ``guided_gram_matrices`` gives them."""
    masks = masks or {}
    sums: dict[str, torch.Tensor] = {}
    weights: dict[str, torch.Tensor] = {}
    for n, f, where in _interiors(extractor, image, layers, tile, margin):
        regions = region_weights(masks, n, where)
        if n not in sums:
            c = f.shape[1]
            k = len(regions)
            sums[n] = torch.zeros(k, c, c, device=image.device)
            weights[n] = torch.zeros(k, device=image.device)
        add_outer_products(sums[n], weights[n], f, regions)
    return {n: sums[n] / region_total(weights[n]) for n in layers}


def add_outer_products(
    sums: torch.Tensor,
    weights: torch.Tensor,
    features: torch.Tensor,
    regions: list[torch.Tensor | None],
) -> None:
    """Add one tile interior's share to a Gram sum, per region: sums[k] += (F m_k)(F m_k)^T
    and weights[k] += sum m_k^2 (the number of positions for a region None)."""
    f = features.reshape(features.shape[1], -1).to(torch.float32)
    for k, m in enumerate(regions):
        fk = f if m is None else f * m
        sums[k] += fk @ fk.T
        weights[k] += f.shape[1] if m is None else float((m * m).sum())


def region_total(weights: torch.Tensor) -> torch.Tensor:
    """(K,) summed region weights as the (K, 1, 1) divisor of the Gram sums; an absent
    region gets an all-zero Gram matrix, as in ``guided_gram_matrices``."""
    return weights.clamp_min(EMPTY_REGION).view(-1, 1, 1)


def region_weights(
    masks: dict[str, torch.Tensor], name: str, where: tuple[slice, slice]
) -> list[torch.Tensor | None]:
    """Each region's weights over a tile's interior at ``name``, flattened like its features;
    [None] (one region, every position weighing 1) for a layer without masks."""
    if name not in masks:
        return [None]
    m = masks[name][:, where[0], where[1]].to(torch.float32)
    return list(m.reshape(m.shape[0], -1))


def tile_device(tensors: dict[str, torch.Tensor]) -> torch.device:
    """The device of a dict of tensors (the CPU for an empty one)."""
    return next(iter(tensors.values())).device if tensors else torch.device("cpu")


@dataclass
class TiledObjective:
    """Same value and gradient contract as :class:`~impasto.losses.objective.Objective`
    (``value_and_grad``), computed tile by tile, with or without region masks."""

    extractor: FeatureExtractor
    content_targets: dict[str, torch.Tensor]  # full-size (1, N, h, w) activations
    style_targets: dict[str, torch.Tensor]  # (1, N, N) M-normalised Gram matrices
    style_layer_weights: dict[str, float]
    content_weight: float
    style_weight: float
    tv_weight: float
    tile: int = 768
    margin: int = 96
    autocast: bool = False
    autocast_dtype: torch.dtype = torch.bfloat16
    device_type: str = "cpu"
    # As Objective.region_masks: per style layer, the output's region masks (K, h, w) at the
    # whole image's feature resolution; the targets of those layers are then (K, N, N).
    region_masks: dict[str, torch.Tensor] | None = None
    # As Objective's: a video frame's temporal target; a pixel-wise term, computed whole.
    temporal: TemporalTarget | None = None
    temporal_weight: float = 0.0
    laplacian: torch.Tensor | None = None  # as Objective's: a pixel-wise term, computed whole
    photo_weight: float = 0.0

    def _tiles(self, h: int, w: int) -> list[tuple[slice, slice, slice, slice]]:
        return image_tiles(self.extractor.layers, h, w, self.tile, self.margin)

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.autocast(self.device_type, dtype=self.autocast_dtype, enabled=self.autocast):
            return self.extractor(x)

    def value_and_grad(
        self, image: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """(total, d total / d image, weighted terms) for an image (1, 3, H, W)."""
        x = image.detach()
        tiles = self._tiles(x.shape[-2], x.shape[-1])
        sums, counts, content = self._statistics(x, tiles)
        style, coeffs = self._style(sums, counts)
        grad = torch.zeros_like(x)
        for tile in tiles:  # pass 2: gradients, one tile at a time
            xt = x[..., tile[0], tile[1]].clone().requires_grad_(True)
            surrogate = self._surrogate(self._features(xt), tile, coeffs)
            if surrogate.requires_grad:
                (g,) = torch.autograd.grad(surrogate, xt)
                grad[..., tile[0], tile[1]] += g
        tv, pixels = self._pixel_terms(x, grad)
        content = self.content_weight * content
        total = content + style + tv
        terms = {"content": content, "style": style, "tv": tv}
        if pixels is not None:
            terms["temporal"] = pixels
            total = total + pixels
        if self.laplacian is not None:
            terms["photo"] = self._photo_term(x, grad)
            total = total + terms["photo"]
        terms["total"] = total
        return total, grad, terms

    def _pixel_terms(
        self, x: torch.Tensor, grad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weighted TV term and temporal term (None without a temporal target), which
        need no network and so no tiles; their gradients are added into ``grad``."""
        tv = torch.zeros((), dtype=torch.float32, device=x.device)
        if self.tv_weight > 0:
            xv = x.clone().requires_grad_(True)
            tv = self.tv_weight * tv_loss(xv)
            (g,) = torch.autograd.grad(tv, xv)
            grad += g
            tv = tv.detach()
        if self.temporal is None:
            return tv, None
        xv = x.clone().requires_grad_(True)
        t = self.temporal
        temporal = self.temporal_weight * temporal_loss(xv, t.warped, t.mask)
        (g,) = torch.autograd.grad(temporal, xv)
        grad += g
        return tv, temporal.detach()

    def _photo_term(self, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """The weighted photorealism term on the whole image (one sparse product, no
        network); its gradient is added into ``grad``."""
        assert self.laplacian is not None
        xv = x.clone().requires_grad_(True)
        photo = self.photo_weight * realism_loss(xv, self.laplacian)
        (g,) = torch.autograd.grad(photo, xv)
        grad += g
        return photo.detach()

    def _style_layers(self) -> list[str]:
        if self.style_weight <= 0:
            return []
        return [n for n, wl in self.style_layer_weights.items() if wl > 0]

    def _content_error(
        self, feats: dict[str, torch.Tensor], tile: tuple[slice, slice, slice, slice]
    ) -> torch.Tensor:
        """The tile interior's share of the content error (eq. 1, normalised by the whole
        map's positions)."""
        error = torch.zeros((), dtype=torch.float32, device=tile_device(feats))
        for n, target in self.content_targets.items():
            f, where = interior(feats[n], n, tile)
            m = target.shape[-2] * target.shape[-1]
            error = error + content_layer_loss(f, target[..., where[0], where[1]], positions=m)
        return error

    @torch.no_grad()
    def _statistics(
        self, x: torch.Tensor, tiles: list[tuple[slice, slice, slice, slice]]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
        """Pass 1: per style layer and region (K = 1 without masks) the sum of outer products
        and of weights over every tile's interior; and the content error."""
        masks = self.region_masks or {}
        layers = self._style_layers()
        sums = {n: torch.zeros_like(self.style_targets[n]) for n in layers}
        device = x.device
        counts = {n: torch.zeros(self.style_targets[n].shape[0], device=device) for n in layers}
        content = torch.zeros((), dtype=torch.float32, device=device)
        for tile in tiles:
            feats = self._features(x[..., tile[0], tile[1]])
            for n in layers:
                f, where = interior(feats[n], n, tile)
                add_outer_products(sums[n], counts[n], f, region_weights(masks, n, where))
            if self.content_weight > 0:
                content += self._content_error(feats, tile)
        return sums, counts, content

    def _style(
        self, sums: dict[str, torch.Tensor], counts: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The weighted style term from the global Gram matrices G = S / W, and per layer the
        constant C = d term / d S that pass 2 back-propagates through each tile's S share.
        The loss is the whole-image objective's own (style_layer_loss, or guided_style_loss
        with regions); autograd gives its derivative with respect to G."""
        style = torch.zeros((), dtype=torch.float32, device=tile_device(sums))
        coeffs = {}
        masks = self.region_masks or {}
        for n in sums:
            weight = region_total(counts[n])
            gram = (sums[n] / weight).requires_grad_(True)
            layer_loss = guided_style_loss if n in masks else style_layer_loss
            with torch.enable_grad():
                term = (
                    self.style_weight
                    * self.style_layer_weights[n]
                    * layer_loss(gram, self.style_targets[n])
                )
                (d_gram,) = torch.autograd.grad(term, gram)
            style += term.detach()
            coeffs[n] = d_gram / weight
        return style, coeffs

    def _surrogate(
        self,
        feats: dict[str, torch.Tensor],
        tile: tuple[slice, slice, slice, slice],
        coeffs: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        """A scalar whose gradient with respect to the tile's pixels is the tile's share of
        the objective's: <C_l, F F^T> over its interior, plus its content error."""
        masks = self.region_masks or {}
        surrogate = torch.zeros((), dtype=torch.float32, device=tile_device(feats))
        for n, c in coeffs.items():
            f, where = interior(feats[n], n, tile)
            f = f.reshape(f.shape[1], -1).to(torch.float32)
            for k, m in enumerate(region_weights(masks, n, where)):
                fk = f if m is None else f * m
                surrogate = surrogate + (c[k] * (fk @ fk.T)).sum()
        if self.content_weight > 0:
            surrogate = surrogate + self.content_weight * self._content_error(feats, tile)
        return surrogate

"""Target statistics computed once per run (and per scale) without autograd."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from impasto.errors import ConfigError
from impasto.features.extractor import FeatureExtractor
from impasto.losses.functional import gram_matrix
from impasto.losses.guided import blend_grams, guided_gram_matrices
from impasto.preprocess.masks import RGB, downsample_masks, match_mask_palettes, to_hex


@torch.no_grad()
def content_targets(
    extractor: FeatureExtractor, content: torch.Tensor, layers: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """Activations P^l of the content image at ``layers``."""
    feats = extractor(content)
    return {name: feats[name].detach().to(torch.float32) for name in layers}


@torch.no_grad()
def style_targets(
    extractor: FeatureExtractor, style: torch.Tensor, layers: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """M-normalised Gram matrices A^l of the style image at ``layers``: (1, N_l, N_l) each."""
    feats = extractor(style)
    return {name: gram_matrix(feats[name]) for name in layers}


@dataclass(frozen=True)
class StyleImage:
    """One style image as a run uses it at one scale.

    ``masks``/``colors``: its colour-coded region map, one-hot (K, H, W) at the image's size,
    for guided transfer (region k of the output takes its style from region k here).
    ``region``: the content-mask colour this style paints, when styles are given per region.
    """

    image: torch.Tensor
    weight: float = 1.0
    masks: torch.Tensor | None = None
    colors: list[RGB] | None = None
    region: RGB | None = None


def fit_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(K, H, W) masks resampled to ``size``: area averages when shrinking (so they still sum
    to one at every pixel), bilinear when enlarging."""
    if masks.shape[-2] >= size[0] and masks.shape[-1] >= size[1]:
        return downsample_masks(masks, size)
    return F.interpolate(masks.unsqueeze(0), size=size, mode="bilinear", align_corners=False)[0]


@torch.no_grad()
def blended_style_targets(
    extractor: FeatureExtractor,
    styles: list[StyleImage],
    layers: tuple[str, ...],
    region_colors: list[RGB] | None = None,
) -> dict[str, torch.Tensor]:
    """Target Gram matrices of one or more style images at ``layers``.

    Without regions: the weighted average of the styles' Gram matrices, (1, N, N) per layer
    (style blending, Gatys et al. 2017 and neural-style's -style_blend_weights). With the
    content mask's ``region_colors``: one target per region, (K, N, N), each the blend of the
    styles that apply to it: styles bound to that colour, the matching region of styles that
    have their own mask, and whole styles without mask or binding (guided Gram matrices,
    Gatys et al. 2017 section 3).
    """
    if not layers:
        return {}
    feats = [extractor(s.image) for s in styles]
    # Which region of each masked style pairs with each content colour (errors name colours).
    pairing: list[list[int] | None] = []
    for s in styles:
        if s.masks is not None and region_colors is not None:
            assert s.colors is not None
            wanted = [c for c in region_colors if s.region is None or _same(c, s.region)]
            pairing.append(match_mask_palettes(wanted, s.colors) if wanted else [])
        else:
            pairing.append(None)
    out: dict[str, torch.Tensor] = {}
    for layer in layers:
        if region_colors is None:
            grams = [gram_matrix(f[layer]) for f in feats]
            out[layer] = blend_grams(grams, [s.weight for s in styles])
            continue
        per_region = []
        for color in region_colors:
            grams, weights = [], []
            for s, f, pairs in zip(styles, feats, pairing, strict=True):
                if s.region is not None and not _same(s.region, color):
                    continue
                if s.masks is not None and pairs is not None:
                    wanted = [c for c in region_colors if s.region is None or _same(c, s.region)]
                    k = pairs[wanted.index(color)]
                    m = fit_masks(s.masks[k : k + 1], tuple(f[layer].shape[-2:]))
                    grams.append(guided_gram_matrices(f[layer], m))
                else:
                    grams.append(gram_matrix(f[layer]))
                weights.append(s.weight)
            if not grams:
                raise ConfigError(f"no style image paints the content mask colour {to_hex(color)}")
            per_region.append(blend_grams(grams, weights))
        out[layer] = torch.cat(per_region)
    return out


def _same(a: RGB, b: RGB, tol: float = 40.0) -> bool:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) <= tol * tol

"""Target statistics computed once per run (and per scale) without autograd, and the typed
inputs they are computed from (style images with their options, the content's region map)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from impasto.config import ColorPreservation, StyleConfig
from impasto.errors import ConfigError
from impasto.features.extractor import FeatureExtractor
from impasto.layers import LAYER_NAMES
from impasto.losses.functional import gram_matrix
from impasto.losses.guided import blend_grams, guided_gram_matrices
from impasto.losses.memory import AUTO_TILE, tile_above
from impasto.losses.temporal import TemporalTarget
from impasto.losses.tiled import feature_size, tiled_features, tiled_grams
from impasto.preprocess.color import luminance_only
from impasto.preprocess.masks import RGB, downsample_masks, match_mask_palettes, to_hex
from impasto.preprocess.matting import matting_laplacian
from impasto.preprocess.resize import resize_long_side


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

    def to(self, device: torch.device) -> StyleImage:
        """The same style with its image and masks on ``device``."""
        masks = None if self.masks is None else self.masks.to(device)
        return dataclasses.replace(self, image=self.image.to(device), masks=masks)


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
    # Which region of each masked style pairs with each content colour (errors name colours).
    pairing: list[list[int] | None] = []
    for s in styles:
        if s.masks is not None and region_colors is not None:
            assert s.colors is not None
            wanted = [c for c in region_colors if s.region is None or _same(c, s.region)]
            pairing.append(match_mask_palettes(wanted, s.colors) if wanted else [])
        else:
            pairing.append(None)
    stats = [
        style_grams(extractor, s, layers, guided=pairs is not None)
        for s, pairs in zip(styles, pairing, strict=True)
    ]
    out: dict[str, torch.Tensor] = {}
    for layer in layers:
        if region_colors is None:
            grams = [plain[layer] for plain, _ in stats]
            out[layer] = blend_grams(grams, [s.weight for s in styles])
            continue
        per_region = []
        for color in region_colors:
            grams, weights = [], []
            for s, (plain, guided), pairs in zip(styles, stats, pairing, strict=True):
                if s.region is not None and not _same(s.region, color):
                    continue
                if guided is not None and pairs is not None:
                    wanted = [c for c in region_colors if s.region is None or _same(c, s.region)]
                    k = pairs[wanted.index(color)]
                    grams.append(guided[layer][k : k + 1])
                else:
                    grams.append(plain[layer])
                weights.append(s.weight)
            if not grams:
                raise ConfigError(f"no style image paints the content mask colour {to_hex(color)}")
            per_region.append(blend_grams(grams, weights))
        out[layer] = torch.cat(per_region)
    return out


@torch.no_grad()
def style_grams(
    extractor: FeatureExtractor, style: StyleImage, layers: tuple[str, ...], guided: bool
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """One style image's Gram matrices at ``layers``: the plain ones, (1, N, N), and with
    ``guided`` those of each region of its mask, (K, N, N). An image above tile_above() pixels
    is run through the network in tiles (the statistics summed over them), so a style resized
    for a very large output does not need the memory of its whole-image activations."""
    h, w = style.image.shape[-2:]
    mask = style.masks if guided else None
    assert mask is not None or not guided
    if h * w > tile_above():
        masks = None
        if mask is not None:
            masks = {}
            for n in layers:
                size = feature_size((h, w), n)
                # Row 0, all ones, gives the plain Gram matrix from the same pass.
                masks[n] = torch.cat([torch.ones(1, *size), fit_masks(mask, size)])
        grams = tiled_grams(extractor, style.image, layers, AUTO_TILE, masks=masks)
        plain = {n: g[:1] for n, g in grams.items()}
        return plain, ({n: g[1:] for n, g in grams.items()} if mask is not None else None)
    feats = extractor(style.image)
    plain = {n: gram_matrix(feats[n]) for n in layers}
    if mask is None:
        return plain, None
    return plain, {
        n: guided_gram_matrices(feats[n], fit_masks(mask, tuple(feats[n].shape[-2:])))
        for n in layers
    }


def _same(a: RGB, b: RGB, tol: float = 40.0) -> bool:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) <= tol * tol


@dataclass(frozen=True)
class RegionMap:
    """A colour-coded region map: one-hot (K, H, W) masks at its image's size, and the colour
    of each region."""

    masks: torch.Tensor
    colors: tuple[RGB, ...]


@dataclass(frozen=True)
class StyleSource:
    """A style image as a run holds it: full resolution, loaded once, with its options.

    ``weight``: its share when several styles blend. ``mask``: its own region map (guided
    transfer). ``region``: the content-mask colour it paints, when styles are given per region.
    ``name`` says where it came from (a path, or the kind of object it was given as).
    """

    image: torch.Tensor
    weight: float = 1.0
    name: str = ""
    mask: RegionMap | None = None
    region: RGB | None = None

    def at_scale(
        self, long_side: int, cfg: StyleConfig, content: torch.Tensor | None
    ) -> StyleImage:
        """The image as the scale of ``long_side`` px uses it: resized by ``style_scale`` (so
        strokes scale with the picture), on luminance only where the run keeps colours so."""
        img = resize_long_side(self.image, max(16, round(long_side * cfg.style_scale)))
        if cfg.preserve_color is ColorPreservation.LUMINANCE and content is not None:
            img = luminance_only(img, match_to=content)
        mask = self.mask
        return StyleImage(
            image=img,
            weight=self.weight,
            masks=None if mask is None else fit_masks(mask.masks, (img.shape[-2], img.shape[-1])),
            colors=None if mask is None else list(mask.colors),
            region=self.region,
        )


@dataclass
class ScaleTargets:
    """What one scale's objective matches: the content's activations (per content layer), the
    target Gram matrices (per style layer; (K, N, N) with K regions) and, for guided transfer,
    the output's region masks per style layer at that layer's resolution."""

    content: dict[str, torch.Tensor] = field(default_factory=dict)
    style: dict[str, torch.Tensor] = field(default_factory=dict)
    region_masks: dict[str, torch.Tensor] | None = None
    temporal: TemporalTarget | None = None  # a video frame's warped previous output and mask
    laplacian: torch.Tensor | None = None  # the photo's matting Laplacian (photo_weight > 0)


@dataclass(frozen=True)
class TargetSources:
    """Everything targets are computed from, at any scale: the styles, the coarse styles of a
    scale mix (matched from ``cfg.coarse_from`` down), the content's region map."""

    styles: list[StyleSource]
    coarse: list[StyleSource] = field(default_factory=list)
    content_mask: RegionMap | None = None


def scale_targets(
    extractor: FeatureExtractor,
    cfg: StyleConfig,
    sources: TargetSources,
    content: torch.Tensor | None,
    long_side: int,
    tile: int,
    device: torch.device | None = None,
    style: dict[str, torch.Tensor] | None = None,
) -> ScaleTargets:
    """The targets of one scale, on ``device`` (the CPU by default). ``content`` is the
    content image at the scale's size, on the CPU (None for a texture); with ``tile`` its
    activations are computed a tile at a time. ``style``: this scale's target Gram matrices
    when they were computed beforehand (:func:`style_targets_at`), else they are computed."""
    device = device or torch.device("cpu")
    hw = (content.shape[-2], content.shape[-1]) if content is not None else None
    out = ScaleTargets()
    if content is not None and tile:  # a tile at a time: a large image's maps need no more
        out.content = tiled_features(extractor, content.to(device), cfg.content_layers, tile)
    elif content is not None:
        with torch.no_grad():
            feats = extractor(content.to(device))
        out.content = {n: feats[n].detach() for n in cfg.content_layers}
        del feats
    if content is not None and cfg.photo_weight > 0:  # built once per size (Luan et al. 2017)
        out.laplacian = matting_laplacian(content, cfg.photo_epsilon).to(device)
    if sources.content_mask is not None:
        assert hw is not None
        masks = fit_masks(sources.content_mask.masks, hw)
        out.region_masks = {
            n: fit_masks(masks, feature_size(hw, n)).to(device) for n in cfg.style_layers
        }
    if style is not None:  # computed once for many runs (api.prepare_style)
        out.style = {n: g.to(device) for n, g in style.items()}
        return out
    colors = None if sources.content_mask is None else list(sources.content_mask.colors)
    out.style = style_targets_at(extractor, cfg, sources, long_side, colors, content, device)
    return out


def style_targets_at(
    extractor: FeatureExtractor,
    cfg: StyleConfig,
    sources: TargetSources,
    long_side: int,
    colors: list[RGB] | None = None,
    content: torch.Tensor | None = None,
    device: torch.device | None = None,
) -> dict[str, torch.Tensor]:
    """The target Gram matrices of the scale of ``long_side`` px, per style layer: (1, N, N),
    or (K, N, N) for the K content-mask ``colors``. ``content`` (the content at that scale)
    matters only where the run keeps the content's luminance."""
    device = device or torch.device("cpu")
    out: dict[str, torch.Tensor] = {}
    fine, coarse = split_layers(cfg, bool(sources.coarse))
    for styles, layers in ((sources.styles, fine), (sources.coarse, coarse)):
        at_scale = [s.at_scale(long_side, cfg, content).to(device) for s in styles]
        out.update(blended_style_targets(extractor, at_scale, layers, colors))
    return out


def split_layers(cfg: StyleConfig, scale_mix: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(fine, coarse) style layers: with a scale mix, the layers from ``cfg.coarse_from``
    down match the coarse style (Gatys et al. 2017, section 5); without, all are fine."""
    first = LAYER_NAMES.index(cfg.coarse_from)
    coarse = tuple(n for n in cfg.style_layers if scale_mix and LAYER_NAMES.index(n) >= first)
    return tuple(n for n in cfg.style_layers if n not in coarse), coarse


@dataclass(frozen=True)
class StyleKey:
    """What a style's target Gram matrices depend on besides the images and the scale: two
    runs that agree on these can share them."""

    style_layers: tuple[str, ...]
    coarse_from: str | None  # None without coarse styles (no scale mix)
    style_scale: float
    pooling: str
    padding: str
    preserve_color: str
    weights: str  # the VGG weights' source (VGGWeights.source)
    regions: tuple[RGB, ...] | None  # the content mask's colours, in order; None without one

    @classmethod
    def of(
        cls, cfg: StyleConfig, sources: TargetSources, weights: str, regions: tuple[RGB, ...] | None
    ) -> StyleKey:
        return cls(
            style_layers=tuple(cfg.style_layers),
            coarse_from=cfg.coarse_from if sources.coarse else None,
            style_scale=float(cfg.style_scale),
            pooling=str(cfg.pooling.value),
            padding=str(cfg.padding.value),
            preserve_color=str(cfg.preserve_color.value),
            weights=weights,
            regions=regions,
        )


@dataclass(frozen=True)
class PreparedStyle:
    """Style targets computed once and reused by many runs (the frames of a video, the items
    of a batch): per scale long side (px), per style layer, the target Gram matrices on the
    CPU, with the loaded style images (for the runs' metadata and checkpoints) and the
    :class:`StyleKey` they were computed under. Plain tensors and values: it pickles (Ray's
    object store) and moves to any device."""

    sources: TargetSources  # the style images as loaded; no content mask
    targets: dict[int, dict[str, torch.Tensor]]
    key: StyleKey
    weights_path: str | None = None  # the weight file they were computed with, if a file

    def at(self, long_side: int) -> dict[str, torch.Tensor]:
        """The targets of the scale of ``long_side`` px; ConfigError if it was not prepared."""
        if long_side not in self.targets:
            have = ", ".join(str(s) for s in sorted(self.targets))
            raise ConfigError(
                f"the prepared style has targets at {have} px, not at the {long_side} px scale "
                "this run needs: prepare it with the run's size, scales and min_size"
            )
        return self.targets[long_side]

    def check(self, key: StyleKey) -> None:
        """Refuse a run whose settings would give other targets (ConfigError naming the
        setting)."""
        for f in dataclasses.fields(StyleKey):
            mine, theirs = getattr(self.key, f.name), getattr(key, f.name)
            if mine != theirs:
                raise ConfigError(
                    f"the prepared style was made with {f.name}={_shown(mine)} and this run "
                    f"has {f.name}={_shown(theirs)}: prepare it again with the run's settings"
                )


def _shown(value: object) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return ",".join(value)
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return ",".join(to_hex(c) for c in value)
    return str(value)

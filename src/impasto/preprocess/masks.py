"""Colour-coded region masks for spatial control (Gatys et al. 2017, section 3).

A user paints a region map for the content and one for the style with the same flat colours
(say red for sky, blue for ground); style from the style's red region then goes to the
content's red region only. This module turns such maps into one-hot masks, pairs the colours
of the two maps, and brings the masks down to each VGG layer's resolution.

Conventions: mask images are sRGB (1, 3, H, W) in [0, 1] like every image; colours are RGB
tuples of ints 0-255 and are named ``#rrggbb`` in messages; masks are float (K, H, W) in [0, 1]
that sum to 1 at every pixel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from impasto.errors import ConfigError, InvalidImageError

RGB = tuple[int, int, int]

# Colours within this Euclidean distance (0-255 units) of a more frequent colour are taken as
# noisy copies of it (JPEG ringing, antialiased edges) when finding a map's palette. Deliberate
# mask colours (pure primaries, or steps of 128) are >= 128 apart.
DEFAULT_TOL = 40.0
# A colour must cover this fraction of the pixels (after merging its noisy copies) to count as
# a region; rarer colours go to the nearest region.
DEFAULT_MIN_FRACTION = 0.005
# Most regions a palette may have before the search stops (a photo is not a mask).
MAX_COLORS = 64
# Allowed relative difference between a mask's aspect ratio and its image's.
ASPECT_TOLERANCE = 0.02


def to_hex(color: Sequence[int]) -> str:
    """(r, g, b) ints 0-255 → ``"#rrggbb"``."""
    r, g, b = (int(v) for v in color)
    return f"#{r:02x}{g:02x}{b:02x}"


def parse_color(value: str | Sequence[int]) -> RGB:
    """``"#rrggbb"``, ``"rrggbb"``, ``"#rgb"`` or an (r, g, b) sequence of 0-255 → an RGB tuple."""
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if len(text) == 3:
            text = "".join(ch * 2 for ch in text)
        try:
            if len(text) != 6:
                raise ValueError
            return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
        except ValueError:
            raise ConfigError(
                f"mask colour {value!r} is not a colour; use #rrggbb or (r, g, b) with 0-255"
            ) from None
    items = tuple(value)
    if len(items) != 3 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 255
        for v in items
    ):
        raise ConfigError(
            f"mask colour {value!r} is not a colour; use #rrggbb or (r, g, b) with 0-255"
        )
    return int(items[0]), int(items[1]), int(items[2])


def _mask_pixels(mask_rgb: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] → (H*W, 3) int64 in 0-255."""
    if mask_rgb.dim() != 4 or mask_rgb.shape[0] != 1 or mask_rgb.shape[1] != 3:
        raise InvalidImageError(
            f"a mask image must be a (1, 3, H, W) tensor, got {tuple(mask_rgb.shape)}"
        )
    if mask_rgb.shape[2] == 0 or mask_rgb.shape[3] == 0:
        raise InvalidImageError(f"mask image has a zero side {tuple(mask_rgb.shape)}")
    x = mask_rgb.detach().to(torch.float64).clamp(0.0, 1.0)[0]
    arr = (x * 255.0).round().to(torch.int64).permute(1, 2, 0).reshape(-1, 3)
    return arr.cpu().numpy()


def _codes(pixels: np.ndarray) -> np.ndarray:
    return np.asarray((pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2])


def _interior(labels: np.ndarray) -> np.ndarray:
    """(H, W) int labels → bool (H, W): the pixel and its 8 neighbours share a label (the
    border is replicated)."""
    padded = np.pad(labels, 1, mode="edge")
    h, w = labels.shape
    same = np.ones(labels.shape, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            same &= padded[dy : dy + h, dx : dx + w] == labels
    return same


def _find_palette(
    pixels: np.ndarray, shape: tuple[int, int], tol: float, min_fraction: float
) -> list[tuple[RGB, int]]:
    """The region colours of a map: (colour, pixel count) pairs, largest first.

    Greedy mode seeking: the most frequent colour not yet claimed starts a group and claims
    every unclaimed colour within ``tol``. A group is a region when it covers at least
    ``min_fraction`` of the pixels and has an interior pixel (one whose 3x3 neighbourhood is in
    the group): the 1-2 pixel bands of in-between colours that antialiasing and JPEG ringing
    leave along every edge have none, however long the edge.
    """
    codes = _codes(pixels)
    uniq, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    order = np.lexsort((uniq, -counts))  # most frequent first, ties by colour code
    cols = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1)
    cols = cols.astype(np.float64)
    total = int(counts.sum())
    min_count = max(1.0, min_fraction * total)
    group = np.full(len(uniq), -1, dtype=np.int64)
    seeds: list[int] = []
    for seed in order:
        if group[seed] >= 0:
            continue
        if len(seeds) >= 4 * MAX_COLORS or counts[group < 0].sum() < min_count:
            break
        free = np.flatnonzero(group < 0)
        group[free[np.linalg.norm(cols[free] - cols[seed], axis=1) <= tol]] = len(seeds)
        seeds.append(int(seed))
    labels = group[inverse.reshape(-1)].reshape(shape)
    sizes = np.bincount(labels[labels >= 0], minlength=len(seeds))
    inner = np.bincount(labels[_interior(labels) & (labels >= 0)], minlength=len(seeds))
    found: list[tuple[RGB, int]] = []
    for k, seed in enumerate(seeds):
        if sizes[k] >= min_count and inner[k] > 0:
            r, g, b = (int(v) for v in cols[seed])
            found.append(((r, g, b), int(sizes[k])))
    if not found:  # no colour qualifies (noise): the most frequent one is the only region
        r, g, b = (int(v) for v in cols[order[0]])
        found.append(((r, g, b), int(counts[order[0]])))
    found.sort(key=lambda item: (-item[1], item[0]))
    return found[:MAX_COLORS]


def parse_color_mask(
    mask_rgb: torch.Tensor,
    palette: Sequence[str | Sequence[int]] | None = None,
    tol: float = DEFAULT_TOL,
    min_fraction: float = DEFAULT_MIN_FRACTION,
) -> tuple[list[RGB], torch.Tensor]:
    """A colour-coded region map → its colours and one one-hot mask per colour.

    Args:
        mask_rgb: (1, 3, H, W) sRGB in [0, 1]; flat colours, possibly with JPEG noise and
            antialiased edges.
        palette: the region colours (``"#rrggbb"`` or (r, g, b) 0-255). None finds them: each
            colour that, with the colours within ``tol`` of it, covers at least
            ``min_fraction`` of the pixels (the most frequent colour of such a group names it).
        tol: Euclidean distance in 0-255 RGB units within which colours count as one while
            finding the palette. Not used when ``palette`` is given.
        min_fraction: smallest share of the pixels a found colour must cover.
    Returns:
        (colors, masks): ``colors`` a list of K (r, g, b) tuples (found colours largest region
        first; a given palette in its order), ``masks`` float32 (K, H, W), one-hot: every
        pixel belongs to its nearest palette colour.
    """
    if not tol >= 0:
        raise ConfigError(f"mask colour tolerance must be >= 0, got {tol!r}")
    if not 0 <= min_fraction < 1:
        raise ConfigError(f"mask min_fraction must be in [0, 1), got {min_fraction!r}")
    pixels = _mask_pixels(mask_rgb)
    if palette is None:
        shape = (int(mask_rgb.shape[-2]), int(mask_rgb.shape[-1]))
        colors = [c for c, _ in _find_palette(pixels, shape, tol, min_fraction)]
    else:
        colors = [parse_color(c) for c in palette]
        if not colors:
            raise ConfigError("the mask palette is empty; give at least one colour")
        dup = {to_hex(c) for c in colors if colors.count(c) > 1}
        if dup:
            raise ConfigError(f"mask palette repeats {', '.join(sorted(dup))}")
    h, w = mask_rgb.shape[-2:]
    pal = np.asarray(colors, dtype=np.float64)
    # Nearest colour per pixel, computed once per distinct colour (masks have few).
    uniq, inverse = np.unique(_codes(pixels), return_inverse=True)
    ucols = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1)
    dist = ((ucols[:, None, :].astype(np.float64) - pal[None, :, :]) ** 2).sum(axis=2)
    label = dist.argmin(axis=1)[inverse.reshape(-1)]
    labels = torch.from_numpy(label.reshape(h, w))
    masks = F.one_hot(labels, num_classes=len(colors)).permute(2, 0, 1).to(torch.float32)
    return colors, masks.contiguous()


def match_mask_palettes(
    content_colors: Sequence[Sequence[int]],
    style_colors: Sequence[Sequence[int]],
    tol: float = DEFAULT_TOL,
) -> list[int]:
    """For each content-mask colour, the index of the style-mask colour that gives its style.

    Colours pair with the nearest style colour within ``tol`` (0-255 Euclidean), so two maps
    saved as JPEG, whose found colours differ by a few levels, still pair up. Style colours
    that no content colour uses are ignored.

    Returns:
        list of len(content_colors) indices into ``style_colors``.
    Raises:
        ConfigError: a content colour has no style region, naming it as #rrggbb.
    """
    if not style_colors:
        raise ConfigError("the style mask has no colours")
    pal = np.asarray([parse_color(c) for c in style_colors], dtype=np.float64)
    out: list[int] = []
    for c in content_colors:
        rgb = parse_color(c)
        d = np.linalg.norm(pal - np.asarray(rgb, dtype=np.float64), axis=1)
        k = int(d.argmin())
        if d[k] > tol:
            have = ", ".join(to_hex(s) for s in style_colors)
            raise ConfigError(
                f"missing style for mask colour {to_hex(rgb)}: the content mask has a "
                f"{to_hex(rgb)} region but the style mask has no such colour (it has {have})"
            )
        out.append(k)
    return out


def downsample_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bring masks to a layer's resolution by area averaging.

    Gatys et al. 2017 (section 3) propagate masks to the feature maps either by resampling or
    by eroding them with the network's receptive fields; area averaging is the resampling
    variant. It is linear, so masks that sum to 1 at every pixel still do: boundary cells get
    fractional weights shared between the regions.

    Args:
        masks: (K, H, W) in [0, 1].
        size: (h, w) of the layer.
    Returns:
        a new float (K, h, w) tensor in [0, 1] (copied when the size already matches).
    """
    if masks.dim() != 3:
        raise ValueError(f"masks must be (K, H, W), got {tuple(masks.shape)}")
    h, w = (int(v) for v in size)
    if h < 1 or w < 1:
        raise ValueError(f"mask size must be positive, got {tuple(size)}")
    m = masks if masks.is_floating_point() else masks.to(torch.float32)
    if tuple(m.shape[-2:]) == (h, w):
        return m.clone()
    # "area" is adaptive average pooling: exact cell means when shrinking, blocky when growing.
    return F.interpolate(m.unsqueeze(0), size=(h, w), mode="area")[0]


def check_mask_size(mask: torch.Tensor, image: torch.Tensor, what: str) -> None:
    """Refuse a mask whose aspect ratio differs from its image's by more than 2%.

    A mask with the image's aspect ratio (any resolution) is resized to the image later; a
    different aspect ratio means the mask was drawn for another picture or crop.

    Args:
        mask, image: tensors whose last two dimensions are (H, W).
        what: names the mask in the message, e.g. ``"content mask"``.
    Raises:
        ConfigError: naming both sizes as WxH.
    """
    mh, mw = int(mask.shape[-2]), int(mask.shape[-1])
    ih, iw = int(image.shape[-2]), int(image.shape[-1])
    if min(mh, mw, ih, iw) < 1:
        raise ConfigError(f"{what} is {mw}x{mh} and its image {iw}x{ih}: a side is zero")
    ratio = (mw / mh) / (iw / ih)
    if abs(ratio - 1.0) > ASPECT_TOLERANCE:
        raise ConfigError(
            f"{what} is {mw}x{mh} but its image is {iw}x{ih}: the aspect ratios differ by "
            f"{abs(ratio - 1.0):.1%} (at most {ASPECT_TOLERANCE:.0%}); draw the mask on the "
            "same picture"
        )

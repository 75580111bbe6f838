"""Colour-coded region masks for spatial control (Gatys et al. 2017, section 3)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from impasto.errors import ConfigError, InvalidImageError
from impasto.io.images import pil_to_tensor
from impasto.preprocess.masks import (
    check_mask_size,
    downsample_masks,
    match_mask_palettes,
    parse_color,
    parse_color_mask,
    to_hex,
)

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def _two_region_map(h: int = 32, w: int = 48, noisy: int = 6) -> torch.Tensor:
    """Left third red, the rest blue, plus ``noisy`` pixels of off-colours."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, : w // 3] = RED
    arr[:, w // 3 :] = BLUE
    rng = np.random.default_rng(0)
    ys, xs = rng.integers(0, h, noisy), rng.integers(w // 3 + 1, w, noisy)
    arr[ys[: noisy // 2], xs[: noisy // 2]] = (40, 10, 230)  # JPEG-ish blue
    arr[ys[noisy // 2 :], xs[noisy // 2 :]] = (110, 0, 150)  # purple, nearer blue
    return torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255.0


def test_parse_two_regions_with_noise() -> None:
    m = _two_region_map()
    before = m.clone()
    colors, masks = parse_color_mask(m)
    assert colors == [BLUE, RED]  # largest region first
    assert masks.shape == (2, 32, 48) and masks.dtype == torch.float32
    assert torch.equal(masks.sum(0), torch.ones(32, 48))  # one-hot
    assert set(masks.unique().tolist()) == {0.0, 1.0}
    assert masks[1].sum() == 32 * 16  # the red third, exactly
    assert masks[0].sum() == 32 * 32  # blue: its own pixels plus the noisy ones
    assert masks[1, :, :16].all() and not masks[1, :, 16:].any()
    assert torch.equal(m, before)


def test_parse_survives_jpeg() -> None:
    arr = np.zeros((48, 48, 3), np.uint8)
    arr[:24] = RED
    arr[24:, :24] = GREEN
    arr[24:, 24:] = BLUE
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=60)
    jpeg = pil_to_tensor(Image.open(io.BytesIO(buf.getvalue())))
    colors, masks = parse_color_mask(jpeg)
    assert len(colors) == 3
    idx = match_mask_palettes([RED, GREEN, BLUE], colors)
    areas = [float(masks[i].sum()) for i in idx]
    assert areas == pytest.approx([24 * 48, 24 * 24, 24 * 24], rel=0.05)


def test_parse_ignores_antialiased_edges() -> None:
    # A red disc on green drawn at 4x and downsampled with Lanczos: a ring of in-between
    # colours (well over 0.5% of the pixels at 48 px) that is no region.
    big = Image.new("RGB", (192, 192), GREEN)
    ImageDraw.Draw(big).ellipse((40, 30, 150, 170), fill=RED)
    small = big.resize((48, 48), Image.Resampling.LANCZOS)
    colors, masks = parse_color_mask(pil_to_tensor(small))
    assert colors == [GREEN, RED]
    area = np.pi * (110 / 8) * (140 / 8)  # the disc's area at 48 px
    assert float(masks[1].sum()) == pytest.approx(area, rel=0.05)


def test_parse_with_given_palette() -> None:
    colors, masks = parse_color_mask(_two_region_map(), palette=["#ff0000", (0, 0, 255)])
    assert colors == [RED, BLUE]
    assert masks[0].sum() == 32 * 16 and masks[1].sum() == 32 * 32
    # one colour: everything belongs to it
    colors, masks = parse_color_mask(_two_region_map(), palette=["#00f"])
    assert colors == [BLUE] and bool(masks.all())


@pytest.mark.parametrize("bad", ["#ff00", "red", (256, 0, 0), (1, 2)])
def test_bad_palette_colour_is_named(bad: object) -> None:
    with pytest.raises(ConfigError, match="is not a colour"):
        parse_color_mask(_two_region_map(), palette=[bad])


def test_parse_rejects_non_image_shapes() -> None:
    with pytest.raises(InvalidImageError, match=r"\(32, 48\)"):
        parse_color_mask(torch.zeros(32, 48))


def test_colour_text() -> None:
    assert to_hex((255, 16, 0)) == "#ff1000"
    assert parse_color("#FF1000") == (255, 16, 0)
    assert parse_color("f10") == (255, 17, 0)


def test_match_palettes_pairs_nearby_colours() -> None:
    assert match_mask_palettes([RED, BLUE], [(2, 1, 250), (253, 3, 0), GREEN]) == [1, 0]


def test_missing_style_colour_is_named() -> None:
    with pytest.raises(ConfigError, match=r"missing style for mask colour #00ff00.*#ff0000"):
        match_mask_palettes([RED, GREEN], [RED, BLUE])


def test_downsample_masks_area_average() -> None:
    _, masks = parse_color_mask(_two_region_map(32, 48))
    small = downsample_masks(masks, (4, 6))
    assert small.shape == (2, 4, 6)
    torch.testing.assert_close(small.sum(0), torch.ones(4, 6))  # still a partition of unity
    # column 2 of 6 covers source columns 16..23: all blue; columns 0-1 all red
    assert torch.equal(small[1, :, :2], torch.ones(4, 2))
    assert torch.equal(small[0, :, 2:], torch.ones(4, 4))
    odd = downsample_masks(masks, (5, 7))  # non-divisible: fractional boundary cells
    torch.testing.assert_close(odd.sum(0), torch.ones(5, 7))
    assert ((odd > 0) & (odd < 1)).any()
    torch.testing.assert_close(odd[1].mean(), masks[1].mean(), atol=0.05, rtol=0)
    same = downsample_masks(masks, (32, 48))
    assert torch.equal(same, masks) and same.data_ptr() != masks.data_ptr()


def test_check_mask_size() -> None:
    image = torch.zeros(1, 3, 32, 48)
    check_mask_size(torch.zeros(1, 3, 64, 96), image, "content mask")  # same aspect: fine
    check_mask_size(torch.zeros(1, 3, 64, 97), image, "content mask")  # 1% off: fine
    with pytest.raises(ConfigError, match=r"style mask is 48x48 .* image is 48x32"):
        check_mask_size(torch.zeros(1, 3, 48, 48), image, "style mask")

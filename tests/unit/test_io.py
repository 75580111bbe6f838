"""Image files in and out (io/images.py) and size maths / resampling (preprocess/resize.py)."""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from impasto.errors import InvalidImageError, OutputError
from impasto.io.images import (
    check_output_path,
    load_image,
    read_metadata,
    save_image,
    tensor_to_pil,
)
from impasto.preprocess.resize import (
    fit_long_side,
    gaussian_blur,
    pyramid_sizes,
    resize,
    resize_long_side,
)

# -- load_image: formats and modes ---------------------------------------------------------------


def _pixels(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) [0, 1] → (H, W, 3) float in 0..255."""
    return x[0].permute(1, 2, 0).numpy() * 255.0


def test_load_rgb_png_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    p = tmp_path / "rgb.png"
    Image.fromarray(arr).save(p)
    x = load_image(p)
    assert x.dtype == torch.float32
    assert x.shape == (1, 3, 20, 30)
    assert x.is_contiguous()
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    np.testing.assert_allclose(_pixels(x), arr, atol=1e-3)


def test_load_accepts_str_path(tmp_path: Path) -> None:
    p = tmp_path / "s.png"
    Image.new("RGB", (5, 4), (10, 20, 30)).save(p)
    assert load_image(str(p)).shape == (1, 3, 4, 5)


def test_load_grayscale(tmp_path: Path) -> None:
    p = tmp_path / "gray.png"
    Image.new("L", (6, 4), 128).save(p)
    x = load_image(p)
    assert x.shape == (1, 3, 4, 6)
    torch.testing.assert_close(x, torch.full((1, 3, 4, 6), 128 / 255))


def test_load_rgba_composites_on_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (4, 2), (0, 0, 0, 0))  # fully transparent black
    img.putpixel((1, 0), (255, 0, 0, 255))  # one opaque red pixel
    img.putpixel((2, 0), (0, 0, 0, 128))  # half-transparent black
    p = tmp_path / "rgba.png"
    img.save(p)
    x = load_image(p)
    assert x.shape == (1, 3, 2, 4)
    torch.testing.assert_close(x[0, :, 1, 0], torch.ones(3))
    torch.testing.assert_close(x[0, :, 0, 1], torch.tensor([1.0, 0.0, 0.0]))
    half = x[0, :, 0, 2]
    assert torch.all((half > 0.4) & (half < 0.6)), half


def test_load_palette(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    img.putpixel((3, 3), 1)
    p = tmp_path / "pal.png"
    img.save(p)
    x = load_image(p)
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(x[0, :, 3, 3], torch.tensor([0.0, 0.0, 1.0]))


def test_load_palette_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 0)
    img.putpalette([0, 0, 0, 0, 255, 0] + [0, 0, 0] * 254)
    img.putpixel((0, 0), 1)
    p = tmp_path / "pal_t.png"
    img.save(p, transparency=0)  # index 0 (black) is transparent
    x = load_image(p)
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([0.0, 1.0, 0.0]))
    torch.testing.assert_close(x[0, :, 2, 2], torch.ones(3))


def test_load_cmyk(tmp_path: Path) -> None:
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 0, 0)).save(p, quality=100)  # magenta
    x = load_image(p)
    assert x.shape == (1, 3, 8, 8)
    r, g, b = (float(v) for v in x[0, :, 4, 4])
    assert r > 0.9 and g < 0.1 and b > 0.9


def test_load_16_bit_grayscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    arr = np.full((6, 5), 32768, dtype=np.uint16)
    arr[0, 0] = 65535
    arr[0, 1] = 0
    p = tmp_path / "gray16.png"
    Image.fromarray(arr).save(p)
    with Image.open(p) as check:
        assert check.mode.startswith("I")  # really a 16-bit file
    x = load_image(p)
    assert x.shape == (1, 3, 6, 5)
    assert float(x[0, 0, 3, 3]) == pytest.approx(0.5, abs=0.01)
    assert float(x[0, 0, 0, 0]) == pytest.approx(1.0)
    assert float(x[0, 0, 0, 1]) == 0.0


def test_load_exif_orientation(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    for x in range(10):  # a red band on the left edge of the stored pixels
        for y in range(20):
            img.putpixel((x, y), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    p = tmp_path / "rotated.jpg"
    img.save(p, exif=exif, quality=95)
    x = load_image(p)
    assert x.shape == (1, 3, 40, 20)  # 20 wide, 40 tall
    # after rotating 90 degrees clockwise the stored left edge is on top
    assert float(x[0, 0, 2, 10]) > 0.8 and float(x[0, 2, 2, 10]) < 0.2
    assert float(x[0, 2, 37, 10]) > 0.8


def test_load_with_srgb_icc_profile(tmp_path: Path) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    p = tmp_path / "icc.png"
    Image.new("RGB", (4, 4), (200, 100, 50)).save(p, icc_profile=icc)
    x = load_image(p)
    np.testing.assert_allclose(_pixels(x)[0, 0], [200, 100, 50], atol=3)


def test_load_pil_image_in_any_mode() -> None:
    x = load_image(Image.new("LA", (3, 2), (50, 255)))
    torch.testing.assert_close(x, torch.full((1, 3, 2, 3), 50 / 255))


def test_load_zero_size_pil_image() -> None:
    with pytest.raises(InvalidImageError, match="zero side"):
        load_image(Image.new("RGB", (0, 5)))


# -- load_image: tensors -------------------------------------------------------------------------


def test_load_tensor_is_copied_not_aliased() -> None:
    t = torch.rand(1, 3, 4, 5)
    before = t.clone()
    x = load_image(t)
    assert x is not t
    assert x.data_ptr() != t.data_ptr()
    torch.testing.assert_close(x, t)
    x.fill_(0.0)
    assert torch.equal(t, before)


# BUG (src/impasto/io/images.py): load_image(tensor) copies with ``clone()``, which keeps the
# caller's strides; a permuted HWC tensor stays non-contiguous and later breaks L-BFGS
# (see test_api.py::test_stylize_accepts_permuted_hwc_tensor). The docstring promises "a fresh
# float32 (1, 3, H, W) tensor"; it should be contiguous like the file path's result.
def test_load_tensor_returns_contiguous_copy() -> None:
    hwc = torch.rand(4, 5, 3)
    x = load_image(hwc.permute(2, 0, 1)[None])
    torch.testing.assert_close(x, hwc.permute(2, 0, 1)[None])
    assert x.is_contiguous()


def test_load_tensor_3d_and_dtype() -> None:
    t = torch.rand(3, 4, 5, dtype=torch.float64)
    x = load_image(t)
    assert x.shape == (1, 3, 4, 5) and x.dtype == torch.float32
    assert t.dtype == torch.float64


def test_load_tensor_requiring_grad_is_detached() -> None:
    t = torch.rand(1, 3, 4, 4, requires_grad=True)
    assert not load_image(t).requires_grad


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (1, 4, 4, 4), (4, 4), (1, 3, 0, 4)])
def test_load_tensor_bad_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidImageError, match=r"\(" + ", ".join(map(str, shape))):
        load_image(torch.zeros(shape))


# -- load_image: bad files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "missing",
        "directory",
        "text",
        "truncated_jpeg",
        "truncated_png",
        "corrupt_png",
        "zero_side",
        "bomb",
    ],
)
def test_bad_files_raise_invalid_image_naming_path(bad_images: dict[str, Path], name: str) -> None:
    p = bad_images[name]
    with pytest.raises(InvalidImageError) as info:
        load_image(p)
    assert str(p) in str(info.value)
    assert "\n" not in str(info.value)


def test_bomb_message_says_too_large(bad_images: dict[str, Path]) -> None:
    with pytest.raises(InvalidImageError, match="too large"):
        load_image(bad_images["bomb"])


def test_missing_file_message(bad_images: dict[str, Path]) -> None:
    with pytest.raises(InvalidImageError, match="not found"):
        load_image(bad_images["missing"])


# -- save_image, read_metadata, check_output_path ------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith(".part") or n.startswith(".")]


def test_save_png_round_trip_with_metadata(tmp_path: Path) -> None:
    t = torch.rand(1, 3, 7, 9, generator=torch.Generator().manual_seed(0))
    p = save_image(t, tmp_path / "out.png", {"impasto": '{"seed": 3}', "Software": "impasto"})
    assert p == tmp_path / "out.png" and p.is_file()
    with Image.open(p) as img:
        assert img.format == "PNG" and img.size == (9, 7)
    meta = read_metadata(p)
    assert meta["impasto"] == '{"seed": 3}'
    assert meta["Software"] == "impasto"
    back = load_image(p)
    torch.testing.assert_close(back, (t * 255).round() / 255, atol=1e-6, rtol=0)
    assert _leftovers(tmp_path) == []


def test_large_pngs_are_written_fast_and_still_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import impasto.io.images as images

    # a smooth picture with a little noise: zlib level 6 packs it tighter than level 1
    y, x = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 128), indexing="ij")
    noise = 0.02 * torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    t = (torch.stack([x, y, x * y]).unsqueeze(0) + noise).clamp(0, 1)
    assert images.png_speed(4096 * 3072) == {"compress_level": 1}
    assert images.png_speed(1024 * 768) == {}
    slow = save_image(t, tmp_path / "slow.png", {"impasto": "{}"}).stat().st_size
    monkeypatch.setattr(images, "PNG_FAST_ABOVE", 96 * 128 - 1)
    fast_path = save_image(t, tmp_path / "fast.png", {"impasto": "{}"})
    assert fast_path.stat().st_size > slow  # the faster level was used
    assert torch.equal(load_image(fast_path), load_image(tmp_path / "slow.png"))
    assert read_metadata(fast_path) == {"impasto": "{}"}


def test_save_clamps_out_of_range_values(tmp_path: Path) -> None:
    t = torch.tensor([-1.0, 0.5, 2.0]).view(1, 3, 1, 1)
    back = load_image(save_image(t, tmp_path / "c.png"))
    torch.testing.assert_close(back[0, :, 0, 0], torch.tensor([0.0, 128 / 255, 1.0]))


def test_save_does_not_modify_tensor(tmp_path: Path) -> None:
    t = torch.tensor([-1.0, 0.5, 2.0]).view(1, 3, 1, 1)
    before = t.clone()
    save_image(t, tmp_path / "c.png")
    assert torch.equal(t, before)


@pytest.mark.parametrize(
    ("ext", "fmt"), [(".jpg", "JPEG"), (".jpeg", "JPEG"), (".JPG", "JPEG"), (".webp", "WEBP")]
)
def test_save_format_follows_extension(tmp_path: Path, ext: str, fmt: str) -> None:
    t = torch.full((1, 3, 8, 8), 0.5)
    p = save_image(t, tmp_path / f"out{ext}", {"ignored": "x"})
    with Image.open(p) as img:
        assert img.format == fmt
    assert float((load_image(p) - 0.5).abs().max()) < 0.02
    assert read_metadata(p).get("ignored") is None
    assert _leftovers(tmp_path) == []


def test_save_replaces_existing_file(tmp_path: Path) -> None:
    p = tmp_path / "out.png"
    p.write_bytes(b"old")
    save_image(torch.zeros(1, 3, 2, 2), p)
    assert load_image(p).shape == (1, 3, 2, 2)
    assert _leftovers(tmp_path) == []


def test_save_is_atomic_when_encoding_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "keep.png"
    p.write_bytes(b"previous result")

    def broken_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"half a PNG")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OutputError, match="disk full"):
        save_image(torch.zeros(1, 3, 4, 4), p)
    assert p.read_bytes() == b"previous result"
    assert _leftovers(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["keep.png"]


# BUG (src/impasto/io/images.py): save_image writes through tempfile.mkstemp, which creates the
# file with mode 0600, and os.replace keeps that mode, so every output image is readable only
# by its owner (a web server or another user cannot read it) instead of following the umask
# like a normal file (0644 with the usual umask 022). Fix: os.chmod(tmp, 0o666 & ~umask)
# before os.replace.
def test_saved_file_permissions_follow_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        p = save_image(torch.zeros(1, 3, 2, 2), tmp_path / "perm.png")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(p.stat().st_mode)
    assert mode == 0o644, f"output written with mode {oct(mode)}, expected 0o644 under umask 022"


def test_check_output_path_accepts_known_extensions(tmp_path: Path) -> None:
    for name in ("a.png", "b.JPG", "c.jpeg", "d.webp"):
        assert check_output_path(tmp_path / name) == tmp_path / name


@pytest.mark.parametrize("name", ["out.gif", "out.bmp", "out"])
def test_check_output_path_unknown_extension(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputError, match="extension") as info:
        check_output_path(tmp_path / name)
    msg = str(info.value)
    assert name in msg
    for ext in (".png", ".jpg", ".webp"):
        assert ext in msg


def test_check_output_path_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_folder"
    with pytest.raises(OutputError, match="does not exist") as info:
        check_output_path(missing / "out.png")
    assert str(missing) in str(info.value)
    assert not missing.exists()


def test_check_output_path_directory(tmp_path: Path) -> None:
    d = tmp_path / "looks_like.png"
    d.mkdir()
    with pytest.raises(OutputError, match="directory") as info:
        check_output_path(d)
    assert str(d) in str(info.value)


def test_save_to_bad_path_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        save_image(torch.zeros(1, 3, 2, 2), tmp_path / "out.gif")
    assert os.listdir(tmp_path) == []


def test_tensor_to_pil_rejects_batches() -> None:
    with pytest.raises(ValueError, match="batch of 2"):
        tensor_to_pil(torch.zeros(2, 3, 2, 2))
    img = tensor_to_pil(torch.ones(3, 2, 5))
    assert img.mode == "RGB" and img.size == (5, 2)
    assert img.getpixel((0, 0)) == (255, 255, 255)


# -- preprocess: sizes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("h", "w", "long", "expected"),
    [
        (30, 40, 20, (15, 20)),
        (40, 30, 20, (20, 15)),
        (100, 100, 32, (32, 32)),
        (20, 40, 64, (32, 64)),  # enlarging
        (3, 1000, 10, (1, 10)),  # never below 1 pixel
        (33, 50, 32, (21, 32)),  # rounds 21.12 down
        (27, 40, 32, (22, 32)),  # rounds 21.6 up
    ],
)
def test_fit_long_side(h: int, w: int, long: int, expected: tuple[int, int]) -> None:
    assert fit_long_side(h, w, long) == expected


@pytest.mark.parametrize(("size", "min_size"), [(512, 128), (64, 16), (32, 16)])
def test_pyramid_one_scale_is_just_size(size: int, min_size: int) -> None:
    assert pyramid_sizes(size, 1, min_size) == [size]


def test_pyramid_geometric() -> None:
    assert pyramid_sizes(512, 3, 128) == [128, 256, 512]
    assert pyramid_sizes(32, 2, 16) == [16, 32]
    sizes = pyramid_sizes(500, 4, 100)
    assert sizes[0] == 100 and sizes[-1] == 500 and len(sizes) == 4
    ratios = [b / a for a, b in itertools.pairwise(sizes)]
    assert max(ratios) - min(ratios) < 0.05


@pytest.mark.parametrize(
    ("size", "scales", "min_size"), [(32, 10, 30), (20, 8, 16), (100, 50, 99), (64, 5, 16)]
)
def test_pyramid_increasing_without_duplicates(size: int, scales: int, min_size: int) -> None:
    sizes = pyramid_sizes(size, scales, min_size)
    assert sizes[-1] == size
    assert sizes[0] == min_size
    assert len(sizes) <= scales
    assert all(b > a for a, b in itertools.pairwise(sizes))


def test_pyramid_min_size_not_below_size() -> None:
    assert pyramid_sizes(64, 3, 64) == [64]
    assert pyramid_sizes(64, 3, 128) == [64]


# -- preprocess: resampling ----------------------------------------------------------------------


def test_gaussian_blur_preserves_constant_image() -> None:
    x = torch.full((1, 3, 12, 10), 0.37)
    torch.testing.assert_close(gaussian_blur(x, 2.0), x)


def test_gaussian_blur_reduces_noise_variance_and_keeps_mean() -> None:
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    before = x.clone()
    y = gaussian_blur(x, 1.5)
    assert y.shape == x.shape
    assert float(y.var()) < 0.25 * float(x.var())
    assert float(y.mean()) == pytest.approx(float(x.mean()), abs=0.02)
    assert torch.equal(x, before)


def test_gaussian_blur_zero_sigma_is_a_copy() -> None:
    x = torch.rand(1, 3, 4, 4)
    y = gaussian_blur(x, 0.0)
    assert torch.equal(y, x) and y.data_ptr() != x.data_ptr()


def test_gaussian_blur_tiny_image_with_big_sigma() -> None:
    x = torch.rand(1, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    y = gaussian_blur(x, 10.0)  # radius clipped to fit the image
    assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("size", [(8, 8), (16, 12), (40, 30)])
def test_resize_returns_new_tensor_and_keeps_input(size: tuple[int, int]) -> None:
    x = torch.rand(1, 3, 16, 12, generator=torch.Generator().manual_seed(2))
    before = x.clone()
    y = resize(x, size)
    assert y.shape == (1, 3, *size)
    assert y.data_ptr() != x.data_ptr()
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    y.fill_(0.5)
    assert torch.equal(x, before)


def test_resize_long_side_keeps_aspect() -> None:
    x = torch.rand(1, 3, 30, 60)
    assert resize_long_side(x, 20).shape == (1, 3, 10, 20)


def test_resize_shrinking_antialiases_stripes() -> None:
    # one-pixel stripes shrunk 4x: antialiasing averages them to grey instead of aliasing
    x = torch.zeros(1, 3, 32, 32)
    x[..., ::2] = 1.0
    y = resize(x, (8, 8))
    assert float((y - 0.5).abs().max()) < 0.1


def test_pyramid_adds_scales_so_neighbours_differ_at_most_twofold() -> None:
    from impasto.preprocess.resize import pyramid_sizes

    sizes = pyramid_sizes(4096, 4, 128)
    assert sizes[0] == 128 and sizes[-1] == 4096 and len(sizes) == 6
    assert all(b / a <= 2.0 + 1e-9 for a, b in itertools.pairwise(sizes))
    assert len(pyramid_sizes(512, 4, 128)) == 4  # small outputs keep the asked-for count

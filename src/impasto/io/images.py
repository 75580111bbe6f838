"""Image files in and out.

One convention everywhere else: float32 sRGB in [0, 1], shape (1, 3, H, W). This module turns
any file Pillow can decode (grayscale, palette, RGBA, CMYK, 16-bit, EXIF-rotated, with an ICC
profile) into that, and writes tensors back atomically (temp file, then rename), so a failed or
interrupted run never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from impasto.errors import InvalidImageError
from impasto.io.atomic import atomic_output, check_writable

# Output formats by extension, with the Pillow format name and save options.
OUTPUT_FORMATS: dict[str, tuple[str, dict[str, int]]] = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 95, "subsampling": 0}),
    ".jpeg": ("JPEG", {"quality": 95, "subsampling": 0}),
    ".webp": ("WEBP", {"quality": 95}),
}

ImageLike = str | os.PathLike[str] | Image.Image | torch.Tensor

# PNGs above this many pixels are written with zlib level 1 instead of Pillow's 6: a 4096 x
# 3072 picture took 7.2 s at 6 and 1.3 s at 1, for 15 MiB instead of 13 (Zen 4, docs/upscale.md).
PNG_FAST_ABOVE = 4_000_000


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and 32-bit grayscale: Pillow's own conversion to L clips at 255, so scale.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode != "F" else max(float(arr.max()), 1.0)
        if img.mode == "I" and arr.max() <= 255:
            top = 255.0
        arr8 = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr8, mode="L").convert("RGB")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "La", "PA"):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, img.convert("RGBA")).convert("RGB")
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert from an embedded ICC profile to sRGB, so colours mean the same in every file."""
    if not icc or img.mode not in ("RGB", "CMYK"):
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(img, src, dst, outputMode="RGB")
        return out if out is not None else img
    except (ImageCms.PyCMSError, OSError, ValueError):
        return img  # a broken profile is not worth refusing the picture for


@contextlib.contextmanager
def _refusals(p: Path) -> Iterator[None]:
    """Pillow's failures on ``p`` as one line of InvalidImageError: past its pixel limit,
    not an image, corrupt or truncated."""
    try:
        with warnings.catch_warnings():
            # Pillow warns between its pixel limit and twice it; refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidImageError(
            f"{p} is too large to decode safely ({e}); Pillow's limit is "
            f"{Image.MAX_IMAGE_PIXELS} pixels"
        ) from None
    except UnidentifiedImageError:
        raise InvalidImageError(f"{p} is not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InvalidImageError(f"{p} is corrupt or truncated: {e}") from None


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(w, h) from the file's header, without decoding it; InvalidImageError for a file that
    is not an image, or one past Pillow's pixel limit (as :func:`open_image` refuses it)."""
    p = Path(path)
    if p.is_dir():
        raise InvalidImageError(f"expected an image file but {p} is a directory")
    with _refusals(p), Image.open(p) as img:
        return img.size


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Decode ``path`` fully into an upright 8-bit RGB Pillow image, or raise InvalidImageError."""
    p = Path(path)
    if not p.exists():
        raise InvalidImageError(f"image file not found: {p}")
    if p.is_dir():
        raise InvalidImageError(f"expected an image file but {p} is a directory")
    with _refusals(p), Image.open(p) as opened:
        opened.load()
        icc = opened.info.get("icc_profile")
        img: Image.Image = ImageOps.exif_transpose(opened) or opened
        img = _to_srgb(img, icc) if img.mode in ("RGB", "CMYK") else img
        rgb = _to_rgb(img)
    if rgb.width == 0 or rgb.height == 0:
        raise InvalidImageError(f"{p} has a zero side ({rgb.width}x{rgb.height})")
    return rgb


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """8-bit RGB Pillow image → float32 (1, 3, H, W) in [0, 1]."""
    arr = np.asarray(_to_rgb(img), dtype=np.float32) / 255.0
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_pil(x: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) float in [0, 1] → 8-bit RGB Pillow image (values clamped)."""
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {x.shape[0]}")
        x = x[0]
    arr = (x.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    return Image.fromarray(arr.permute(1, 2, 0).cpu().numpy(), mode="RGB")


def load_image(src: ImageLike) -> torch.Tensor:
    """A path, Pillow image or tensor → a fresh float32 (1, 3, H, W) tensor in [0, 1].

    Tensors are copied, never modified; (3, H, W) is accepted too.
    """
    if isinstance(src, torch.Tensor):
        x = src.detach().to(torch.float32)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise InvalidImageError(f"expected a (1, 3, H, W) tensor, got {tuple(src.shape)}")
        if x.shape[2] == 0 or x.shape[3] == 0:
            raise InvalidImageError(f"image tensor has a zero side {tuple(src.shape)}")
        return x.contiguous().clone()
    if isinstance(src, Image.Image):
        if src.width == 0 or src.height == 0:
            raise InvalidImageError(f"image has a zero side ({src.width}x{src.height})")
        return pil_to_tensor(src)
    return pil_to_tensor(open_image(src))


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Fail early, before any work, if ``path`` cannot be written as an image."""
    return check_writable(path, OUTPUT_FORMATS, "output")


def save_image(
    image: torch.Tensor | Image.Image,
    path: str | os.PathLike[str],
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write ``image`` to ``path`` atomically; the format follows the extension.

    ``metadata`` becomes PNG text chunks (other formats carry none).
    """
    p = check_output_path(path)
    fmt, options = OUTPUT_FORMATS[p.suffix.lower()]
    img = image if isinstance(image, Image.Image) else tensor_to_pil(image)
    opts: dict[str, int | PngInfo] = dict(options)
    if fmt == "PNG":
        opts.update(png_speed(img.width * img.height))
    if fmt == "PNG" and metadata:
        info = PngInfo()
        for k, v in metadata.items():
            info.add_itxt(k, v)
        opts["pnginfo"] = info
    with atomic_output(p) as f:
        img.save(f, format=fmt, **opts)
    return p


def png_speed(pixels: int) -> dict[str, int]:
    """Pillow's PNG options for a picture of ``pixels``: the fastest zlib level for large
    pictures (see PNG_FAST_ABOVE), Pillow's default below."""
    return {"compress_level": 1} if pixels > PNG_FAST_ABOVE else {}


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The PNG text chunks of ``path`` (empty for other formats)."""
    with Image.open(path) as img:
        img.load()
        text = getattr(img, "text", None)
        return dict(text) if text else {}

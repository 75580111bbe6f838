"""Where the studio's images come from: the bundled samples (by name) and checked uploads.

An upload is written under a server-made id and accepted only once it decodes fully; its type
is what its bytes say, never its file name or the client's Content-Type.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import impasto.data
from impasto.errors import InvalidImageError
from impasto.io.images import open_image

SAMPLES_DIR = Path(impasto.data.__file__).parent / "samples"

# The fixed list of sample names a client may ask for; a name is looked up here and nothing a
# client sends is ever joined to a path.
SAMPLES: dict[str, Path] = {p.stem: p for p in sorted(SAMPLES_DIR.glob("*.jpg"))}

# What the page and the gallery call each sample (short enough for the page's sample buttons).
SAMPLE_LABELS: dict[str, str] = {
    "tubingen": "Tübingen",
    "golden_gate": "Golden Gate",
    "starry_night": "Starry Night",
    "the_scream": "The Scream",
    "shipwreck": "Shipwreck",
}


def sample_label(name: str) -> str:
    return SAMPLE_LABELS.get(name, name.replace("_", " "))


# Kinds of sample, for the page's suggestions (anything not listed is offered for both).
SAMPLE_ROLES: dict[str, str] = {
    "tubingen": "content",
    "golden_gate": "content",
    "starry_night": "style",
    "the_scream": "style",
    "shipwreck": "style",
}

# Formats an upload may have, by what Pillow finds in its bytes. Pillow knows many more (EPS
# would even start Ghostscript); the studio only opens these.
ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

MEDIA_TYPES: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}


# Formats every browser shows in an <img>; an upload of another allowed format (TIFF) is shown
# to the page as a PNG rendition (see render_png).
BROWSER_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP")

RENDITION_MAX_SIDE = 2048  # the page shows inputs in small boxes; a rendition needs no more


class UploadError(Exception):
    """An upload the studio refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class CheckedImage:
    format: str
    width: int
    height: int


def display_name(filename: str | None, fallback: str = "upload") -> str:
    """A client's file name made safe to show: the last path part, printable, at most 80
    characters. It is a label only and never used as a path."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name or fallback)[:80]


def check_image(path: Path, name: str, max_pixels: int) -> CheckedImage:
    """Refuse ``path`` unless it is a complete image of an allowed format with at most
    ``max_pixels`` pixels. The header is read first so that a decompression bomb is refused
    before its pixels are decoded; the full decode is impasto.io's, as for every run.
    """
    # Pillow is touched here only to read the header; decoding is io.images' job.
    from PIL import Image, UnidentifiedImageError

    allowed = ", ".join(ALLOWED_FORMATS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=ALLOWED_FORMATS) as img:
                fmt, (width, height) = str(img.format), img.size
    except UnidentifiedImageError:
        raise UploadError(
            415, f"{name} is not an image the studio can read (allowed: {allowed})"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            413, f"{name} has too many pixels; the limit is {max_pixels:,} pixels"
        ) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UploadError(422, f"{name} is corrupt: {e}") from None
    if width * height > max_pixels:
        raise UploadError(
            413,
            f"{name} is {width}x{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,} pixels",
        )
    if width == 0 or height == 0:
        raise UploadError(422, f"{name} has a zero side ({width}x{height})")
    try:
        open_image(path)
    except InvalidImageError as e:
        # The message names our temp file; show the client's name instead.
        raise UploadError(422, str(e).replace(str(path), name)) from None
    return CheckedImage(fmt, width, height)


def header_size(path: Path) -> tuple[int, int]:
    """The (width, height) an image's header states (read without decoding its pixels), of a
    sample or an upload that :func:`check_image` accepted."""
    from PIL import Image

    with Image.open(path, formats=ALLOWED_FORMATS) as img:
        width, height = img.size
    return width, height


def render_png(path: Path, max_side: int = RENDITION_MAX_SIDE) -> bytes:
    """A PNG of a checked upload for the page (browsers cannot show TIFF): decoded as for a
    run (EXIF orientation, sRGB), its long side at most ``max_side``."""
    img = open_image(path)
    img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()

"""Small Pillow helpers shared by the animation and the contact sheet: fonts, text, paths."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from impasto.io.atomic import check_writable

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


def font(size: int) -> Font:
    """Pillow's bundled default font at ``size`` px (a bitmap font on Pillow < 10.1)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1 has one fixed size
        return ImageFont.load_default()


def text_size(text: str, f: Font) -> tuple[int, int]:
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox(
        (0, 0), text, font=f
    )
    return int(right - left), int(bottom - top)


def line_height(f: Font) -> int:
    # "Ag" spans ascender and descender, so lines never touch.
    return text_size("Ag", f)[1] + 3


def wrap(words: Iterable[str], f: Font, width: int, sep: str = "  ") -> list[str]:
    """Greedy word wrap of ``words`` (kept whole) into lines at most ``width`` px wide."""
    lines: list[str] = []
    for w in words:
        if lines and text_size(lines[-1] + sep + w, f)[0] <= width:
            lines[-1] += sep + w
        else:
            lines.append(w)
    return lines


def draw_lines(
    draw: ImageDraw.ImageDraw,
    lines: list[str],
    f: Font,
    box: tuple[int, int, int],
    *,
    center: bool = True,
) -> None:
    """Write ``lines`` from ``box`` = (left, top, width), centred in the width by default."""
    left, top, width = box
    step = line_height(f)
    for i, line in enumerate(lines):
        w = text_size(line, f)[0]
        x = left + (width - w) // 2 if center else left
        draw.text((x, top + i * step), line, fill=INK, font=f)


def fit(img: Image.Image, box: tuple[int, int]) -> Image.Image:
    """``img`` scaled (up or down, aspect kept) to fit inside ``box`` = (W, H)."""
    scale = min(box[0] / img.width, box[1] / img.height)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS) if size != img.size else img.copy()


def check_path(path: str | os.PathLike[str], formats: Iterable[str], flag: str) -> Path:
    """Fail before any work if ``path`` cannot be written as one of ``formats``."""
    return check_writable(path, formats, flag)

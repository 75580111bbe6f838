"""What the studio's screenshot scripts share (screenshot_instant.py, screenshot_video.py): a
studio on a temporary data folder with MODEL copied into a temporary ``IMPASTO_MODELS``, a page
in Debian's chromium driven as the browser test drives it, and the screenshot written at 256
colours. Not a test module (pytest does not collect it)."""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from test_web_browser import CHROMIUM, CHROMIUM_ARGS
from web_helpers import serving

from impasto.web import create_app

# Drives a ready page to what the screenshot shows: (page, the model's file name, size).
Drive = Callable[[Any, str, int], None]


def shoot(drive: Drive, model: Path, out: Path, size: int, timeout_ms: int) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models"
        models.mkdir()
        shutil.copy(model, models / model.name)
        os.environ["IMPASTO_MODELS"] = str(models)
        app = create_app(Path(tmp) / "studio", poll_interval=0.02, device="cpu")
        with serving(app) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(timeout_ms)
                page.goto(url + "/")
                page.wait_for_selector("body[data-ready='1']")
                drive(page, model.name, size)
                shot = page.screenshot(full_page=True)
            finally:
                browser.close()
    # 256 colours: a third of the bytes, and no difference to see in a screenshot of a page.
    img = Image.open(io.BytesIO(shot)).convert("RGB")
    out.parent.mkdir(parents=True, exist_ok=True)
    img.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)


def main(doc: str, drive: Drive, size: int, size_help: str, timeout_ms: int) -> None:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("model", type=Path, help="a style network (.safetensors or .onnx)")
    parser.add_argument("output", type=Path, help="the PNG to write")
    parser.add_argument("--size", type=int, default=size, help=size_help)
    args = parser.parse_args()
    shoot(drive, args.model, args.output, args.size, timeout_ms)
    print(f"wrote {args.output}")

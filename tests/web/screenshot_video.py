"""The screenshot of docs/studio.md's Video mode, taken as the browser test drives the page
(Playwright and Debian's chromium): a studio on a temporary data folder, MODEL copied into a
temporary ``IMPASTO_MODELS``, the bundled street clip stylised by the network route, the
result paused half-way through.

    python tests/web/screenshot_video.py MODEL.safetensors docs/images/studio-video.png

Not a test (pytest does not collect it); it needs no VGG weights (no optimisation runs).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
from pathlib import Path

from PIL import Image
from test_web_browser import CHROMIUM, CHROMIUM_ARGS
from web_helpers import serving

from impasto.web import create_app


def shoot(model: Path, out: Path, size: int) -> None:
    from playwright.sync_api import expect, sync_playwright

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
                page.set_default_timeout(300_000)
                page.goto(url + "/")
                page.wait_for_selector("body[data-ready='1']")
                page.click("#mode-video")
                page.click("#clip-sample-street")
                page.check("#route-network")
                page.select_option("#video-model", f"user:{model.name}")
                page.fill("#v-size", str(size))
                page.click("#video-start")
                expect(page.locator("#stat-status")).to_have_text("done", timeout=300_000)
                page.wait_for_function("document.getElementById('result-video').readyState >= 2")
                page.evaluate(
                    "(() => { const v = document.getElementById('result-video');"
                    " v.pause(); v.currentTime = v.duration / 2; })()"
                )
                # Polled by evaluate: the page's CSP refuses wait_for_function's eval.
                seeked = "(() => { const v = document.getElementById('result-video');"
                seeked += " return !v.seeking && v.readyState >= 2; })()"
                while not page.evaluate(seeked):
                    page.wait_for_timeout(100)
                page.wait_for_timeout(1500)
                shot = page.screenshot(full_page=True)
            finally:
                browser.close()
    # 256 colours: a third of the bytes, and no difference to see in a screenshot of a page.
    img = Image.open(io.BytesIO(shot)).convert("RGB")
    out.parent.mkdir(parents=True, exist_ok=True)
    img.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a style network (.safetensors or .onnx)")
    parser.add_argument("output", type=Path, help="the PNG to write")
    parser.add_argument("--size", type=int, default=384, help="the frames' long side (px)")
    args = parser.parse_args()
    shoot(args.model, args.output, args.size)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

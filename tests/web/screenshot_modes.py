"""The screenshots of docs/studio.md's four modes after a reload, taken as the browser tests
drive the page (Playwright and Debian's chromium): a studio on a temporary data folder with the
real VGG weights and the bundled style networks, one small job run in each mode, the page
reloaded, then each mode shown (its settings, its inputs and its own latest job came back).

    python tests/web/screenshot_modes.py docs/images

writes studio-reload-{image,audio,instant,video}.png there. Not a test (pytest does not
collect it); the Images job is a real optimisation (128 px, 40 steps: a minute or three
on a shared 2-core machine), the Audio job a small one (8 kHz, 256 filters, 25 steps).
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image
from test_web_browser import CHROMIUM, CHROMIUM_ARGS
from web_helpers import serving

from impasto.web import create_app

MODES = ("image", "audio", "instant", "video")
DONE = 600_000  # ms: a bound on a hang only (the machine may be shared)


def run_and_wait(page: Any, start: str) -> None:
    from playwright.sync_api import expect

    page.click(start)
    expect(page.locator("#stat-status")).to_have_text("done", timeout=DONE)


def drive(page: Any) -> None:
    """One job per mode, each with settings that a reload must bring back."""
    page.click("#content-sample-tubingen")
    page.click("#style-sample-starry_night")
    page.fill("#f-size", "128")
    page.fill("#f-steps", "40")
    run_and_wait(page, "#start")

    page.click("#mode-audio")
    page.click("#audio-content-sound-speech")
    page.click("#audio-style-sound-cello")
    page.click("#audio-advanced summary")
    for name, value in (("sample_rate", "8000"), ("n_fft", "512"), ("filters", "256")):
        page.fill(f"#a-{name}", value)  # a small model: seconds, not the default's minutes
    page.fill("#a-steps", "25")
    run_and_wait(page, "#audio-start")

    page.click("#mode-instant")
    page.click("#instant-models .model[data-ref='bundled:the_scream.safetensors']")
    page.click("#photo-sample-golden_gate")
    page.fill("#i-size", "384")
    run_and_wait(page, "#instant-start")

    page.click("#mode-video")
    page.click("#clip-sample-street")
    page.check("#route-network")
    page.select_option("#video-model", "bundled:starry_night.safetensors")
    page.fill("#v-frames", "0:10")
    page.fill("#v-size", "256")
    run_and_wait(page, "#video-start")


def settle(page: Any) -> None:
    """Wait until every picture and player on the page has loaded what it shows."""
    ready = """(() => [...document.images].every(i => !i.src || i.complete)
        && [...document.querySelectorAll('video, audio')]
             .every(m => !m.src || m.hidden || m.preload === 'none' || m.readyState >= 2))()"""
    # Polled by evaluate: the page's CSP refuses wait_for_function's eval.
    for _ in range(300):
        if page.evaluate(ready):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)


def save(shot: bytes, out: Path) -> None:
    # 256 colours: a third of the bytes, and no difference to see in a screenshot of a page.
    img = Image.open(io.BytesIO(shot)).convert("RGB")
    img.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the four PNGs go")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Path(tmp) / "studio", poll_interval=0.05, device="cpu")
        with serving(app) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(DONE)
                page.goto(url + "/")
                page.wait_for_selector("body[data-ready='1']")
                drive(page)
                page.reload()
                page.wait_for_selector("body[data-ready='1']")
                for mode in MODES:
                    page.click(f"#mode-{mode}")
                    settle(page)
                    save(page.screenshot(), args.folder / f"studio-reload-{mode}.png")
            finally:
                browser.close()


if __name__ == "__main__":
    main()

"""The screenshot of docs/studio.md's Video mode, taken as the browser test drives the page
(Playwright and Debian's chromium): a studio on a temporary data folder, MODEL copied into a
temporary ``IMPASTO_MODELS``, the bundled street clip stylised by the network route, the
result paused half-way through.

    python tests/web/screenshot_video.py MODEL.safetensors docs/images/studio-video.png

Not a test (pytest does not collect it); it needs no VGG weights (no optimisation runs).
"""

from __future__ import annotations

from typing import Any

from screenshots import main


def drive(page: Any, model: str, size: int) -> None:
    from playwright.sync_api import expect

    page.click("#mode-video")
    page.click("#clip-sample-street")
    page.check("#route-network")
    page.select_option("#video-model", f"user:{model}")
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


if __name__ == "__main__":
    main(__doc__ or "", drive, 384, "the frames' long side (px)", 300_000)

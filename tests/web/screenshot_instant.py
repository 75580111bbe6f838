"""The screenshot of docs/studio.md's Instant mode, taken as the browser test drives the page
(Playwright and Debian's chromium): a studio on a temporary data folder, MODEL copied into a
temporary ``IMPASTO_MODELS`` beside the bundled networks, two photos painted with it.

    python tests/web/screenshot_instant.py MODEL.safetensors docs/images/studio-instant.png

Not a test (pytest does not collect it); it needs no VGG weights (no optimisation runs).
"""

from __future__ import annotations

from typing import Any

from screenshots import main


def drive(page: Any, model: str, size: int) -> None:
    from playwright.sync_api import expect

    page.click("#mode-instant")
    page.click(f"#instant-models .model[data-ref='user:{model}']")
    page.fill("#i-size", str(size))
    for done, photo in enumerate(("golden_gate", "tubingen"), start=1):
        page.click(f"#photo-sample-{photo}")
        page.click("#instant-start")
        cards = page.locator("#gallery .card[data-status='done']")
        expect(cards).to_have_count(done)
        expect(page.locator("#stat-status")).to_have_text("done")
    page.wait_for_function("document.getElementById('preview').complete")
    page.wait_for_function("[...document.querySelectorAll('#gallery img')].every(i => i.complete)")


if __name__ == "__main__":
    main(__doc__ or "", drive, 512, "the pictures' long side (px)", 120_000)

"""Photo mode in the page, in Debian's chromium (as test_web_browser.py): its tab, its form at
photo mode's defaults, a refusal in its own error box, a tiny run to done with the photorealism
term shown, its card in the gallery with Enlarge, and its settings after a reload."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest
from test_web_browser import CHROMIUM, studio_page
from web_helpers import png_bytes, serving

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing: `make install` installs Debian's chromium package",
)


@pytest.fixture
def server(make_app) -> Iterator[str]:
    with serving(make_app(preview_interval=0.0, poll_interval=0.02)) as url:
        yield url


def half_and_half() -> bytes:
    img = np.zeros((32, 48, 3), np.uint8)
    img[:, :24] = (255, 0, 0)
    img[:, 24:] = (0, 0, 255)
    return png_bytes(img)


@pytest.mark.precision
def test_photo_mode_runs_a_job_and_refuses_one_map(server: str) -> None:
    from playwright.sync_api import expect

    with studio_page(server) as (page, errors):
        page.click("#mode-photo")
        expect(page.locator("#photo-setup")).to_be_visible()
        expect(page.locator("#showing")).to_contain_text("pick a photo and a reference photo")
        # `impasto photo`'s defaults, shown at once.
        expect(page.locator("#ph-main-fields #p-photo_weight")).to_have_value("1000000000000")
        expect(page.locator("#ph-main-fields #p-steps")).to_have_value("60")
        expect(page.locator("#ph-main-fields #p-scales")).to_have_value("3")

        page.click("#ph-start")
        expect(page.locator("#ph-error")).to_contain_text("Pick a photo and a reference photo")
        page.click("#ph-photo-sample-tubingen")
        page.click("#ph-reference-sample-golden_gate")
        expect(page.locator("#ph-reference-name")).to_have_text("Golden Gate")

        # One region map without the other: the api's own refusal, in Photo mode's box.
        page.click("#ph-maps summary")
        page.set_input_files(
            "#ph-cmask-file",
            files=[{"name": "map.png", "mimeType": "image/png", "buffer": half_and_half()}],
        )
        expect(page.locator("#ph-cmask-name")).to_have_text("map.png (48\u00d732)")
        page.click("#ph-start")
        expect(page.locator("#ph-error")).to_have_text(
            "give both region maps (the photo's and the reference's) or neither"
        )
        expect(page.locator("#stat-status")).to_have_text("idle")
        page.click("#ph-cmask-clear")
        expect(page.locator("#ph-cmask-name")).to_have_text("none chosen")
        expect(page.locator("#ph-cmask-clear")).to_be_hidden()  # nothing left to remove

        page.fill("#p-size", "32")
        page.fill("#p-steps", "3")
        page.fill("#p-scales", "1")
        page.click("#ph-advanced summary")
        page.fill("#p-tol", "0")
        page.click("#ph-start")
        expect(page.locator("#ph-error")).to_be_hidden()
        expect(page.locator("#stat-status")).to_have_text("done", timeout=120_000)
        expect(page.locator("#stat-step")).to_have_text("3 / 3")
        expect(page.locator("#stat-losses")).to_contain_text("photo")
        expect(page.locator("#download")).to_have_text("Download PNG")
        job_id = page.get_attribute("#showing", "data-id")
        assert job_id

        card = page.locator("#gallery .card").first
        expect(card).to_have_class(re.compile("kind-photo"))
        expect(card.locator(".card-title")).to_contain_text("T\u00fcbingen \u00d7 Golden Gate")
        expect(card.locator("a.enlarge")).to_have_attribute(
            "href", f"/api/jobs/{job_id}/enlarged.png?scale=4"
        )

        # A reload keeps the mode, its settings and inputs, and shows its job.
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        expect(page.locator("#photo-setup")).to_be_visible()
        expect(page.locator("#p-steps")).to_have_value("3")
        expect(page.locator("#ph-photo-name")).to_have_text("T\u00fcbingen")
        expect(page.locator("#ph-cmask-name")).to_have_text("none chosen")
        expect(page.locator("#showing")).to_contain_text(job_id[:8])

        # The other modes keep their own panels.
        page.click("#mode-image")
        expect(page.locator("#showing")).to_contain_text("No job yet")
        assert errors == []

"""The page across a reload and between its modes, in Debian's chromium (as test_web_browser.py):
every mode's settings, inputs and the open mode come back after a reload; the live panel shows
each mode's own latest job; the field a refusal names is marked; one wording for the scale;
the mode switch is one pill. Runs are 32 px on the tiny net; no job runs in the reload test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from test_web_browser import CHROMIUM, LONG_RUN, studio_page
from web_helpers import save_tiny_network, serving

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing: `make install` installs Debian's chromium package",
)

TINY = "user:tiny.safetensors"


@pytest.fixture
def studio(make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A studio with one tiny style network of the user's (and no bundled ones); its step
    limit admits LONG_RUN. Yields its URL."""
    models = tmp_path / "models"
    models.mkdir()
    save_tiny_network(models / "tiny.safetensors")
    monkeypatch.setenv("IMPASTO_MODELS", str(models))
    monkeypatch.setattr("impasto.web.instant.bundled_dir", lambda: tmp_path / "no-bundled")
    app = make_app(preview_interval=0.0, poll_interval=0.02, max_steps=int(LONG_RUN))
    with serving(app) as url:
        yield url


def set_every_mode(page) -> None:
    """Inputs and settings in each mode, ending in the Audio mode."""
    page.click("#content-sample-tubingen")
    page.click("#style-sample-the_scream")
    page.fill("#f-size", "128")
    page.fill("#f-steps", "40")
    page.click("#advanced summary")
    page.select_option("#f-optimizer", "adam")

    page.click("#mode-instant")
    page.click(f"#instant-models .model[data-ref='{TINY}']")
    page.click("#photo-sample-golden_gate")
    page.fill("#i-size", "64")
    page.select_option("#i-preserve_color", "luminance")

    page.click("#mode-video")
    page.click("#clip-sample-street")
    page.click("#vstyle-sample-starry_night")
    page.fill("#v-frames", "0:2")
    page.click("#video-advanced summary")
    page.fill("#vs-steps", "5")
    page.check("#route-network")
    page.select_option("#video-model", TINY)

    page.click("#mode-audio")
    page.click("#audio-content-sound-speech")
    page.click("#audio-style-sound-rain")
    page.click("#audio-advanced summary")
    page.fill("#a-steps", "7")
    page.check("#audio-texture")
    page.fill("#audio-seconds", "2.5")


def test_a_reload_keeps_every_modes_settings_inputs_and_the_open_mode(studio: str) -> None:
    from playwright.sync_api import expect

    with studio_page(studio) as (page, errors):
        set_every_mode(page)
        page.reload()
        page.wait_for_selector("body[data-ready='1']")

        # The mode that was open.
        expect(page.locator("#audio-setup")).to_be_visible()
        expect(page.locator("#mode-audio")).to_have_attribute("aria-checked", "true")
        expect(page.locator("#showing")).to_contain_text("pick two sounds")

        expect(page.locator("#a-steps")).to_have_value("7")
        expect(page.locator("#audio-texture")).to_be_checked()
        expect(page.locator("#audio-seconds")).to_have_value("2.5")
        expect(page.locator("#audio-seconds")).to_be_enabled()
        expect(page.locator("#audio-content-name")).to_have_text("Speech")
        expect(page.locator("#audio-style-name")).to_have_text("Rain")
        expect(page.locator("#audio-style-sound-rain")).to_have_class(re.compile("selected"))

        page.click("#mode-image")
        expect(page.locator("#f-size")).to_have_value("128")
        expect(page.locator("#f-steps")).to_have_value("40")
        expect(page.locator("#f-optimizer")).to_have_value("adam")
        expect(page.locator("#content-name")).to_have_text("T\u00fcbingen")
        expect(page.locator("#style-name")).to_have_text("The Scream")
        expect(page.locator("#content-chosen")).to_be_visible()
        expect(page.locator("#style-sample-the_scream")).to_have_class(re.compile("selected"))

        page.click("#mode-instant")
        selected = page.locator("#instant-models .model.selected")
        expect(selected).to_have_attribute("data-ref", TINY)
        expect(page.locator("#instant-model-name")).to_contain_text("painting.png")
        expect(page.locator("#photo-name")).to_have_text("Golden Gate")
        expect(page.locator("#i-size")).to_have_value("64")
        expect(page.locator("#i-preserve_color")).to_have_value("luminance")

        page.click("#mode-video")
        expect(page.locator("#clip-name")).to_contain_text("Street")
        expect(page.locator("#vstyle-name")).to_have_text("Starry Night")
        expect(page.locator("#route-network")).to_be_checked()
        expect(page.locator("#video-route-network")).to_be_visible()
        expect(page.locator("#video-model")).to_have_value(TINY)
        expect(page.locator("#v-frames")).to_have_value("0:2")
        expect(page.locator("#vs-steps")).to_have_value("5")

        # The mode switch is one pill: square buttons edge to edge, no notch between them.
        boxes = page.locator(".mode").evaluate_all(
            """bs => bs.map(b => [getComputedStyle(b).borderTopRightRadius,
                                  b.getBoundingClientRect().left,
                                  b.getBoundingClientRect().right])"""
        )
        assert all(radius == "0px" for radius, _, _ in boxes), boxes
        for (_, _, right), (_, left, _) in pairwise(boxes):
            assert abs(right - left) < 0.5, boxes
        assert errors == []


def test_the_live_panel_shows_each_modes_own_latest_job(studio: str) -> None:
    from playwright.sync_api import expect

    with studio_page(studio) as (page, errors):
        # A refusal marks the field it names, until the field changes.
        page.click("#content-sample-tubingen")
        page.click("#style-sample-starry_night")
        page.fill("#f-size", "0")
        page.click("#start")
        expect(page.locator("#error")).to_contain_text("size must be a positive integer")
        expect(page.locator("#f-size")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#f-size")).to_have_attribute("aria-errormessage", "error")
        expect(page.locator(".field.invalid")).to_have_count(1)
        page.fill("#f-size", "32")
        expect(page.locator("#f-size")).not_to_have_attribute("aria-invalid", "true")
        expect(page.locator(".field.invalid")).to_have_count(0)

        # One wording for the scale: the long side, and the pyramid level while it runs.
        page.fill("#f-steps", LONG_RUN)
        page.click("#start")
        expect(page.locator("#stat-status")).to_have_text("running")
        # Its first step may take a while on a loaded machine: a bound on a hang only.
        scale = re.compile(r"^32 px · scale 1 of 1$")
        expect(page.locator("#stat-scale")).to_have_text(scale, timeout=60_000)
        page.click("#cancel")
        expect(page.locator("#stat-status")).to_have_text("cancelled", timeout=60_000)
        page.fill("#f-steps", "3")
        page.click("#advanced summary")
        page.fill("#f-tol", "0")
        page.click("#start")
        expect(page.locator("#stat-status")).to_have_text("done", timeout=60_000)
        expect(page.locator("#stat-scale")).to_have_text("32 px")
        job_id = page.get_attribute("#showing", "data-id")
        assert job_id

        # Every other mode shows its own (no job yet), not the picture made in Images mode.
        waiting = {"audio": "pick two sounds", "instant": "pick a style network",
                   "video": "pick a clip"}  # fmt: skip
        for mode, text in waiting.items():
            page.click(f"#mode-{mode}")
            expect(page.locator("#showing")).to_contain_text(f"No job yet: {text}")
            expect(page.locator("#stat-status")).to_have_text("idle")
            expect(page.locator("#preview")).to_be_hidden()
            expect(page.locator("#download")).to_be_hidden()
            expect(page.locator("#result-audio")).to_be_hidden()
            expect(page.locator("#result-video")).to_be_hidden()

        # A refusal in Video mode stays in Video mode, beside its own (empty) panel.
        page.click("#clip-sample-street")
        page.click("#vstyle-sample-starry_night")
        page.fill("#v-frames", "0:99")
        page.click("#video-start")
        expect(page.locator("#video-error")).to_contain_text("outside Street")
        expect(page.locator("#stat-status")).to_have_text("idle")
        page.click("#mode-image")
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#showing")).to_contain_text(job_id[:8])
        expect(page.locator("#download")).to_have_text("Download PNG")
        expect(page.locator("#preview")).to_be_visible()

        # After a reload each mode shows its latest job, or says it has none.
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        expect(page.locator("#showing")).to_contain_text(job_id[:8])
        expect(page.locator("#stat-status")).to_have_text("done")
        expect(page.locator("#preview")).to_be_visible()
        page.click("#mode-audio")
        expect(page.locator("#showing")).to_contain_text("No job yet: pick two sounds")
        expect(page.locator("#preview")).to_be_hidden()
        assert errors == []

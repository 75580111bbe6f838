"""End to end in a real headless Chromium (Debian's), driven by Playwright: the page loads, the
bundled samples are picked, a tiny run starts, the preview updates and the result appears; the
Audio mode makes a sound; the Instant mode paints a photo with a (tiny) style network; the
Video mode stylises the bundled clip (3 frames at 32 px) and plays the result."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from web_helpers import save_tiny_network, serving

CHROMIUM = Path("/usr/bin/chromium")

# Without the background-networking flags Chromium keeps trying to reach Google's servers,
# which a closed network refuses (slow starts, log noise).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing: `make install` installs Debian's chromium package",
)


def console_error(message: Any, errors: list[str]) -> None:
    if message.type == "error" and "status of 4" not in message.text:
        errors.append(message.text)


@contextmanager
def studio_page(server: str) -> Iterator[tuple[Any, list[str]]]:
    """A page of the studio at ``server`` in Debian's chromium, ready (its data loaded), and
    the list its page errors and console errors go to (but for the 4xx answers the tests
    provoke on purpose); a 60 s timeout against a hang only."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: console_error(m, errors))
            page.goto(server + "/")
            page.wait_for_selector("body[data-ready='1']")
            yield page, errors
        finally:
            browser.close()


def stripes_png(fmt: str = "PNG") -> bytes:
    yy, xx = np.mgrid[0:48, 0:48]
    img = np.zeros((48, 48, 3), np.uint8)
    img[..., 0] = np.where(((xx + yy) // 4) % 2 == 1, 230, 30)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt)
    return buf.getvalue()


# The steps of the runs these tests cancel: a 5000-step run of the tiny net at 32 px finished
# before Cancel was pressed on a quiet machine.
LONG_RUN = "1000000"


@pytest.fixture
def server(make_app) -> Iterator[str]:
    """The studio under uvicorn in a thread, on a free port of 127.0.0.1; yields its URL. Its
    step limit admits LONG_RUN, a run no machine finishes while a test looks at it."""
    app = make_app(preview_interval=0.0, poll_interval=0.02, max_steps=int(LONG_RUN))
    with serving(app) as url:
        yield url


@pytest.mark.precision
def test_page_runs_a_job_with_live_preview(server: str) -> None:
    from playwright.sync_api import expect

    with studio_page(server) as (page, errors):
        # The form is built from StyleConfig: main controls and the advanced section.
        expect(page.locator("#f-size")).to_have_value("512")
        expect(page.locator("#advanced-fields [data-field='optimizer']")).to_have_count(1)

        # Start without images: the page says what is missing.
        page.click("#start")
        expect(page.locator("#error")).to_contain_text("Pick a content image")

        # Uploads: a file that is no image is refused with a message on the page; an image
        # is shown with its size.
        page.set_input_files(
            "#style-file",
            files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"no image"}],
        )
        expect(page.locator("#style-error")).to_contain_text("notes.png is not an image")
        page.set_input_files(
            "#style-file",
            files=[{"name": "stripes.png", "mimeType": "image/png", "buffer": stripes_png()}],
        )
        expect(page.locator("#style-name")).to_have_text("stripes.png (48\u00d748)")
        expect(page.locator("#style-error")).to_be_hidden()

        page.click("#content-sample-tubingen")
        page.click("#style-sample-starry_night")
        expect(page.locator("#content-name")).to_have_text("T\u00fcbingen")
        expect(page.locator("#style-name")).to_have_text("Starry Night")

        # A bad value comes back from the server as a 422 shown on the page.
        page.fill("#f-size", "8")
        page.click("#start")
        expect(page.locator("#error")).to_contain_text("size must be at least 16")

        page.fill("#f-size", "40")
        page.fill("#f-steps", "60")
        page.click("#advanced summary")
        page.fill("#f-tol", "0")  # run all the steps
        # Record every preview image the page shows.
        page.evaluate(
            """() => {
                window.__previews = [];
                new MutationObserver(() => window.__previews.push(
                    document.getElementById('preview').getAttribute('src'))
                ).observe(document.getElementById('preview'), {attributes: true});
            }"""
        )
        page.click("#start")
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#download")).to_be_visible(timeout=120_000)
        expect(page.locator("#stat-status")).to_have_text("done")
        expect(page.locator("#stat-step")).to_have_text("60 / 60")
        expect(page.locator("#stat-losses")).to_contain_text("total")

        previews = page.evaluate("window.__previews")
        assert len(set(previews)) >= 2, previews  # the preview updated during the run
        expect(page.locator("#preview")).to_have_js_property("naturalWidth", 40)

        # The download is the PNG with the run's settings.
        href = page.get_attribute("#download", "href")
        assert href is not None
        png = page.request.get(server + href)
        assert png.ok and png.headers["content-type"] == "image/png"
        assert b"impasto" in png.body()

        # The gallery lists it.
        card = page.locator("#gallery .card").first
        expect(card).to_have_attribute("data-status", "done")
        expect(card.locator(".card-title")).to_contain_text("T\u00fcbingen \u00d7 Starry Night")
        # Its Enlarge button gives the picture 4x (impasto's upscaler, made on request).
        big = card.locator("a.enlarge")
        expect(big).to_have_text("Enlarge 4x")
        enlarged = page.request.get(server + str(big.get_attribute("href")))
        assert enlarged.ok and enlarged.headers["content-type"] == "image/png"

        # A long run stops when Cancel is pressed.
        page.fill("#f-steps", LONG_RUN)
        page.click("#start")
        expect(page.locator("#stat-status")).to_have_text("running")
        expect(page.locator("#cancel")).to_be_enabled()
        page.click("#cancel")
        # After the current step, which a loaded machine may stretch: a bound on a hang only.
        expect(page.locator("#stat-status")).to_have_text("cancelled", timeout=60_000)
        expect(page.locator("#download")).to_be_hidden()

        # Reload: the gallery survives and the config lives on the server.
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        expect(page.locator("#gallery .card")).to_have_count(2)
        expect(page.locator("#gallery .card").first).to_have_attribute("data-status", "cancelled")
        assert errors == []


@pytest.mark.precision
def test_page_shows_inputs_and_restores_a_running_job_after_a_reload(server: str) -> None:
    from playwright.sync_api import expect

    with studio_page(server) as (page, errors):
        # Sample labels: named for people, whole, five in one row.
        expect(page.locator("#content-sample-tubingen span")).to_have_text("T\u00fcbingen")
        spans = page.locator("#content-samples .sample span")
        expect(spans).to_have_count(5)
        cut = spans.evaluate_all("s => s.filter(x => x.scrollWidth > x.clientWidth).length")
        assert cut == 0
        tops = page.locator("#content-samples .sample").evaluate_all(
            "bs => bs.map(b => b.offsetTop)"
        )
        assert len(set(tops)) == 1, tops

        # An upload error shows at the box the file went to, not under Start.
        page.set_input_files(
            "#content-file",
            files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"no image"}],
        )
        expect(page.locator("#content-error")).to_contain_text("notes.png is not an image")
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#style-error")).to_be_hidden()

        # A TIFF shows in its box.
        page.set_input_files(
            "#content-file",
            files=[{"name": "s.tif", "mimeType": "image/tiff", "buffer": stripes_png("TIFF")}],
        )
        expect(page.locator("#content-name")).to_have_text("s.tif (48\u00d748)")
        expect(page.locator("#content-error")).to_be_hidden()
        expect(page.locator("#content-chosen")).to_have_js_property("naturalWidth", 48)

        # A long run, then a reload: the form and the images come back from the job.
        page.click("#style-sample-the_scream")
        page.fill("#f-size", "32")
        page.fill("#f-steps", LONG_RUN)
        page.fill("#f-seed", "7")
        page.click("#start")
        expect(page.locator("#stat-status")).to_have_text("running")
        job_id = page.get_attribute("#showing", "data-id")
        assert job_id
        expect(page.locator("#showing")).to_contain_text(job_id[:8])
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        expect(page.locator("#stat-status")).to_have_text("running")
        expect(page.locator("#f-steps")).to_have_value(LONG_RUN)
        expect(page.locator("#f-seed")).to_have_value("7")
        expect(page.locator("#f-size")).to_have_value("32")
        expect(page.locator("#content-name")).to_have_text("s.tif")
        expect(page.locator("#style-name")).to_have_text("The Scream")
        expect(page.locator("#content-chosen")).to_have_js_property("naturalWidth", 48)
        expect(page.locator("#showing")).to_contain_text(job_id[:8])
        expect(page.locator("#showing")).to_contain_text("s.tif")
        page.click("#cancel")
        expect(page.locator("#stat-status")).to_have_text("cancelled", timeout=60_000)
        assert errors == []


def tone_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    import soundfile as sf

    t = np.arange(round(seconds * rate)) / rate
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, format="WAV")
    return buf.getvalue()


def duration_of(page: Any, selector: str) -> float:
    """The duration the browser decodes for an <audio> element (it loads it first)."""
    return float(
        page.evaluate(
            """(sel) => new Promise((ok, fail) => {
                const a = document.querySelector(sel);
                a.addEventListener('loadedmetadata', () => ok(a.duration), {once: true});
                a.addEventListener('error', () => fail(String(a.error && a.error.code)),
                                   {once: true});
                a.preload = 'metadata';
                a.load();
            })""",
            selector,
        )
    )


def test_audio_mode_runs_a_transfer_and_plays_the_sounds(server: str) -> None:
    from playwright.sync_api import expect

    with studio_page(server) as (page, errors):
        page.click("#mode-audio")
        expect(page.locator("#audio-setup")).to_be_visible()
        expect(page.locator("#image-setup")).to_be_hidden()

        # Start without sounds, then a refused upload: each message at its place.
        page.click("#audio-start")
        expect(page.locator("#audio-error")).to_contain_text("Pick a content sound")
        page.set_input_files(
            "#audio-style-file",
            files=[{"name": "notes.wav", "mimeType": "audio/wav", "buffer": b"no sound"}],
        )
        expect(page.locator("#audio-style-error")).to_contain_text("notes.wav is not a sound")

        # A bundled sound and an upload, each with a player the browser can decode.
        page.click("#audio-content-sound-speech")
        expect(page.locator("#audio-content-name")).to_have_text("Speech")
        expect(page.locator("#audio-content-player")).to_be_visible()
        assert abs(duration_of(page, "#audio-content-player") - 5.0) < 0.1
        page.set_input_files(
            "#audio-style-file",
            files=[{"name": "tone.wav", "mimeType": "audio/wav", "buffer": tone_wav()}],
        )
        expect(page.locator("#audio-style-name")).to_have_text("tone.wav (1.0 s)")
        expect(page.locator("#audio-style-error")).to_be_hidden()
        assert abs(duration_of(page, "#audio-style-player") - 1.0) < 0.05

        # A tiny model (AudioConfig's fields, built from /api/audio/config).
        page.click("#audio-advanced summary")
        for name, value in (
            ("sample_rate", "8000"),
            ("n_fft", "256"),
            ("filters", "16"),
            ("width", "3"),
            ("steps", "3"),
            ("griffin_lim_iters", "4"),
            ("tol", "0"),
        ):
            page.fill(f"#a-{name}", value)
        page.select_option("#a-precision", "fp32")
        page.click("#audio-start")
        expect(page.locator("#audio-error")).to_be_hidden()
        expect(page.locator("#download")).to_have_text("Download WAV", timeout=120_000)
        expect(page.locator("#stat-status")).to_have_text("done")
        expect(page.locator("#stat-step")).to_have_text("3 / 3")
        expect(page.locator("#result-audio")).to_be_visible()
        assert abs(duration_of(page, "#result-audio") - 5.0) < 0.1
        expect(page.locator("#preview")).to_be_visible()
        assert page.evaluate("document.getElementById('preview').naturalWidth") > 600

        card = page.locator("#gallery .card").first
        expect(card.locator(".card-title")).to_contain_text("Speech \u00d7 tone.wav")
        expect(card.locator("a.download")).to_have_text("WAV")
        expect(card.locator("a.enlarge")).to_have_count(0)  # a sound has no picture to enlarge

        # Back to images: the image form is still there and intact.
        page.click("#mode-image")
        expect(page.locator("#image-setup")).to_be_visible()
        expect(page.locator("#f-size")).to_have_value("512")
        assert errors == []


@pytest.mark.precision
def test_instant_mode_lists_the_networks_and_paints_a_photo(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    models = tmp_path / "models"
    monkeypatch.setenv("IMPASTO_MODELS", str(models))  # read at each listing, by this process
    monkeypatch.setattr("impasto.web.instant.bundled_dir", lambda: tmp_path / "no-bundled")
    with studio_page(server) as (page, errors):
        # No networks yet: the list says how to train one.
        page.click("#mode-instant")
        expect(page.locator("#instant-setup")).to_be_visible()
        expect(page.locator("#image-setup")).to_be_hidden()
        expect(page.locator("#instant-models-empty")).to_contain_text("impasto train")
        expect(page.locator("#instant-models-empty")).to_contain_text(str(models))

        # A network trained meanwhile shows when the mode is shown again; a file that is
        # no network is listed, greyed, with the reason.
        models.mkdir()
        save_tiny_network(models / "tiny.safetensors")
        (models / "junk.safetensors").write_bytes(b"not a network")
        page.click("#mode-image")
        page.click("#mode-instant")
        expect(page.locator("#instant-models .model")).to_have_count(2)
        junk = page.locator("#instant-models .model[data-ref='user:junk.safetensors']")
        expect(junk).to_be_disabled()
        expect(junk).to_contain_text("not an impasto style network")
        expect(page.locator("#instant-models-empty")).to_be_hidden()

        page.click("#instant-start")
        expect(page.locator("#instant-error")).to_contain_text("Pick a style network")
        page.click("#instant-models .model[data-ref='user:tiny.safetensors']")
        expect(page.locator("#instant-model-name")).to_contain_text("painting.png")

        # The form is ApplyConfig's; a bad size comes back as the server's 422.
        expect(page.locator("#i-preserve_color")).to_have_value("none")
        expect(page.locator("#i-device")).to_have_count(0)
        page.click("#photo-sample-tubingen")
        expect(page.locator("#photo-name")).to_have_text("T\u00fcbingen")
        page.fill("#i-size", "4")
        page.click("#instant-start")
        expect(page.locator("#instant-error")).to_contain_text("size must be an integer of")

        page.fill("#i-size", "40")
        page.select_option("#i-preserve_color", "luminance")
        # The gallery list the Start asks for is held back, so that it lands after the one
        # the job's "done" asks for (as it may on a busy machine).
        held: list[Any] = []
        page.route("**/api/jobs?limit=200", lambda route: held.append(route))
        page.click("#instant-start")
        expect(page.locator("#instant-error")).to_be_hidden()
        expect(page.locator("#download")).to_be_visible()
        expect(page.locator("#stat-status")).to_have_text("done")
        expect(page.locator("#stat-step")).to_have_text("one pass")
        expect(page.locator("#stat-eta")).to_contain_text("done in")
        expect(page.locator("#preview")).to_have_js_property("naturalWidth", 40)

        href = page.get_attribute("#download", "href")
        assert href is not None
        png = page.request.get(server + href)
        assert png.ok and png.headers["content-type"] == "image/png"
        assert b"tiny.safetensors" in png.body() and b"luminance" in png.body()

        # The list the "done" asked for draws the card; the Start's, let through last and
        # saying the job still runs, must not draw over it.
        for _ in range(200):
            if len(held) >= 2:
                break
            page.wait_for_timeout(50)
        for route in held[1:]:
            route.continue_()
        card = page.locator("#gallery .card").first
        expect(card).to_have_attribute("data-status", "done")
        stale = held[0].fetch().json()
        stale["jobs"][0]["status"] = "running"
        with page.expect_response("**/api/jobs?limit=200"):
            held[0].fulfill(json=stale)
        page.unroute("**/api/jobs?limit=200")
        page.wait_for_timeout(300)
        expect(card).to_have_attribute("data-status", "done")
        expect(card.locator(".card-title")).to_contain_text("T\u00fcbingen \u00d7 network tiny")

        # Reuse settings brings the mode, the network, the photo and the settings back.
        page.click("#mode-image")
        card.locator(".reuse").click()
        expect(page.locator("#instant-setup")).to_be_visible()
        expect(page.locator("#i-size")).to_have_value("40")
        expect(page.locator("#i-preserve_color")).to_have_value("luminance")
        selected = page.locator("#instant-models .model.selected")
        expect(selected).to_have_attribute("data-ref", "user:tiny.safetensors")
        expect(page.locator("#photo-name")).to_have_text("T\u00fcbingen")
        assert errors == []


@pytest.mark.precision
def test_video_mode_stylizes_the_bundled_clip_and_plays_it(server: str) -> None:
    from playwright.sync_api import expect

    with studio_page(server) as (page, errors):
        page.click("#mode-video")
        expect(page.locator("#video-setup")).to_be_visible()
        expect(page.locator("#clip-limits")).to_contain_text("at most 10 s")
        page.click("#video-start")
        expect(page.locator("#video-error")).to_contain_text("Pick a clip")

        # The bundled clip in one click; the optimisation route with a sample painting.
        page.click("#clip-sample-street")
        expect(page.locator("#clip-name")).to_contain_text("Street")
        page.click("#vstyle-sample-starry_night")
        expect(page.locator("#v-fill")).to_have_value("warped")

        # A range outside the clip comes back as the server's 422, one line.
        page.fill("#v-frames", "0:99")
        page.click("#video-start")
        outside = "outside Street (vtest.avi), which has 30 frames"
        expect(page.locator("#video-error")).to_contain_text(outside)

        page.fill("#v-frames", "0:3")
        page.fill("#v-size", "32")
        page.fill("#v-later_steps", "2")
        page.locator("#video-advanced summary").click()
        page.fill("#vs-steps", "4")
        page.fill("#vs-tol", "0")
        page.click("#video-start")
        expect(page.locator("#video-error")).to_be_hidden()
        # A timeout against a hang only (the machine may be shared and slow).
        expect(page.locator("#stat-status")).to_have_text("done", timeout=120_000)
        expect(page.locator("#stat-step")).to_have_text("3 / 3 frames")
        expect(page.locator("#download")).to_have_text("Download MP4")
        video = page.locator("#result-video")
        expect(video).to_be_visible()
        # The browser decodes the H.264 result: its metadata loads, 3 frames at 10 fps.
        page.wait_for_function("document.getElementById('result-video').readyState >= 1")
        duration = page.evaluate("document.getElementById('result-video').duration")
        assert abs(duration - 0.3) < 0.05, duration
        card = page.locator("#gallery .card").first
        expect(card.locator(".card-meta")).to_contain_text("3/3 frames")

        # Reuse settings brings the mode, the clip and the settings back.
        page.click("#mode-image")
        card.locator(".reuse").click()
        expect(page.locator("#video-setup")).to_be_visible()
        expect(page.locator("#v-frames")).to_have_value("0:3")
        expect(page.locator("#vs-steps")).to_have_value("4")
        assert errors == []


@pytest.mark.precision
def test_video_modes_strength_is_the_network_routes_own(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import urllib.request

    from playwright.sync_api import expect

    models = tmp_path / "models"
    models.mkdir()
    save_tiny_network(models / "tiny.safetensors")
    monkeypatch.setenv("IMPASTO_MODELS", str(models))
    monkeypatch.setattr("impasto.web.instant.bundled_dir", lambda: tmp_path / "no-bundled")
    with studio_page(server) as (page, errors):
        page.click("#mode-video")
        page.click("#clip-sample-street")
        strength = page.locator("#v-strength")
        expect(strength).to_be_hidden()  # the optimisation route: a painting has style_weight
        page.check("#route-network")
        expect(strength).to_be_visible()
        expect(strength).to_have_attribute("max", "1")
        page.fill("#v-strength", "0.5")

        # Not sent with the optimisation route, which would refuse it: the 422 is the range's.
        page.check("#route-optimisation")
        page.click("#vstyle-sample-starry_night")
        page.fill("#v-frames", "0:99")
        page.click("#video-start")
        expect(page.locator("#video-error")).to_contain_text("outside Street (vtest.avi)")

        page.check("#route-network")
        page.fill("#v-frames", "0:2")
        page.fill("#v-size", "32")
        page.click("#video-start")
        expect(page.locator("#stat-status")).to_have_text("done", timeout=120_000)
        with urllib.request.urlopen(server + "/api/jobs") as r:
            (job,) = json.load(r)["jobs"]
        assert job["route"] == "network" and job["config"]["strength"] == 0.5
        assert errors == []

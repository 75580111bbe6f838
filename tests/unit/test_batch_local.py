"""The in-process batch runner on the tiny random network: outputs, failures, cancel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from impasto.batch.job import Job, Quiet, check_styles, collect_photos, plan_batch
from impasto.batch.local import run_local
from impasto.batch.manifest import DONE, FAILED, QUEUED, Manifest, Settings
from impasto.config import StyleConfig
from impasto.errors import Cancelled, ConfigError, InvalidImageError, OutputError
from impasto.features.weights import VGGWeights
from impasto.io.images import read_metadata
from impasto.optim.events import StepEvent

JOB = Job(Settings(StyleConfig(size=32, steps=2, precision="fp32")))


def _photos(folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"photo{i}.png")
    return collect_photos([folder], folder.parent / "out")


def test_every_photo_times_every_style(
    tmp_path: Path, style_path: Path, tiny_weights: VGGWeights
) -> None:
    photos = _photos(tmp_path / "in", 2)
    other = tmp_path / "other.png"
    Image.open(style_path).rotate(90).save(other)
    styles = check_styles([style_path, other])
    with Manifest.open(tmp_path / "out") as m:
        plan = plan_batch(m, photos, styles, JOB)
        rep = run_local(m, plan, JOB, tiny_weights, Quiet())
    assert rep.ok and len(rep.done) == 4 and rep.failed == ()
    for item in rep.done:
        out = tmp_path / "out" / item.output
        info = json.loads(read_metadata(out)["impasto"])
        assert info["content"] == item.photo and info["style"] == item.style
        assert info["config"]["size"] == 32
        assert item.seconds is not None and item.worker
    assert sorted(p.name for p in (tmp_path / "out").glob("*.part")) == []


def test_an_unreadable_photo_is_a_failed_item_not_the_end(
    tmp_path: Path, style_path: Path, tiny_weights: VGGWeights
) -> None:
    photos = _photos(tmp_path / "in", 1)
    bad = tmp_path / "in" / "broken.jpg"
    bad.write_text("not a picture")
    photos = collect_photos([tmp_path / "in"], tmp_path / "out")
    assert bad in photos
    with Manifest.open(tmp_path / "out") as m:
        plan = plan_batch(m, photos, check_styles([style_path]), JOB)
        rep = run_local(m, plan, JOB, tiny_weights, Quiet())
        assert [i.status for i in m.items()] == [FAILED, DONE]
    assert not rep.ok
    (failed,) = rep.failed
    assert "broken.jpg" in (failed.error or "") and failed.attempts == 1


def test_cancel_puts_the_item_back(
    tmp_path: Path, style_path: Path, tiny_weights: VGGWeights
) -> None:
    photos = _photos(tmp_path / "in", 2)

    class StopAtFirstStep(Quiet):
        def step(self, event: StepEvent) -> None:
            raise Cancelled("stop")

    with Manifest.open(tmp_path / "out") as m:
        plan = plan_batch(m, photos, check_styles([style_path]), JOB)
        with pytest.raises(Cancelled):
            run_local(m, plan, JOB, tiny_weights, StopAtFirstStep())
        assert [(i.status, i.attempts) for i in m.items()] == [(QUEUED, 0), (QUEUED, 0)]
        again = plan_batch(m, photos, check_styles([style_path]), JOB)
        assert again.run == plan.run
        assert run_local(m, again, JOB, tiny_weights, Quiet()).ok


def test_bad_inputs_are_refused_before_any_work(tmp_path: Path, bad_images) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no photos in"):
        collect_photos([tmp_path / "empty"], tmp_path / "out")
    with pytest.raises(InvalidImageError, match="no such photo"):
        collect_photos([tmp_path / "missing"], tmp_path / "out")
    with pytest.raises(ConfigError, match="--style"):
        check_styles([])
    with pytest.raises(InvalidImageError):
        check_styles([bad_images["text"]])


def test_the_output_folder_is_not_an_input(tmp_path: Path) -> None:
    _photos(tmp_path / "in", 1)
    Image.new("RGB", (8, 8)).save(tmp_path / "in" / "result.png")
    with pytest.raises(OutputError, match="is a photo folder"):
        collect_photos([tmp_path / "in"], tmp_path / "in")


def test_a_styles_targets_are_computed_once_and_give_the_same_images(
    tmp_path: Path, style_path: Path, tiny_weights: VGGWeights, monkeypatch: pytest.MonkeyPatch
) -> None:
    import impasto.api as api

    prepared: list[str] = []
    real = api.prepare_style

    def counted(style, config=None, **kw):  # type: ignore[no-untyped-def]
        prepared.append(str(style))
        return real(style, config, **kw)

    monkeypatch.setattr(api, "prepare_style", counted)
    photos = _photos(tmp_path / "in", 3)
    with Manifest.open(tmp_path / "out") as m:
        plan = plan_batch(m, photos, check_styles([style_path]), JOB)
        rep = run_local(m, plan, JOB, tiny_weights, Quiet())
    assert rep.ok and prepared == [str(style_path)]  # once for three items
    # Each output is the image a run with the style image itself gives (same seed).
    for item in rep.done:
        alone = api.stylize(item.photo, style_path, JOB.settings.config, weights=tiny_weights)
        alone.save(tmp_path / "alone.png")
        with (
            Image.open(tmp_path / "alone.png") as a,
            Image.open(tmp_path / "out" / item.output) as b,
        ):
            assert np.array_equal(np.asarray(a), np.asarray(b))
    # Colour preservation matches the style to each photo: no shared targets, still done.
    keep = Job(
        Settings(StyleConfig(size=32, steps=2, precision="fp32", preserve_color="luminance"))
    )
    with Manifest.open(tmp_path / "out") as m:
        plan = plan_batch(m, photos[:1], check_styles([style_path]), keep)
        assert run_local(m, plan, keep, tiny_weights, Quiet()).ok
    assert prepared == [str(style_path)]

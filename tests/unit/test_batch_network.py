"""The network route of a batch in this process, on a tiny saved style network: the outputs
are what ``impasto apply`` writes, photos of one size share a forward pass, the manifest keys
the items by the model's hash and the apply settings, and failures and Ctrl-C lose nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impasto.batch.job import NetworkJob, Quiet, check_models, collect_photos, plan_batch
from impasto.batch.local import run_network_local
from impasto.batch.manifest import QUEUED, Manifest, NetworkSettings
from impasto.batch.painting import Groups, output_pixels, paint
from impasto.errors import Cancelled, NetworkFileError
from impasto.io.images import load_image, read_metadata
from impasto.network.apply import ApplyConfig, apply_network, open_network
from impasto.network.config import NetworkConfig
from impasto.network.info import NetworkInfo
from impasto.network.model import build_network
from impasto.network.modelfile import StyleNetwork, save_network

SMALL = NetworkConfig(width=0.125, blocks=1)


def save_tiny_network(path: Path, seed: int = 5) -> Path:
    """A small network with weights moved off their initial values (so its output varies),
    saved as a model file."""
    model = build_network(SMALL, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)
    info = NetworkInfo(SMALL, "painting.png", "cd" * 32, {"steps": 1})
    return save_network(StyleNetwork(model, info).model, path, info)


def _photos(folder: Path, shapes: list[tuple[int, int]]) -> list[Path]:
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(len(shapes))
    for i, (h, w) in enumerate(shapes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return collect_photos([folder], folder.parent / "out")


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def _job(**apply: object) -> NetworkJob:
    return NetworkJob(NetworkSettings(ApplyConfig(device="cpu", **apply)))  # type: ignore[arg-type]


@pytest.mark.precision
def test_outputs_are_what_impasto_apply_writes(tmp_path: Path) -> None:
    model = save_tiny_network(tmp_path / "starry.safetensors")
    photos = _photos(tmp_path / "in", [(40, 48), (40, 48), (36, 44), (40, 48)])
    job = _job(size=32)
    with Manifest.open(tmp_path / "out") as m:
        plan = plan_batch(m, photos, check_models([model]), job)
        rep = run_network_local(m, plan, job, Quiet())
    assert rep.ok and len(rep.done) == 4
    network = open_network(model, device="cpu", precision=job.settings.apply.precision)
    for item in rep.done:
        out = tmp_path / "out" / item.output
        assert item.output.endswith(".png") and "__starry__" in item.output
        one = apply_network(network, item.photo, tmp_path / "one.png", ApplyConfig(size=32))
        ours, theirs = _pixels(out), _pixels(one.written[0])
        # Photos of one size went through one forward pass: the same network, the same
        # resizing; only the order of the float sums may differ (at most one 8-bit level).
        assert ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 1
        info = json.loads(read_metadata(out)["impasto"])
        assert info["model"] == "starry.safetensors" and info["source"] == item.photo
        assert info["apply"]["size"] == 32 and info["backend"] == "torch"
        assert item.worker and item.seconds is not None and item.attempts == 1
    assert list((tmp_path / "out").glob("*.part")) == []


@pytest.mark.precision
def test_photos_of_one_size_share_a_forward_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import impasto.batch.local as local

    passes: list[int] = []

    def counted(network: object, images: list[torch.Tensor], cfg: ApplyConfig) -> torch.Tensor:
        passes.append(len(images))
        return paint(network, images, cfg)  # type: ignore[arg-type]

    monkeypatch.setattr(local, "paint", counted)
    model = save_tiny_network(tmp_path / "m.safetensors")
    photos = _photos(tmp_path / "in", [(40, 48)] * 3 + [(36, 44)] + [(40, 48)] * 7)
    with Manifest.open(tmp_path / "out") as m:
        plan = plan_batch(m, photos, [model], _job())
        assert run_network_local(m, plan, _job(), Quiet()).ok
    # Ten photos of 40x48: a full pass of MAX_BATCH (8) and one of 2; the 36x44 one alone.
    assert sorted(passes) == [1, 2, 8]


def test_groups_by_size_with_a_bounded_hold() -> None:
    groups: Groups[int] = Groups(size=None, max_batch=2, max_pixels=1000)
    a, b = torch.zeros(1, 3, 10, 10), torch.zeros(1, 3, 10, 12)
    assert groups.add(0, a) == []
    assert groups.add(1, b) == []
    ready = groups.add(2, a)  # two of 10x10: full
    assert [[k for k, _ in g] for g in ready] == [[0, 2]]
    big = torch.zeros(1, 3, 40, 40)  # 1600 px: over the budget alone
    assert [[k for k, _ in g] for g in groups.add(3, big)] == [[3]]
    assert [[k for k, _ in g] for g in groups.rest()] == [[1]]
    # Many sizes: never more than two passes' pixels held.
    many: Groups[int] = Groups(size=None, max_batch=8, max_pixels=300)
    out = [k for i in range(10) for g in many.add(i, torch.zeros(1, 3, 10, 10 + i)) for k, _ in g]
    assert len(many.keys()) <= 6 and sorted(out + many.keys()) == list(range(10))
    assert output_pixels(100, 200, 50) == 25 * 50 and output_pixels(3, 4, None) == 12


def test_paint_of_a_group_matches_single_passes(tmp_path: Path) -> None:
    network = open_network(save_tiny_network(tmp_path / "m.safetensors"), device="cpu")
    images = [load_image(p) for p in _photos(tmp_path / "in", [(33, 47)] * 3)]
    cfg = ApplyConfig(size=40, device="cpu")
    together = paint(network, images, cfg)
    for i, image in enumerate(images):
        torch.testing.assert_close(together[i : i + 1], paint(network, [image], cfg))


@pytest.mark.precision
def test_skip_retry_and_new_items_for_new_settings_or_model(tmp_path: Path) -> None:
    model = save_tiny_network(tmp_path / "m.safetensors")
    photos = _photos(tmp_path / "in", [(40, 48), (40, 48)])
    bad = tmp_path / "in" / "broken.jpg"
    bad.write_text("not a picture")
    photos = collect_photos([tmp_path / "in"], tmp_path / "out")
    with Manifest.open(tmp_path / "out") as m:
        plan = plan_batch(m, photos, [model], _job())
        rep = run_network_local(m, plan, _job(), Quiet())
        assert len(rep.done) == 2 and [i.photo for i in rep.failed] == [str(bad)]
        assert "not an image file" in (rep.failed[0].error or "")
        again = plan_batch(m, photos, [model], _job())
        assert again.skipped == 2 and again.retried == 1 and len(again.run) == 1
        sized = plan_batch(m, photos, [model], _job(size=24))  # a changed setting
        assert sized.new == 3 and sized.skipped == 0
        save_tiny_network(model, seed=9)  # the model retrained in place: its hash changed
        retrained = plan_batch(m, photos, [model], _job())
        assert retrained.new == 3
        names = {i.output for i in m.items()}
        assert len(names) == len(m.items()) == 9  # never one output name for two items


@pytest.mark.precision
def test_cancel_puts_the_items_not_written_back(tmp_path: Path) -> None:
    model = save_tiny_network(tmp_path / "m.safetensors")
    photos = _photos(tmp_path / "in", [(40, 48)] * 4)

    class StopAfterTwo(Quiet):
        def __init__(self) -> None:
            self.polls = 0

        def poll(self) -> None:
            self.polls += 1
            if self.polls == 3:
                raise Cancelled("stop")

    with Manifest.open(tmp_path / "out") as m:
        plan = plan_batch(m, photos, [model], _job())
        with pytest.raises(Cancelled):
            run_network_local(m, plan, _job(), StopAfterTwo())
        items = m.items()
    # Two photos were decoded and held for a pass when Ctrl-C came: back in the queue, with
    # their attempt not counted; nothing written.
    assert [i.status for i in items] == [QUEUED] * 4 and [i.attempts for i in items] == [0] * 4
    assert list((tmp_path / "out").glob("*.png")) == []


def test_a_model_that_is_not_a_network_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPASTO_MODELS", str(tmp_path / "models"))
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"\x00" * 64)
    with pytest.raises(NetworkFileError):
        check_models([fake])
    with pytest.raises(NetworkFileError, match="no model file or model named 'nope'"):
        check_models(["nope"])


def test_a_clips_crf_is_in_its_key_only_where_given() -> None:
    from impasto.video.config import VideoConfig

    apply = ApplyConfig(device="cpu")
    plain = NetworkSettings(apply, video=VideoConfig())
    assert "crf" not in plain.to_json()  # the keys of batches written before --crf still match
    lossless = NetworkSettings(apply, video=VideoConfig(crf=0))
    assert lossless.hash != plain.hash != NetworkSettings(apply, video=VideoConfig(crf=28)).hash


def test_the_strength_is_in_the_key_only_where_not_the_default() -> None:
    plain = NetworkSettings(ApplyConfig(device="cpu"))
    assert "strength" not in plain.to_json()  # the keys of batches written before --strength
    half = NetworkSettings(ApplyConfig(device="cpu", strength=0.5))
    assert '"strength": 0.5' in half.to_json() and half.hash != plain.hash


def test_a_clips_strength_is_the_apply_settings_and_not_in_an_optimised_clips_key() -> None:
    from impasto.batch.manifest import Settings
    from impasto.config import StyleConfig
    from impasto.video.config import VideoConfig

    job = NetworkJob(NetworkSettings(ApplyConfig(device="cpu", strength=0.5)), video=VideoConfig())
    assert job.video_config.strength == 0.5  # blended after the de-flicker, as impasto video
    optimised = Settings(StyleConfig(), video=VideoConfig())
    assert "strength" not in optimised.to_json()  # the keys of batches written before it

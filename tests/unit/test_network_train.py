"""Training a style network on the tiny random VGG: the loss falls, a resumed run gives the
same weights as an uninterrupted one, bad photo folders are refused before any work, and a
collapse stops with its likely cause."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import impasto.features.extractor as extractor
from impasto.errors import Cancelled, CollapsedError, InvalidImageError
from impasto.features.weights import VGGWeights
from impasto.network import train as train_module
from impasto.network.checkpoint import load_training
from impasto.network.config import NetworkConfig
from impasto.network.train import TrainCheckpointing, TrainEvent, resume_training, train_network
from impasto.optim.events import StepEvent
from networks import SMALL, tiny_config
from pictures import gradient_array, painting_array

# The measuring probe itself, taken before tests/conftest.py's --auto-precision replaces it.
MEASURED_PROBE = extractor.bf16_is_faster


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """Five small 'photos' in nested folders, in the three formats."""
    d = tmp_path / "photos"
    (d / "sub" / "deeper").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (where, ext) in enumerate(
        [("", "png"), ("sub", "jpg"), ("sub/deeper", "webp"), ("", "jpeg"), ("sub", "PNG")]
    ):
        arr = gradient_array(40 + 4 * i, 48)
        arr = np.clip(arr.astype(int) + rng.integers(-20, 20, arr.shape), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(d / where / f"photo{i}.{ext}")
    (d / "notes.txt").write_text("not a photo")
    return d


@pytest.fixture
def style_file(tmp_path: Path) -> Path:
    p = tmp_path / "painting.png"
    Image.fromarray(painting_array(48, 48)).save(p)
    return p


def test_the_loss_falls(photo_dir: Path, style_file: Path, tiny_weights: VGGWeights) -> None:
    events: list[StepEvent] = []
    cfg = tiny_config(steps=30, batch_size=2, tv_weight=0.0)
    result = train_network(
        style_file, photo_dir, cfg, SMALL, weights=tiny_weights, callback=events.append
    )
    totals = [e.losses["total"] for e in events]
    assert len(totals) == 30 and [e.step for e in events] == list(range(1, 31))
    assert all(isinstance(e, TrainEvent) for e in events)
    assert events[0].image.shape == (1, 3, 32, 32)
    assert np.mean(totals[-5:]) < 0.7 * np.mean(totals[:3])
    assert result.inputs.precision == "fp32"
    assert result.inputs.style_name == "painting.png" and len(result.inputs.style_sha256) == 64
    assert not result.model.training


def test_previews_show_the_held_out_photos(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights
) -> None:
    events: list[TrainEvent] = []
    cfg = tiny_config(steps=4, validation=2, preview_every=2)
    train_network(style_file, photo_dir, cfg, SMALL, weights=tiny_weights, callback=events.append)  # type: ignore[arg-type]
    shown = [e.step for e in events if e.preview is not None]
    assert shown == [2, 4]
    assert events[1].preview is not None and events[1].preview.shape == (2, 3, 32, 32)


def test_resume_gives_the_same_weights(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights, tmp_path: Path
) -> None:
    cfg = tiny_config(steps=6)
    straight = train_network(style_file, photo_dir, cfg, SMALL, weights=tiny_weights)

    def stop_at_3(event: StepEvent) -> None:
        if event.step == 3:
            raise Cancelled("stop")

    folder = tmp_path / "ckpt"
    with pytest.raises(Cancelled) as info:
        train_network(
            style_file,
            photo_dir,
            cfg,
            SMALL,
            weights=tiny_weights,
            callback=stop_at_3,
            checkpoint=TrainCheckpointing(folder, every=100),
        )
    assert info.value.step == 3 and info.value.checkpoint == folder
    assert load_training(folder).state.step == 3
    resumed = resume_training(folder, weights=tiny_weights)
    assert len(resumed.history) == 6
    assert resumed.history[:3] == load_training(folder).state.history[:3]
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_folder_without_photos_is_refused(
    tmp_path: Path, style_file: Path, tiny_weights: VGGWeights
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no photos here")
    for folder, message in [(empty, "no photos in"), (tmp_path / "missing", "not found")]:
        with pytest.raises(InvalidImageError, match=message):
            train_network(style_file, folder, tiny_config(), SMALL, weights=tiny_weights)


def test_unreadable_photos_are_skipped_and_counted(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights, caplog: pytest.LogCaptureFixture
) -> None:
    (photo_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    with caplog.at_level(logging.WARNING, logger="impasto.network.photos"):
        result = train_network(
            style_file, photo_dir, tiny_config(steps=1), SMALL, weights=tiny_weights
        )
    assert result.skipped == 1
    assert "broken.jpg" in caplog.text and "skipped 1 unreadable" in caplog.text


def test_a_folder_of_only_unreadable_files_is_refused(
    tmp_path: Path, style_file: Path, tiny_weights: VGGWeights
) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "a.png").write_text("text")
    (d / "b.webp").write_bytes(b"")
    with pytest.raises(InvalidImageError, match="none of the 2 image files"):
        train_network(style_file, d, tiny_config(), SMALL, weights=tiny_weights)


def test_a_collapse_stops_with_the_likely_cause(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_module, "COLLAPSE_WINDOW", 5)
    cfg = tiny_config(steps=300, content_weight=0.0, style_weight=0.0, tv_weight=1.0, lr=0.05)
    with pytest.raises(CollapsedError, match="content_weight is 0") as info:
        train_network(style_file, photo_dir, cfg, SMALL, weights=tiny_weights)
    assert 5 <= info.value.step < 300


def test_bf16_training_runs_and_is_recorded(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights
) -> None:
    """bf16 autocast in VGG19 (what ``auto`` picks on CPUs where it is faster); the network
    itself stays float32."""
    result = train_network(
        style_file, photo_dir, tiny_config(steps=2, precision="bf16"), SMALL, weights=tiny_weights
    )
    assert result.inputs.precision == "bf16"
    assert all(np.isfinite(h["total"]) for h in result.history)
    assert all(p.dtype == torch.float32 for p in result.model.parameters())


@pytest.mark.precision
def test_auto_precision_is_resolved_once_and_kept(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights, auto_precision: str
) -> None:
    result = train_network(
        style_file, photo_dir, tiny_config(steps=1, precision="auto"), SMALL, weights=tiny_weights
    )
    assert result.inputs.precision == auto_precision
    assert result.network.info.training["precision"] == auto_precision


def test_degenerate_outputs_are_told_apart() -> None:
    from impasto.network.train import degenerate

    g = torch.Generator().manual_seed(0)
    photo = torch.from_numpy(gradient_array(32, 32)).permute(2, 0, 1)[None].float() / 255
    assert degenerate(photo) is None
    assert degenerate(torch.from_numpy(painting_array(32, 32)).permute(2, 0, 1)[None] / 255) is None
    assert degenerate(torch.full((2, 3, 32, 32), 0.01)) == "black"
    assert degenerate(torch.full((2, 3, 32, 32), 0.6) + 0.001 * torch.rand(2, 3, 32, 32)) == "flat"
    assert degenerate(torch.rand(2, 3, 32, 32, generator=g)) == "noise"


def test_minutes_stops_the_run_after_the_step_that_used_them(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights
) -> None:
    """A time budget (make models' 30-minute runs): the run stops once it is spent, always
    after at least one step, and the model file says how many steps ran."""
    result = train_network(
        style_file, photo_dir, tiny_config(steps=50, minutes=1e-9), SMALL, weights=tiny_weights
    )
    assert len(result.history) == 1
    assert result.network.info.training["steps_run"] == 1
    assert result.network.info.training["minutes"] == 1e-9


# -- `auto` precision: the probe and training following it ----------------------------------
def _fake_passes(monkeypatch: pytest.MonkeyPatch, fp32: float, bf16: float) -> list[int]:
    """Fake conv timings (seconds per pass) and a CPU with native bf16; returns the thread
    counts seen during the passes."""
    threads: list[int] = []

    def timed(conv: object, x: object, use_bf16: bool) -> float:
        threads.append(torch.get_num_threads())
        return bf16 if use_bf16 else fp32

    monkeypatch.setattr(extractor, "_conv_pass_seconds", timed)
    monkeypatch.setattr(extractor, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(extractor, "bf16_is_faster", MEASURED_PROBE.__wrapped__)
    return threads


@pytest.mark.parametrize(("fp32", "bf16", "picked"), [(0.3, 0.1, "bf16"), (0.1, 0.09, "fp32")])
def test_training_follows_what_the_probe_measured(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights, monkeypatch: pytest.MonkeyPatch,
    fp32: float, bf16: float, picked: str,
) -> None:  # fmt: skip
    """bf16 3x faster (as measured on the Zen 4 for training): auto trains in bf16; a
    bf16 only 10% faster is within the probe's margin: fp32. The probe times on one thread
    and gives the others back."""
    before = torch.get_num_threads()
    threads = _fake_passes(monkeypatch, fp32, bf16)
    result = train_network(
        style_file, photo_dir, tiny_config(steps=1, precision="auto"), SMALL, weights=tiny_weights
    )
    assert result.inputs.precision == picked
    assert result.network.info.training["precision"] == picked
    assert threads and set(threads) == {1}
    assert torch.get_num_threads() == before


def test_the_probe_takes_the_fastest_pass_of_each_so_bursts_of_load_do_not_decide() -> None:
    # bf16 3x faster, but one fp32 pass ran alone while every bf16 pass but one met a burst
    assert extractor.bf16_wins([0.30, 0.31, 0.90, 0.30], [0.10, 0.95, 0.80, 0.70])
    assert not extractor.bf16_wins([0.10, 0.60, 0.70], [0.09, 0.09, 0.09])
    assert not extractor.bf16_wins([], [0.1])


def test_a_cpu_without_native_bf16_does_not_measure(monkeypatch: pytest.MonkeyPatch) -> None:
    def timed(*args: object) -> float:
        raise AssertionError("no bf16 instructions: nothing to measure")

    monkeypatch.setattr(extractor, "_conv_pass_seconds", timed)
    monkeypatch.setattr(extractor, "cpu_has_native_bf16", lambda: False)
    assert MEASURED_PROBE.__wrapped__() is False


# -- fine-tuning (--from) --------------------------------------------------------------------------
@pytest.fixture
def base_model(photo_dir: Path, style_file: Path, tiny_weights: VGGWeights, tmp_path: Path) -> Path:
    """A small network trained for a few steps on the painting, as a model file."""
    result = train_network(
        style_file, photo_dir, tiny_config(steps=12), SMALL, weights=tiny_weights
    )
    return result.save(tmp_path / "base.safetensors")


def test_fine_tuning_starts_from_the_models_weights(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights, base_model: Path
) -> None:
    from impasto.network.modelfile import load_network

    base = load_network(base_model).model.state_dict()
    # At a negligible learning rate one step leaves the weights where they started.
    tuned = train_network(
        style_file, photo_dir, tiny_config(steps=1, lr=1e-12), weights=tiny_weights,
        start_from=base_model,
    )  # fmt: skip
    assert tuned.inputs.network == SMALL  # the model's architecture, none given
    after = tuned.model.state_dict()
    for k in base:
        assert torch.allclose(after[k], base[k], atol=1e-6), k
    scratch = train_network(
        style_file, photo_dir, tiny_config(steps=1), SMALL, weights=tiny_weights
    )
    assert not all(torch.allclose(scratch.model.state_dict()[k], base[k]) for k in base)
    # The first step's loss (before that step's update) is the trained model's, far below a
    # fresh network's.
    assert tuned.history[0]["total"] < 0.7 * scratch.history[0]["total"]
    record = tuned.network.info.training["start_from"]
    assert isinstance(record, dict) and record["model"] == "base.safetensors"
    assert record["sha256"] == hashlib.sha256(base_model.read_bytes()).hexdigest()


def test_resume_after_fine_tuning_gives_the_same_weights(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights, base_model: Path, tmp_path: Path
) -> None:
    cfg = tiny_config(steps=5)
    straight = train_network(
        style_file, photo_dir, cfg, weights=tiny_weights, start_from=base_model
    )

    def stop_at_2(event: StepEvent) -> None:
        if event.step == 2:
            raise Cancelled("stop")

    folder = tmp_path / "ckpt"
    with pytest.raises(Cancelled):
        train_network(
            style_file, photo_dir, cfg, weights=tiny_weights, callback=stop_at_2,
            checkpoint=TrainCheckpointing(folder, every=100), start_from=base_model,
        )  # fmt: skip
    saved = load_training(folder)
    assert saved.inputs.start_from is not None
    assert saved.inputs.start_from["path"] == str(base_model.resolve())
    base_model.unlink()  # the checkpoint holds the weights: the file is not read again
    resumed = resume_training(folder, weights=tiny_weights)
    assert resumed.inputs.start_from == saved.inputs.start_from
    assert resumed.network.info.training["start_from"] == saved.inputs.start_from
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_fine_tuning_refuses_a_conflicting_network_or_a_non_model_before_any_work(
    style_file: Path, base_model: Path, tmp_path: Path
) -> None:
    from impasto.errors import ConfigError, NetworkFileError

    nothing = tmp_path / "no-photos-here"  # reached, these would fail differently
    no_weights = tmp_path / "no-weights.pth"
    with pytest.raises(ConfigError, match=r"^width 0.25 conflicts with base.safetensors, whose"):
        train_network(
            style_file, nothing, tiny_config(), NetworkConfig(width=0.25, blocks=1),
            weights=no_weights, start_from=base_model,
        )  # fmt: skip
    bad = tmp_path / "bad.safetensors"
    bad.write_text("not a model")
    with pytest.raises(NetworkFileError, match="is not an impasto style network"):
        train_network(style_file, nothing, tiny_config(), weights=no_weights, start_from=bad)
    # The model's own architecture, given explicitly, is no conflict.
    from impasto.network.finetune import starting_point

    assert starting_point(base_model, {"width": 0.125, "blocks": 1}).network == SMALL


def test_an_older_checkpoint_without_a_starting_point_still_loads(
    photo_dir: Path, style_file: Path, tiny_weights: VGGWeights, tmp_path: Path
) -> None:
    from impasto.network.checkpoint import TrainCheckpoint

    def stop(event: StepEvent) -> None:
        raise Cancelled("stop")

    folder = tmp_path / "ckpt"
    with pytest.raises(Cancelled):
        train_network(
            style_file, photo_dir, tiny_config(steps=2), SMALL, weights=tiny_weights,
            callback=stop, checkpoint=TrainCheckpointing(folder, every=100),
        )  # fmt: skip
    data = load_training(folder).to_dict()
    assert data["start_from"] is None
    del data["start_from"]  # type: ignore[misc]
    assert TrainCheckpoint.from_dict(data).inputs.start_from is None

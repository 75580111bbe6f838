"""Distillation (``TrainConfig.targets``): each photo is paired with the picture stylize made
of it, the two are cut at the same place at the target's scale, the content loss matches the
target, and a photo without a target is refused before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impasto.cli.shell import losses_text
from impasto.errors import ConfigError, InvalidImageError
from impasto.features.weights import VGGWeights
from impasto.io.images import load_image
from impasto.network.photos import load_pairs, pair_crops
from impasto.network.train import train_network
from networks import SMALL, tiny_config
from pictures import gradient_array, painting_array


@pytest.fixture
def pairs(tmp_path: Path) -> tuple[Path, Path]:
    """Four photos (two in a sub-folder, JPEG and PNG) and their targets: the photo's
    negative, as PNG at 1.5x the photo's size (stylize writes PNG at its own size)."""
    photos, targets = tmp_path / "photos", tmp_path / "targets"
    rng = np.random.default_rng(0)
    for i, (where, ext) in enumerate([("", "png"), ("sub", "jpg"), ("sub", "png"), ("", "jpg")]):
        arr = gradient_array(40 + 4 * i, 48)
        arr = np.clip(arr.astype(int) + rng.integers(-30, 30, arr.shape), 0, 255).astype(np.uint8)
        for root in (photos, targets):
            (root / where).mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(photos / where / f"p{i}.{ext}")
        big = Image.fromarray(255 - arr).resize((72, 60 + 6 * i), Image.Resampling.BICUBIC)
        big.save(targets / where / f"p{i}.png")
    return photos, targets


def test_each_photo_takes_its_targets_size(pairs: tuple[Path, Path]) -> None:
    photos, targets = pairs
    loaded = load_pairs(photos, targets)
    assert len(loaded) == 4 and len(loaded.targets) == 4
    for name, photo, target in zip(loaded.names, loaded.photos, loaded.targets, strict=True):
        rel = Path(name).relative_to(photos).with_suffix(".png")
        want = load_image(targets / rel)
        assert photo.shape == target.shape == want.shape[1:]
        # the photo is the target's negative, resized: far from the target, near its negative
        assert (photo.float() - (255 - target.float())).abs().mean() < 25
        assert (photo.float() - target.float()).abs().mean() > 60


def test_crops_of_a_pair_are_cut_at_the_same_place(pairs: tuple[Path, Path]) -> None:
    loaded = load_pairs(*pairs)
    g = torch.Generator().manual_seed(3)
    crops, goal = pair_crops(loaded, 16, 32, True, g)
    assert crops.shape == goal.shape == (16, 3, 32, 32)
    # the same place: the crop is its target's negative up to the resize, which a crop cut
    # elsewhere (here: the next crop's target) is not
    aligned = (crops - (1 - goal)).abs().mean(dim=(1, 2, 3))
    shifted = (crops - (1 - goal.roll(1, dims=-1))).abs().mean(dim=(1, 2, 3))
    assert float(aligned.max()) < 0.1
    assert bool((aligned < shifted).all())
    again = pair_crops(loaded, 16, 32, True, torch.Generator().manual_seed(3))
    assert torch.equal(again[0], crops) and torch.equal(again[1], goal)


def test_a_pair_smaller_than_the_crop_is_enlarged(pairs: tuple[Path, Path]) -> None:
    crops, goal = pair_crops(load_pairs(*pairs), 3, 96, False, torch.Generator())
    assert crops.shape == goal.shape == (3, 3, 96, 96)


def test_a_photo_without_a_target_is_refused_by_name(pairs: tuple[Path, Path]) -> None:
    photos, targets = pairs
    (targets / "sub" / "p2.png").unlink()
    with pytest.raises(InvalidImageError, match=r"1 of 4 photos have no target in .*sub/p2\.png"):
        load_pairs(photos, targets)
    with pytest.raises(InvalidImageError, match="targets folder not found"):
        load_pairs(photos, targets / "missing")


def _distance_to(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x) - y).abs().mean())


def test_distillation_moves_the_network_towards_its_targets(
    pairs: tuple[Path, Path], tmp_path: Path, tiny_weights: VGGWeights
) -> None:
    photos, targets = pairs
    style = tmp_path / "painting.png"
    Image.fromarray(painting_array(48, 48)).save(style)
    cfg = tiny_config(steps=40, style_weight=0.0, tv_weight=0.0, content_weight=1.0)
    runs = {
        "plain": cfg.replace(pixel_weight=10.0),  # no targets: the pixel weight is unused
        "features": cfg.replace(targets=str(targets)),
        "pixels too": cfg.replace(targets=str(targets), pixel_weight=10.0),
        "photo's content": cfg.replace(targets=str(targets), content_from="photo"),
    }
    trained = {
        k: train_network(style, photos, c, SMALL, weights=tiny_weights) for k, c in runs.items()
    }
    assert trained["pixels too"].inputs.config.targets == str(targets)
    assert "pixel" not in trained["plain"].history[-1]
    last = trained["pixels too"].history[-1]
    assert last["total"] == pytest.approx(last["content"] + last["pixel"], rel=1e-5)
    assert losses_text("32px", {**last, "pixel": 2.0}).endswith("pixel=2")
    crops, goal = pair_crops(load_pairs(photos, targets), 8, 32, False, torch.Generator())
    to_goal = {k: _distance_to(r.model, crops, goal) for k, r in trained.items()}
    # the content loss alone moves the network towards the targets; with the pixel term it
    # ends nearer the negatives it was shown than the photos it was given
    assert to_goal["plain"] > to_goal["features"] > to_goal["pixels too"]
    assert to_goal["pixels too"] < _distance_to(trained["pixels too"].model, crops, crops)
    # with the photo's content and no pixel term the targets teach nothing: as plain
    assert to_goal["photo's content"] > to_goal["features"]
    photo = trained["photo's content"].model
    assert _distance_to(photo, crops, crops) < _distance_to(photo, crops, goal)


def test_a_bad_content_source_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"content_from.*both"):
        tiny_config(content_from="both")

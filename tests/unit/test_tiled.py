"""The tiled objective: the same value and gradient as the whole-image one when the margins
cover the receptive field, and close to it when they do not."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from impasto.config import Padding, Pooling
from impasto.features.extractor import FeatureExtractor
from impasto.losses.objective import Objective
from impasto.losses.targets import content_targets, style_targets
from impasto.losses.tiled import TiledObjective, tile_spans
from impasto.preprocess.resize import resize


def test_tile_spans_partition_the_axis_on_aligned_starts() -> None:
    spans = list(tile_spans(100, 40, 10, 8))
    assert [(a, b) for a, b, _, _ in spans] == [(0, 40), (40, 80), (80, 100)]
    assert all(a % 8 == 0 for a, _, _, _ in spans)
    assert spans[1][2:] == (24, 96)  # margin rounded up to 16, clipped to the axis
    assert spans[-1][3] == 100


def _pair(weights, content, style, layers, tile, margin):
    ex = FeatureExtractor(weights, ("relu2_1", *layers), Pooling.AVG, Padding.REFLECT)
    common = {
        "extractor": ex,
        "content_targets": content_targets(ex, content, ("relu2_1",)),
        "style_targets": style_targets(ex, style, layers),
        "style_layer_weights": dict.fromkeys(layers, 0.5),
        "content_weight": 1.0,
        "style_weight": 10.0,
        "tv_weight": 5.0,
    }
    return Objective(**common), TiledObjective(**common, tile=tile, margin=margin)


def test_tiled_equals_whole_image_when_margins_cover_the_receptive_field(
    tiny_weights, content_tensor, style_tensor
) -> None:
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    # relu2_1's receptive field is 10 px: a 16 px margin sees all of it.
    whole, tiled = _pair(tiny_weights, content_tensor, style_tensor, ("relu1_1", "relu2_1"), 8, 16)
    v1, g1, t1 = whole.value_and_grad(x)
    v2, g2, t2 = tiled.value_and_grad(x)
    assert len(tiled._tiles(32, 32)) == 16
    assert float(v2) == pytest.approx(float(v1), rel=1e-4)
    for k in ("content", "style", "tv"):
        assert float(t2[k]) == pytest.approx(float(t1[k]), rel=1e-4, abs=1e-7)
    assert torch.allclose(g2, g1, rtol=1e-3, atol=1e-6 * float(g1.abs().max()))


def test_tiled_is_close_with_a_short_margin_on_deep_layers(
    tiny_weights, content_tensor, style_tensor
) -> None:
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    content = resize(content_tensor, (64, 64))
    whole, tiled = _pair(tiny_weights, content, style_tensor, layers, 32, 16)
    v1, g1, _ = whole.value_and_grad(x)
    v2, g2, _ = tiled.value_and_grad(x)
    assert float(v2) == pytest.approx(float(v1), rel=0.1)
    cosine = torch.nn.functional.cosine_similarity(g1.flatten(), g2.flatten(), dim=0)
    assert cosine > 0.9


# A 96 x 128 run on 64 px tiles (6 tiles); relu2_1 is the deepest layer, so the default
# 96 px margins cover its receptive field and the tiled objective is the whole-image one.
FORCED = {
    "size": 128,
    "scales": 1,
    "tol": 0.0,
    "style_layers": "upto2",
    "content_layers": "relu2_1",
    "tv_weight": 1.0,
    "style_weight": 1e3,
}


@pytest.mark.precision
def test_stylize_with_forced_tiles_runs_and_its_loss_falls(
    tiny_weights, content_tensor, style_tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from impasto import stylize

    made = _count_tiled_objectives(monkeypatch)
    content = resize(content_tensor, (96, 128))
    tiled = stylize(content, style_tensor, weights=tiny_weights, tile=64, steps=8, **FORCED)
    assert made == [64]
    assert len(tiled.history) == 8
    assert tiled.history[-1]["total"] < 0.5 * tiled.history[0]["total"]
    assert tiled.tensor.shape == (1, 3, 96, 128) and bool(torch.isfinite(tiled.tensor).all())


def test_stylize_on_forced_tiles_evaluates_the_whole_image_objective(
    tiny_weights, content_tensor, style_tensor
) -> None:
    """The run wires the same targets and weights into the tiled objective as into the whole
    one. One evaluation, not a trajectory: Adam's first step records the terms at the start
    image (the same seeded noise), so one step of each run compares one value; fp32, as the
    equalities above. (The gradients are compared at the objective, in the tests above.)"""
    from impasto import stylize

    content = resize(content_tensor, (96, 128))
    run = {**FORCED, "steps": 1, "optimizer": "adam", "init": "noise", "precision": "fp32"}
    whole = stylize(content, style_tensor, weights=tiny_weights, **run).history[0]
    tiled = stylize(content, style_tensor, weights=tiny_weights, tile=64, **run).history[0]
    assert min(whole["content"], whole["style"], whole["tv"]) > 0  # every term counts
    for k in ("total", "content", "style", "tv"):
        assert tiled[k] == pytest.approx(whole[k], rel=1e-4, abs=1e-7), k


def _halves(h: int, w: int) -> torch.Tensor:
    """Two regions, left and right, with a soft column between them."""
    left = torch.zeros(h, w)
    left[:, : w // 2] = 1.0
    left[:, w // 2] = 0.5
    return torch.stack([left, 1.0 - left])


def test_tiled_with_region_masks_equals_whole_image(
    tiny_weights, content_tensor, style_tensor
) -> None:
    from impasto.losses.guided import guided_gram_matrices

    layers = ("relu1_1", "relu2_1")
    ex = FeatureExtractor(tiny_weights, ("relu2_1", *layers), Pooling.AVG, Padding.REFLECT)
    style_feats = ex(style_tensor)
    out_feats = ex(torch.zeros(1, 3, 32, 32))
    targets, masks = {}, {}
    for n in layers:
        sh, sw = style_feats[n].shape[-2:]
        targets[n] = guided_gram_matrices(style_feats[n], _halves(sh, sw).flip(0)).detach()
        masks[n] = _halves(*out_feats[n].shape[-2:])
    common = {
        "extractor": ex,
        "content_targets": content_targets(ex, content_tensor, ("relu2_1",)),
        "style_targets": targets,
        "style_layer_weights": dict.fromkeys(layers, 0.5),
        "content_weight": 1.0,
        "style_weight": 10.0,
        "tv_weight": 5.0,
        "region_masks": masks,
    }
    whole, tiled = Objective(**common), TiledObjective(**common, tile=8, margin=16)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    v1, g1, t1 = whole.value_and_grad(x)
    v2, g2, t2 = tiled.value_and_grad(x)
    assert float(t1["style"]) > 0.1 * float(v1)  # the masked style term is not negligible
    assert float(v2) == pytest.approx(float(v1), rel=1e-4)
    assert float(t2["style"]) == pytest.approx(float(t1["style"]), rel=1e-4)
    assert torch.allclose(g2, g1, rtol=1e-3, atol=1e-6 * float(g1.abs().max()))
    # Without the masks the tiled value is a different one: the masks are really used.
    plain = TiledObjective(
        **{**common, "region_masks": None, "style_targets": {n: t[:1] for n, t in targets.items()}},
        tile=8,
        margin=16,
    )
    assert float(plain.value_and_grad(x)[0]) != pytest.approx(float(v1), rel=1e-3)


def test_tiled_features_and_grams_equal_the_whole_image_ones(tiny_weights, style_tensor) -> None:
    from impasto.losses.functional import gram_matrix
    from impasto.losses.guided import guided_gram_matrices
    from impasto.losses.tiled import feature_size, tiled_features, tiled_grams

    layers = ("relu1_1", "relu2_1")
    ex = FeatureExtractor(tiny_weights, layers, Pooling.AVG, Padding.REFLECT)
    image = resize(style_tensor, (40, 56))
    whole = ex(image)
    # relu2_1 sees 10 px: 16 px margins make every tile's interior exact.
    feats = tiled_features(ex, image, layers, tile=8, margin=16)
    grams = tiled_grams(ex, image, layers, tile=8, margin=16)
    masks = {n: _halves(*feature_size((40, 56), n)) for n in layers}
    guided = tiled_grams(ex, image, layers, tile=8, margin=16, masks=masks)
    for n in layers:
        size = feature_size((40, 56), n)
        assert feats[n].shape == whole[n].shape == (1, whole[n].shape[1], *size)
        assert torch.allclose(feats[n], whole[n], rtol=1e-4, atol=1e-6)
        assert torch.allclose(grams[n], gram_matrix(whole[n]), rtol=1e-4, atol=1e-7)
        expected = guided_gram_matrices(whole[n], masks[n])
        assert guided[n].shape == expected.shape == (2, whole[n].shape[1], whole[n].shape[1])
        assert torch.allclose(guided[n], expected, rtol=1e-4, atol=1e-7)


def test_large_style_images_are_measured_in_tiles(
    tiny_weights, style_tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above tile_above() pixels a style image's Gram matrices (plain and per mask region) are
    summed over tiles instead of taken from whole-image activations; they agree."""
    import impasto.losses.targets as targets_module
    from impasto.losses.targets import StyleImage, style_grams

    layers = ("relu1_1", "relu2_1")
    ex = FeatureExtractor(tiny_weights, layers, Pooling.AVG, Padding.REFLECT)
    image = resize(style_tensor, (96, 128))
    style = StyleImage(image=image, masks=_halves(96, 128))
    plain, guided = style_grams(ex, style, layers, guided=True)
    calls = []
    real = targets_module.tiled_grams
    monkeypatch.setattr(targets_module, "tile_above", lambda: 64 * 64)
    monkeypatch.setattr(targets_module, "AUTO_TILE", 64)
    monkeypatch.setattr(
        targets_module, "tiled_grams", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    tiled_plain, tiled_guided = style_grams(ex, style, layers, guided=True)
    assert calls  # the tiled path ran
    assert guided is not None and tiled_guided is not None
    for n in layers:
        # Default 96 px margins cover relu2_1's receptive field: equal up to rounding.
        assert torch.allclose(tiled_plain[n], plain[n], rtol=1e-4, atol=1e-7)
        assert torch.allclose(tiled_guided[n], guided[n], rtol=1e-4, atol=1e-7)


def test_tile_threshold_follows_the_machines_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine (or container) with less memory tiles smaller scales; never below one tile,
    never above TILE_ABOVE."""
    import impasto.losses.memory as config

    def threshold(limit: int | None) -> int:
        monkeypatch.setattr(config, "memory_limit", lambda: limit)
        config.tile_above.cache_clear()
        return config.tile_above()

    try:
        assert threshold(None) == config.TILE_ABOVE
        assert threshold(64 * 2**30) == config.TILE_ABOVE
        eight = threshold(8 * 2**30)
        # 60% of 8 GiB, less 0.5 GiB, at 3.5 KiB a pixel: about 1.3 MP, so 2048 x 1536 tiles.
        assert 1_000_000 < eight < 1_500_000 < 2048 * 1536
        assert threshold(1 * 2**30) == config.AUTO_TILE**2
    finally:
        config.tile_above.cache_clear()


def test_memory_limit_reads_the_machine() -> None:
    from impasto.losses.memory import memory_limit

    limit = memory_limit()
    assert limit is None or limit > 2**28  # at least 256 MiB on any machine running this


def _count_tiled_objectives(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tile size of every TiledObjective the run builds, in order."""
    import impasto.losses.objective as objective

    made: list[int] = []

    class Spy(TiledObjective):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self.tile)

    monkeypatch.setattr(objective, "TiledObjective", Spy)
    return made


@pytest.mark.precision
def test_scales_above_the_threshold_run_on_tiles(
    tiny_weights, content_tensor, style_tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    import impasto.api as api
    import impasto.losses.memory as memory

    made = _count_tiled_objectives(monkeypatch)
    run = {"size": 96, "steps": 2, "scales": 1, "tol": 0.0, "style_layers": "upto2"}
    api.stylize(content_tensor, style_tensor, weights=tiny_weights, **run)
    assert made == []  # 96 x 96 is below the threshold
    monkeypatch.setattr(memory, "tile_above", lambda: 64 * 64)
    api.stylize(content_tensor, style_tensor, weights=tiny_weights, **run)
    assert made == [memory.AUTO_TILE]


@pytest.mark.precision
def test_cli_tile_flag_forces_tiles(
    run_cli, tmp_path, content_path, style_path, weights_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from impasto.io.images import read_metadata

    made = _count_tiled_objectives(monkeypatch)
    out = tmp_path / "tiled.png"
    argv = ["stylize", content_path, style_path, "-o", out, "--weights", weights_file]
    code, _, err = run_cli([*argv, "--size", "96", "--steps", "3", "--tile", "64", "-q"])
    assert code == 0, err
    assert made and set(made) == {64}
    assert json.loads(read_metadata(out)["impasto"])["config"]["tile"] == 64

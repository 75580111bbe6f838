"""Parameter grids: value parsing, per-cell settings, the contact sheet's layout and labels."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from impasto.config import Init, Optimizer, Pooling, StyleConfig
from impasto.errors import ConfigError
from impasto.layers import LAYER_PRESETS
from impasto.viz.grid import (
    DEFAULT_VALUES,
    VARY_KINDS,
    cell_config,
    cell_label,
    contact_sheet,
    grid_boundaries,
    grid_histories,
    parse_values,
    run_grid,
)

BASE = StyleConfig(size=32, scales=1, steps=2, style_weight=5.0, seed=3)


def test_default_values_parse_for_every_kind() -> None:
    for kind in VARY_KINDS:
        cells = parse_values(kind)
        assert [t for t, _ in cells] == list(DEFAULT_VALUES[kind])
        for _, v in cells:
            cell_config(BASE, kind, v)  # valid settings


def test_parse_values() -> None:
    assert parse_values("ratio", "0.1, 1,1e3") == [("0.1", 0.1), ("1", 1.0), ("1e3", 1000.0)]
    assert parse_values("RATIO", ["0"]) == [("0", 0.0)]
    assert parse_values("layers", "upto2,relu1_1+relu3_1") == [
        ("upto2", LAYER_PRESETS["upto2"]),
        ("relu1_1+relu3_1", ("relu1_1", "relu3_1")),
    ]
    assert parse_values("init", "Noise,blur") == [("Noise", "noise"), ("blur", "blur")]


def test_unknown_vary_lists_the_choices() -> None:
    with pytest.raises(ConfigError) as e:
        parse_values("colour")
    msg = str(e.value)
    assert "'colour'" in msg
    for kind in VARY_KINDS:
        assert kind in msg


@pytest.mark.parametrize(
    ("kind", "values", "bad"),
    [
        ("ratio", "1,abc,3", "'abc'"),
        ("ratio", "-1", "'-1'"),
        ("ratio", "inf", "'inf'"),
        ("layers", "upto9", "'upto9'"),
        ("layers", "relu1_1+relu9_9", "'relu1_1+relu9_9'"),
        ("init", "content,zeros", "'zeros'"),
        ("optimizer", "sgd", "'sgd'"),
        ("pooling", "min", "'min'"),
        ("ratio", "1,,2", "empty"),
    ],
)
def test_values_that_do_not_parse(kind: str, values: str, bad: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(bad)):
        parse_values(kind, values)


def test_cell_config_changes_one_setting() -> None:
    cfg = cell_config(BASE, "ratio", 10.0)
    assert (cfg.content_weight, cfg.style_weight) == (1.0, 10.0)
    assert cfg.replace(style_weight=BASE.style_weight) == BASE
    weighted = BASE.replace(style_layer_weights=(1, 2, 3, 4, 5))
    assert cell_config(weighted, "layers", ("relu1_1",)).style_layers == ("relu1_1",)
    assert cell_config(BASE, "init", "noise").init_kind is Init.NOISE
    assert cell_config(BASE, "optimizer", "adam").optimizer is Optimizer.ADAM
    assert cell_config(BASE, "pooling", "max").pooling is Pooling.MAX
    assert cell_config(BASE, "pooling", "max").seed == BASE.seed


def test_cell_labels() -> None:
    assert cell_label("ratio", "1e1", 10.0) == "style/content 10"
    assert cell_label("layers", "upto1", LAYER_PRESETS["upto1"]) == "relu1_1 only"
    assert cell_label("layers", "upto4", LAYER_PRESETS["upto4"]) == "up to relu4_1"
    assert cell_label("layers", "x", ("relu1_1", "relu3_1")) == "relu1_1+relu3_1"
    assert cell_label("init", "noise", "noise") == "init noise"


def _cells(n: int, size: tuple[int, int] = (40, 30)) -> list[Image.Image]:
    return [Image.new("RGB", size, (50 * k % 256, 90, 200)) for k in range(n)]


def test_contact_sheet_layout() -> None:
    cells = _cells(5)
    bare = contact_sheet(cells, [f"v{k}" for k in range(5)], pad=8)
    assert bare.width == 5 * 40 + 6 * 8
    assert bare.height > 30 + 2 * 8  # a label row under the cells
    arr = np.asarray(bare)
    # Each cell is pasted whole, in order, one pad apart.
    for k, cell in enumerate(cells):
        x = 8 + k * 48
        assert np.array_equal(arr[8 : 8 + 30, x : x + 40], np.asarray(cell))
    # The label row has dark text in it.
    assert (arr[8 + 30 :] < 100).any()

    wrapped = contact_sheet(cells, ["a"] * 5, columns=2)
    assert wrapped.width == 2 * 40 + 3 * 8
    assert wrapped.height > 3 * 30  # three rows

    header = contact_sheet(
        cells, ["a"] * 5, content=Image.new("RGB", (80, 60)), style=Image.new("RGB", (60, 80))
    )
    assert header.width == bare.width
    assert header.height > bare.height + 30  # a header row with both thumbnails


def test_contact_sheet_needs_a_label_per_cell() -> None:
    with pytest.raises(ValueError, match="one label per cell"):
        contact_sheet(_cells(2), ["only one"])


@pytest.mark.precision
def test_run_grid(tiny_weights, content_tensor, style_tensor) -> None:
    events: list[tuple[int, int]] = []
    sheet, results = run_grid(
        content_tensor,
        style_tensor,
        "init",
        "noise,content",
        BASE.replace(scales=2, min_size=24, tol=0),
        weights=tiny_weights,
        callback=lambda i, e: events.append((i, e.step)),
    )
    assert len(results) == 2
    assert [r.config.init for r in results] == ["noise", "content"]
    assert all(r.config.seed == 3 and r.config.style_weight == 5.0 for r in results)
    assert all(r.image.size == (32, 32) for r in results)
    assert {i for i, _ in events} == {0, 1}
    assert sheet.width == 2 * 32 + 3 * 8
    assert sheet.height > 2 * 32 + 3 * 8  # header (content, style) + cells + labels
    # Noise and content starts give different pictures.
    assert not np.array_equal(np.asarray(results[0].image), np.asarray(results[1].image))
    hist = grid_histories(results)
    assert list(hist) == ["init noise", "init content"]
    assert all(len(h) == 2 for h in hist.values())
    assert grid_boundaries(results) == {"init noise": [2], "init content": [2]}


def test_run_grid_fails_before_any_run(tiny_weights, content_tensor, style_tensor) -> None:
    calls: list[int] = []
    with pytest.raises(ConfigError, match="'bogus'"):
        run_grid(
            content_tensor,
            style_tensor,
            "ratio",
            "1,bogus",
            BASE,
            weights=tiny_weights,
            callback=lambda i, e: calls.append(i),
        )
    with pytest.raises(ConfigError, match="choose one of"):
        run_grid(content_tensor, style_tensor, "size", None, BASE, weights=tiny_weights)
    assert calls == []


@pytest.mark.precision
def test_duplicate_labels_stay_apart(tiny_weights, content_tensor, style_tensor) -> None:
    _, results = run_grid(
        content_tensor, style_tensor, "ratio", "1,1", BASE.replace(steps=1), weights=tiny_weights
    )
    assert list(grid_histories(results)) == ["style/content 1", "style/content 1 (2)"]

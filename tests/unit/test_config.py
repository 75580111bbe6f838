"""StyleConfig: defaults, validation messages, presets, serialisation, immutability."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from impasto.config import (
    Init,
    Optimizer,
    Padding,
    Pooling,
    StyleConfig,
)
from impasto.errors import ConfigError, ImpastoError
from impasto.layers import (
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_STYLE_LAYERS,
    LAYER_NAMES,
    LAYER_PRESETS,
)


def test_defaults_are_valid_and_the_papers() -> None:
    cfg = StyleConfig()
    assert cfg.content_layers == DEFAULT_CONTENT_LAYERS == ("relu4_2",)
    assert cfg.style_layers == DEFAULT_STYLE_LAYERS
    assert cfg.optimizer is Optimizer.LBFGS
    assert cfg.pooling is Pooling.AVG
    assert cfg.padding is Padding.REFLECT
    assert cfg.init == "palette" and cfg.init_kind is Init.PALETTE  # issue 13
    assert cfg.layer_weights == pytest.approx((0.2,) * 5)
    assert math.isclose(sum(cfg.layer_weights), 1.0)
    assert cfg.learning_rate == 1.0
    assert cfg.replace(optimizer="adam").learning_rate == 0.02
    assert cfg.replace(lr=0.5).learning_rate == 0.5


def test_config_error_is_an_impasto_error_and_value_error() -> None:
    assert issubclass(ConfigError, ImpastoError)
    assert issubclass(ConfigError, ValueError)


def test_layer_names_are_vgg19() -> None:
    assert len(LAYER_NAMES) == 16 * 2 + 5
    assert LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert LAYER_NAMES[-1] == "pool5"


# -- integer fields ------------------------------------------------------------------------------

INT_FIELDS = ("size", "steps", "scales", "min_size")


@pytest.mark.parametrize("field", INT_FIELDS)
@pytest.mark.parametrize("value", [0, -5, 1.5, "32", None, True, float("nan")], ids=repr)
def test_integer_fields_reject_bad_values(field: str, value: object) -> None:
    if field == "steps" and value == "32":  # steps also parses "100,60,40" per-scale lists
        assert StyleConfig(steps="32").steps == 32
        return
    with pytest.raises(ConfigError, match=field) as info:
        StyleConfig(**{field: value})
    assert repr(value) in str(info.value) or str(value) in str(info.value)


@pytest.mark.parametrize("field", INT_FIELDS)
def test_integer_fields_accept_integral_float(field: str) -> None:
    cfg = StyleConfig(**{field: 64.0})
    assert getattr(cfg, field) == 64 and isinstance(getattr(cfg, field), int)


@pytest.mark.parametrize("field", ["size", "min_size"])
def test_sizes_below_16_pixels_are_refused(field: str) -> None:
    with pytest.raises(ConfigError, match=rf"{field} must be at least 16.*8"):
        StyleConfig(**{field: 8})


@pytest.mark.parametrize("seed", [-1, 1.5, "3"])
def test_bad_seed(seed: object) -> None:
    with pytest.raises(ConfigError, match="seed"):
        StyleConfig(seed=seed)


# -- weights -------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["style_weight", "content_weight", "tv_weight"])
@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), -float("inf"), "1e4"])
def test_loss_weights_reject_bad_values(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field) as info:
        StyleConfig(**{field: value})
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("field", ["style_weight", "content_weight", "tv_weight"])
def test_loss_weights_may_be_zero(field: str) -> None:
    assert getattr(StyleConfig(**{field: 0.0}), field) == 0.0


@pytest.mark.parametrize("field", ["style_scale", "lr"])
@pytest.mark.parametrize("value", [0.0, -0.5, float("nan"), float("inf")])
def test_positive_floats(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        StyleConfig(**{field: value})


# -- choices -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "bad", "choices"),
    [
        ("optimizer", "sgd", ["lbfgs", "adam"]),
        ("pooling", "median", ["max", "avg"]),
        ("padding", "circular", ["zeros", "reflect", "replicate"]),
    ],
)
def test_unknown_choice_lists_choices(field: str, bad: str, choices: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        StyleConfig(**{field: bad})
    msg = str(info.value)
    assert field in msg and repr(bad) in msg
    for c in choices:
        assert c in msg


def test_choices_are_case_insensitive_and_become_enums() -> None:
    cfg = StyleConfig(optimizer="ADAM", pooling="Max", padding="zeros", init="NOISE")
    assert cfg.optimizer is Optimizer.ADAM
    assert cfg.pooling is Pooling.MAX
    assert cfg.padding is Padding.ZERO
    assert cfg.init == "noise" and cfg.init_kind is Init.NOISE


def test_init_path_is_kept_verbatim() -> None:
    cfg = StyleConfig(init="My/Start.PNG")
    assert cfg.init == "My/Start.PNG"
    assert cfg.init_kind is None
    with pytest.raises(ConfigError, match="init"):
        StyleConfig(init="")


# -- layers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["content_layers", "style_layers"])
def test_unknown_layer_lists_valid_layers(field: str) -> None:
    with pytest.raises(ConfigError) as info:
        StyleConfig(**{field: "relu1_1,relu9_9"})
    msg = str(info.value)
    assert "'relu9_9'" in msg and field in msg
    for name in LAYER_NAMES:
        assert name in msg


@pytest.mark.parametrize("value", ["", ",", "relu1_1,", ()])
def test_empty_layer_lists(value: object) -> None:
    with pytest.raises(ConfigError, match="content_layers"):
        StyleConfig(content_layers=value)


def test_layers_from_comma_string_with_spaces() -> None:
    cfg = StyleConfig(style_layers=" relu1_1 , relu3_1", content_layers=["relu2_2"])
    assert cfg.style_layers == ("relu1_1", "relu3_1")
    assert cfg.content_layers == ("relu2_2",)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_style_layer_presets(k: int) -> None:
    cfg = StyleConfig(style_layers=f"upto{k}")
    assert cfg.style_layers == DEFAULT_STYLE_LAYERS[:k] == LAYER_PRESETS[f"upto{k}"]
    assert cfg.style_layers[-1] == f"relu{k}_1"
    assert cfg.layer_weights == pytest.approx((1 / k,) * k)


def test_preset_is_only_for_style_layers() -> None:
    with pytest.raises(ConfigError, match="upto3"):
        StyleConfig(content_layers="upto3")


# -- style_layer_weights -------------------------------------------------------------------------


def test_style_layer_weights_from_string() -> None:
    cfg = StyleConfig(style_layers="upto3", style_layer_weights="1, 2,0")
    assert cfg.style_layer_weights == (1.0, 2.0, 0.0)
    assert cfg.layer_weights == (1.0, 2.0, 0.0)


def test_style_layer_weights_count_mismatch() -> None:
    with pytest.raises(ConfigError, match=r"2 values but there are 3 style layers") as info:
        StyleConfig(style_layers="upto3", style_layer_weights=(1.0, 2.0))
    assert "relu1_1,relu2_1,relu3_1" in str(info.value)


def test_style_layer_weights_non_numeric_string() -> None:
    with pytest.raises(ConfigError, match="'1,x,3'"):
        StyleConfig(style_layers="upto3", style_layer_weights="1,x,3")


# BUG (src/impasto/config.py): a list/tuple of non-numeric strings (what from_dict gets from a
# JSON body or a web form) reaches float() outside the try block and raises a bare ValueError
# ("could not convert string to float") instead of a ConfigError naming the field, so shells
# that catch ImpastoError show a traceback.
def test_style_layer_weights_non_numeric_items() -> None:
    with pytest.raises(ConfigError, match="style_layer_weights"):
        StyleConfig(style_layers="upto2", style_layer_weights=("1", "x"))


@pytest.mark.parametrize("weights", ["0,0,0", (0.0, 0.0, 0.0)])
def test_style_layer_weights_all_zero(weights: object) -> None:
    with pytest.raises(ConfigError, match="all be zero"):
        StyleConfig(style_layers="upto3", style_layer_weights=weights)


@pytest.mark.parametrize("bad", ["1,-1,1", "1,nan,1", "1,inf,1"])
def test_style_layer_weights_negative_or_not_finite(bad: str) -> None:
    with pytest.raises(ConfigError, match="style layer weight"):
        StyleConfig(style_layers="upto3", style_layer_weights=bad)


# -- serialisation and immutability --------------------------------------------------------------


def test_to_dict_from_dict_round_trip() -> None:
    cfg = StyleConfig(
        size=64,
        style_layers="upto3",
        style_layer_weights="1,2,3",
        optimizer="adam",
        lr=0.05,
        init="noise",
        seed=7,
        pooling="max",
        padding="replicate",
        scales=2,
        min_size=32,
        style_weight=123.0,
    )
    d = cfg.to_dict()
    assert d["optimizer"] == "adam" and d["pooling"] == "max" and d["padding"] == "replicate"
    assert d["style_layers"] == ["relu1_1", "relu2_1", "relu3_1"]
    assert StyleConfig.from_dict(d) == cfg
    # and through JSON, as it is stored in the PNG metadata
    assert StyleConfig.from_dict(json.loads(cfg.to_json())) == cfg
    assert StyleConfig.from_dict(StyleConfig().to_dict()) == StyleConfig()


def test_from_dict_unknown_key() -> None:
    with pytest.raises(ConfigError, match="colour_boost"):
        StyleConfig.from_dict({"size": 64, "colour_boost": 2})


def test_from_dict_validates() -> None:
    with pytest.raises(ConfigError, match="size"):
        StyleConfig.from_dict({"size": -1})


def test_config_is_frozen() -> None:
    cfg = StyleConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.size = 64  # type: ignore[misc]
    new = cfg.replace(size=64)
    assert new.size == 64 and cfg.size == 512


def test_replace_validates() -> None:
    with pytest.raises(ConfigError, match="steps"):
        StyleConfig().replace(steps=0)


def test_final_steps_is_checked_against_the_run() -> None:
    assert StyleConfig(size=512, final_steps=20).final_steps == 20
    assert StyleConfig(size=512, final_steps=20.0).final_steps == 20
    with pytest.raises(ConfigError, match="final_steps must be a positive integer, got 0"):
        StyleConfig(final_steps=0)
    with pytest.raises(ConfigError, match="one count per scale"):
        StyleConfig(steps="50,30,20,10", final_steps=10)
    # How final_steps fits the scales is the step plan's question, asked before any work.
    from impasto.api import check_settings

    with pytest.raises(ConfigError, match=r"only one \(512 px\)"):
        check_settings(StyleConfig(scales=1, final_steps=10))
    with pytest.raises(ConfigError, match="final_steps 118 leaves 2 of the 120 steps for the 3"):
        check_settings(StyleConfig(steps=120, final_steps=118))
    # survives the round trip through the saved settings (checkpoints, PNG metadata)
    cfg = StyleConfig(size=1024, final_steps=16)
    assert StyleConfig.from_dict(cfg.to_dict()) == cfg


def test_the_layer_table_is_a_bottom_module() -> None:
    """impasto.layers is pure data: config.py and features/ build on it, it imports nothing."""
    import ast
    from pathlib import Path

    import impasto.layers

    tree = ast.parse(Path(impasto.layers.__file__).read_text())
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert all(m == "__future__" for m in modules), modules


def test_seed_and_weights_are_refused_where_the_run_could_not_use_them() -> None:
    """Issue 12: a seed torch.Generator cannot take, a weight that overflows float32."""
    assert StyleConfig(seed=2**63 - 1).seed == 2**63 - 1
    with pytest.raises(ConfigError, match=r"seed must be a non-negative integer up to 2\^63 - 1"):
        StyleConfig(seed=2**63)
    for name in ("content_weight", "style_weight", "tv_weight"):
        assert getattr(StyleConfig(**{name: 1e30}), name) == 1e30
        with pytest.raises(ConfigError, match=f"{name} must be at most 1e\\+30"):
            StyleConfig(**{name: 1e308})

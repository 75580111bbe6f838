"""The one set of field checks every settings dataclass uses (impasto.validate)."""

from __future__ import annotations

import re

import pytest

from impasto import validate
from impasto.config import Optimizer
from impasto.errors import ConfigError


def test_integer_takes_whole_floats_and_names_the_range() -> None:
    assert validate.integer("steps", 512.0) == 512
    for value, minimum, words in [
        (0, 1, "steps must be a positive integer, got 0"),
        (-1, 0, "steps must be a non-negative integer, got -1"),
        (100, 4000, "steps must be an integer >= 4000, got 100"),
        (True, 1, "steps must be a positive integer, got True"),
        (2.5, 1, "steps must be a positive integer, got 2.5"),
    ]:
        with pytest.raises(ConfigError, match=f"^{re.escape(words)}$"):
            validate.integer("steps", value, minimum)


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), "1", -1.0])
def test_number_refuses_what_is_not_a_finite_non_negative_number(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^w must be a non-negative number, got "):
        validate.number("w", value, allow_zero=True)


def test_choice_boolean_layers_device() -> None:
    assert validate.choice(Optimizer, "ADAM", "optimizer") is Optimizer.ADAM
    with pytest.raises(ConfigError, match="unknown optimizer 'sgd'; choose one of: lbfgs, adam"):
        validate.choice(Optimizer, "sgd", "optimizer")
    assert validate.boolean("flip", "Yes") is True and validate.boolean("flip", "0") is False
    assert validate.layer_names("x", " relu1_1, relu2_1") == ("relu1_1", "relu2_1")
    assert validate.device("CUDA:1") == "cuda:1"
    with pytest.raises(ConfigError, match="unknown device 'gpu'"):
        validate.device("gpu")

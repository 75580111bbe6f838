"""The settings of style networks: each field written once (a Setting the CLI flags come
from), checked on construction with one-line errors naming the value, and round-tripped."""

from __future__ import annotations

import dataclasses

import pytest

from impasto.config import Precision, setting_of
from impasto.errors import ConfigError
from impasto.network.apply import ApplyConfig, Backend
from impasto.network.config import NetworkConfig, TrainConfig


@pytest.mark.parametrize("cls", [TrainConfig, NetworkConfig, ApplyConfig])
def test_every_field_has_a_setting(cls: type) -> None:
    for f in dataclasses.fields(cls):
        assert setting_of(f).help, f.name


def test_train_config_round_trips_and_normalises() -> None:
    cfg = TrainConfig(precision="BF16", content_layers="relu3_1", flip="false")  # type: ignore[arg-type]
    assert cfg.precision is Precision.BF16 and cfg.content_layers == ("relu3_1",)
    assert cfg.flip is False
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert NetworkConfig.from_dict(NetworkConfig(width=0.25).to_dict()) == NetworkConfig(width=0.25)
    assert ApplyConfig(backend="ONNXRUNTIME").backend is Backend.ONNXRUNTIME  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": 0}, "steps must be a positive integer, got 0"),
        ({"batch_size": 1.5}, "batch_size must be a positive integer"),
        ({"crop_size": 8}, "crop_size must be at least 16 pixels, got 8"),
        ({"lr": 0}, "lr must be a positive number, got 0"),
        ({"style_weight": -1.0}, "style_weight must be a non-negative number"),
        ({"style_layers": "relu9_9"}, "unknown layer 'relu9_9'"),
        ({"precision": "fp8"}, "unknown precision 'fp8'"),
        ({"flip": "maybe"}, "flip must be true or false, got 'maybe'"),
        ({"validation": -1}, "validation must be a non-negative integer"),
    ],
)
def test_bad_training_settings_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as info:
        TrainConfig(**changes)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_unknown_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="unknown setting\\(s\\): colour"):
        TrainConfig.from_dict({"colour": 1})

"""AudioConfig's validation: one-line ConfigErrors naming the value and the choices."""

from __future__ import annotations

import pytest

from impasto.audio.config import AudioConfig, AudioPrecision
from impasto.config import Optimizer
from impasto.errors import ConfigError


def test_defaults_are_the_papers_network_on_a_1024_window() -> None:
    cfg = AudioConfig()
    assert (cfg.filters, cfg.width, cfg.n_fft, cfg.hop_length) == (4096, 11, 1024, 256)
    assert cfg.bins == 513 and cfg.optimizer is Optimizer.LBFGS


def test_round_trips_through_a_dict() -> None:
    cfg = AudioConfig(filters=32, precision="FP32", init="noise")
    assert cfg.precision is AudioPrecision.FP32
    assert AudioConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"filters": 0}, "filters must be a positive integer, got 0"),
        ({"steps": 2.5}, "steps must be a positive integer, got 2.5"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"style_weight": -1.0}, "style_weight must be a non-negative number"),
        ({"max_seconds": 0}, "max_seconds must be a positive number"),
        ({"precision": "fp8"}, "unknown precision 'fp8'; choose one of: fp32, bf16"),
        ({"init": "cello"}, "choose one of: content, noise"),
        ({"hop": 4096}, "hop must be at most n_fft"),
        ({"sample_rate": 100}, "sample_rate must be an integer >= 4000"),
    ],
)
def test_bad_settings_are_one_line_errors(changes: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        AudioConfig(**changes)  # type: ignore[arg-type]
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_unknown_setting_is_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting.*colour"):
        AudioConfig.from_dict({"colour": 1})

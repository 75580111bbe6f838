"""The package face and the one boundary between the library and its shells."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import impasto
from impasto import errors
from impasto.errors import Cancelled, ConfigError, Exit, ImpastoError, exit_for


def test_public_names_are_pinned() -> None:
    assert sorted(impasto.__all__) == sorted(
        [
            "Cancelled",
            "CheckpointError",
            "Checkpointing",
            "CollapsedError",
            "ColorPreservation",
            "ConfigError",
            "DeviceError",
            "DivergedError",
            "ImpastoError",
            "InvalidAudioError",
            "Init",
            "InvalidImageError",
            "InvalidVideoError",
            "NetworkConfig",
            "NetworkFileError",
            "Optimizer",
            "OutputError",
            "Padding",
            "Pooling",
            "Precision",
            "PreparedStyle",
            "Result",
            "StepEvent",
            "Style",
            "StyleConfig",
            "TrainConfig",
            "WeightsError",
            "__version__",
            "load_network",
            "photo",
            "photo_config",
            "prepare_style",
            "resume",
            "resume_training",
            "resume_upscaler",
            "stylize",
            "synthesize_texture",
            "train_network",
            "train_upscaler",
            "upscale",
        ]
    )
    for name in impasto.__all__:
        assert hasattr(impasto, name), name


def test_every_error_class_is_exported() -> None:
    classes = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, ImpastoError)
    }
    assert classes <= set(impasto.__all__)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ConfigError("size must be a positive integer, got 0"),
            Exit("impasto: error: size must be a positive integer, got 0", 2),
        ),
        (
            errors.CheckpointError("no checkpoint in x"),
            Exit("impasto: error: no checkpoint in x", 2),
        ),
        (KeyboardInterrupt(), Exit("impasto: interrupted", 130)),
        (
            Cancelled("interrupted at step 3", step=3),
            Exit("impasto: interrupted at step 3 (add --checkpoint DIR to make it resumable)", 130),
        ),
        (
            Cancelled("interrupted at step 3; checkpoint saved", step=3, checkpoint=Path("c")),
            Exit("impasto: interrupted at step 3; checkpoint saved", 130),
        ),
    ],
)
def test_exit_for_maps_each_error_to_one_line_and_a_status(
    error: ImpastoError | KeyboardInterrupt, expected: Exit
) -> None:
    assert exit_for(error) == expected
    assert "\n" not in exit_for(error).message


def test_a_command_without_checkpoints_gets_no_resume_hint() -> None:
    assert exit_for(Cancelled("stopped"), resumable=False) == Exit("impasto: stopped", 130)


def test_no_shell_prints_its_own_error_lines() -> None:
    """Every shell goes through exit_for: none formats "impasto: error:" from an exception."""
    src = Path(impasto.__file__).parent
    for shell in ("cli/shell.py",):
        text = (src / shell).read_text()
        assert "exit_for(" in text, shell
        assert 'f"impasto: error: {e}"' not in text, shell

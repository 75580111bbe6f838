"""The checks every settings dataclass runs on its fields, written once.

StyleConfig, AudioConfig, NetworkConfig, TrainConfig, ApplyConfig and VideoConfig validate
their fields with these on construction, so a bad value is refused before any work with the
same one-line :class:`~impasto.errors.ConfigError` wherever it is given (a flag, the studio, a
checkpoint): the message names the setting and, for a choice, the allowed values. A shell
that takes flags rewrites the names as flags (:func:`impasto.config.as_flags`).

Base layer: imports only :mod:`impasto.errors` and :mod:`impasto.layers`.
"""

from __future__ import annotations

import math
import re
from enum import Enum
from typing import Any, TypeVar

from impasto.errors import ConfigError
from impasto.layers import LAYER_NAMES

E = TypeVar("E", bound=Enum)

# Devices by name; whether the machine has the one named is features.device's question.
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def choice(enum: type[E], value: Any, what: str) -> E:
    """``value`` as a member of ``enum`` (by its value, case-insensitive)."""
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).lower())
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise ConfigError(f"unknown {what} {value!r}; choose one of: {allowed}") from None


def number(name: str, value: Any, *, allow_zero: bool = False) -> None:
    """A finite number above 0 (or at least 0 with ``allow_zero``); not a bool."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ConfigError(f"{name} must be {kind} number, got {value!r}")


def integer(name: str, value: Any, minimum: int = 1, *, what: str = "") -> int:
    """An integer of at least ``minimum`` (a whole float such as 512.0 is taken as the
    integer; a bool is not one). ``what`` is how the message names the range, by default "a
    positive integer" (minimum 1), "a non-negative integer" (0) or "an integer >= N"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        kinds = {1: "a positive integer", 0: "a non-negative integer"}
        kind = what or kinds.get(minimum, f"an integer >= {minimum}")
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    return value


def boolean(name: str, value: Any) -> bool:
    """A bool, or its words as a flag or a form gives them (true/false, yes/no, 1/0)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.lower() in ("true", "yes", "1")
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def layer_names(name: str, layers: Any) -> tuple[str, ...]:
    """VGG19 layer names: a comma-separated text or a list of names."""
    if isinstance(layers, str):
        layers = [s for s in layers.split(",")]
    if not isinstance(layers, (list, tuple)) or not all(isinstance(s, str) for s in layers):
        raise ConfigError(f"{name} must be layer names, got {layers!r}")
    out = tuple(s.strip() for s in layers)
    if not out or any(not s for s in out):
        raise ConfigError(f"{name} must name at least one layer, got {','.join(out)!r}")
    for s in out:
        if s not in LAYER_NAMES:
            raise ConfigError(
                f"unknown layer {s!r} in {name}; valid layers: {', '.join(LAYER_NAMES)}"
            )
    return out


def device(value: Any) -> str:
    """A device name, lower-cased: auto, cpu, cuda, cuda:N or mps (whether this machine has
    it is features.device's question, asked before any work)."""
    name = value.lower() if isinstance(value, str) else value
    if not isinstance(name, str) or not DEVICE_PATTERN.fullmatch(name):
        raise ConfigError(f"unknown device {value!r}; choose auto, cpu, cuda, cuda:N or mps")
    return name

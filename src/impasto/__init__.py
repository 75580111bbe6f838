"""impasto: neural style transfer (Gatys, Ecker & Bethge 2016) on the CPU.

Importing the package does no work: weights and networks load when a run asks for them.
"""

from __future__ import annotations

from impasto.api import Checkpointing, Result, Style, resume, stylize, synthesize_texture
from impasto.config import (
    ColorPreservation,
    Init,
    Optimizer,
    Padding,
    Pooling,
    Precision,
    StyleConfig,
)
from impasto.errors import (
    Cancelled,
    CheckpointError,
    ConfigError,
    DeviceError,
    DivergedError,
    ImpastoError,
    InvalidAudioError,
    InvalidImageError,
    OutputError,
    WeightsError,
)
from impasto.optim.events import StepEvent
from impasto.version import __version__

__all__ = [
    "Cancelled",
    "CheckpointError",
    "Checkpointing",
    "ColorPreservation",
    "ConfigError",
    "DeviceError",
    "DivergedError",
    "ImpastoError",
    "Init",
    "InvalidAudioError",
    "InvalidImageError",
    "Optimizer",
    "OutputError",
    "Padding",
    "Pooling",
    "Precision",
    "Result",
    "StepEvent",
    "Style",
    "StyleConfig",
    "WeightsError",
    "__version__",
    "resume",
    "stylize",
    "synthesize_texture",
]

"""impasto: neural style transfer (Gatys, Ecker & Bethge 2016) on the CPU.

Importing the package does no work: weights and networks load when a run asks for them.
"""

from __future__ import annotations

from impasto.api import (
    Checkpointing,
    PreparedStyle,
    Result,
    Style,
    photo,
    photo_config,
    prepare_style,
    resume,
    synthesize_texture,
)
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
    CollapsedError,
    ConfigError,
    DeviceError,
    DivergedError,
    ImpastoError,
    InvalidAudioError,
    InvalidImageError,
    InvalidVideoError,
    NetworkFileError,
    OutputError,
    WeightsError,
)
from impasto.network.config import NetworkConfig, TrainConfig
from impasto.network.modelfile import load_network
from impasto.network.train import resume_training, train_network
from impasto.optim.events import StepEvent
from impasto.superres.apply import upscale
from impasto.superres.route import stylize
from impasto.superres.train import resume_upscaler, train_upscaler
from impasto.version import __version__

__all__ = [
    "Cancelled",
    "CheckpointError",
    "Checkpointing",
    "CollapsedError",
    "ColorPreservation",
    "ConfigError",
    "DeviceError",
    "DivergedError",
    "ImpastoError",
    "Init",
    "InvalidAudioError",
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

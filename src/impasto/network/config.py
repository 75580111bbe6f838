"""Settings of a style network: its architecture and its training, frozen dataclasses whose
fields carry :func:`impasto.config.setting` metadata (help and group written once; the
``impasto train`` flags are built from them, as ``impasto stylize``'s are from StyleConfig)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import impasto.validate as validate
from impasto.config import (
    Padding,
    Pooling,
    Precision,
    Settings,
    StyleConfig,
    setting,
)
from impasto.errors import ConfigError

# Johnson et al. 2016 (supplementary, table 1): 32-64-128 filters and five residual blocks.
BASE_CHANNELS: tuple[int, int, int] = (32, 64, 128)


def stylize_help(name: str) -> Any:
    """StyleConfig's metadata (help, group, choices) for its field ``name``."""
    (f,) = [f for f in dataclasses.fields(StyleConfig) if f.name == name]
    return f.metadata


class Upsample(str, Enum):
    """How the decoder doubles its resolution before each convolution."""

    NEAREST = "nearest"  # Odena et al.'s resize-convolution; the bundled networks so far
    BILINEAR = "bilinear"  # every output pixel mixes its neighbours (see docs/network.md)


@dataclass(frozen=True)
class NetworkConfig(Settings):
    """The transformation network's shape: a width multiplier on Johnson et al.'s filter
    counts and the number of residual blocks."""

    width: float = field(
        default=0.5,
        metadata=setting(
            "filters as a multiple of Johnson et al.'s 32-64-128; half width costs a quarter "
            "of the arithmetic (jcjohnson/fast-neural-style reports no loss of quality)",
            group="network",
        ),
    )
    blocks: int = field(
        default=5,
        metadata=setting("residual blocks at the lowest resolution", group="network"),
    )
    upsample: Upsample = field(
        default=Upsample.NEAREST,
        metadata=setting(
            "the decoder's resize before each of its two convolutions: nearest repeats pixels "
            "(a pattern of period 2-4 px can follow), bilinear blends them",
            group="network",
            choices=Upsample,
        ),
    )

    def __post_init__(self) -> None:
        validate.number("width", self.width)
        if self.width > 4:
            raise ConfigError(f"width must be at most 4, got {self.width!r}")
        if not isinstance(self.blocks, int) or isinstance(self.blocks, bool) or self.blocks < 0:
            raise ConfigError(f"blocks must be a non-negative integer, got {self.blocks!r}")
        object.__setattr__(self, "upsample", validate.choice(Upsample, self.upsample, "upsample"))

    @property
    def channels(self) -> tuple[int, int, int]:
        """Filters of the three resolutions (full, half, quarter), at least 4 each."""
        c1, c2, c3 = (max(4, round(c * self.width)) for c in BASE_CHANNELS)
        return (c1, c2, c3)


class ContentFrom(str, Enum):
    """With distillation targets, what the content loss compares the network's output with."""

    TARGET = "target"
    PHOTO = "photo"


# The whole-number fields of TrainConfig and their least values.
COUNTS: dict[str, int] = {
    "steps": 1, "batch_size": 1, "crop_size": 1, "validation": 0, "preview_every": 0, "seed": 0,
}  # fmt: skip

# The fractional fields that may be 0.
WEIGHTS = ("minutes", "scale_jitter", "content_weight", "style_weight", "tv_weight", "pixel_weight")

_STYLE = StyleConfig()  # the engine's defaults, where a training setting means the same thing


@dataclass(frozen=True)
class TrainConfig(Settings):
    """Every setting of training a style network (besides its shape, :class:`NetworkConfig`).

    The losses are the engine's (``impasto.losses``): the same normalisation, so the weights
    mean what they mean for ``impasto stylize``. Layer choices follow Johnson et al. 2016
    (content at relu2_2), with style up to relu4_1 (relu5_1 costs a quarter more arithmetic
    per step for little visible change at crop sizes).
    """

    steps: int = field(
        default=2000, metadata=setting("training steps (batches)", group="optimisation")
    )
    minutes: float = field(
        default=0.0,
        metadata=setting(
            "stop after this many minutes of training even before --steps (0: no limit); "
            "the steps run are recorded in the model file",
            group="optimisation",
        ),
    )
    batch_size: int = field(
        default=4, metadata=setting("photo crops per step", group="optimisation")
    )
    crop_size: int = field(
        default=256, metadata=setting("side of the square training crops, px", group="size")
    )
    scale_jitter: float = field(
        default=0.25,
        metadata=setting(
            "photos are resized so their short side is the crop size times a random factor "
            "between 1 and 1 + this, then cropped",
            group="size",
        ),
    )
    flip: bool = field(
        default=True, metadata=setting("randomly mirror the crops", group="optimisation")
    )
    style_scale: float = field(
        default=1.0,
        metadata=setting(
            "the style image's long side as a multiple of the crop size; larger gives larger "
            "brush strokes",
            group="size",
        ),
    )
    targets: str = field(
        default="",
        metadata=setting(
            "distillation: a folder of pictures impasto stylize made of the photos (one per "
            "photo, at its path under this folder) for the network to learn (see --content-from "
            "and --pixel-weight); crops are cut at their scale (no scale jitter)",
            group="losses",
            metavar="DIR",
            default_text="none",
        ),
    )
    content_from: ContentFrom = field(
        default=ContentFrom.TARGET,
        metadata=setting(
            "with --targets: whose activations the content loss matches, the target's "
            "(distillation by features) or the photo's (as without targets; the targets then "
            "teach through --pixel-weight only)",
            group="losses",
            choices=ContentFrom,
        ),
    )
    pixel_weight: float = field(
        default=0.0,
        metadata=setting(
            "with --targets: weight of the mean squared pixel difference to the target, "
            "beside the content loss (0: features only)",
            group="losses",
        ),
    )
    lr: float = field(default=1e-3, metadata=setting("Adam's learning rate", group="optimisation"))
    content_layers: tuple[str, ...] = field(
        default=("relu2_2",),
        metadata=setting("VGG19 layers of the content loss", group="losses", layers=True),
    )
    style_layers: tuple[str, ...] = field(
        default=("relu1_1", "relu2_1", "relu3_1", "relu4_1"),
        metadata=setting("VGG19 layers of the style loss", group="losses", layers=True),
    )
    # The loss network's settings mean what they mean for a stylize run: the same defaults
    # and the same help, taken from StyleConfig's fields rather than written again.
    content_weight: float = field(
        default=_STYLE.content_weight, metadata=stylize_help("content_weight")
    )
    style_weight: float = field(default=_STYLE.style_weight, metadata=stylize_help("style_weight"))
    tv_weight: float = field(default=_STYLE.tv_weight, metadata=stylize_help("tv_weight"))
    pooling: Pooling = field(default=_STYLE.pooling, metadata=stylize_help("pooling"))
    padding: Padding = field(default=_STYLE.padding, metadata=stylize_help("padding"))
    precision: Precision = field(default=_STYLE.precision, metadata=stylize_help("precision"))
    device: str = field(default=_STYLE.device, metadata=stylize_help("device"))
    seed: int = field(
        default=0,
        metadata=setting("seed of the initial weights and of the crops", group="optimisation"),
    )
    validation: int = field(
        default=2,
        metadata=setting(
            "photos held out of training for the previews (when the folder has enough)",
            group="optimisation",
        ),
    )
    preview_every: int = field(
        default=50,
        metadata=setting(
            "steps between previews of the held-out photos; 0: none", group="optimisation"
        ),
    )

    def __post_init__(self) -> None:
        s = object.__setattr__
        for name, low in COUNTS.items():
            s(self, name, validate.integer(name, getattr(self, name), low))
        if self.crop_size < 16:
            raise ConfigError(f"crop_size must be at least 16 pixels, got {self.crop_size}")
        for name in ("lr", "style_scale"):
            validate.number(name, getattr(self, name))
        for name in WEIGHTS:
            validate.number(name, getattr(self, name), allow_zero=True)
        s(self, "flip", validate.boolean("flip", self.flip))
        if not isinstance(self.targets, str):
            raise ConfigError(f"targets must be a folder's path, got {self.targets!r}")
        s(self, "content_from", validate.choice(ContentFrom, self.content_from, "content_from"))
        s(self, "pooling", validate.choice(Pooling, self.pooling, "pooling"))
        s(self, "padding", validate.choice(Padding, self.padding, "padding"))
        s(self, "precision", validate.choice(Precision, self.precision, "precision"))
        s(self, "device", validate.device(self.device))
        for name in ("content_layers", "style_layers"):
            s(self, name, validate.layer_names(name, getattr(self, name)))

    @property
    def layers(self) -> tuple[str, ...]:
        return self.content_layers + self.style_layers

"""Settings of an upscaler: its shape (:class:`UpscalerConfig`) and its training
(:class:`UpscaleTrainConfig`), frozen dataclasses whose fields carry
:func:`impasto.config.setting` metadata, as the style networks' do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import impasto.validate as validate
from impasto.config import Precision, Settings, StyleConfig, setting
from impasto.errors import ConfigError
from impasto.network.config import stylize_help

SCALES: tuple[int, ...] = (2, 4)


def check_scale(scale: Any) -> int:
    """``scale`` when it is 2 or 4; a ConfigError naming the choices otherwise."""
    if isinstance(scale, str) and scale.strip() in ("2", "4"):
        scale = int(scale)
    if isinstance(scale, bool) or not isinstance(scale, int) or scale not in SCALES:
        raise ConfigError(f"scale must be 2 or 4, got {scale!r}")
    return int(scale)


@dataclass(frozen=True)
class UpscalerConfig(Settings):
    """The network's shape, after FSRCNN (Dong, Loy & Tang, ECCV 2016): feature extraction
    (5x5, ``features`` filters), shrinking (1x1 to ``shrink``), ``mapping`` 3x3 layers,
    expanding (1x1) and one head per scale. Departures: a sub-pixel convolution head (Shi et
    al. 2016) instead of the 9x9 deconvolution, whose uneven overlap leaves a checkerboard;
    and the network adds a residual to the bicubic enlargement, so an untrained head gives
    bicubic rather than grey."""

    features: int = field(
        default=64, metadata=setting("filters of the outer layers", group="network")
    )
    shrink: int = field(
        default=32, metadata=setting("filters of the mapping layers", group="network")
    )
    mapping: int = field(default=6, metadata=setting("3x3 mapping layers", group="network"))
    scales: tuple[int, ...] = field(
        default=SCALES, metadata=setting("the scales the network has a head for", group="network")
    )

    def __post_init__(self) -> None:
        for name in ("features", "shrink"):
            validate.integer(name, getattr(self, name), 1)
        validate.integer("mapping", self.mapping, 0)
        scales = tuple(sorted({check_scale(s) for s in self.scales}))
        if not scales:
            raise ConfigError("scales must name at least one of 2 and 4")
        object.__setattr__(self, "scales", scales)


@dataclass(frozen=True)
class UpscaleTrainConfig(Settings):
    """Every setting of training an upscaler. The loss is the pixels' mean absolute error
    plus ``feature_weight`` times the engine's content error (``content_layer_loss``) at
    ``feature_layers`` of VGG19 (Johnson et al. 2016 use relu2_2 for super-resolution)."""

    steps: int = field(
        default=7000, metadata=setting("training steps (batches)", group="optimisation")
    )
    minutes: float = field(
        default=0.0,
        metadata=setting(
            "stop after this many minutes even before --steps (0: no limit)", group="optimisation"
        ),
    )
    batch_size: int = field(default=4, metadata=setting("crops per step", group="optimisation"))
    crop_size: int = field(
        default=64,
        metadata=setting(
            "side of the square high-resolution crops, px (a multiple of 4)", group="size"
        ),
    )
    photo_side: int = field(
        default=720,
        metadata=setting(
            "photos are first shrunk to this short side (px): it removes most JPEG blocking and "
            "keeps them in memory",
            group="size",
        ),
    )
    blur: float = field(
        default=1.0,
        metadata=setting(
            "the inputs are Gaussian-blurred with a sigma drawn from [0, this] (high-resolution "
            "px) before the bicubic shrink, as in Johnson et al. 2016",
            group="losses",
        ),
    )
    detail: float = field(
        default=0.5,
        metadata=setting(
            "share of the crops drawn that a batch keeps: batch_size / detail crops are drawn "
            "and those with the most fine detail (the largest error of a 4x bicubic round trip) "
            "kept, so out-of-focus backgrounds do not fill the batches",
            group="optimisation",
        ),
    )
    lr: float = field(default=1e-3, metadata=setting("Adam's learning rate", group="optimisation"))
    pixel_weight: float = field(
        default=1.0, metadata=setting("weight of the pixels' L1 error", group="losses")
    )
    feature_weight: float = field(
        default=1e-8,
        metadata=setting(
            "weight of the VGG19 feature error (the engine's content error is summed over "
            "channels, ~1e5-2e6 at relu2_2 here: 1e-8 makes it a fifth to a half of the L1 "
            "term; 1e-7 with lr 2e-3 painted a 4 px grid into smooth areas by 1500 steps)",
            group="losses",
        ),
    )
    grid_weight: float = field(
        default=0.0,
        metadata=setting(
            "weight of the sub-pixel grid error: the fine detail's mean at each position modulo "
            "the scale in 16 px windows, output against target (0: off; the painting fine-tune "
            "of stylize --upscale uses 3)",
            group="losses",
        ),
    )
    feature_layers: tuple[str, ...] = field(
        default=("relu2_2",),
        metadata=setting("VGG19 layers of the feature error", group="losses", layers=True),
    )
    precision: Precision = field(
        default=StyleConfig().precision, metadata=stylize_help("precision")
    )
    device: str = field(default=StyleConfig().device, metadata=stylize_help("device"))
    seed: int = field(
        default=0, metadata=setting("seed of the weights and of the crops", group="optimisation")
    )

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "crop_size", "photo_side"):
            validate.integer(name, getattr(self, name), 1)
        if self.crop_size % 4 or self.crop_size < 16:
            raise ConfigError(
                f"crop_size must be a multiple of 4 and at least 16, got {self.crop_size}"
            )
        if self.photo_side < self.crop_size:
            raise ConfigError(
                f"photo_side must be at least crop_size ({self.crop_size}), got {self.photo_side}"
            )
        validate.integer("seed", self.seed, 0)
        validate.number("lr", self.lr)
        if not (isinstance(self.detail, (int, float)) and 0 < self.detail <= 1):
            raise ConfigError(f"detail must be in (0, 1], got {self.detail!r}")
        for name in ("minutes", "blur", "pixel_weight", "feature_weight", "grid_weight"):
            validate.number(name, getattr(self, name), allow_zero=True)
        object.__setattr__(
            self, "precision", validate.choice(Precision, self.precision, "precision")
        )
        object.__setattr__(self, "device", validate.device(self.device))
        object.__setattr__(
            self, "feature_layers", validate.layer_names("feature_layers", self.feature_layers)
        )

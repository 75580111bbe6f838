"""Settings of a run: frozen dataclasses and enums, with every default in this one file.

Each :class:`StyleConfig` field carries a :class:`Setting` (its help, group and choices, written
once); the CLI's flags and the studio's form are both built from them. The whole config (with
the seed) is written into the output PNG's metadata, so a picture always says how it was made.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NotRequired, TypedDict, TypeVar

import impasto.validate as validate
from impasto.errors import ConfigError
from impasto.jsontypes import JSONObject
from impasto.layers import (
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_STYLE_LAYERS,
    LAYER_PRESETS,
)


class Optimizer(str, Enum):
    """How the pixels are optimised."""

    LBFGS = "lbfgs"  # the paper's choice: few, expensive, well-directed steps
    ADAM = "adam"  # first-order; needs more steps, but each step costs one evaluation


class Init(str, Enum):
    """Where the optimisation starts. Any other value of ``StyleConfig.init`` is an image path."""

    # The photo recoloured to the painting's colours (each RGB channel's histogram matched):
    # the default since issue 13, where it moved every measured pair past the plain method.
    PALETTE = "palette"
    CONTENT = "content"  # a copy of the content photo: keeps the photo's colours longest
    NOISE = "noise"  # white noise, as in the paper: a different picture per seed
    BLUR = "blur"  # a Gaussian-blurred content: detail comes from the style


class Pooling(str, Enum):
    MAX = "max"  # what VGG19 was trained with
    AVG = "avg"  # the paper's figures: "slightly more appealing results"


class ColorPreservation(str, Enum):
    """Keep the content's colours (Gatys et al. 2017, section 5)."""

    NONE = "none"
    LUMINANCE = "luminance"  # transfer style on luminance only, then take the content's chroma
    HISTOGRAM = "histogram"  # recolour the style to the content's colour mean and covariance


class Precision(str, Enum):
    """Arithmetic of the network's convolutions. Gram matrices and losses are always float32."""

    FP32 = "fp32"
    BF16 = "bf16"  # bfloat16 autocast: faster only where the CPU has fast bf16 (e.g. AMX)
    AUTO = "auto"  # bf16 where a quick measurement shows it faster than fp32, else fp32


class Padding(str, Enum):
    """Convolution padding. Zero padding (what VGG was trained with) leaves stripes along the
    borders of synthesised images; reflection gives the border pixels real neighbours."""

    ZERO = "zeros"
    REFLECT = "reflect"
    REPLICATE = "replicate"


# The enlargements of StyleConfig.upscale (1: none), and the steps its upscaler is fine-tuned
# on the painting by default (docs/upscale.md has the measurements behind it).
UPSCALES: tuple[int, ...] = (1, 2, 4)
UPSCALES_TEXT: tuple[str, ...] = tuple(str(u) for u in UPSCALES)
UPSCALE_FINETUNE = 0

# torch.Generator.manual_seed takes a signed 64-bit seed.
MAX_SEED = 2**63 - 1
# Loss weights above this are refused: the weighted terms are float32 (at most 3.4e38), and 1e30
# leaves eight orders of magnitude for the loss a weight multiplies. (A run whose loss still
# overflows stops with DivergedError naming the weight.)
MAX_WEIGHT = 1e30


SETTING = "impasto.setting"  # the key of a StyleConfig field's Setting in its metadata

# The groups a field's flag is listed under in ``impasto stylize --help``, in this order.
GROUPS: tuple[str, ...] = ("styles", "size", "losses", "optimisation", "network")


@dataclass(frozen=True)
class Setting:
    """How a :class:`StyleConfig` field is presented: written once, read by the command line
    (its flag and help) and by the studio (its form entry).

    ``help`` reads as a phrase that fits both a terminal and a web page; the default and the
    choices are not written in it, since they are read from the field itself.
    """

    help: str
    group: str
    label: str = ""  # the studio's label; "" = the field name in words
    metavar: str | None = None  # the CLI's placeholder; None = argparse's (the flag in capitals)
    choices: tuple[str, ...] = ()  # the keywords a text or enum field takes
    other: str = ""  # what else the field takes beside ``choices``, e.g. "an image path"
    default_text: str = ""  # the default in words, where the value alone says too little
    layers: bool = False  # the value names VGG19 layers (one, or a comma-separated list)
    presets: bool = False  # ... or a name of LAYER_PRESETS
    content_only: bool = False  # means nothing without a content image (not in `texture`)
    main: bool = False  # the studio shows it above the fold


def setting(
    help: str,
    *,
    group: str,
    label: str = "",
    metavar: str | None = None,
    choices: type[Enum] | tuple[str, ...] = (),
    other: str = "",
    default_text: str = "",
    layers: bool = False,
    presets: bool = False,
    content_only: bool = False,
    main: bool = False,
) -> dict[str, Setting]:
    """The ``metadata`` of a StyleConfig field: ``field(default=..., metadata=setting(...))``.
    The arguments are :class:`Setting`'s; ``choices`` may be an Enum class, whose values are
    taken in order."""
    if group not in GROUPS:
        raise ConfigError(f"unknown settings group {group!r}; choose one of: {', '.join(GROUPS)}")
    values = tuple(str(m.value) for m in choices) if isinstance(choices, type) else choices
    meta = Setting(
        help,
        group,
        label=label,
        metavar=metavar,
        choices=values,
        other=other,
        default_text=default_text,
        layers=layers,
        presets=presets,
        content_only=content_only,
        main=main,
    )
    return {SETTING: meta}


def setting_of(f: dataclasses.Field[Any]) -> Setting:
    """The :class:`Setting` written on a StyleConfig field."""
    return f.metadata[SETTING]


def default_text(f: dataclasses.Field[Any]) -> str:
    """A field's default as a user reads it: ``512``, ``relu1_1,relu2_1``, ``avg``, ``1e+06``."""
    meta = setting_of(f)
    if meta.default_text:
        return meta.default_text
    return value_text(f.default)


def value_text(value: Any) -> str:
    """A setting's value as a user reads it (see :func:`default_text`)."""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def help_text(f: dataclasses.Field[Any], default: Any = dataclasses.MISSING) -> str:
    """A field's help with its default, as both the CLI and the studio show it; ``default``:
    another default than the field's (a mode's own, as photo mode's)."""
    shown = default_text(f) if default is dataclasses.MISSING else value_text(default)
    return f"{setting_of(f).help} (default {shown})"


_PRESETS = ", ".join(LAYER_PRESETS)


SettingsT = TypeVar("SettingsT", bound="Settings")


class Settings:
    """What every settings dataclass (StyleConfig, AudioConfig, TrainConfig, NetworkConfig,
    ApplyConfig) can do: change a field (validated again), and go to and from plain JSON values
    for metadata, checkpoints and the studio."""

    def replace(self: SettingsT, **changes: Any) -> SettingsT:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> JSONObject:
        return settings_to_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls: type[SettingsT], data: JSONObject) -> SettingsT:
        return settings_from_dict(cls, data)


@dataclass(frozen=True)
class StyleConfig(Settings):
    """Every setting of a style transfer run.

    Sizes are in pixels of the output's long side. Loss weights: ``content_weight`` is the
    paper's alpha, ``style_weight`` its beta; only their ratio and ``tv_weight`` matter to the
    result, but the absolute values set the loss scale shown in the progress bar.

    Each field's help, flag and choices are written once, in its :class:`Setting`.
    """

    size: int = field(
        default=512,
        metadata=setting(
            "long side of the output, in pixels",
            group="size",
            label="Size (long side, px)",
            main=True,
        ),
    )
    style_scale: float = field(
        default=1.0,
        metadata=setting(
            "stroke size: the style image's long side as a multiple of the output's, at every "
            "output size (2 paints strokes twice as large, the same share of a 256 or a "
            "2048 px picture)",
            group="size",
            label="Stroke size (style scale)",
        ),
    )
    content_layers: tuple[str, ...] = field(
        default=DEFAULT_CONTENT_LAYERS,
        metadata=setting(
            "VGG19 layers whose features the picture keeps from the content, comma-separated",
            group="losses",
            layers=True,
        ),
    )
    style_layers: tuple[str, ...] = field(
        default=DEFAULT_STYLE_LAYERS,
        metadata=setting(
            "VGG19 layers whose Gram matrices make the style, comma-separated, or one of the "
            f"paper's figure 3 presets: {_PRESETS}",
            group="losses",
            layers=True,
            presets=True,
        ),
    )
    style_layer_weights: tuple[float, ...] | None = field(  # None: equal weights summing to 1
        default=None,
        metadata=setting(
            "one weight per style layer, comma-separated", group="losses", default_text="equal"
        ),
    )
    content_weight: float = field(
        default=1.0,
        metadata=setting("alpha, the weight of the content loss", group="losses"),
    )
    style_weight: float = field(
        default=1.0,
        metadata=setting(
            "beta, the weight of the style loss: larger gives more style",
            group="losses",
            label="Style strength",
            main=True,
        ),
    )
    tv_weight: float = field(
        default=1e6,
        metadata=setting(
            "total variation weight: smooths noise",
            group="losses",
            label="Smoothness (TV weight)",
        ),
    )
    # Luan et al. 2017's photorealism term (the photo's matting Laplacian, Levin et al. 2008);
    # 0 leaves it out (painterly transfer). `impasto photo` sets it (api.photo's defaults).
    photo_weight: float = field(
        default=0.0,
        metadata=setting(
            "weight of the photorealism term (Luan et al. 2017): above 0 the output stays, in "
            "every 3x3 window, an affine recolouring of the photo, so a photograph stays one",
            group="losses",
            content_only=True,
        ),
    )
    # Levin et al. 2008's eps in the matting Laplacian of the realism term and of photo mode's
    # smoothed start (preprocess.matting; its EPSILON is this default, Luan et al.'s 1e-7).
    # Measured at 512 px on Luan et al.'s pairs, 1e-5 against 1e-7: edge SSIM up on four of
    # six (in22 0.315 -> 0.558), style SWD up on all six (less of the reference): docs/settings.md.
    photo_epsilon: float = field(
        default=1e-7,
        metadata=setting(
            "regulariser of the photorealism term's matting Laplacian (Levin et al. 2008; Luan "
            "et al.'s 1e-7): raise it to 1e-6 or 1e-5 when a photo-mode output shows speckles "
            "or streaks in smooth areas (the photo's own noise amplified); a larger value keeps "
            "more of the photo's edges and less of the reference's texture. Only used with a "
            "photo weight above 0",
            group="losses",
            metavar="EPS",
            content_only=True,
        ),
    )
    optimizer: Optimizer = field(
        default=Optimizer.LBFGS,
        metadata=setting("how the pixels are optimised", group="optimisation", choices=Optimizer),
    )
    lr: float | None = field(  # None: 1.0 for L-BFGS, 0.02 for Adam (pixels in [0, 1])
        default=None,
        metadata=setting(
            "step size of the optimiser",
            group="optimisation",
            label="Learning rate",
            default_text="1 for lbfgs, 0.02 for adam",
        ),
    )
    steps: int | tuple[int, ...] = field(  # in all, or one count per scale (coarse to fine)
        default=150,
        metadata=setting(
            "optimisation steps in all, spread over the scales, or one count per scale from "
            "coarse to fine, e.g. 100,60,30,15",
            group="optimisation",
            main=True,
        ),
    )
    # Of a total ``steps``, how many the last scale (the full size) gets; None: 8/15 (80 of
    # 150), less above 512 px (preprocess.resize.default_final_steps).
    final_steps: int | None = field(
        default=None,
        metadata=setting(
            "how many of the steps the full size (the last scale) gets; the rest is spread "
            "over the smaller scales. Large outputs gain most",
            group="optimisation",
            metavar="N",
            default_text="the final share of the steps; above 512 px, as many as cost that "
            "share's time at 512",
        ),
    )
    # Of a total ``steps``, the share the full size gets when ``final_steps`` is not set (less
    # above 512 px: preprocess.resize.default_final_steps). 8/15: 80 of 150 at 512 px, which no
    # plain-method run dominated on five pairs where a third of 180 was (issue 28).
    final_share: float = field(
        default=8 / 15,
        metadata=setting(
            "of the steps in all, the share the full size (the last scale) gets where its "
            "count is not set; above 512 px as many as cost that share's time at 512 px, so "
            "one share suits every size",
            group="optimisation",
            metavar="F",
            default_text="8/15 (80 of 150)",
        ),
    )
    init: str = field(  # "palette", "content", "noise", "blur" or a path to an image file
        default=Init.PALETTE.value,
        metadata=setting(
            "where the optimisation starts",
            group="optimisation",
            choices=Init,
            other="an image path",
        ),
    )
    seed: int = field(
        default=0,
        metadata=setting("random seed", group="optimisation", main=True),
    )
    pooling: Pooling = field(
        default=Pooling.AVG,
        metadata=setting("VGG19's pooling layers", group="network", choices=Pooling),
    )
    padding: Padding = field(
        default=Padding.REFLECT,
        metadata=setting(
            "VGG19's convolution padding; zeros leaves stripes along the borders",
            group="network",
            choices=Padding,
        ),
    )
    scales: int = field(
        default=4,
        metadata=setting("coarse-to-fine levels; 1: a single scale", group="size"),
    )
    min_size: int = field(
        default=128,
        metadata=setting("long side of the coarsest level, in pixels", group="size"),
    )
    precision: Precision = field(
        default=Precision.AUTO,
        metadata=setting(
            "bf16 convolutions where the CPU has native bfloat16; auto measures which is faster",
            group="optimisation",
            choices=Precision,
        ),
    )
    device: str = field(
        default="auto",
        metadata=setting(
            "where to compute: auto (a CUDA GPU, then Apple's MPS, then the CPU), cpu, cuda, "
            "cuda:N or mps",
            group="optimisation",
            metavar="DEVICE",
        ),
    )
    preserve_color: ColorPreservation = field(
        default=ColorPreservation.NONE,
        metadata=setting(
            "keep the content's colours",
            group="styles",
            choices=ColorPreservation,
            content_only=True,
            main=True,
        ),
    )
    # Scale mix (Gatys et al. 2017, section 5): with a coarse style image, style layers from
    # this one down take their targets from it, the shallower (finer) ones from the style.
    coarse_from: str = field(
        default="relu3_1",
        metadata=setting(
            "scale mix: this layer and the deeper ones take their style from the coarse style "
            "image, the shallower (finer) ones from the style",
            group="styles",
            layers=True,
        ),
    )
    # Tiles (px) for the loss of large images: 0 = automatic (768 px tiles for scales above
    # tile_above() pixels), a number forces tiles of that size.
    tile: int = field(
        default=0,
        metadata=setting(
            "compute the loss on tiles of this many pixels (at least 64) at every scale; "
            "0: only at scales too large for this machine's memory",
            group="size",
            metavar="PX",
        ),
    )
    # Stop a scale when the loss improved less than this (relative) in 10 steps.
    tol: float = field(
        default=1e-3,
        metadata=setting(
            "stop a scale early when the loss improves less than this fraction in 10 steps; "
            "0: never",
            group="optimisation",
            label="Early-stop tolerance",
        ),
    )
    # The large-picture route (issue 27; docs/upscale.md): paint at size / upscale with the
    # engine, then enlarge with the upscaler (superres.route). 1: the engine paints at size.
    upscale: int = field(
        default=1,
        metadata=setting(
            "paint at size / this (rounded) and enlarge the result this many times with the "
            "bundled upscaler: a large picture for about the time of a run at size / this, "
            "instead of tile by tile (stylize only)",
            group="size",
            choices=("1", "2", "4"),
        ),
    )
    upscale_finetune: int = field(
        default=UPSCALE_FINETUNE,
        metadata=setting(
            "with upscale: before it enlarges, fine-tune the upscaler this many steps on crops "
            "of the style image (its own strokes are the high-resolution data), cached per "
            "painting; 0: the bundled upscaler as it is. Experimental: 100 steps lower the "
            "feature error by an eighth but show no new brushwork at full size (docs/upscale.md)",
            group="size",
            metavar="STEPS",
        ),
    )

    def __post_init__(self) -> None:
        self._check_steps()
        self._check_counts()
        self._check_final_steps()
        self._check_numbers()
        self._check_choices()
        self._check_layers()
        self._check_init()
        self._check_layer_weights()
        self._check_upscale()

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # a frozen dataclass normalising its own input

    def _check_steps(self) -> None:
        """``steps``: a total, or one count per scale (a list, or text like "100,60,30")."""
        steps = self.steps
        if isinstance(steps, str):
            try:
                steps = tuple(int(v) for v in steps.split(","))
            except ValueError:
                raise ConfigError(
                    f"steps must be a positive integer or a comma-separated list, got {steps!r}"
                ) from None
        if isinstance(steps, (list, tuple)):
            steps = tuple(steps)
            if len(steps) == 1:
                steps = steps[0]
            elif not steps or any(
                not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in steps
            ):
                raise ConfigError(f"steps per scale must be positive integers, got {steps!r}")
        self._set("steps", steps)

    def _check_counts(self) -> None:
        """The positive integers (a whole float such as 512.0 is taken as the integer)."""
        names = (
            ("size", "scales", "min_size")
            if isinstance(self.steps, tuple)
            else ("size", "steps", "scales", "min_size")
        ) + (("final_steps",) if self.final_steps is not None else ())
        for name in names:
            v = getattr(self, name)
            if isinstance(v, float) and v.is_integer():
                v = int(v)
                self._set(name, v)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if self.size < 16:
            raise ConfigError(f"size must be at least 16 pixels, got {self.size}")
        if self.min_size < 16:
            raise ConfigError(f"min_size must be at least 16 pixels, got {self.min_size}")

    def _check_final_steps(self) -> None:
        """``final_share``, and ``final_steps`` alone; how it fits the scales is a question for
        the step plan, which ``impasto.api.check_settings`` asks before any work."""
        share = self.final_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise ConfigError(f"final_share must be a number above 0 and at most 1, got {share!r}")
        self._set("final_share", float(share))
        if self.final_steps is not None and isinstance(self.steps, tuple):
            raise ConfigError(
                "final_steps needs steps as a total; with one count per scale, the last count "
                "is already the final scale's"
            )

    def _check_numbers(self) -> None:
        """The seed, the weights, the tolerance, the tile size and the step size."""
        seed = self.seed
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
            raise ConfigError(
                f"seed must be a non-negative integer up to 2^63 - 1 ({MAX_SEED}), got {seed!r}"
            )
        validate.number("style_scale", self.style_scale)
        for name in ("content_weight", "style_weight", "tv_weight", "photo_weight"):
            validate.number(name, getattr(self, name), allow_zero=True)
            if getattr(self, name) > MAX_WEIGHT:
                raise ConfigError(
                    f"{name} must be at most {MAX_WEIGHT:g} (larger overflows the float32 "
                    f"loss), got {getattr(self, name)!r}"
                )
        validate.number("tol", self.tol, allow_zero=True)
        validate.number("photo_epsilon", self.photo_epsilon)  # > 0: Sigma + eps/9 Id inverts
        if not isinstance(self.tile, int) or isinstance(self.tile, bool) or self.tile < 0:
            raise ConfigError(
                f"tile must be 0 (automatic) or a tile size in pixels, got {self.tile!r}"
            )
        if 0 < self.tile < 64:
            raise ConfigError(f"tile must be at least 64 pixels, got {self.tile}")
        if self.lr is not None:
            validate.number("lr", self.lr)

    def _check_choices(self) -> None:
        self._set("optimizer", validate.choice(Optimizer, self.optimizer, "optimizer"))
        self._set("pooling", validate.choice(Pooling, self.pooling, "pooling"))
        self._set("padding", validate.choice(Padding, self.padding, "padding"))
        self._set("precision", validate.choice(Precision, self.precision, "precision"))
        colour = validate.choice(ColorPreservation, self.preserve_color, "preserve_color")
        self._set("preserve_color", colour)
        self._set("device", validate.device(self.device))

    def _check_layers(self) -> None:
        self._set("coarse_from", validate.layer_names("coarse_from", self.coarse_from)[0])
        self._set("content_layers", validate.layer_names("content_layers", self.content_layers))
        style_layers = self.style_layers
        if isinstance(style_layers, str) and style_layers in LAYER_PRESETS:
            style_layers = LAYER_PRESETS[style_layers]
        self._set("style_layers", validate.layer_names("style_layers", style_layers))

    def _check_init(self) -> None:
        init = str(self.init)
        if init.lower() in {m.value for m in Init}:
            init = init.lower()
        elif not init:
            raise ConfigError("init must be palette, content, noise, blur or an image path, got ''")
        self._set("init", init)

    def _check_layer_weights(self) -> None:
        w = self.style_layer_weights
        if w is None:
            return
        if isinstance(w, str):
            try:
                w = tuple(float(x) for x in w.split(","))
            except ValueError:
                raise ConfigError(
                    f"style_layer_weights must be comma-separated numbers, got {w!r}"
                ) from None
        try:
            w = tuple(float(x) for x in w)
        except (TypeError, ValueError):
            raise ConfigError(f"style_layer_weights must be numbers, got {w!r}") from None
        if len(w) != len(self.style_layers):
            raise ConfigError(
                f"style_layer_weights has {len(w)} values but there are "
                f"{len(self.style_layers)} style layers ({','.join(self.style_layers)})"
            )
        for x in w:
            validate.number("each style layer weight", x, allow_zero=True)
        if sum(w) <= 0:
            raise ConfigError("style_layer_weights must not all be zero")
        self._set("style_layer_weights", w)

    def _check_upscale(self) -> None:
        up = self.upscale
        if isinstance(up, str) and up.strip() in UPSCALES_TEXT:
            up = int(up)
        if isinstance(up, bool) or not isinstance(up, int) or up not in UPSCALES:
            raise ConfigError(f"upscale must be 1 (off), 2 or 4, got {self.upscale!r}")
        self._set("upscale", up)
        steps = validate.integer("upscale_finetune", self.upscale_finetune, 0)
        self._set("upscale_finetune", steps)
        if self.painted_size < 16:
            raise ConfigError(
                f"size / upscale must be at least 16 pixels, got {self.size} / {up} = "
                f"{self.painted_size}"
            )

    # -- derived values ---------------------------------------------------------------------
    @property
    def painted_size(self) -> int:
        """The long side the engine paints at: ``size / upscale`` rounded to the nearest pixel
        (halves up); the upscaler then enlarges it to ``size``."""
        return max(1, int(self.size / self.upscale + 0.5))  # halves up, not to even

    @property
    def layer_weights(self) -> tuple[float, ...]:
        """Per-style-layer weights w_l (paper eq. 5); equal and summing to one by default."""
        if self.style_layer_weights is None:
            n = len(self.style_layers)
            return tuple(1.0 / n for _ in range(n))
        return self.style_layer_weights

    @property
    def total_steps(self) -> int:
        return self.steps if isinstance(self.steps, int) else sum(self.steps)

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 1.0 if self.optimizer is Optimizer.LBFGS else 0.02

    @property
    def init_kind(self) -> Init | None:
        """The init keyword, or None when ``init`` is an image path."""
        try:
            return Init(self.init)
        except ValueError:
            return None


def flag_of(name: str) -> str:
    """The command-line flag of a config field: ``style_weight`` → ``--style-weight``."""
    return "--" + name.replace("_", "-")


def number_type(tp: Any) -> type | None:
    """int or float for a field holding one number (or None); None (text) for the rest."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else None
    return tp if tp in (int, float) else None


class FlagKwargs(TypedDict):
    """The keywords ``flag_kwargs`` hands to argparse's ``add_argument``."""

    help: str
    type: NotRequired[type]  # int or float for a number field
    metavar: NotRequired[str]


def flag_kwargs(
    f: dataclasses.Field[Any], hint: Any, prefix: str = "", default: Any = dataclasses.MISSING
) -> FlagKwargs:
    """argparse's keywords for the flag of setting field ``f`` (whose resolved type is
    ``hint``): its help (after ``prefix``, with the choices, and what else it takes, first;
    ``default`` shown where a command has its own, as :func:`help_text`), int/float
    conversion, and metavar; no argparse default, so a flag not given leaves the dataclass
    default (or the command's)."""
    meta = setting_of(f)
    text = prefix + help_text(f, default)
    if meta.choices:
        also = f" or {meta.other}" if meta.other else ""
        text = f"{'|'.join(meta.choices)}{also}: {text}"
    kwargs: FlagKwargs = {"help": text}
    kind = number_type(hint)
    if kind is not None:
        kwargs["type"] = kind
    if meta.metavar is not None:
        kwargs["metavar"] = meta.metavar
    return kwargs


def as_flags(error: ConfigError, fields: Iterable[str]) -> ConfigError:
    """``error`` with the config field names among ``fields`` written as the command-line flags
    built from them (``style_weight`` → ``--style-weight``), for shells that take flags."""
    msg = str(error)
    for name in sorted(fields, key=len, reverse=True):
        msg = re.sub(rf"(?<![\w-]){name}\b", flag_of(name), msg)
    return ConfigError(msg)


DataT = TypeVar("DataT")


def settings_to_dict(settings: Any) -> JSONObject:
    """A settings dataclass (StyleConfig, AudioConfig, TrainConfig, ...) as plain JSON values:
    enums by their value, tuples as lists. What metadata, checkpoints and the studio store."""
    out: JSONObject = {}
    for f in dataclasses.fields(settings):
        v = getattr(settings, f.name)
        if isinstance(v, Enum):
            v = v.value
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


# The full size's share that settings saved before ``final_share`` existed ran with.
FINAL_SHARE_BEFORE_IT_WAS_KEPT = 1 / 3


def saved_style_settings(data: JSONObject) -> JSONObject:
    """A StyleConfig dict that a checkpoint kept: one written before ``final_share`` existed
    ran its step plan with a third at the full size, so it resumes with that plan, not with
    today's default (a partial dict from a form is not this: there a missing field means
    the default)."""
    if "final_share" in data:
        return data
    return {**data, "final_share": FINAL_SHARE_BEFORE_IT_WAS_KEPT}


def settings_from_dict(cls: type[DataT], data: JSONObject) -> DataT:
    """``settings_to_dict``'s output read back (lists as tuples); unknown names are refused."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

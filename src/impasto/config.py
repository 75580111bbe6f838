"""Settings of a run: frozen dataclasses and enums, with every default in this one file.

The CLI builds its flags from :class:`StyleConfig`'s fields and the web form will too, and the
whole config (with the seed) is written into the output PNG's metadata, so a picture always says
how it was made.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from impasto.errors import ConfigError
from impasto.layers import (
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_STYLE_LAYERS,
    LAYER_NAMES,
    LAYER_PRESETS,
)

# Above this many pixels a scale's loss is computed on tiles (see losses/tiled.py), which keeps
# memory bounded: a whole 4096 x 3072 image does not fit in 24 GB for a backward pass. On a
# machine with less memory the threshold is lower: see tile_above().
TILE_ABOVE = 4_200_000
AUTO_TILE = 768
# Peak memory of a scale computed whole, from benchmarks/memory.py: about 3.5 KiB per pixel
# (VGG19 forward and backward to relu5_1, the L-BFGS state) over ~0.5 GiB for the rest.
BYTES_PER_PIXEL = 3.5 * 1024
BASE_BYTES = 0.5 * 2**30
MEMORY_SHARE = 0.6  # of the machine's (or container's) memory a whole scale may take


def memory_limit() -> int | None:
    """Bytes this process may use at most: the physical memory, or the container's limit
    (cgroup v2 or v1) where that is lower; None where neither can be read."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # "max" or a huge number: no limit
            limits.append(int(text))
    positive = [v for v in limits if v > 0]
    return min(positive) if positive else None


@functools.cache
def tile_above() -> int:
    """Pixels above which a scale is computed on tiles: TILE_ABOVE, or fewer where the
    machine's memory could not hold such a scale computed whole (never below one tile)."""
    limit = memory_limit()
    if limit is None:
        return TILE_ABOVE
    fits = int((MEMORY_SHARE * limit - BASE_BYTES) / BYTES_PER_PIXEL)
    return max(AUTO_TILE * AUTO_TILE, min(TILE_ABOVE, fits))


class Optimizer(str, Enum):
    """How the pixels are optimised."""

    LBFGS = "lbfgs"  # the paper's choice: few, expensive, well-directed steps
    ADAM = "adam"  # first-order; needs more steps, but each step costs one evaluation


class Init(str, Enum):
    """Where the optimisation starts. Any other value of ``StyleConfig.init`` is an image path."""

    CONTENT = "content"  # a copy of the content photo: fastest to a clean result
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


def _choice(enum: type[Enum], value: Any, what: str) -> Any:
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).lower())
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise ConfigError(f"unknown {what} {value!r}; choose one of: {allowed}") from None


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ConfigError(f"{name} must be {kind} number, got {value!r}")


def _layers(name: str, layers: Any) -> tuple[str, ...]:
    if isinstance(layers, str):
        layers = [s for s in layers.split(",")]
    out = tuple(str(s).strip() for s in layers)
    if not out or any(not s for s in out):
        raise ConfigError(f"{name} must name at least one layer, got {','.join(out)!r}")
    for s in out:
        if s not in LAYER_NAMES:
            raise ConfigError(
                f"unknown layer {s!r} in {name}; valid layers: {', '.join(LAYER_NAMES)}"
            )
    return out


@dataclass(frozen=True)
class StyleConfig:
    """Every setting of a style transfer run.

    Sizes are in pixels of the output's long side. Loss weights: ``content_weight`` is the
    paper's alpha, ``style_weight`` its beta; only their ratio and ``tv_weight`` matter to the
    result, but the absolute values set the loss scale shown in the progress bar.
    """

    size: int = 512
    style_scale: float = 1.0
    content_layers: tuple[str, ...] = DEFAULT_CONTENT_LAYERS
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # None: equal weights summing to 1
    content_weight: float = 1.0
    style_weight: float = 1.0
    tv_weight: float = 1e6
    optimizer: Optimizer = Optimizer.LBFGS
    lr: float | None = None  # None: 1.0 for L-BFGS, 0.02 for Adam (pixels in [0, 1])
    steps: int | tuple[int, ...] = 120  # in all, or one count per scale (coarse to fine)
    # Of a total ``steps``, how many the last scale (the full size) gets; None: spread by size.
    final_steps: int | None = None
    init: str = Init.CONTENT.value  # "content", "noise", "blur" or a path to an image file
    seed: int = 0
    pooling: Pooling = Pooling.AVG
    padding: Padding = Padding.REFLECT
    scales: int = 4
    min_size: int = 128
    precision: Precision = Precision.AUTO
    preserve_color: ColorPreservation = ColorPreservation.NONE
    # Scale mix (Gatys et al. 2017, section 5): with a coarse style image, style layers from
    # this one down take their targets from it, the shallower (finer) ones from the style.
    coarse_from: str = "relu3_1"
    # Tiles (px) for the loss of large images: 0 = automatic (768 px tiles for scales above
    # tile_above() pixels), a number forces tiles of that size.
    tile: int = 0
    tol: float = 1e-3  # stop a scale when the loss improved less than this (relative) in 10 steps

    def __post_init__(self) -> None:
        self._check_steps()
        self._check_counts()
        self._check_final_steps()
        self._check_numbers()
        self._check_choices()
        self._check_layers()
        self._check_init()
        self._check_layer_weights()

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
        if self.final_steps is not None:  # one rule with the run: refused here, before work
            from impasto.preprocess.resize import plan_steps, pyramid_sizes

            sizes = pyramid_sizes(self.size, self.scales, self.min_size)
            plan_steps(self.steps, sizes, self.final_steps)

    def _check_numbers(self) -> None:
        """The seed, the weights, the tolerance, the tile size and the step size."""
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        _positive("style_scale", self.style_scale)
        _positive("content_weight", self.content_weight, allow_zero=True)
        _positive("style_weight", self.style_weight, allow_zero=True)
        _positive("tv_weight", self.tv_weight, allow_zero=True)
        _positive("tol", self.tol, allow_zero=True)
        if not isinstance(self.tile, int) or isinstance(self.tile, bool) or self.tile < 0:
            raise ConfigError(
                f"tile must be 0 (automatic) or a tile size in pixels, got {self.tile!r}"
            )
        if 0 < self.tile < 64:
            raise ConfigError(f"tile must be at least 64 pixels, got {self.tile}")
        if self.lr is not None:
            _positive("lr", self.lr)

    def _check_choices(self) -> None:
        self._set("optimizer", _choice(Optimizer, self.optimizer, "optimizer"))
        self._set("pooling", _choice(Pooling, self.pooling, "pooling"))
        self._set("padding", _choice(Padding, self.padding, "padding"))
        self._set("precision", _choice(Precision, self.precision, "precision"))
        colour = _choice(ColorPreservation, self.preserve_color, "colour mode")
        self._set("preserve_color", colour)

    def _check_layers(self) -> None:
        self._set("coarse_from", _layers("coarse_from", self.coarse_from)[0])
        self._set("content_layers", _layers("content_layers", self.content_layers))
        style_layers = self.style_layers
        if isinstance(style_layers, str) and style_layers in LAYER_PRESETS:
            style_layers = LAYER_PRESETS[style_layers]
        self._set("style_layers", _layers("style_layers", style_layers))

    def _check_init(self) -> None:
        init = str(self.init)
        if init.lower() in {m.value for m in Init}:
            init = init.lower()
        elif not init:
            raise ConfigError("init must be content, noise, blur or an image path, got ''")
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
            _positive("each style layer weight", x, allow_zero=True)
        if sum(w) <= 0:
            raise ConfigError("style_layer_weights must not all be zero")
        self._set("style_layer_weights", w)

    # -- derived values ---------------------------------------------------------------------
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

    def replace(self, **changes: Any) -> StyleConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Enum):
                v = v.value
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StyleConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values)


def as_flags(error: ConfigError, fields: Iterable[str]) -> ConfigError:
    """``error`` with the config field names among ``fields`` written as the command-line flags
    built from them (``style_weight`` → ``--style-weight``), for shells that take flags."""
    msg = str(error)
    for name in sorted(fields, key=len, reverse=True):
        msg = re.sub(rf"(?<![\w-]){name}\b", "--" + name.replace("_", "-"), msg)
    return ConfigError(msg)

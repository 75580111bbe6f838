"""Settings of an audio style transfer or texture run (Ulyanov & Lebedev 2016).

A frozen dataclass with every default in this one place, validated on construction with the
same rules and one-line messages as :class:`impasto.config.StyleConfig`; the whole config is
written into the output file's metadata, so a sound says how it was made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from impasto.config import Optimizer, Settings, check_device
from impasto.errors import ConfigError


class AudioPrecision(str, Enum):
    """Arithmetic of the random convolution. Gram matrices and losses are always float32."""

    FP32 = "fp32"
    BF16 = "bf16"  # bfloat16 autocast: faster only where the CPU has fast bf16 (AVX512-BF16, AMX)


class AudioInit(str, Enum):
    """Where a style transfer starts (a texture always starts from noise)."""

    CONTENT = "content"  # the content's spectrogram: fewest steps to a result that keeps it
    NOISE = "noise"  # small noise, as in the paper's notebook


def _choice(enum: type[Enum], value: Any, what: str) -> Any:
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).lower())
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise ConfigError(f"unknown {what} {value!r}; choose one of: {allowed}") from None


def _number(name: str, value: Any, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ConfigError(f"{name} must be {kind} number, got {value!r}")


def _integer(name: str, value: Any, low: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        what = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ConfigError(f"{name} must be {what}, got {value!r}")
    return value


INTEGERS: dict[str, int] = {  # field -> smallest allowed value
    "sample_rate": 4000,
    "n_fft": 64,
    "filters": 1,
    "width": 1,
    "steps": 1,
    "griffin_lim_iters": 1,
    "seed": 0,
}


@dataclass(frozen=True)
class AudioConfig(Settings):
    """Every setting of an audio run.

    The model is the paper's: the log-magnitude spectrogram log(1 + |STFT|) is a 1-D signal
    whose ``n_fft // 2 + 1`` frequency bins are channels; one random convolution (``filters``
    of ``width`` frames, ReLU, drawn from ``seed``, never trained) gives the features whose
    Gram matrix is the style and whose values are the content. ``hop`` is in samples
    (0: ``n_fft // 4``, the 75 % overlap Griffin-Lim needs). ``max_seconds`` bounds the inputs
    and a texture's length.
    """

    sample_rate: int = 22050
    n_fft: int = 2048
    hop: int = 0
    filters: int = 4096
    width: int = 11
    content_weight: float = 1.0
    style_weight: float = 5.0
    steps: int = 20
    optimizer: Optimizer = Optimizer.LBFGS
    init: AudioInit = AudioInit.CONTENT
    griffin_lim_iters: int = 100
    seed: int = 0
    precision: AudioPrecision = AudioPrecision.BF16
    device: str = "auto"  # auto (a CUDA GPU, then MPS, then the CPU), cpu, cuda, cuda:N, mps
    max_seconds: float = 60.0
    tol: float = 1e-3  # stop when the loss improved less than this (relative) in 10 steps

    def __post_init__(self) -> None:
        s = object.__setattr__
        for name, low in INTEGERS.items():
            s(self, name, _integer(name, getattr(self, name), low))
        s(self, "hop", _integer("hop", self.hop, 0))
        if self.hop > self.n_fft:
            raise ConfigError(f"hop must be at most n_fft ({self.n_fft}), got {self.hop}")
        _number("content_weight", self.content_weight, allow_zero=True)
        _number("style_weight", self.style_weight, allow_zero=True)
        _number("max_seconds", self.max_seconds)
        _number("tol", self.tol, allow_zero=True)
        s(self, "optimizer", _choice(Optimizer, self.optimizer, "optimizer"))
        s(self, "init", _choice(AudioInit, self.init, "init"))
        s(self, "precision", _choice(AudioPrecision, self.precision, "precision"))
        s(self, "device", check_device(self.device))

    # -- derived values ---------------------------------------------------------------------
    @property
    def hop_length(self) -> int:
        return self.hop or self.n_fft // 4

    @property
    def bins(self) -> int:
        """Frequency bins of the spectrogram: the channels of the 1-D signal."""
        return self.n_fft // 2 + 1


D = AudioConfig()
# The help of each field, read by the ``impasto audio`` flags and the studio's audio form.
HELP: dict[str, str] = {
    "sample_rate": f"working sample rate in Hz; inputs are resampled (default {D.sample_rate})",
    "n_fft": f"STFT window in samples (default {D.n_fft})",
    "hop": "STFT hop in samples (default 0: n_fft / 4)",
    "filters": f"random convolution filters (default {D.filters})",
    "width": f"filter width in STFT frames (default {D.width})",
    "content_weight": f"weight of the content loss (default {D.content_weight:g})",
    "style_weight": f"weight of the style loss; higher: more of the style (default "
    f"{D.style_weight:g})",
    "steps": f"optimisation steps (default {D.steps})",
    "optimizer": f"lbfgs|adam (default {D.optimizer.value})",
    "init": f"{'|'.join(m.value for m in AudioInit)}: start of a transfer (default {D.init.value})",
    "griffin_lim_iters": f"Griffin-Lim phase iterations (default {D.griffin_lim_iters})",
    "seed": f"seed of the random filters, the noise and the phase (default {D.seed})",
    "precision": f"{'|'.join(m.value for m in AudioPrecision)}: arithmetic of the convolution "
    f"(default {D.precision.value})",
    "device": "where to compute: auto (a CUDA GPU, then Apple's MPS, then the CPU), cpu, cuda, "
    f"cuda:N or mps (default {D.device})",
    "max_seconds": f"longest input or texture accepted, in seconds (default {D.max_seconds:g})",
    "tol": f"stop when the loss improves less than this fraction in 10 steps (default {D.tol:g})",
}
TYPES: dict[str, Any] = {"optimizer": str, "init": str, "precision": str}

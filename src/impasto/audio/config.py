"""Settings of an audio style transfer or texture run (Ulyanov & Lebedev 2016).

A frozen dataclass with every default in this one place, validated on construction with the
same rules and one-line messages as :class:`impasto.config.StyleConfig`; the whole config is
written into the output file's metadata, so a sound says how it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import impasto.validate as validate
from impasto.config import Optimizer, Settings, setting
from impasto.errors import ConfigError


class AudioPrecision(str, Enum):
    """Arithmetic of the random convolution. Gram matrices and losses are always float32."""

    FP32 = "fp32"
    BF16 = "bf16"  # bfloat16 autocast: faster only where the CPU has fast bf16 (AVX512-BF16, AMX)


class AudioInit(str, Enum):
    """Where a style transfer starts (a texture always starts from noise)."""

    CONTENT = "content"  # the content's spectrogram: fewest steps to a result that keeps it
    NOISE = "noise"  # small noise, as in the paper's notebook


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
    and a texture's length. Each field's help, placeholder and choices are its
    :func:`~impasto.config.setting` metadata, read by ``impasto audio``'s flags and the
    studio's audio form.
    """

    sample_rate: int = field(
        default=22050,
        metadata=setting(
            "working sample rate in Hz; inputs are resampled", group="size", metavar="RATE"
        ),
    )
    n_fft: int = field(
        # The paper's 2048 blurs a pluck's or a syllable's onset over 93 ms; 1024 (46 ms, 21.5 Hz
        # bins) brought both issue 28's pairs nearer the style (docs/audio.md).
        default=1024,
        metadata=setting("STFT window in samples", group="size", metavar="FFT"),
    )
    hop: int = field(
        default=0,
        metadata=setting(
            "STFT hop in samples", group="size", metavar="HOP", default_text="0: n_fft / 4"
        ),
    )
    filters: int = field(
        default=4096,
        metadata=setting("random convolution filters", group="network", metavar="FILTERS"),
    )
    width: int = field(
        default=11,
        metadata=setting("filter width in STFT frames", group="network", metavar="WIDTH"),
    )
    content_weight: float = field(
        default=1.0,
        metadata=setting("weight of the content loss", group="losses", metavar="WEIGHT"),
    )
    style_weight: float = field(
        default=2.0,
        metadata=setting(
            "weight of the style loss; higher: more of the style",
            group="losses",
            metavar="WEIGHT",
            main=True,
        ),
    )
    steps: int = field(
        default=20,
        metadata=setting("optimisation steps", group="optimisation", metavar="STEPS", main=True),
    )
    optimizer: Optimizer = field(
        default=Optimizer.LBFGS,
        # The choices are its whole help (the form offers them from the Enum).
        metadata=setting("lbfgs|adam", group="optimisation", metavar="OPTIMIZER"),
    )
    init: AudioInit = field(
        default=AudioInit.CONTENT,
        metadata=setting(
            "start of a transfer", group="optimisation", metavar="INIT", choices=AudioInit
        ),
    )
    griffin_lim_iters: int = field(
        default=100,
        metadata=setting("Griffin-Lim phase iterations", group="optimisation", metavar="ITERS"),
    )
    seed: int = field(
        default=0,
        metadata=setting(
            "seed of the random filters, the noise and the phase",
            group="optimisation",
            metavar="SEED",
            main=True,
        ),
    )
    precision: AudioPrecision = field(
        default=AudioPrecision.BF16,
        metadata=setting(
            "arithmetic of the convolution",
            group="network",
            metavar="PRECISION",
            choices=AudioPrecision,
        ),
    )
    device: str = field(
        default="auto",
        metadata=setting(
            "where to compute: auto (a CUDA GPU, then Apple's MPS, then the CPU), cpu, cuda, "
            "cuda:N or mps",
            group="network",
            metavar="DEVICE",
        ),
    )
    max_seconds: float = field(
        default=60.0,
        metadata=setting(
            "longest input or texture accepted, in seconds", group="size", metavar="SECONDS"
        ),
    )
    tol: float = field(
        default=1e-3,
        metadata=setting(
            "stop when the loss improves less than this fraction in 10 steps",
            group="optimisation",
            metavar="TOL",
        ),
    )

    def __post_init__(self) -> None:
        s = object.__setattr__
        for name, low in (*INTEGERS.items(), ("hop", 0)):
            what = "" if low == 1 else f"an integer >= {low}"
            s(self, name, validate.integer(name, getattr(self, name), low, what=what))
        if self.hop > self.n_fft:
            raise ConfigError(f"hop must be at most n_fft ({self.n_fft}), got {self.hop}")
        validate.number("content_weight", self.content_weight, allow_zero=True)
        validate.number("style_weight", self.style_weight, allow_zero=True)
        validate.number("max_seconds", self.max_seconds)
        validate.number("tol", self.tol, allow_zero=True)
        s(self, "optimizer", validate.choice(Optimizer, self.optimizer, "optimizer"))
        s(self, "init", validate.choice(AudioInit, self.init, "init"))
        s(self, "precision", validate.choice(AudioPrecision, self.precision, "precision"))
        s(self, "device", validate.device(self.device))

    # -- derived values ---------------------------------------------------------------------
    @property
    def hop_length(self) -> int:
        return self.hop or self.n_fft // 4

    @property
    def bins(self) -> int:
        """Frequency bins of the spectrogram: the channels of the 1-D signal."""
        return self.n_fft // 2 + 1

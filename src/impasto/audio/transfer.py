"""Audio style transfer and sound texture synthesis (Ulyanov & Lebedev 2016).

``transfer`` keeps the content sound's random-feature activations and takes the style sound's
Gram matrix; ``texture`` takes the Gram matrix alone, for any length. Both optimise the
log-magnitude spectrogram with the image engine's optimiser (unbounded above, non-negative:
log(1 + |X|) >= 0) and recover a waveform with Griffin-Lim.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from impasto.audio.config import AudioConfig, AudioInit
from impasto.audio.features import RandomConv1d
from impasto.audio.io import read_audio, write_audio
from impasto.audio.objective import AudioObjective
from impasto.audio.spectral import (
    frames_for,
    griffin_lim,
    log_magnitude,
    magnitude,
)
from impasto.config import Optimizer
from impasto.errors import ConfigError, InvalidAudioError
from impasto.features.device import resolve_device
from impasto.optim.events import Callback, StepEvent
from impasto.optim.loop import PixelOptimizer
from impasto.version import __version__

Sound = str | os.PathLike[str] | np.ndarray  # a file, or mono samples at the working rate
SILENCE = 1e-4
LEVEL = 0.05  # RMS of the analysed inputs: -26 dBFS


@dataclass(frozen=True)
class AudioResult:
    """What a run returns: the waveform and the spectrograms behind it.

    ``spectrogram`` is the optimised log(1 + |STFT|) (bins, frames); ``content`` and ``style``
    are the inputs' (``content`` is None for a texture); ``history`` holds the weighted loss
    terms after each step.
    """

    samples: np.ndarray  # (samples,) float32 in [-1, 1]
    sample_rate: int
    spectrogram: torch.Tensor
    content: torch.Tensor | None
    style: torch.Tensor
    config: AudioConfig
    seconds: float
    history: tuple[dict[str, float], ...] = ()
    sources: dict[str, str] = field(default_factory=dict)

    def metadata(self) -> dict[str, str]:
        """The header fields written with the sound: the settings and the inputs."""
        info = {"config": self.config.to_dict(), **self.sources}
        return {
            "software": f"impasto {__version__}",
            "title": "impasto audio " + ("texture" if self.content is None else "transfer"),
            "comment": json.dumps(info, sort_keys=True),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a .wav, .flac or .ogg file atomically, with :meth:`metadata` in its header."""
        return write_audio(self.samples, path, self.sample_rate, self.metadata())


def load_sound(source: Sound, config: AudioConfig, what: str) -> torch.Tensor:
    """``source`` as mono float32 samples at the working rate; checked for length and silence."""
    if isinstance(source, np.ndarray):
        x = np.asarray(source, dtype=np.float32).reshape(-1)
        if x.size == 0:
            raise InvalidAudioError(f"the {what} sound is empty (no samples)")
        if not np.all(np.isfinite(x)) or float(np.abs(x).max()) < SILENCE:
            raise InvalidAudioError(f"the {what} sound is silent (peak below -80 dBFS)")
        if x.size / config.sample_rate > config.max_seconds:
            raise InvalidAudioError(
                f"the {what} sound is {x.size / config.sample_rate:.1f} s long, more than the "
                f"limit of {config.max_seconds:g} s (max_seconds)"
            )
    else:
        x = read_audio(source, config.sample_rate, config.max_seconds)
    if x.size < config.n_fft:
        raise InvalidAudioError(
            f"the {what} sound is too short: {x.size} samples at {config.sample_rate} Hz, "
            f"need at least n_fft = {config.n_fft}"
        )
    return torch.from_numpy(normalise_loudness(x))


def normalise_loudness(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to an RMS of LEVEL (-26 dBFS).

    log(1 + |X|) and so the Gram statistics depend on the level: a quietly recorded style
    would otherwise mean "quiet" more than "cello". One level for both inputs makes the style
    timbre, and the level leaves headroom: Griffin-Lim's phases add up to peaks about twice
    the content's, which would otherwise have to be scaled down (changing the spectrum heard).
    """
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return np.ascontiguousarray(x * (LEVEL / rms), dtype=np.float32)


def _describe(source: Sound) -> str:
    return "(samples)" if isinstance(source, np.ndarray) else Path(source).name


def _noise(like: torch.Tensor, frames: int, generator: torch.Generator) -> torch.Tensor:
    """Noise with ``like``'s per-bin mean and spread: (bins, frames). A constant start would
    give every frame the same gradient; the noise breaks that symmetry (the paper starts from
    noise too)."""
    mean = like.mean(dim=1, keepdim=True)
    std = like.std(dim=1, keepdim=True)
    noise = torch.randn(like.shape[0], frames, generator=generator)
    return (mean + std * noise).clamp(min=0.0)


def _optimise(
    x0: torch.Tensor,
    objective: AudioObjective,
    config: AudioConfig,
    callback: Callback | None,
    started: float,
) -> tuple[torch.Tensor, tuple[dict[str, float], ...]]:
    """L-BFGS (or Adam) on the (bins, frames) log spectrogram; events as an image run's."""
    lr = 1.0 if config.optimizer is Optimizer.LBFGS else 0.05
    opt = PixelOptimizer(
        x0.unsqueeze(0),
        objective,
        optimizer=config.optimizer,
        lr=lr,
        bounds=(0.0, float("inf")),  # log(1 + |X|) is never negative
    )
    history: list[dict[str, float]] = []
    size = (int(x0.shape[0]), int(x0.shape[1]))

    def on_step(step: int, terms: dict[str, float], x: torch.Tensor) -> None:
        history.append(dict(terms))
        if callback is not None:
            event = StepEvent(
                step=step,
                total_steps=config.steps,
                scale=0,
                scales=1,
                size=size,
                losses=dict(terms),
                elapsed=time.perf_counter() - started,
                image=x,
            )
            callback(event)

    out = opt.run(config.steps, on_step, tol=config.tol)
    return out[0].detach().clone(), tuple(history)


def _to_waveform(spec: torch.Tensor, config: AudioConfig, length: int) -> np.ndarray:
    """Griffin-Lim from the log spectrogram; peak-limited to [-1, 1] (never louder)."""
    generator = torch.Generator().manual_seed(config.seed)
    wave = griffin_lim(
        magnitude(spec),
        config.n_fft,
        config.hop_length,
        length,
        config.griffin_lim_iters,
        generator,
    )
    peak = float(wave.abs().max())
    if peak > 0.99:
        wave = wave * (0.99 / peak)
    return wave.numpy().astype(np.float32)


def _run(
    content: torch.Tensor | None,
    style: torch.Tensor,
    length: int,
    config: AudioConfig,
    callback: Callback | None,
) -> tuple[torch.Tensor, tuple[dict[str, float], ...], np.ndarray, float]:
    """Optimise from the content (or noise) and return (spectrogram, history, waveform of
    ``length`` samples, seconds)."""
    frames = frames_for(length, config.hop_length)
    started = time.perf_counter()
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    net = RandomConv1d(config.bins, config.filters, config.width, config.seed, config.precision)
    net = net.to(device)
    generator = torch.Generator().manual_seed(config.seed)  # noise on the CPU: same everywhere
    if content is not None and config.init is AudioInit.CONTENT:
        x0 = content.clone()
    else:
        x0 = _noise(style, frames, generator)
    with torch.no_grad():
        style_features = net(style.to(device).unsqueeze(0))
        content_features = None if content is None else net(content.to(device).unsqueeze(0))
    objective = AudioObjective(
        net, style_features, content_features, config.content_weight, config.style_weight
    )
    spec, history = _optimise(x0.to(device), objective, config, callback, started)
    spec = spec.cpu()
    wave = _to_waveform(spec, config, length)
    return spec, history, wave, time.perf_counter() - started


def transfer(
    content: Sound,
    style: Sound,
    config: AudioConfig | None = None,
    callback: Callback | None = None,
) -> AudioResult:
    """``content`` (speech, a melody) re-voiced with ``style``'s sound texture.

    ``content`` and ``style`` are files (WAV, FLAC, OGG, MP3 where libsndfile reads it; any
    rate and channels: mixed to mono) or mono float32 samples at ``config.sample_rate``.
    The result has the content's length. ``callback`` gets a StepEvent after each step (its
    ``image`` is the current (1, bins, frames) log spectrogram) and may raise Cancelled.
    """
    cfg = config or AudioConfig()
    device = resolve_device(cfg.device)  # a device this machine lacks: refused before work
    c = load_sound(content, cfg, "content")
    s = load_sound(style, cfg, "style")
    c_spec = log_magnitude(c, cfg.n_fft, cfg.hop_length)
    s_spec = log_magnitude(s, cfg.n_fft, cfg.hop_length)
    spec, history, wave, seconds = _run(c_spec, s_spec, c.numel(), cfg, callback)
    return AudioResult(
        samples=wave,
        sample_rate=cfg.sample_rate,
        spectrogram=spec,
        content=c_spec,
        style=s_spec,
        config=cfg,
        seconds=seconds,
        history=history,
        sources={"content": _describe(content), "style": _describe(style), "device": str(device)},
    )


def texture(
    style: Sound,
    seconds: float | None = None,
    config: AudioConfig | None = None,
    callback: Callback | None = None,
) -> AudioResult:
    """``seconds`` of new sound with ``style``'s texture (its Gram statistics), grown from
    noise; None: as long as ``style``. Any length up to ``config.max_seconds``."""
    cfg = config or AudioConfig()
    device = resolve_device(cfg.device)  # a device this machine lacks: refused before work
    wanted = None if seconds is None else _texture_samples(seconds, cfg)  # before any work
    s = load_sound(style, cfg, "style")
    samples = s.numel() if wanted is None else wanted
    s_spec = log_magnitude(s, cfg.n_fft, cfg.hop_length)
    spec, history, wave, took = _run(None, s_spec, samples, cfg, callback)
    return AudioResult(
        samples=wave,
        sample_rate=cfg.sample_rate,
        spectrogram=spec,
        content=None,
        style=s_spec,
        config=cfg,
        seconds=took,
        history=history,
        sources={"style": _describe(style), "device": str(device)},
    )


def _texture_samples(seconds: float, cfg: AudioConfig) -> int:
    """Samples of a ``seconds`` long texture; ConfigError for a zero, negative or too long one."""
    ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    if not ok or not 0 < seconds <= cfg.max_seconds:
        raise ConfigError(
            f"seconds must be more than 0 and at most {cfg.max_seconds:g} (max_seconds), "
            f"got {seconds!r}"
        )
    samples = round(seconds * cfg.sample_rate)
    if samples < cfg.n_fft:
        raise ConfigError(
            f"seconds must give at least n_fft = {cfg.n_fft} samples "
            f"({cfg.n_fft / cfg.sample_rate:.3f} s at {cfg.sample_rate} Hz), got {seconds!r}"
        )
    return samples

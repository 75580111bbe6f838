"""The studio's Audio mode: bundled sounds, checked sound uploads, the settings form (from
:class:`~impasto.audio.config.AudioConfig`) and the worker's run (transfer or texture, the
result as WAV and the spectrograms as a PNG, drawn by the same function as ``--plot``).

soundfile, soxr and matplotlib are imported when a sound is checked or a job runs, not when
the studio starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import impasto.data
from impasto.audio.config import AudioConfig
from impasto.errors import ConfigError, InvalidAudioError
from impasto.web.inputs import UploadError

if TYPE_CHECKING:
    from impasto.web.form import FormField

SOUNDS_DIR = Path(impasto.data.__file__).parent / "sounds"

# The fixed list of bundled sounds a client may ask for ("sound:NAME"), looked up by name.
SOUNDS: dict[str, Path] = {p.stem: p for p in sorted(SOUNDS_DIR.glob("*.ogg"))}
SOUND_LABELS: dict[str, str] = {"speech": "Speech", "cello": "Cello", "rain": "Rain"}
SOUND_ROLES: dict[str, str] = {"speech": "content", "cello": "style", "rain": "style"}

# Containers an audio upload may be (by what libsndfile finds in its bytes); every current
# browser plays them in <audio>, so an upload is played back as it was sent.
AUDIO_FORMATS: tuple[str, ...] = ("WAV", "FLAC", "OGG", "MP3")
AUDIO_MEDIA_TYPES: dict[str, str] = {
    "WAV": "audio/wav",
    "FLAC": "audio/flac",
    "OGG": "audio/ogg",
    "MP3": "audio/mpeg",
}

# Upper bounds the studio puts on AudioConfig's fields (AudioConfig has the lower ones), so
# that one request cannot ask for hours of work or tens of GB of memory.
UPPER: dict[str, float] = {
    "sample_rate": 48_000,
    "n_fft": 8192,
    "filters": 8192,
    "width": 101,
    "griffin_lim_iters": 1000,
    "seed": 2**63 - 1,
    "content_weight": 1e30,
    "style_weight": 1e30,
}
MIN_HOP = 64  # a hop of a few samples would make hundreds of thousands of frames
# The studio's own limit and device, not a job's settings.
NOT_IN_FORM: dict[str, str] = {
    "max_seconds": "the studio's limit, `impasto serve --max-audio-seconds`",
    "device": "every job runs on the device given to `impasto serve --device`",
}


def sound_label(name: str) -> str:
    return SOUND_LABELS.get(name, name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class CheckedSound:
    format: str
    sample_rate: int
    channels: int
    seconds: float


def check_sound(path: Path, name: str, max_seconds: float) -> CheckedSound:
    """Refuse ``path`` unless it is a complete sound of an allowed format, at most
    ``max_seconds`` long: 415 not a sound, 413 too long (from the header, before decoding),
    422 corrupt, empty or silent (the full decode is impasto.audio.io's, as for every run)."""
    from impasto.audio.io import probe_audio, read_audio

    allowed = ", ".join(AUDIO_FORMATS)
    try:
        info = probe_audio(path)
    except InvalidAudioError:
        raise UploadError(
            415, f"{name} is not a sound the studio can read (allowed: {allowed})"
        ) from None
    if info.format not in AUDIO_FORMATS:
        raise UploadError(415, f"{name} is {info.format} audio; the studio reads {allowed}")
    if info.frames <= 0 or info.sample_rate <= 0:
        raise UploadError(422, f"{name} is empty (no samples)")
    if info.seconds > max_seconds:
        raise UploadError(
            413, f"{name} is {info.seconds:.1f} s long; the limit is {max_seconds:g} s"
        )
    try:
        read_audio(path, info.sample_rate, max_seconds)
    except InvalidAudioError as e:
        raise UploadError(422, str(e).replace(str(path), name)) from None
    return CheckedSound(info.format, info.sample_rate, info.channels, info.seconds)


# -- the settings form ---------------------------------------------------------------------------
@lru_cache(maxsize=1)
def audio_form_fields() -> list[FormField]:
    """One entry per AudioConfig field (but NOT_IN_FORM's), from the field and its metadata,
    as the image form is from StyleConfig's (:func:`impasto.web.form.settings_form`) and the
    ``impasto audio`` flags are."""
    from impasto.web.form import settings_form

    return settings_form(AudioConfig, NOT_IN_FORM)


def build_audio_config(
    data: Any, *, max_seconds: float, max_steps: int, device: str = "auto"
) -> AudioConfig:
    """The studio's AudioConfig from a client's JSON object, within the studio's limits.

    Raises ConfigError naming the field (the page shows it as is)."""
    if not isinstance(data, dict):
        raise ConfigError("config must be a JSON object of AudioConfig fields")
    if "max_seconds" in data:
        raise ConfigError(f"max_seconds is the studio's limit ({max_seconds:g} s), not a setting")
    if "device" in data:
        raise ConfigError("device: every job runs on the device given to impasto serve --device")
    try:
        cfg = AudioConfig.from_dict({**data, "max_seconds": max_seconds, "device": device})
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError) as e:  # a JSON type the checks missed
        raise ConfigError(f"bad config: {e}") from None
    for name, top in {**UPPER, "steps": max_steps}.items():
        value = getattr(cfg, name)
        if value > top:
            raise ConfigError(f"{name} must be at most {top:g} in this studio, got {value!r}")
    if cfg.hop_length < MIN_HOP:
        raise ConfigError(
            f"hop must be at least {MIN_HOP} samples in this studio, got {cfg.hop_length} "
            f"(hop {cfg.hop}, n_fft {cfg.n_fft}; hop 0 is n_fft / 4): raise hop or n_fft"
        )
    return cfg


def check_texture_seconds(seconds: Any, cfg: AudioConfig) -> float | None:
    """A texture's length: None (the style's own length) or seconds within the limits."""
    if seconds is None:
        return None
    ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    shortest = cfg.n_fft / cfg.sample_rate
    if not ok or not shortest <= seconds <= cfg.max_seconds:
        raise ConfigError(
            f"seconds must be from {shortest:.3f} (one n_fft window) to {cfg.max_seconds:g} "
            f"(the studio's limit), got {seconds!r}"
        )
    return float(seconds)


# -- the worker's part ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AudioTask:
    """What an audio job runs: its inputs (``content`` None: a texture) and settings."""

    content: Path | None
    style: Path
    config: AudioConfig
    seconds: float | None  # a texture's length (None: the style's)
    names: dict[str, str]  # what the person picked, for the result's metadata


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run leaves for its job's record (an image run's too)."""

    seconds: float
    losses: dict[str, float] | None
    steps: int


def run_audio(task: AudioTask, folder: Path, callback: Any) -> RunOutcome:
    """Run the task (impasto.audio's transfer or texture) and write ``result.wav`` and
    ``spectrogram.png`` (content, style and result, side by side) into ``folder``."""
    from impasto.audio.plot import plot_spectrograms
    from impasto.audio.transfer import texture, transfer

    cfg = task.config
    if task.content is None:
        result = texture(task.style, task.seconds, cfg, callback)
    else:
        result = transfer(task.content, task.style, cfg, callback)
    result.sources.update(task.names)  # the names people picked, not the server's files
    result.save(folder / "result.wav")
    panels = [("style", result.style), ("result", result.spectrogram)]
    if result.content is not None:
        panels.insert(0, ("content", result.content))
    plot_spectrograms(panels, folder / "spectrogram.png", cfg.sample_rate, cfg.hop_length)
    losses = dict(result.history[-1]) if result.history else None
    return RunOutcome(result.seconds, losses, len(result.history))

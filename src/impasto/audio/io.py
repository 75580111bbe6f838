"""Reading and writing sound files: the only place that touches soundfile and soxr.

Every sound inside impasto is mono float32 in [-1, 1] at the working rate. Several channels
are mixed down to one by their mean: the paper's model sees one spectrogram, and a stereo
mix's left and right share the pitch and rhythm the Gram statistics describe, so a per-channel
run would cost twice the time for two near-identical results.

Resampling uses soxr (the SoX resampler, libsoxr): it is maintained, small (numpy is its only
dependency), band-limited at high quality for any pair of rates, including ratios like
44100 -> 22050 or 48000 -> 22050 that scipy's ``resample_poly`` needs as a fraction and an
FIR filter designed per call. torchaudio does not install beside this torch.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from impasto.errors import InvalidAudioError, OutputError
from impasto.io.atomic import atomic_write, check_writable

AUDIO_FORMATS: dict[str, str] = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}
SUBTYPES: dict[str, str] = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS"}
# Below this peak (about -80 dBFS) a sound is taken as silence: it has no spectrum to imitate.
SILENCE = 1e-4


def read_audio(path: str | os.PathLike[str], sample_rate: int, max_seconds: float) -> np.ndarray:
    """The sound in ``path`` as mono float32 at ``sample_rate``, shape (samples,).

    Raises InvalidAudioError for a missing file, one that is not audio, an empty or silent
    one, and one longer than ``max_seconds``.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidAudioError(f"no such sound file: {p}")
    try:
        info = sf.info(str(p))
        if info.frames <= 0:
            raise InvalidAudioError(f"sound file is empty (no samples): {p}")
        if info.frames / info.samplerate > max_seconds:
            raise InvalidAudioError(
                f"sound is {info.frames / info.samplerate:.1f} s long, more than the limit of "
                f"{max_seconds:g} s (max_seconds): {p}"
            )
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        formats = ", ".join(sorted(sf.available_formats()))
        raise InvalidAudioError(
            f"not a sound file soundfile can read ({formats}): {p}: {str(e).splitlines()[0]}"
        ) from None
    if data.shape[0] == 0:
        raise InvalidAudioError(f"sound file is empty (no samples): {p}")
    mono = data.mean(axis=1)  # mixed to mono: see the module docstring
    if not np.all(np.isfinite(mono)) or float(np.abs(mono).max()) < SILENCE:
        raise InvalidAudioError(f"sound file is silent (peak below -80 dBFS): {p}")
    return resample(mono, rate, sample_rate)


@dataclass(frozen=True)
class AudioInfo:
    """What a sound file's header says: its container format ("WAV", "FLAC", "OGG", "MP3",
    ...), sample rate, channels and length in samples."""

    format: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate > 0 else 0.0


def probe_audio(path: str | os.PathLike[str]) -> AudioInfo:
    """The header of the sound in ``path``, read without decoding the samples (so a shell can
    refuse a file that is not a sound, or is too long, before decoding it with
    :func:`read_audio`). Raises InvalidAudioError when soundfile cannot read it."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise InvalidAudioError(
            f"not a sound file soundfile can read: {str(e).splitlines()[0]}"
        ) from None
    return AudioInfo(str(info.format), int(info.samplerate), int(info.channels), int(info.frames))


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` (samples,) at ``rate`` Hz resampled to ``target`` Hz (soxr, high quality)."""
    x = np.ascontiguousarray(samples, dtype=np.float32)
    if rate == target:
        return x.copy()
    return np.asarray(soxr.resample(x, rate, target, quality="HQ"), dtype=np.float32)


def check_audio_output(path: str | os.PathLike[str], what: str = "output") -> Path:
    """Fail before any work if ``path`` cannot be written as .wav, .flac or .ogg."""
    return check_writable(path, tuple(AUDIO_FORMATS), what)


def encode_audio(
    samples: np.ndarray, sample_rate: int, fmt: str, metadata: dict[str, str] | None = None
) -> bytes:
    """``samples`` (samples,) in [-1, 1] as a file of format ``fmt`` ("WAV", "FLAC", "OGG"),
    with ``metadata`` (soundfile's string fields: title, comment, software, ...) in its header."""
    buf = io.BytesIO()
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    with sf.SoundFile(
        buf, "w", samplerate=sample_rate, channels=1, format=fmt, subtype=SUBTYPES[fmt]
    ) as f:
        for key, value in (metadata or {}).items():
            setattr(f, key, value)
        f.write(clipped)
    return buf.getvalue()


def write_audio(
    samples: np.ndarray,
    path: str | os.PathLike[str],
    sample_rate: int,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write ``samples`` atomically (a reader never sees half a file; a failure leaves none)."""
    p = check_audio_output(path)
    data = encode_audio(samples, sample_rate, AUDIO_FORMATS[p.suffix.lower()], metadata)
    with atomic_write(p) as f:
        f.write(data)
    return p


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The string fields of a sound file's header (title, comment, software, ...)."""
    try:
        with sf.SoundFile(str(path)) as f:
            return dict(f.copy_metadata())
    except (sf.LibsndfileError, RuntimeError) as e:
        raise OutputError(f"cannot read the metadata of {path}: {e}") from None

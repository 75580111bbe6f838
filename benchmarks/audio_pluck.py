"""Issue 28's audio check: a synthetic melody re-voiced with a plucked-string texture.

Content: 8 notes of 0.5 s (three harmonics, 20 ms attack); style: Karplus-Strong plucks every
0.16 s at random pitches; 4 s each at 22.05 kHz. Prints, per settings, the spectral-statistics
distance of the result to the style and to the melody (per-frequency mean and spread over time
of the log-magnitude spectrum, loudness-normalised; mean absolute difference), their ratio (the
issue's target: at most 0.5) and the loudness envelope's correlation with the melody.

    python benchmarks/audio_pluck.py "" style_weight=15 steps=40,style_weight=15
    python benchmarks/audio_pluck.py "" n_fft=1024 --pair speech.ogg:cello.ogg   # any two sounds
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from impasto.audio.config import AudioConfig
from impasto.audio.io import read_audio
from impasto.audio.measure import envelope_correlation
from impasto.audio.transfer import transfer

SR = 22050
INTS = ("steps", "filters", "width", "n_fft", "hop", "griffin_lim_iters", "seed")
WORDS = ("init", "optimizer", "precision")  # enum settings, passed as their names


def melody(seconds: float = 4.0) -> np.ndarray:
    notes = [60, 64, 67, 72, 67, 64, 62, 65]
    out = np.zeros(int(SR * seconds))
    d = seconds / len(notes)
    for k, m in enumerate(notes):
        f = 440 * 2 ** ((m - 69) / 12)
        n = int(d * SR * 0.8)
        t = np.arange(n) / SR
        env = np.minimum(1, t / 0.02) * np.minimum(1, (n / SR - t) / 0.05)
        tone = sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3))
        s = int(k * d * SR)
        out[s : s + n] += 0.3 * env * tone
    return out.astype(np.float32)


def plucks(seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(int(SR * seconds))
    for start in np.arange(0, seconds - 0.3, 0.16):
        f = 440 * 2 ** ((rng.choice([45, 48, 50, 52, 55, 57]) - 57) / 12)
        p = int(SR / f)
        buf = rng.uniform(-1, 1, p)
        n = int(0.5 * SR)
        y = np.zeros(n)
        for i in range(n):
            y[i] = buf[i % p]
            buf[i % p] = 0.996 * 0.5 * (buf[i % p] + buf[(i + 1) % p])
        i0 = int(start * SR)
        m = min(n, len(out) - i0)
        out[i0 : i0 + m] += 0.3 * y[:m]
    return out.astype(np.float32)


def spectral_stats(x: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    x = x / (np.sqrt((x**2).mean()) + 1e-9) * 0.1
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    mag = np.log(np.abs(np.fft.rfft(frames, axis=1)) + 1e-4)
    return np.stack([mag.mean(0), mag.std(0)])


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(spectral_stats(a) - spectral_stats(b)).mean(axis=1).sum())


def settings(spec: str) -> dict[str, float | int | str]:
    pairs = (p.split("=") for p in spec.split(",") if "=" in p)
    return {k: int(v) if k in INTS else v if k in WORDS else float(v) for k, v in pairs}


def inputs(pair: str) -> tuple[np.ndarray, np.ndarray, str]:
    """The synthetic melody and plucks, or ``CONTENT:STYLE`` sound files at the working rate."""
    if not pair:
        return melody(), plucks(), "melody to plucks"
    content, style = pair.split(":")
    read = [read_audio(p, SR, 60.0) for p in (content, style)]
    return read[0], read[1], f"{Path(content).stem} to {Path(style).stem}"


def main(specs: list[str], pair: str = "") -> None:
    content, style, name = inputs(pair)
    print(f"{name}: {distance(content, style):.3f}", flush=True)
    for spec in specs or [""]:
        start = time.time()
        result = transfer(content, style, AudioConfig(**settings(spec))).samples  # type: ignore[arg-type]
        to_style, to_content = distance(result, style), distance(result, content)
        env = envelope_correlation(result, content, 512)
        print(
            f"{spec or 'default':28s} to style {to_style:.3f} to melody {to_content:.3f} "
            f"ratio {to_style / to_content:.2f} envelope corr {env:.2f} "
            f"{time.time() - start:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    pair = args.pop(args.index("--pair") + 1) if "--pair" in args else ""
    main([a for a in args if a != "--pair"], pair)

"""Audio style transfer on a 10 s clip at 22.05 kHz with the default settings.

Content: the bundled speech (5 s) twice, 10 s; style: the bundled cello phrase. Reports the
seconds the run took (the CPU and the precision named), the style loss reached, the relative
Gram distance to the style of the result against the content's own (the issue asks for a fall of
at least 5x; both measured on the waveforms, after Griffin-Lim), and the correlation of the
result's loudness envelope with the content's.

    python benchmarks/audio.py [--steps N] [--filters N] [--precision fp32|bf16] [-o out.wav]
"""

from __future__ import annotations

import argparse
import platform
import subprocess

import numpy as np

from _common import ROOT
from impasto.audio.config import AudioConfig
from impasto.audio.io import read_audio
from impasto.audio.measure import envelope_correlation, style_distances
from impasto.audio.transfer import transfer

SOUNDS = ROOT / "src" / "impasto" / "data" / "sounds"


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int)
    ap.add_argument("--filters", type=int)
    ap.add_argument("--style-weight", type=float)
    ap.add_argument("--precision")
    ap.add_argument("-o", "--output", help="also write the result here (.wav/.flac/.ogg)")
    args = ap.parse_args()
    given = {
        k: v
        for k, v in vars(args).items()
        if k in ("steps", "filters", "style_weight", "precision") and v is not None
    }
    cfg = AudioConfig(**given)
    speech = read_audio(SOUNDS / "speech.ogg", cfg.sample_rate, cfg.max_seconds)
    content = np.tile(speech, 2)[: 10 * cfg.sample_rate]
    style = read_audio(SOUNDS / "cello.ogg", cfg.sample_rate, cfg.max_seconds)
    result = transfer(content, style, cfg)
    if args.output:
        result.save(args.output)
    ours, theirs = style_distances(result.samples, content, style, cfg)
    corr = envelope_correlation(result.samples, content, cfg.hop_length)
    print(f"CPU: {cpu_name()}, {cfg.precision.value}, torch threads: default")
    print(
        f"clip: {len(content) / cfg.sample_rate:.1f} s at {cfg.sample_rate} Hz; "
        f"{cfg.filters} filters x {cfg.width}, {len(result.history)} of {cfg.steps} steps"
    )
    print(
        f"time: {result.seconds:.1f} s (optimisation and Griffin-Lim, "
        f"{cfg.griffin_lim_iters} iterations)"
    )
    print(
        f"style loss reached (weighted, relative): {result.history[-1]['style']:.4f}; "
        f"content loss {result.history[-1]['content']:.4f}"
    )
    print(
        f"Gram distance to the style: content {theirs:.4f} -> result {ours:.4f} "
        f"(falls {theirs / ours:.1f}x; target >= 5x)"
    )
    print(f"loudness envelope correlation with the content: {corr:.3f}")


if __name__ == "__main__":
    main()

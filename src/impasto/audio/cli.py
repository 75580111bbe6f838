"""``impasto audio``: audio style transfer and sound textures from the command line.

Kept in the audio package so impasto/cli.py needs two lines to offer it::

    audio_cli.add_audio_parser(sub)            # in build_parser()
    if args.command == "audio":                # in main()
        return audio_cli.run_audio(args)

Holds no maths: flags → AudioConfig → transfer/texture → files. Every path is checked before
any work, and the outputs are written (atomically) only when the run has finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from impasto.audio.config import AudioConfig, AudioInit, AudioPrecision
from impasto.config import as_flags
from impasto.errors import ConfigError

D = AudioConfig()
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


def add_audio_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``audio`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "audio",
        help="audio style transfer or sound texture (Ulyanov & Lebedev 2016)",
        description="Re-voice CONTENT with the sound texture of STYLE, or grow a texture from "
        "--texture SOUND. Reads WAV, FLAC, OGG (and MP3); writes .wav, .flac or .ogg.",
    )
    p.add_argument("content", nargs="?", help="content sound (e.g. speech)")
    p.add_argument("style", nargs="?", help="style sound (e.g. an instrument)")
    p.add_argument("--texture", metavar="SOUND", help="synthesise a texture from SOUND instead")
    p.add_argument(
        "--seconds", type=float, help="length of a texture (default: the source's length)"
    )
    p.add_argument("-o", "--output", required=True, help="output file: .wav, .flac or .ogg")
    p.add_argument("--plot", metavar="PNG", help="also draw the spectrograms (.png/.svg/.pdf)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("settings")
    for f in dataclasses.fields(AudioConfig):
        kind = TYPES.get(f.name) or type(getattr(D, f.name))
        g.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f"audio_{f.name}",
            metavar=f.name.split("_")[-1].upper(),
            type=kind,
            help=HELP[f.name],
        )
    return p


def audio_config(args: argparse.Namespace) -> AudioConfig:
    """The config from the flags given (the rest keep AudioConfig's defaults)."""
    names = [f.name for f in dataclasses.fields(AudioConfig)]
    given = {
        n: getattr(args, f"audio_{n}") for n in names if getattr(args, f"audio_{n}") is not None
    }
    try:
        return AudioConfig(**given)
    except ConfigError as e:
        raise as_flags(e, names) from None


class _Progress:
    """A tqdm bar with the step, the loss terms and the ETA, opened at the first step."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self.bar: Any = None

    def __call__(self, event: Any) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="step", dynamic_ncols=True, file=sys.stderr)
        losses = event.losses
        self.bar.set_postfix_str(
            f"total={losses['total']:.4g} content={losses['content']:.3g} "
            f"style={losses['style']:.3g}",
            refresh=False,
        )
        self.bar.update(event.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _inputs(args: argparse.Namespace) -> tuple[str | None, str]:
    """(content, style) from the positionals or --texture; ConfigError when they disagree."""
    if args.texture is not None:
        if args.content is not None:
            raise ConfigError("give either CONTENT STYLE or --texture SOUND, not both")
        return None, args.texture
    if args.seconds is not None:
        raise ConfigError("--seconds is for --texture; a transfer has the content's length")
    if args.content is None or args.style is None:
        raise ConfigError("give CONTENT and STYLE sounds, or --texture SOUND")
    return args.content, args.style


def run_audio(args: argparse.Namespace) -> int:
    """Run ``impasto audio``; ImpastoError propagates (the CLI prints it, exit 2)."""
    # Imported here, so `impasto --help` loads neither soundfile nor torch's audio code.
    from impasto.audio.io import check_audio_output
    from impasto.audio.plot import check_plot_path, plot_spectrograms
    from impasto.audio.transfer import texture, transfer

    cfg = audio_config(args)
    content, style = _inputs(args)
    out = check_audio_output(args.output)
    plot = check_plot_path(args.plot) if args.plot else None
    progress = _Progress(cfg.steps, args.quiet)
    try:
        if content is None:
            result = texture(style, args.seconds, cfg, progress)
        else:
            result = transfer(content, style, cfg, progress)
    except ConfigError as e:  # name the flags, not the settings behind them
        names = [f.name for f in dataclasses.fields(AudioConfig)]
        raise as_flags(e, [*names, "seconds"]) from None
    finally:
        progress.close()
    result.save(out)
    if plot is not None:
        panels = [("style", result.style), ("result", result.spectrogram)]
        if result.content is not None:
            panels.insert(0, ("content", result.content))
        plot_spectrograms(panels, plot, cfg.sample_rate, cfg.hop_length)
    if not args.quiet:
        print(f"wrote {Path(out)} ({result.seconds:.1f} s)", file=sys.stderr)
    return 0

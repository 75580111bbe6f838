"""``impasto audio``: audio style transfer and sound textures from the command line.

Holds no maths: flags → AudioConfig → transfer/texture → files. Every path is checked before
any work, and the outputs are written (atomically) only when the run has finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from impasto.audio.config import AudioConfig
from impasto.cli.shell import Bar, add_settings, naming_flags, settings_from
from impasto.errors import ConfigError


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
    add_settings(p.add_argument_group("settings"), AudioConfig)
    return p


def audio_config(args: argparse.Namespace) -> AudioConfig:
    """The config from the flags given (the rest keep AudioConfig's defaults)."""
    return settings_from(args, AudioConfig)


class _Progress:
    """The progress bar with the step and the loss terms (a callback of the audio runs)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.bar = Bar(total, "step", quiet)

    def __call__(self, event: Any) -> None:
        losses = event.losses
        self.bar.show(
            event.step,
            f"total={losses['total']:.4g} content={losses['content']:.3g} "
            f"style={losses['style']:.3g}",
        )

    def close(self) -> None:
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
    names = [*(f.name for f in dataclasses.fields(AudioConfig)), "seconds"]
    try:
        if content is None:
            result = naming_flags(names, lambda: texture(style, args.seconds, cfg, progress))
        else:
            result = naming_flags(names, lambda: transfer(content, style, cfg, progress))
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

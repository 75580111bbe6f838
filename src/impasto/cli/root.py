"""The ``impasto`` command: one parser over every command group's module, and the dispatch.

The top of :mod:`impasto.cli`. Errors impasto raises on purpose (bad files, settings, weights)
become one line on stderr and exit status 2; Ctrl-C exits with 130 (both through
:func:`impasto.cli.shell.report_error`, that is :func:`impasto.errors.exit_for`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from impasto.cli import audio, batch, grid, image, network, serve, upscale, video
from impasto.cli.shell import Parser, report_error
from impasto.errors import ImpastoError


def build_parser() -> argparse.ArgumentParser:
    from impasto.version import __version__

    parser = Parser(prog="impasto", description="Neural style transfer (Gatys et al. 2016).")
    parser.add_argument("--version", action="version", version=f"impasto {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    image.add_parsers(sub)  # stylize, texture, photo, resume
    grid.add_grid_parser(sub)
    serve.add_serve_parser(sub)  # standard library only: no web extra needed
    audio.add_audio_parser(sub)
    batch.add_batch_parser(sub)
    video.add_video_parser(sub)
    network.add_parsers(sub)  # train, apply, export, models
    upscale.add_parsers(sub)  # upscale, train-upscaler
    image.add_layers_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except (ImpastoError, KeyboardInterrupt) as e:
        return report_error(e)


def _dispatch(args: argparse.Namespace) -> int:
    return COMMANDS[args.command](args)


def _resume(args: argparse.Namespace) -> int:
    """``impasto resume DIR``: a clip's checkpoint or a picture's."""
    if video.is_video_checkpoint(args.folder):
        return video.resume_video(args)
    return image.run_resume(args)


# Each command's runner: argparse's namespace in, the exit status out.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "stylize": image.run_stylize,
    "texture": image.run_texture,
    "photo": image.run_photo,
    "resume": _resume,
    "grid": grid.run_grid_command,
    "serve": serve.run_serve,
    "audio": audio.run_audio,
    "batch": batch.run_batch,
    "video": video.run_video,
    **dict.fromkeys(network.COMMANDS, network.run),
    **dict.fromkeys(upscale.COMMANDS, upscale.run),
    "layers": lambda args: image.run_layers(),
}


def entry() -> NoReturn:
    sys.exit(main())

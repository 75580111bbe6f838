"""The ``impasto`` command: one parser over every command group's module, and the dispatch.

The top of :mod:`impasto.cli`. Errors impasto raises on purpose (bad files, settings, weights)
become one line on stderr and exit status 2; Ctrl-C exits with 130 (both through
:func:`impasto.cli.shell.report_error`, that is :func:`impasto.errors.exit_for`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from impasto.cli import audio, batch, grid, image, network, serve, upscale, video
from impasto.cli.shell import Parser, report_error
from impasto.errors import ImpastoError


def build_parser() -> argparse.ArgumentParser:
    from impasto.version import __version__

    parser = Parser(prog="impasto", description="Neural style transfer (Gatys et al. 2016).")
    parser.add_argument("--version", action="version", version=f"impasto {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    image.add_parsers(sub)  # stylize, texture, resume
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
    if args.command == "layers":
        return image.run_layers()
    if args.command == "resume":
        if video.is_video_checkpoint(args.folder):
            return video.resume_video(args)
        return image.run_resume(args)
    if args.command == "texture":
        return image.run_texture(args)
    if args.command == "serve":
        return serve.run_serve(args)
    if args.command == "audio":
        return audio.run_audio(args)
    if args.command == "grid":
        return grid.run_grid_command(args)
    if args.command == "batch":
        return batch.run_batch(args)
    if args.command == "video":
        return video.run_video(args)
    if args.command in network.COMMANDS:
        return network.run(args)
    if args.command in upscale.COMMANDS:
        return upscale.run(args)
    return image.run_stylize(args)


def entry() -> NoReturn:
    sys.exit(main())

"""The super-resolution commands: ``impasto upscale`` (enlarge a picture or a folder 2x or
4x with the bundled upscaler or another) and ``impasto train-upscaler`` (train one on a
folder of photos, resumable).

Flags come from the fields of UpscaleConfig, UpscaleTrainConfig and UpscalerConfig (with
:mod:`impasto.cli.shell`); every check runs before any work, and errors leave as ImpastoErrors
through the one boundary in :mod:`impasto.cli.root`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impasto.cli.shell import (
    Bar,
    Interrupt,
    add_settings,
    add_training_flags,
    checkpoint_folder,
    only_steps_on_resume,
    settings_from,
    stop_if_asked,
)
from impasto.errors import ConfigError, OutputError
from impasto.superres.config import UpscalerConfig, UpscaleTrainConfig

if TYPE_CHECKING:
    from impasto.optim.events import StepEvent
    from impasto.superres.train import UpscaleTrainResult

COMMANDS = ("upscale", "train-upscaler")
CHECKPOINT_EVERY = 100


def add_parsers(sub: Any) -> None:
    """Add ``upscale`` and ``train-upscaler`` to impasto's subparsers."""
    from impasto.superres.apply import UpscaleConfig

    u = sub.add_parser(
        "upscale",
        help="enlarge a picture or a folder 2x or 4x with a trained network",
        description="Enlarge INPUT (an image, or a folder of them) 2x or 4x with impasto's "
        "upscaler (FSRCNN-style, trained with a VGG19 feature loss) and write -o; large "
        "pictures go through tiles, so memory stays bounded.",
    )
    u.add_argument("input", help="an image, or a folder of images (recursive)")
    u.add_argument("-o", "--output", required=True, help="output image, or folder for a folder")
    u.add_argument("--model", help="upscaler file (.safetensors); default: the bundled one")
    add_settings(u, UpscaleConfig)
    u.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")

    t = sub.add_parser(
        "train-upscaler",
        help="train an upscaler on a folder of photos",
        description="Train an upscaler (x2 and x4 heads) on crops of the photos in --photos "
        "and write it to -o (.safetensors); --resume DIR continues a checkpointed run.",
    )
    add_training_flags(t, "OUTPUT with .ckpt")
    t.add_argument("--checkpoint-every", type=int, metavar="N", help=f"default {CHECKPOINT_EVERY}")
    t.add_argument("--half", action="store_true", help="store the weights as float16")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_settings(t.add_argument_group("training"), UpscaleTrainConfig)
    add_settings(t.add_argument_group("network"), UpscalerConfig)


def run(args: argparse.Namespace) -> int:
    """Run one of COMMANDS."""
    if args.command == "upscale":
        return _upscale(args)
    return _train(args)


def _upscale(args: argparse.Namespace) -> int:
    from impasto.superres.apply import (
        UpscaleConfig,
        open_upscaler,
        plan,
        total_tiles,
        upscale_path,
    )

    cfg: UpscaleConfig = settings_from(args, UpscaleConfig)
    jobs = plan(Path(args.input), Path(args.output), cfg.scale)  # every refusal before work
    enlarger = open_upscaler(args.model, cfg.backend, cfg.precision)
    bar = Bar(total_tiles(jobs, cfg.tile), "tile", args.quiet)

    def tick() -> None:
        bar.show(bar.n + 1)

    try:
        done = upscale_path(enlarger, args.input, args.output, cfg, tick, jobs)
    finally:
        bar.close()
    if not args.quiet:
        skipped = f"; {len(done.skipped)} unreadable file(s) skipped" if done.skipped else ""
        print(
            f"wrote {len(done.written)} image(s) {cfg.scale}x to {args.output} "
            f"({cfg.backend.value}, {enlarger.precision}{skipped})",
            file=sys.stderr,
        )
    return 0


Job = dict[str, Any]
Runner = Callable[[Callable[["StepEvent"], None]], "UpscaleTrainResult"]
_SETTINGS = tuple(
    f.name for cls in (UpscaleTrainConfig, UpscalerConfig) for f in dataclasses.fields(cls)
)


def _train(args: argparse.Namespace) -> int:
    job, runner = _resume_job(args) if args.resume else _new_job(args)
    bar = Bar(int(job["steps"]), "step", args.quiet)
    with Interrupt() as guard:

        def callback(event: StepEvent) -> None:
            losses = event.losses
            bar.show(event.step, f"x{losses['scale']:.0f} total={losses['total']:.4g}")
            stop_if_asked(guard, f"at step {event.step}")

        try:
            result = runner(callback)
        finally:
            bar.close()
    from impasto.superres.modelfile import UpscalerInfo, save_upscaler

    path = save_upscaler(
        result.model, job["output"], UpscalerInfo(result.model.config, result.training),
        bool(job.get("half")),
    )  # fmt: skip
    if not args.quiet:
        print(
            f"wrote {path} ({len(result.history)} steps, {result.seconds:.1f} s)", file=sys.stderr
        )
    return 0


def _new_job(args: argparse.Namespace) -> tuple[Job, Runner]:
    """Check the settings and every output path before any work."""
    from impasto.io.atomic import check_writable
    from impasto.network.photos import find_photos
    from impasto.superres.train import train_upscaler

    if not (args.photos and args.output):
        raise ConfigError("give --photos DIR and -o OUTPUT.safetensors (or --resume DIR)")
    cfg: UpscaleTrainConfig = settings_from(args, UpscaleTrainConfig)
    net: UpscalerConfig = settings_from(args, UpscalerConfig)
    out = check_writable(args.output, (".safetensors",), "output")
    find_photos(args.photos)  # an empty or missing folder: refused before any work
    folder = Path(args.checkpoint) if args.checkpoint else out.with_suffix(".ckpt")
    folder, every = checkpoint_folder(folder, args.checkpoint_every, CHECKPOINT_EVERY)
    job: Job = {"output": str(out.resolve()), "steps": cfg.steps, "half": bool(args.half)}

    def runner(callback: Callable[[StepEvent], None]) -> UpscaleTrainResult:
        return train_upscaler(
            args.photos, cfg, net, weights=args.weights, callback=callback,
            checkpoint=folder, every=every, extra=job,
        )  # fmt: skip

    return job, runner


def _resume_job(args: argparse.Namespace) -> tuple[Job, Runner]:
    from impasto.superres.train import load_upscale_training, resume_upscaler

    if args.photos or args.output or args.half:
        raise ConfigError("--resume takes the photos, output and --half from its checkpoint")
    only_steps_on_resume(args, _SETTINGS)
    inputs, _state, _every = load_upscale_training(args.resume)
    job = dict(inputs.extra)
    if not job.get("output"):
        raise OutputError(f"the checkpoint in {args.resume} names no output file")
    job["steps"] = args.steps if args.steps is not None else inputs.config.steps

    def runner(callback: Callable[[StepEvent], None]) -> UpscaleTrainResult:
        return resume_upscaler(
            args.resume, weights=args.weights, callback=callback, steps=args.steps
        )

    return job, runner

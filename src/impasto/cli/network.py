"""The style-network commands: ``impasto train``, ``apply``, ``export`` and ``models``.

Builds the settings from the fields of TrainConfig, NetworkConfig and ApplyConfig (with
:mod:`impasto.cli.shell`, as every command does), calls impasto.network, and writes what comes
back. Errors leave as ImpastoErrors through the one boundary in :mod:`impasto.cli.root`. The
pictures of a run (previews, their animation, the loss plot) come from impasto.viz.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from impasto.cli.shell import (
    Bar,
    Interrupt,
    add_settings,
    add_training_flags,
    checkpoint_folder,
    given,
    losses_text,
    naming_flags,
    only_steps_on_resume,
    settings_from,
    stop_if_asked,
)
from impasto.errors import ConfigError, OutputError
from impasto.jsontypes import JSONObject
from impasto.network.config import NetworkConfig, TrainConfig

if TYPE_CHECKING:
    import torch

    from impasto.network.finetune import StartingPoint
    from impasto.network.train import TrainEvent, TrainResult

COMMANDS = ("train", "apply", "export", "models")
CHECKPOINT_EVERY = 100


def add_parsers(sub: Any) -> None:
    """Add the four commands to impasto's subparsers."""
    from impasto.network.apply import ApplyConfig

    t = sub.add_parser(
        "train",
        help="train a style network for STYLE on a folder of photos",
        description="Train a feed-forward network (Johnson et al. 2016) that paints any photo "
        "in the style of STYLE in one pass; write it to -o (.safetensors).",
    )
    t.add_argument("style", nargs="?", help="style image (painting)")
    add_training_flags(t, "OUTPUT with .ckpt for .safetensors")
    t.add_argument(
        "--from",
        dest="start_from",
        metavar="MODEL",
        help="fine-tune MODEL (a model file, or the name of one listed by `impasto models`) "
        "instead of starting from fresh weights; the network keeps its architecture",
    )
    t.add_argument("--no-checkpoint", action="store_true", help="save no checkpoints")
    t.add_argument("--checkpoint-every", type=int, metavar="N", help=f"default {CHECKPOINT_EVERY}")
    t.add_argument(
        "--previews",
        metavar="DIR",
        help="write the previews of the held-out photos here (default: OUTPUT_previews)",
    )
    t.add_argument("--animate", metavar="PATH", help="also write the previews as .gif/.webp/.mp4")
    t.add_argument("--plot", metavar="PATH", help="also write the loss curves: .png/.svg/.pdf")
    t.add_argument(
        "--half",
        action="store_true",
        help="store the weights as float16: half the file (the network computes in float32)",
    )
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_settings(t.add_argument_group("training"), TrainConfig)
    add_settings(t.add_argument_group("network"), NetworkConfig)

    a = sub.add_parser(
        "apply",
        help="paint a photo or a folder with a trained style network",
        description="Run MODEL (a .safetensors or .onnx file, or the name of a model listed "
        "by `impasto models`) on INPUT (an image or a folder) and write -o.",
    )
    a.add_argument("model", help="model file or name")
    a.add_argument("input", help="an image, or a folder of images (recursive)")
    a.add_argument("-o", "--output", required=True, help="output image, or folder for a folder")
    add_settings(a, ApplyConfig)
    a.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")

    e = sub.add_parser("export", help="export a style network to ONNX")
    e.add_argument("model", help="model file (.safetensors) or name")
    e.add_argument("-o", "--output", required=True, help="ONNX file to write")
    sub.add_parser("models", help="list the bundled and the user's style networks")


# -- runners -------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    """Run one of COMMANDS."""
    if args.command == "train":
        return _train(args)
    if args.command == "apply":
        return _apply(args)
    if args.command == "export":
        return _export(args)
    return _models()


class Pictures(TypedDict):
    """Where ``impasto train`` writes its previews, animation and plot (resolved paths)."""

    previews: str
    animate: str | None
    plot: str | None


class Job(Pictures):
    """What ``impasto train`` needs besides its settings: kept in its checkpoint
    (``TrainInputs.extra``), so that ``--resume`` finishes the same job."""

    output: str
    steps: int
    half: bool


Runner = Callable[[Callable[["TrainEvent"], None]], "TrainResult"]


def _train(args: argparse.Namespace) -> int:
    job, runner = _resume_job(args) if args.resume else _new_job(args)
    bar = Bar(int(job["steps"]), "step", args.quiet)
    with Interrupt() as guard:

        def callback(event: TrainEvent) -> None:
            bar.show(event.step, losses_text(f"{event.size[1]}px crops", event.losses))
            _keep_preview(job, event.step, event.preview)
            stop_if_asked(guard, f"at step {event.step}")

        try:
            result = runner(callback)
        finally:
            bar.close()
    return _finish(job, result, args.quiet)


def _new_job(args: argparse.Namespace) -> tuple[Job, Runner]:
    """Check the settings and every output path before any work."""
    from impasto.io.atomic import check_writable
    from impasto.network.train import TrainCheckpointing, train_network

    if not (args.style and args.photos and args.output):
        raise ConfigError("give STYLE, --photos DIR and -o OUTPUT.safetensors (or --resume DIR)")
    cfg: TrainConfig = settings_from(args, TrainConfig)
    net: NetworkConfig = settings_from(args, NetworkConfig)
    start = _starting_point(args)
    out = check_writable(args.output, (".safetensors",), "output")
    job: Job = {
        **_pictures(args, out),
        "output": str(out.resolve()),
        "steps": cfg.steps,
        "half": bool(args.half),
    }
    spec = None
    if not args.no_checkpoint:
        folder = Path(args.checkpoint) if args.checkpoint else out.with_suffix(".ckpt")
        folder, every = checkpoint_folder(folder, args.checkpoint_every, CHECKPOINT_EVERY)
        spec = TrainCheckpointing(folder, every, cast(JSONObject, job))  # plain values

    def runner(callback: Callable[[TrainEvent], None]) -> TrainResult:
        return train_network(
            args.style, args.photos, cfg, start.network if start else net,
            weights=args.weights, callback=callback, checkpoint=spec, start_from=start,
        )  # fmt: skip

    return job, runner


def _starting_point(args: argparse.Namespace) -> StartingPoint | None:
    """``--from``'s model, loaded and checked against the network flags given (only those:
    the others take the model's values), before any work."""
    if not args.start_from:
        return None
    from impasto.network.finetune import starting_point

    names = tuple(f.name for f in dataclasses.fields(NetworkConfig))
    return naming_flags(names, lambda: starting_point(args.start_from, given(args, names)))


def _pictures(args: argparse.Namespace, out: Path) -> Pictures:
    """The previews folder, the animation and the plot, checked before any work."""
    from impasto.viz.animate import check_animation_path
    from impasto.viz.plot import check_plot_path

    previews = Path(args.previews) if args.previews else out.with_name(out.stem + "_previews")
    if not previews.parent.is_dir():
        raise OutputError(f"previews folder's parent does not exist: {previews.parent}")
    animate = (
        str(check_animation_path(args.animate, "--animate").resolve()) if args.animate else None
    )
    plot = str(check_plot_path(args.plot, "--plot").resolve()) if args.plot else None
    return {"previews": str(previews.resolve()), "animate": animate, "plot": plot}


_SETTINGS = tuple(f.name for cls in (TrainConfig, NetworkConfig) for f in dataclasses.fields(cls))


def _resume_job(args: argparse.Namespace) -> tuple[Job, Runner]:
    from impasto.network.checkpoint import load_training
    from impasto.network.train import resume_training

    if args.style or args.photos or args.output or args.half or args.start_from:
        raise ConfigError(
            "--resume takes the style, photos, output, --half and --from from its checkpoint"
        )
    only_steps_on_resume(args, _SETTINGS)
    saved = load_training(args.resume)
    job = cast(Job, dict(saved.inputs.extra))  # what _new_job wrote
    if not job.get("output"):
        raise OutputError(f"the checkpoint in {args.resume} names no output file")
    job["steps"] = args.steps if args.steps is not None else saved.inputs.config.steps

    def runner(callback: Callable[[TrainEvent], None]) -> TrainResult:
        return resume_training(
            args.resume, weights=args.weights, callback=callback, steps=args.steps
        )

    return job, runner


def _keep_preview(job: Job, step: int, preview: torch.Tensor | None) -> None:
    """The held-out photos as the network paints them now, side by side, as one PNG."""
    if preview is None:
        return
    from impasto.io.images import save_image

    folder = Path(job["previews"])
    folder.mkdir(exist_ok=True)
    row = preview.clamp(0, 1).permute(1, 2, 0, 3).reshape(3, preview.shape[2], -1)
    save_image(row, folder / f"step_{step:06d}.png")


def _finish(job: Job, result: TrainResult, quiet: bool) -> int:
    """Write the model file, then the loss plot and the animation of the previews."""
    from PIL import Image

    from impasto.viz.animate import write_animation
    from impasto.viz.plot import plot_losses

    written = [result.save(job["output"], half=bool(job.get("half")))]
    plot, animate = job.get("plot"), job.get("animate")
    if plot:
        written.append(plot_losses(result.history, plot, title="training losses"))
    if animate:
        frames = []
        for p in sorted(Path(job["previews"]).glob("step_*.png")):
            with Image.open(p) as img:
                frames.append(img.convert("RGB"))
        written.append(write_animation(frames, animate))
    if not quiet:
        skipped = f"; {result.skipped} unreadable photo(s) skipped" if result.skipped else ""
        names = ", ".join(str(p) for p in written)
        print(f"wrote {names} ({len(result.history)} steps, {result.seconds:.1f} s{skipped})",
              file=sys.stderr)  # fmt: skip
    return 0


def _apply(args: argparse.Namespace) -> int:
    from impasto.features.device import resolve_device
    from impasto.network.apply import ApplyConfig, apply_network, backend_of, open_network
    from impasto.network.registry import find_model

    cfg: ApplyConfig = settings_from(args, ApplyConfig)
    resolve_device(cfg.device)  # a device this machine lacks: refused before any work
    path = find_model(args.model)
    network = open_network(path, cfg.backend, cfg.device, cfg.precision)
    done = apply_network(network, args.input, args.output, cfg, model=path.name)
    if not args.quiet:
        each = sum(done.seconds) / max(1, len(done.seconds))
        skipped = f"; {len(done.skipped)} unreadable file(s) skipped" if done.skipped else ""
        print(
            f"wrote {len(done.written)} image(s) to {args.output} "
            f"({each:.2f} s per image on {backend_of(network)}, {network.precision}{skipped})",
            file=sys.stderr,
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    from impasto.network.export import export_onnx
    from impasto.network.modelfile import load_network
    from impasto.network.registry import find_model

    path = export_onnx(load_network(find_model(args.model)), args.output)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _models() -> int:
    from impasto.network.registry import bundled_dir, list_models, user_dir

    entries = list_models()
    if not entries:
        print(f"no style networks yet (bundled: {bundled_dir()}; yours go in {user_dir()})")
        return 0
    for e in entries:
        where = "bundled" if e.bundled else "user"
        about = "(ONNX export)" if e.info is None else (
            f"style {e.info.style_name or '?'}, width {e.info.network.width:g}, "
            f"{e.info.network.blocks} blocks"
        )  # fmt: skip
        print(f"{e.name}\t{where}\t{about}\t{e.path}")
    return 0

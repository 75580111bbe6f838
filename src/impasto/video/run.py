"""Stylise a clip: the one entry point of the video package, for both routes.

:func:`stylize_video` checks everything the settings and the clip's header allow before any
work (the frame range, the output's format and folder, the device, the style images), then
runs the optimisation route (:mod:`impasto.video.optimise`) or the network route
(:mod:`impasto.video.network_route`) and writes the frames with
:class:`~impasto.video.frames.VideoWriter` (atomically, with the clip's audio for the range).
With a checkpoint folder the optimisation route keeps every finished frame, so
:func:`resume_video` continues a stopped run at the next frame and writes the same video.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from impasto.api import Style, StyleLike, StylesLike, check_settings
from impasto.errors import Cancelled, CheckpointError, ConfigError
from impasto.features.weights import VGGWeights, load_weights
from impasto.io.images import load_image
from impasto.video.checkpoint import (
    StyleImage,
    VideoCheckpoint,
    VideoInputs,
    VideoProgress,
    load_frame,
    load_video_checkpoint,
    save_frame,
    save_video_checkpoint,
)
from impasto.video.config import VideoConfig
from impasto.video.frames import ClipInfo, VideoWriter, check_range, probe, read_frames
from impasto.video.optimise import (
    Engine,
    Finished,
    FrameEvent,
    VideoCallback,
    make_engine,
    stylize_frames,
)

if TYPE_CHECKING:
    from impasto.network.stylizer import Stylizer

WeightsLike = VGGWeights | str | os.PathLike[str] | None


@dataclass(frozen=True)
class VideoResult:
    """What a video run made: the file, the route, each frame's seconds (frames finished
    before a resume included) and, if asked, the temporal error of the output (the mean
    masked squared difference between each frame and the previous one warped by the input's
    flow; Ruder et al. 2016, Lai et al. 2018)."""

    out: Path
    route: str  # "optimisation" or "network"
    seconds: list[float] = field(default_factory=list)
    temporal_error: float | None = None

    @property
    def frames(self) -> int:
        return len(self.seconds)

    @property
    def seconds_per_frame(self) -> float:
        return sum(self.seconds) / len(self.seconds) if self.seconds else float("nan")

    @property
    def later_seconds(self) -> float:
        """Mean seconds of the frames after the first (the warm-started ones)."""
        rest = self.seconds[1:]
        return sum(rest) / len(rest) if rest else float("nan")


def _styles(style: StylesLike) -> list[StyleImage]:
    items: list[StyleLike] = list(style) if isinstance(style, (list, tuple)) else [style]  # type: ignore[list-item]
    if not items:
        raise ConfigError("give at least one style image")
    out = []
    for item in items:
        s = item if isinstance(item, Style) else Style(item)
        if s.mask is not None or s.region is not None:
            raise ConfigError("style masks and regions need a content mask, which video lacks")
        name = os.fspath(s.image) if isinstance(s.image, (str, os.PathLike)) else "image"
        out.append(StyleImage(load_image(s.image), float(s.weight), name))
    return out


def _engine_styles(styles: Sequence[StyleImage]) -> list[Style]:
    return [Style(s.image, s.weight) for s in styles]


def _weights(weights: WeightsLike) -> tuple[VGGWeights, str | None]:
    if isinstance(weights, VGGWeights):
        return weights, None
    path = None if weights is None else os.fspath(weights)
    return load_weights(path), path


def check_config(config: VideoConfig) -> None:
    """The checks the settings alone allow beyond each field's: both frame plans (the first
    frame's pyramid, the later frames' single scale) and the device."""
    check_settings(config.first)
    check_settings(config.later)


def check_optimisation(config: VideoConfig) -> None:
    """What the optimisation route refuses: a ``strength`` (it blends a style network's
    painting with the frames; the optimisation's own is ``style_weight``)."""
    if config.strength != 1:
        raise ConfigError(
            f"strength {config.strength:g} applies only with a style network: it blends the "
            "network's painting with the frames"
        )


def check_video(
    clip: str | os.PathLike[str], config: VideoConfig, out: str | os.PathLike[str]
) -> tuple[ClipInfo, range]:
    """Every check the clip's header, the output path and the settings allow, before any
    work: the clip is a readable video, the range is inside it, the output's format and
    folder are usable, the device exists. Returns the clip's info and the frame range."""
    check_config(config)
    VideoWriter(out, 25.0, crf=config.crf)  # the output's suffix and folder; nothing is created
    info = probe(clip)
    return info, check_range(info, *config.span())


def stylize_video(
    clip: str | os.PathLike[str],
    style: StylesLike,
    config: VideoConfig | None = None,
    *,
    out: str | os.PathLike[str],
    weights: WeightsLike = None,
    checkpoint: str | os.PathLike[str] | None = None,
    callback: VideoCallback | None = None,
    measure: bool = False,
) -> VideoResult:
    """Stylise ``clip`` in the style of ``style`` by optimisation, each frame consistent with
    the last (Ruder, Dosovitskiy & Brox 2016), and write it to ``out`` (.mp4, .webm, .gif).

    Args:
        style: an image, a :class:`~impasto.api.Style` or a list of them (blended).
        config: the video's settings (:class:`VideoConfig`), the optimisation's inside.
        weights: VGG19 weights, as for :func:`impasto.api.stylize`.
        checkpoint: a folder to keep each finished frame in; :func:`resume_video` continues.
        callback: receives a :class:`~impasto.video.optimise.FrameEvent` per step and per
            finished frame; raise :class:`impasto.Cancelled` in it to stop.
        measure: also compute the output's temporal error.
    Raises:
        ConfigError, InvalidVideoError, InvalidImageError, WeightsError, OutputError:
            before any work, and nothing is written.
        Cancelled: stopped by the callback (the finished frames are kept in ``checkpoint``).
    """
    cfg = config or VideoConfig()
    check_optimisation(cfg)
    info, frames = check_video(clip, cfg, out)
    styles = _styles(style)
    vgg, path = _weights(weights)
    engine = make_engine(_engine_styles(styles), cfg, vgg)
    shape = (info.frames, info.height, info.width)
    inputs = VideoInputs(os.fspath(clip), os.fspath(out), engine.config, styles, shape, path)
    folder = None if checkpoint is None else Path(checkpoint)
    return _optimise(inputs, engine, info, frames, VideoProgress(), folder, callback, measure)


def resume_video(
    folder: str | os.PathLike[str],
    *,
    weights: WeightsLike = None,
    callback: VideoCallback | None = None,
    measure: bool = False,
) -> VideoResult:
    """Continue a video run from its checkpoint folder at the next unfinished frame; the
    video written is the same as an uninterrupted run's."""
    saved = load_video_checkpoint(folder)
    i = saved.inputs
    info, frames = check_video(i.clip, i.config, i.out)
    if (info.frames, info.height, info.width) != i.shape:
        raise CheckpointError(
            f"{i.clip} has changed since the run began ({info.frames} frames of "
            f"{info.width}x{info.height}, was {i.shape[0]} of {i.shape[2]}x{i.shape[1]})"
        )
    vgg, _ = _weights(weights if weights is not None else i.weights_path)
    engine = make_engine(_engine_styles(i.styles), i.config, vgg)
    target = Path(folder)
    target = target.parent if target.is_file() else target
    return _optimise(i, engine, info, frames, saved.progress, target, callback, measure)


def stylize_video_network(
    clip: str | os.PathLike[str],
    network: str | os.PathLike[str] | Stylizer,
    config: VideoConfig | None = None,
    *,
    out: str | os.PathLike[str],
    callback: VideoCallback | None = None,
    measure: bool = False,
) -> VideoResult:
    """Stylise ``clip`` with a style network, one pass per frame, de-flickered with
    ``config.deflicker`` (:mod:`impasto.video.network_route`), and write it to ``out``.

    ``network``: a model file, a model's name (``impasto models``) or an opened network.
    The network runs on ``config.style_config.device`` and keeps the colours as its
    ``preserve_color`` asks; ``config.strength`` blends the de-flickered painting with each
    frame (0: the frames themselves). Errors as for :func:`stylize_video`, before any work."""
    from impasto.network.apply import ApplyConfig, open_network
    from impasto.network.registry import find_model
    from impasto.video import network_route

    cfg = config or VideoConfig()
    info, frames = check_video(clip, cfg, out)
    strength = network_route.check_strength(cfg.deflicker)
    device = cfg.style_config.device
    colour = cfg.style_config.preserve_color
    apply = ApplyConfig(preserve_color=colour, device=device, strength=cfg.strength)
    if isinstance(network, (str, os.PathLike)):
        precision = cfg.style_config.precision
        network = open_network(find_model(network), device=device, precision=precision)
    reader = read_frames(clip, frames, cfg.size)
    outputs = network_route.stylize_frames(network, reader, strength=strength, config=apply)
    audio = clip if info.has_audio else None
    span = (frames.start / info.fps, frames.stop / info.fps)
    written: list[torch.Tensor] = []
    seconds: list[float] = []
    began = time.perf_counter()
    with VideoWriter(out, info.fps, audio_from=audio, audio_range=span, crf=cfg.crf) as writer:
        for index, output in enumerate(outputs):
            writer.write(quantised(output))
            seconds.append(time.perf_counter() - began - sum(seconds))
            written.extend([quantised(output)] if measure else [])
            if callback is not None:
                elapsed = time.perf_counter() - began
                callback(FrameEvent(index, len(frames), None, elapsed, seconds[-1], output))
    error = _temporal_error(clip, frames, cfg.size, written) if measure else None
    return VideoResult(Path(out), "network", seconds, error)


def _optimise(
    inputs: VideoInputs,
    engine: Engine,
    info: ClipInfo,
    frames: range,
    progress: VideoProgress,
    folder: Path | None,
    callback: VideoCallback | None,
    measure: bool,
) -> VideoResult:
    """Run the frames not yet done, writing every frame (the kept ones first) to the output."""
    size = inputs.config.size
    done = progress.done
    reader = read_frames(inputs.clip, range(frames.start + max(0, done - 1), frames.stop), size)
    previous = None
    if done:
        assert progress.last_output is not None
        previous = Finished(done - 1, next(reader), progress.last_output, progress.seconds[-1])
    outputs: list[torch.Tensor] = []
    seconds = list(progress.seconds)
    audio = inputs.clip if info.has_audio else None
    span = (frames.start / info.fps, frames.stop / info.fps)
    try:
        with VideoWriter(
            inputs.out, info.fps, audio_from=audio, audio_range=span, crf=inputs.config.crf
        ) as writer:
            for index in range(done):
                assert folder is not None
                kept = load_frame(folder, index)
                writer.write(kept)
                outputs.extend([kept] if measure else [])
            run = stylize_frames(
                engine, reader, len(frames), previous=previous, callback=callback,
                elapsed=sum(seconds),
            )  # fmt: skip
            for finished in _kept(run, inputs, folder, seconds):
                written = quantised(finished.output)
                writer.write(written)
                outputs.extend([written] if measure else [])
    except Cancelled as e:
        raise _stopped(e, folder, len(seconds)) from None
    error = _temporal_error(inputs.clip, frames, inputs.config.size, outputs) if measure else None
    return VideoResult(Path(inputs.out), "optimisation", seconds, error)


def _kept(
    run: Iterator[Finished], inputs: VideoInputs, folder: Path | None, seconds: list[float]
) -> Iterator[Finished]:
    """``run``'s frames, each kept in ``folder`` (the PNG, then the state) before it is
    written to the video; ``seconds`` collects their times."""
    for finished in run:
        seconds.append(finished.seconds)
        if folder is not None:
            save_frame(folder, finished.index, finished.output)
            progress = VideoProgress(finished.index + 1, list(seconds), finished.output)
            save_video_checkpoint(folder, VideoCheckpoint(inputs, progress))
        yield finished


def quantised(frame: torch.Tensor) -> torch.Tensor:
    """``frame`` at the 8 bits a video frame (and a kept PNG) has, as float32 in [0, 1]: so
    a frame read back from its PNG is written exactly as it was the first time."""
    return (frame.detach().to(torch.float32).clamp(0, 1) * 255.0).round() / 255.0


def _stopped(error: Cancelled, folder: Path | None, done: int) -> Cancelled:
    if folder is None or done == 0:  # the state is first saved when frame 0 is finished
        return Cancelled(f"stopped after {done} frames; nothing was written", step=error.step)
    return Cancelled(
        f"stopped after {done} finished frames, kept in {folder}; continue with "
        f"`impasto resume {folder}`",
        step=error.step,
        checkpoint=folder,
    )


def _temporal_error(
    clip: str | os.PathLike[str], frames: range, size: int, outputs: list[torch.Tensor]
) -> float:
    """The output's temporal error against the input's flow (:mod:`impasto.video.measure`),
    the input frames read again at the working size."""
    from impasto.video.measure import temporal_error

    return temporal_error(outputs, list(read_frames(clip, frames, size)))

"""Video clips in a batch: one item per clip x style (or model), run whole.

Optimisation route: a clip is one item, run by :func:`impasto.video.run.stylize_video` in this
process or in one Ray actor. It is not split between workers: each later frame starts from the
previous *output* warped by the optical flow and is held to it by the temporal loss (Ruder,
Dosovitskiy & Brox 2016), so frame t cannot start before frame t-1 is finished. (Independent
shots of one file would be separate clips.) Every finished frame is kept in a checkpoint
folder under the output folder (:func:`checkpoint_folder`), so a batch killed in the middle of
a clip continues it at the next frame (:func:`impasto.video.run.resume_video`); the folder is
removed once the clip's video is written.

Network route: the frames' network passes do not depend on each other (in this process
:func:`impasto.video.network_route.network_frames` batches them; on Ray, Ray Data spreads
them, :mod:`impasto.batch.ray_data`), but the de-flicker of frame t blends in the *output* of
frame t-1 (:class:`~impasto.video.network_route.Deflicker`), so it and the encoding run in
frame order in the process that writes the video.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from impasto.batch.manifest import Item, Manifest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    import torch

    from impasto.features.weights import VGGWeights
    from impasto.network.stylizer import Stylizer
    from impasto.optim.events import StepEvent
    from impasto.video.config import VideoConfig
    from impasto.video.optimise import FrameEvent
    from impasto.video.run import VideoResult

CHECKPOINTS = ".impasto-clips"  # under the output folder: one checkpoint folder per clip item


def checkpoint_folder(manifest: Manifest, item: Item) -> Path:
    """Where a clip item keeps its finished frames: named by its output (unique per item)."""
    return manifest.folder.resolve() / CHECKPOINTS / Path(item.output).stem


def frame_callback(
    step: Callable[[StepEvent], None], poll: Callable[[], None]
) -> Callable[[FrameEvent], None]:
    """A video run's events to a batch listener: each optimisation step to ``step`` (which may
    raise Cancelled), and a poll between frames."""

    def callback(event: FrameEvent) -> None:
        if event.step is not None:
            step(event.step)
        else:
            poll()

    return callback


def optimise_clip(
    manifest: Manifest,
    item: Item,
    video: VideoConfig,
    weights: VGGWeights,
    callback: Callable[[FrameEvent], None] | None,
) -> VideoResult:
    """Stylise a clip item by optimisation into the output folder; if a checkpoint of this item
    is there (a batch stopped in the middle of it), continue at its next frame."""
    from impasto.video.checkpoint import is_video_checkpoint
    from impasto.video.run import resume_video, stylize_video

    folder = checkpoint_folder(manifest, item)
    if is_video_checkpoint(folder):
        return resume_video(folder, weights=weights, callback=callback)
    folder.mkdir(parents=True, exist_ok=True)
    out = manifest.folder.resolve() / item.output
    return stylize_video(
        item.photo, item.style, video, out=out, weights=weights, checkpoint=folder,
        callback=callback,
    )  # fmt: skip


def finish_clip(manifest: Manifest, item: Item, seconds: float, worker: str) -> Item:
    """Mark a clip item done (its video is written, atomically, by VideoWriter) and drop its
    kept frames."""
    manifest.finish(item.id, seconds, worker)
    shutil.rmtree(checkpoint_folder(manifest, item), ignore_errors=True)
    return manifest.get(item.id)


def clip_frames(item: Item, video: VideoConfig) -> tuple[range, Iterator[torch.Tensor]]:
    """The frame range of a clip item and its frames at the working size (checked first)."""
    from impasto.video.frames import check_range, probe, read_frames

    info = probe(item.photo)
    frames = check_range(info, *video.span())
    return frames, read_frames(item.photo, frames, video.size)


def write_clip(
    manifest: Manifest,
    item: Item,
    video: VideoConfig,
    pairs: Iterable[tuple[torch.Tensor, torch.Tensor]],
    poll: Callable[[], None],
) -> float:
    """The network route's driver half: each (input frame, raw network output), in frame
    order, de-flickered and written to the item's video (atomically, with the clip's audio).
    Returns the seconds taken."""
    from impasto.video.frames import VideoWriter, check_range, probe
    from impasto.video.network_route import Deflicker
    from impasto.video.run import quantised

    info = probe(item.photo)
    frames = check_range(info, *video.span())
    audio = item.photo if info.has_audio else None
    span = (frames.start / info.fps, frames.stop / info.fps)
    deflicker = Deflicker(video.deflicker)
    t0 = time.perf_counter()
    out = manifest.folder / item.output
    with VideoWriter(out, info.fps, audio_from=audio, audio_range=span) as writer:
        for frame, raw in pairs:
            writer.write(quantised(deflicker(frame, raw)))
            poll()
    return time.perf_counter() - t0


def paint_clip(
    manifest: Manifest,
    item: Item,
    network: Stylizer,
    video: VideoConfig,
    poll: Callable[[], None],
) -> float:
    """A clip item through a style network in this process: the frames a few per pass
    (:func:`~impasto.video.network_route.network_frames`), de-flickered and written in order."""
    from impasto.network.apply import ApplyConfig
    from impasto.video.network_route import network_frames

    inner = video.style_config
    apply = ApplyConfig(preserve_color=inner.preserve_color, device=inner.device)
    _, frames = clip_frames(item, video)
    return write_clip(manifest, item, video, network_frames(network, frames, config=apply), poll)

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from impasto.batch.manifest import Item, Manifest
from impasto.video.checkpoint import VideoProgress

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
    order, de-flickered, blended with the frame by ``video.strength`` (as
    :func:`~impasto.video.network_route.stylize_frames` does) and written to the item's video
    (atomically, with the clip's audio). Returns the seconds taken."""
    from impasto.network.apply import blend
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
    with VideoWriter(out, info.fps, audio_from=audio, audio_range=span, crf=video.crf) as writer:
        for frame, raw in pairs:
            writer.write(quantised(blend(deflicker(frame, raw), frame, video.strength)))
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
    (:func:`~impasto.video.network_route.network_frames`), de-flickered, blended by
    ``video.strength`` and written in order."""
    from impasto.network.apply import ApplyConfig
    from impasto.video.network_route import network_frames

    inner = video.style_config
    apply = ApplyConfig(preserve_color=inner.preserve_color, device=inner.device)
    _, frames = clip_frames(item, video)
    return write_clip(manifest, item, video, network_frames(network, frames, config=apply), poll)


# -- the optimisation route of a clip on Ray, a few frames per call -------------------------------
CHUNK = 4  # frames per call to a worker: a worker that dies loses at most these


@dataclass(frozen=True)
class Frames:
    """A worker's answer for frames of a clip: the settings it ran with (precision pinned),
    and each frame's index, output (float, unquantised: the next frame starts from it) and
    seconds."""

    config: VideoConfig
    frames: list[tuple[int, torch.Tensor, float]]


def optimise_frames(
    clip: Path,
    style: torch.Tensor,
    video: VideoConfig,
    weights: VGGWeights,
    progress: VideoProgress,
    count: int = CHUNK,
) -> Frames:
    """Frames ``progress.done`` to ``+count`` of ``clip``, each from the last one's output, as
    :func:`impasto.video.run.resume_video` continues a run: the same frames as one whole run."""
    from impasto.api import Style
    from impasto.video.frames import check_range, probe, read_frames
    from impasto.video.optimise import Finished, make_engine, stylize_frames

    frames = check_range(probe(clip), *video.span())
    engine = make_engine([Style(style)], video, weights)
    done = progress.done
    stop = min(frames.start + done + count, frames.stop)
    reader = read_frames(clip, range(frames.start + max(0, done - 1), stop), video.size)
    previous = None
    if done:
        assert progress.last_output is not None
        previous = Finished(done - 1, next(reader), progress.last_output, progress.seconds[-1])
    run = stylize_frames(engine, reader, len(frames), previous=previous)
    return Frames(engine.config, [(f.index, f.output, f.seconds) for f in run])


def clip_progress(manifest: Manifest, item: Item) -> VideoProgress:
    """How far a clip item got in earlier attempts (its kept frames under the output folder)."""
    from impasto.errors import CheckpointError
    from impasto.video.checkpoint import is_video_checkpoint, load_video_checkpoint

    folder = checkpoint_folder(manifest, item)
    if is_video_checkpoint(folder):
        try:
            return load_video_checkpoint(folder).progress
        except CheckpointError:  # damaged: start the clip again
            shutil.rmtree(folder, ignore_errors=True)
    return VideoProgress()


def keep_frames(
    manifest: Manifest, item: Item, answer: Frames, progress: VideoProgress
) -> VideoProgress:
    """Keep a worker's frames under the output folder, each PNG before the state that counts
    it (the :func:`impasto.video.run.stylize_video` checkpoint, so ``impasto resume`` takes it
    too); returns the progress."""
    from impasto.io.images import load_image
    from impasto.video.checkpoint import (
        StyleImage,
        VideoCheckpoint,
        VideoInputs,
        save_frame,
        save_video_checkpoint,
    )
    from impasto.video.frames import probe

    folder = checkpoint_folder(manifest, item)
    info = probe(item.photo)
    style = StyleImage(load_image(item.style), 1.0, item.style)
    out = str(manifest.folder.resolve() / item.output)
    inputs = VideoInputs(item.photo, out, answer.config, [style], (info.frames, info.height,
                         info.width))  # fmt: skip
    seconds = list(progress.seconds)
    for index, output, took in answer.frames:
        save_frame(folder, index, output)
        seconds.append(took)
        progress = VideoProgress(index + 1, list(seconds), output)
        save_video_checkpoint(folder, VideoCheckpoint(inputs, progress))
    return progress


def write_kept(manifest: Manifest, item: Item, video: VideoConfig, done: int) -> None:
    """Write a clip item's video from its kept frames (atomically, with the clip's audio)."""
    from impasto.video.checkpoint import load_frame
    from impasto.video.frames import VideoWriter, check_range, probe

    info = probe(item.photo)
    frames = check_range(info, *video.span())
    audio = item.photo if info.has_audio else None
    span = (frames.start / info.fps, frames.stop / info.fps)
    folder = checkpoint_folder(manifest, item)
    with VideoWriter(manifest.folder / item.output, info.fps, audio_from=audio,
                     audio_range=span, crf=video.crf) as writer:  # fmt: skip
        for index in range(done):
            writer.write(load_frame(folder, index))

"""The in-process runner: one item at a time, each with every core (torch's threads), through
the same :func:`impasto.api.stylize` as ``impasto stylize``. The weights are loaded once.
The network route (:func:`run_network_local`) opens each model once and paints several photos
per forward pass."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from impasto.api import stylize
from impasto.batch.clips import finish_clip, frame_callback, optimise_clip, paint_clip
from impasto.batch.job import (
    Job,
    Listener,
    NetworkJob,
    Report,
    prepare,
    record_failure,
    report,
    this_worker,
    torch_threads,
    write_result,
)
from impasto.batch.manifest import Item, Manifest, Plan, is_clip
from impasto.batch.painting import Groups, by_model, paint, to_pil, write_painting
from impasto.errors import Cancelled, ImpastoError
from impasto.features.weights import VGGWeights
from impasto.io.images import load_image

if TYPE_CHECKING:
    from collections.abc import Callable

    from impasto.api import Result
    from impasto.losses.targets import PreparedStyle
    from impasto.network.apply import ApplyConfig
    from impasto.network.stylizer import Stylizer
    from impasto.optim.events import StepEvent
    from impasto.video.config import VideoConfig

log = logging.getLogger(__name__)


def run_local(
    manifest: Manifest, plan: Plan, job: Job, weights: VGGWeights, listener: Listener
) -> Report:
    """Run ``plan``'s items in order. A failed item is recorded and the batch goes on;
    :class:`Cancelled` (or Ctrl-C) puts the current item back in the queue and propagates."""
    worker = this_worker()
    styles = _Styles(job, weights)
    with torch_threads(job.threads):
        for index, item_id in enumerate(plan.run):
            run_item(manifest, item_id, job, styles, listener, worker, index, len(plan.run))
    return report(manifest, plan)


@dataclass
class _Styles:
    """Each style's targets, computed at its first item and reused by the others."""

    job: Job
    weights: VGGWeights
    prepared: dict[str, PreparedStyle | None] = field(default_factory=dict)

    def stylize(self, item: Item, callback: Callable[[StepEvent], None]) -> Result:
        if item.style not in self.prepared:
            self.prepared[item.style] = prepare(self.job, item.style, self.weights)
        prepared, cfg = self.prepared[item.style], self.job.settings.config
        if prepared is None:  # colour preservation: the targets depend on the photo
            return stylize(item.photo, item.style, cfg, weights=self.weights, callback=callback)
        return stylize(item.photo, config=cfg, weights=self.weights, prepared=prepared,
                       callback=callback)  # fmt: skip


def run_item(
    manifest: Manifest,
    item_id: int,
    job: Job,
    styles: _Styles,
    listener: Listener,
    worker: str,
    index: int = 0,
    total: int = 1,
) -> None:
    """One item: start it, stylize (with its style's targets computed once per batch), write
    the output, mark it done (or failed)."""
    item = manifest.start(item_id, worker)
    listener.item_started(item, index, total)
    t0 = time.perf_counter()
    try:
        if is_clip(item.photo):  # a whole clip, resumed at its next frame if it was stopped
            callback = frame_callback(listener.step, listener.poll)
            video = optimise_clip(manifest, item, job.video_config, styles.weights, callback)
            item = finish_clip(manifest, item, sum(video.seconds), worker)
        else:
            result = styles.stylize(item, listener.step)
            item = write_result(manifest, item, result, worker)
    except (Cancelled, KeyboardInterrupt):
        manifest.release(item_id)
        raise
    except Exception as e:  # recorded against the item; the batch goes on
        log.debug("item %d failed", item_id, exc_info=True)
        item = record_failure(manifest, item, e, time.perf_counter() - t0)
    listener.item_finished(item)


def run_network_local(
    manifest: Manifest, plan: Plan, job: NetworkJob, listener: Listener
) -> Report:
    """The network route in this process: each model opened once, its photos through it
    several per forward pass (:mod:`impasto.batch.painting`). A photo that cannot be read, or
    a pass that fails, fails its items and the batch goes on; Ctrl-C puts the items not yet
    written back in the queue and propagates."""
    from impasto.network.apply import open_network

    worker = this_worker()
    counter = _Counter(len(plan.run))
    cfg = job.settings.apply
    with torch_threads(job.threads):
        for model, items in by_model(manifest, plan.run).items():
            try:
                network = open_network(model, cfg.backend, cfg.device, cfg.precision)
            except ImpastoError as e:  # the file changed since the batch was planned
                for item in items:
                    failed = record_failure(manifest, manifest.start(item.id, worker), e, None)
                    listener.item_finished(failed)
                continue
            painter = _Painter(manifest, network, Path(model).name, cfg, listener, worker, counter)
            painter.video = job.video_config
            painter.run(items, job.max_batch)
    return report(manifest, plan)


@dataclass
class _Counter:
    total: int
    started: int = 0


@dataclass
class _Painter:
    """One model's items in this process: decode, group by size, paint, write."""

    manifest: Manifest
    network: Stylizer
    model: str
    config: ApplyConfig
    listener: Listener
    worker: str
    counter: _Counter
    open: set[int] = field(default_factory=set)  # started, not yet done or failed
    video: VideoConfig | None = None  # the clips' settings

    def run(self, items: list[Item], max_batch: int) -> None:
        groups: Groups[Item] = Groups(self.config.size, max_batch)
        try:
            for item in items:
                self.listener.poll()
                if is_clip(item.photo):
                    self._clip(item)
                    continue
                loaded = self._load(item)
                for group in groups.add(*loaded) if loaded is not None else ():
                    self._paint(group)
            for group in groups.rest():
                self._paint(group)
        except (Cancelled, KeyboardInterrupt):
            for item_id in self.open:
                self.manifest.release(item_id)
            raise

    def _clip(self, item: Item) -> None:
        """A clip: its frames a few per pass, de-flickered and written in frame order."""
        started = self.manifest.start(item.id, self.worker)
        self.open.add(item.id)
        self.listener.item_started(started, self.counter.started, self.counter.total)
        self.counter.started += 1
        assert self.video is not None
        try:
            seconds = paint_clip(self.manifest, started, self.network, self.video,
                                 self.listener.poll)  # fmt: skip
            done = finish_clip(self.manifest, started, seconds, self.worker)
        except (Cancelled, KeyboardInterrupt):
            raise  # run() puts it back in the queue
        except Exception as e:  # recorded against the clip; the batch goes on
            log.debug("clip item %d failed", item.id, exc_info=True)
            done = record_failure(self.manifest, started, e, None)
        self._finished(done)

    def _load(self, item: Item) -> tuple[Item, torch.Tensor] | None:
        started = self.manifest.start(item.id, self.worker)
        self.open.add(item.id)
        self.listener.item_started(started, self.counter.started, self.counter.total)
        self.counter.started += 1
        try:
            return started, load_image(item.photo)
        except ImpastoError as e:
            self._finished(record_failure(self.manifest, started, e, 0.0))
            return None

    def _paint(self, group: list[tuple[Item, torch.Tensor]]) -> None:
        from impasto.network.apply import metadata

        t0 = time.perf_counter()
        try:
            out = paint(self.network, [image for _, image in group], self.config)
        except Exception as e:  # recorded against the group's items; the batch goes on
            log.debug("a forward pass failed", exc_info=True)
            for item, _ in group:
                self._finished(record_failure(self.manifest, item, e, None))
            return
        seconds = (time.perf_counter() - t0) / len(group)
        for i, (item, _) in enumerate(group):
            meta = metadata(self.network, self.config, self.model, item.photo)
            try:
                done = write_painting(
                    self.manifest, item, to_pil(out[i]), meta, seconds, self.worker
                )
            except ImpastoError as e:
                done = record_failure(self.manifest, item, e, seconds)
            self._finished(done)

    def _finished(self, item: Item) -> None:
        self.open.discard(item.id)
        self.listener.item_finished(item)

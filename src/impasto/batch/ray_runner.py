"""The Ray runner: the items of a batch on the workers of a Ray cluster.

The driver (this process) keeps the manifest and the output folder; the workers need neither,
nor the photos: the driver decodes each photo and puts it, each style's targets (computed once,
:func:`impasto.api.prepare_style`) and the VGG weights (once) in Ray's object store. A
worker is an actor that takes the weights once and then runs :func:`impasto.api.stylize` on
one item at a time with the style's shared targets; the :class:`~impasto.api.Result` comes
back to the driver, which writes it atomically and only then marks the item done.

A worker that dies (its process killed, its node lost) fails its item's attempt; the item goes
back in the queue while it has attempts left, and a new worker replaces the dead one. Only the
impasto package (with torch) must be installed on the workers: ``pip install impasto[ray]``.

A video clip is one item on one worker at a time (:mod:`impasto.batch.clips` says why it is not
split): the driver puts the clip's bytes in the object store once and asks the worker for a few
frames at a time (:data:`~impasto.batch.clips.CHUNK`), each call continuing from the last
output as :func:`impasto.video.run.resume_video` does; the driver keeps the frames that come
back under the output folder (the ``stylize_video`` checkpoint), so a clip whose worker dies
goes on, on its next attempt, from the last frame kept, and writes the video once every frame
is kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from impasto.batch.job import (
    Job,
    Listener,
    Report,
    prepare,
    record_failure,
    report,
    write_result,
)
from impasto.batch.manifest import Item, Manifest, Plan, is_clip
from impasto.errors import ConfigError, ImpastoError

if TYPE_CHECKING:
    from impasto.api import Result
    from impasto.batch.clips import Frames
    from impasto.config import StyleConfig
    from impasto.features.weights import VGGWeights
    from impasto.video.config import VideoConfig

log = logging.getLogger(__name__)

EXTRA_HINT = "install the ray extra: pip install 'impasto[ray]'"


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide: ``address`` is "auto" (``$RAY_ADDRESS``, else the cluster running
    on this machine, else a new local Ray) or ``HOST:PORT`` of a running head node;
    ``workers`` defaults to the cluster's CPUs divided by ``cpus_per_worker``."""

    address: str
    cpus_per_worker: int = 1
    workers: int | None = None
    threads: int | None = None  # torch threads per worker; None: cpus_per_worker
    connect_timeout: float = 5.0  # seconds for the head node to answer
    start_timeout: float = 120.0  # seconds for a worker to start (and load the weights)


# A gRPC server (Ray's head node, the GCS, is one) answers the HTTP/2 client preface with a
# SETTINGS frame (RFC 9113, section 3.4): frame type 0x04 in the 4th byte of its header.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def check_answers(address: str, timeout: float) -> None:
    """Refuse, within ``timeout`` seconds, an address where no Ray head node answers:
    ray.init would retry for a minute or more, and hang on a port that is not Ray's."""
    host, sep, port = address.rpartition(":")
    if address.startswith("ray://") or not sep or not port.isdigit():
        raise ConfigError(f"--ray {address!r}: give auto or HOST:PORT of a Ray head node")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(_HTTP2_PREFACE)
            header = s.recv(9)
    except OSError as e:
        why = "no answer" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__)
        raise ConfigError(f"no Ray cluster answers at {address} ({why})") from None
    if len(header) < 4 or header[3] != 0x04:
        raise ConfigError(f"no Ray cluster answers at {address} (not a Ray head node's port)")


class _InitKwargs(TypedDict):
    """The keywords connect hands to ``ray.init`` besides the address."""

    logging_level: int
    log_to_driver: bool
    include_dashboard: NotRequired[bool]  # a local Ray only
    _node_ip_address: NotRequired[str]


def connect(options: RayOptions) -> Any:
    """Connect to (or start) the cluster; returns the ``ray`` module."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--ray needs Ray: {EXTRA_HINT}") from None
    if options.cpus_per_worker < 1:
        raise ConfigError(f"--cpus-per-worker must be at least 1, got {options.cpus_per_worker}")
    address = options.address
    if address == "auto":
        address = _auto_address(options.connect_timeout)
    if address != "local":
        check_answers(address, options.connect_timeout)
    kwargs: _InitKwargs = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address == "local":  # a new single-node Ray on this machine, on loopback only
        kwargs["include_dashboard"] = False
        kwargs["_node_ip_address"] = "127.0.0.1"
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"cannot use the Ray cluster at {address}: {first}") from None
    return ray


def _auto_address(timeout: float) -> str:
    """``--ray auto``: ``$RAY_ADDRESS``; else the cluster last started on this machine with
    ``ray start`` (on a head node: that cluster), if it still answers; else "local", a new
    Ray for this batch alone."""
    env = os.environ.get("RAY_ADDRESS")
    if env:
        return env
    try:
        from ray._private.services import find_bootstrap_address  # Ray's own lookup

        found = find_bootstrap_address(None)
    except Exception:  # not in this Ray version: start a local one
        found = None
    if found:
        try:
            check_answers(str(found), timeout)
            return str(found)
        except ConfigError:  # the record of a cluster that has stopped
            pass
    return "local"


class StylizeWorker:
    """One worker process: the weights once, then one item at a time (made a Ray actor by
    :func:`_actor_class`, so this module imports without Ray)."""

    def __init__(self, weights: VGGWeights, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.weights = weights
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        with contextlib.suppress(Exception):  # outside Ray (a test) there is no node
            import ray

            node = ray.get_runtime_context().get_node_id()
            self.name = f"{socket.gethostname()}/{node[:8]}:{os.getpid()}"

    def identity(self) -> str:
        """``host/node:pid``: the ``worker`` recorded in the manifest."""
        return self.name

    def run(self, content: Any, style: Any, config: StyleConfig) -> Result:
        """Stylize ``content``; ``style`` is the style image, or its targets computed once on
        the driver (a :class:`~impasto.losses.targets.PreparedStyle`)."""
        from impasto.api import stylize
        from impasto.losses.targets import PreparedStyle

        if isinstance(style, PreparedStyle):
            return stylize(content, config=config, weights=self.weights, prepared=style)
        return stylize(content, style, config, weights=self.weights)

    def run_frames(
        self, clip: tuple[Any], suffix: str, style: Any, video: VideoConfig, progress: Any
    ) -> Frames:
        """The next frames of a clip (:func:`impasto.batch.clips.optimise_frames`); ``clip``
        holds the object reference of its file's bytes (in a tuple, so this worker fetches
        them)."""
        import tempfile
        from pathlib import Path

        import ray

        from impasto.batch.clips import optimise_frames

        with tempfile.TemporaryDirectory(prefix="impasto-clip-") as folder:
            source = Path(folder) / f"clip{suffix}"
            source.write_bytes(ray.get(clip[0]))
            return optimise_frames(source, style, video, self.weights, progress)


@dataclass
class _Clip:
    """A clip item in flight: its bytes in the object store, its style, how far it got."""

    data: Any
    style: Any
    total: int
    progress: Any
    video: VideoConfig  # after the first answer, with the precision the worker pinned
    seconds: float = 0.0


def _actor_class(ray: Any, cpus: int, gpus: int = 0) -> Any:
    # A dead worker is not restarted by Ray: the driver sees its item fail and starts a new one.
    options = {"num_cpus": cpus, "max_restarts": 0, "max_task_retries": 0}
    if gpus:
        options["num_gpus"] = gpus
    return ray.remote(**options)(StylizeWorker)


def gpus_per_worker(cluster: dict[str, float], device: str) -> int:
    """1 where the cluster has GPUs and the settings may use one (device auto or cuda): each
    worker then asks Ray for a GPU of its own, and its run takes the one Ray hands it."""
    wants = device == "auto" or device.startswith("cuda")
    return 1 if wants and cluster.get("GPU", 0) >= 1 else 0


@dataclass
class _Slot:
    actor: Any
    name: str


@dataclass
class _Driver:
    """The driver's loop: keep every worker busy, write what comes back."""

    ray: Any
    manifest: Manifest
    job: Job
    listener: Listener
    actor_class: Any
    weights: VGGWeights
    weights_ref: Any
    options: RayOptions
    pending: deque[int] = field(default_factory=deque)
    inflight: dict[Any, tuple[int, _Slot]] = field(default_factory=dict)
    idle: list[_Slot] = field(default_factory=list)
    styles: dict[str, Any] = field(default_factory=dict)
    clips: dict[int, _Clip] = field(default_factory=dict)
    started: int = 0
    total: int = 0

    def new_worker(self) -> _Slot:
        """Start a worker and wait for it (bounded: a cluster without the CPUs for it would
        otherwise keep it pending for ever)."""
        threads = self.options.threads or self.options.cpus_per_worker
        actor = self.actor_class.remote(self.weights_ref, threads)
        try:
            name = self.ray.get(actor.identity.remote(), timeout=self.options.start_timeout)
        except self.ray.exceptions.GetTimeoutError:
            self.ray.kill(actor)
            raise ConfigError(
                f"no Ray worker started within {self.options.start_timeout:g} s (does the "
                f"cluster have {self.options.cpus_per_worker} CPU(s) free for one?)"
            ) from None
        return _Slot(actor, name)

    def drive(self, item_ids: tuple[int, ...], workers: int) -> None:
        self.pending.extend(item_ids)
        self.total = len(item_ids)
        self.idle = [self.new_worker() for _ in range(min(workers, len(item_ids)))]
        while self.pending or self.inflight:
            while self.pending and self.idle:
                self.submit(self.pending.popleft(), self.idle.pop())
            if self.inflight:
                ready, _ = self.ray.wait(list(self.inflight), num_returns=1)
                for ref in ready:
                    self.collect(ref)
            elif self.pending and not self.idle:  # every worker died and none could start
                for item_id in self.pending:
                    item = self.manifest.start(item_id, "-")
                    self.listener.item_finished(
                        record_failure(self.manifest, item, "no Ray worker left", None)
                    )
                self.pending.clear()

    def submit(self, item_id: int, slot: _Slot) -> None:
        from impasto.io.images import load_image

        item = self.manifest.start(item_id, slot.name)
        self.listener.item_started(item, self.started, self.total)
        self.started += 1
        try:
            if is_clip(item.photo):
                ref = self.submit_clip(item, slot)
            else:
                content = load_image(item.photo)
                if item.style not in self.styles:
                    self.styles[item.style] = self.ray.put(self.style(item.style))
                style, cfg = self.styles[item.style], self.job.settings.config
                ref = slot.actor.run.remote(content, style, cfg)
        except ImpastoError as e:  # an unreadable photo: fails here, as it would there
            self.idle.append(slot)
            self.listener.item_finished(record_failure(self.manifest, item, e, 0.0))
            return
        self.inflight[ref] = (item_id, slot)

    def submit_clip(self, item: Item, slot: _Slot) -> Any:
        """A clip to a worker, a few frames at a time from where earlier attempts left it,
        after the checks its header allows (here, so that a file that is no clip fails as it
        would in this process)."""
        from pathlib import Path

        from impasto.batch.clips import clip_progress
        from impasto.io.images import load_image
        from impasto.video.frames import check_range, probe

        total = len(check_range(probe(item.photo), *self.job.video_config.span()))
        data = (self.ray.put(Path(item.photo).read_bytes()),)
        progress = clip_progress(self.manifest, item)
        video = self.job.video_config
        self.clips[item.id] = _Clip(data, load_image(item.style), total, progress, video)
        return self.send_frames(item, slot)

    def send_frames(self, item: Item, slot: _Slot) -> Any:
        from pathlib import Path

        clip = self.clips[item.id]
        suffix = Path(item.photo).suffix
        return slot.actor.run_frames.remote(
            clip.data, suffix, clip.style, clip.video, clip.progress
        )

    def clip_answer(self, item: Item, slot: _Slot, answer: Frames) -> Item | None:
        """Keep a worker's frames; send the next ones to it, or write the video once every
        frame is kept (returns the item then)."""
        from impasto.batch.clips import finish_clip, keep_frames, write_kept

        clip = self.clips[item.id]
        clip.progress = keep_frames(self.manifest, item, answer, clip.progress)
        clip.video = answer.config  # every later frame in the first frames' arithmetic
        clip.seconds += sum(took for _, _, took in answer.frames)
        if clip.progress.done < clip.total and answer.frames:
            self.inflight[self.send_frames(item, slot)] = (item.id, slot)
            return None
        del self.clips[item.id]
        write_kept(self.manifest, item, self.job.video_config, clip.progress.done)
        return finish_clip(self.manifest, item, clip.seconds, slot.name)

    def style(self, path: str) -> Any:
        """What the workers get for a style, once: its targets computed here (each worker
        would otherwise compute the same ones for every item), or the image where the
        targets depend on each photo (colour preservation)."""
        from impasto.io.images import load_image

        prepared = prepare(self.job, path, self.weights)
        return load_image(path) if prepared is None else prepared

    def collect(self, ref: Any) -> None:
        from ray.exceptions import RayActorError, RayTaskError

        item_id, slot = self.inflight.pop(ref)
        item = self.manifest.get(item_id)
        t0 = time.perf_counter()
        try:
            result = self.ray.get(ref)
        except RayTaskError as e:  # stylize raised: the item's own failure
            cause = e.cause if isinstance(e.cause, BaseException) else e
            self.clips.pop(item_id, None)
            self.idle.append(slot)
            self.listener.item_finished(record_failure(self.manifest, item, cause, None))
            return
        except (RayActorError, self.ray.exceptions.RayError) as e:
            self.clips.pop(item_id, None)  # its kept frames stay: the retry goes on from them
            self.worker_lost(item, slot, e)
            return
        try:
            if is_clip(item.photo):
                answer = self.clip_answer(item, slot, result)
                if answer is None:  # its next frames are on their way
                    return
                done = answer
            else:
                result.sources.update(content=item.photo, style=item.style)  # it saw tensors
                done = write_result(self.manifest, item, result, slot.name)
        except ImpastoError as e:
            self.clips.pop(item.id, None)
            done = record_failure(self.manifest, item, e, time.perf_counter() - t0)
        self.idle.append(slot)
        self.listener.item_finished(done)

    def worker_lost(self, item: Item, slot: _Slot, error: BaseException) -> None:
        """A worker died with ``item``: a new worker takes its place, and the item goes back
        in the queue while it has attempts left."""
        log.warning("worker %s died running item %d: %s", slot.name, item.id, error)
        reason = f"worker {slot.name} died ({type(error).__name__})"
        failed = record_failure(self.manifest, item, reason, None)
        if failed.attempts < self.job.max_attempts:
            self.manifest.requeue(item.id)
            self.pending.append(item.id)
        else:
            self.listener.item_finished(failed)
        try:
            self.idle.append(self.new_worker())
        except ConfigError as e:  # carry on with the workers left
            log.warning("no new worker: %s", e)

    def release_all(self) -> None:
        """Put the items in flight back in the queue (the driver was stopped)."""
        for item_id, _ in self.inflight.values():
            self.manifest.release(item_id)
        self.inflight.clear()


def run_ray(
    manifest: Manifest, plan: Plan, job: Job, options: RayOptions, listener: Listener
) -> Report:
    """Run ``plan``'s items on Ray workers; the outputs are written here."""
    from impasto.features.weights import load_weights

    weights = load_weights(job.settings.weights)
    if not plan.run:
        return report(manifest, plan)
    with connected(options) as ray:
        cluster = ray.cluster_resources()
        cpus = int(cluster.get("CPU", 1))
        gpus = gpus_per_worker(cluster, job.settings.config.device)
        workers = options.workers or max(1, cpus // options.cpus_per_worker)
        if gpus:
            workers = min(workers, int(cluster["GPU"]))
        driver = _Driver(
            ray,
            manifest,
            job,
            listener,
            _actor_class(ray, options.cpus_per_worker, gpus),
            weights,
            ray.put(weights),
            options,
        )
        try:
            driver.drive(plan.run, workers)
        finally:
            driver.release_all()
    return report(manifest, plan)


@contextlib.contextmanager
def connected(options: RayOptions) -> Iterator[Any]:
    """Ray connected for the block (see :func:`connect`), shut down after it."""
    ray = connect(options)
    try:
        yield ray
    finally:
        ray.shutdown()

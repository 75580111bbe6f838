"""The network route on Ray (``impasto batch PHOTOS --network MODEL --ray ...``): Ray Data's
``map_batches`` over the photos with a pool of actors, each of which opens the model once.

The driver (this process) keeps the manifest and the output folder; the workers need neither,
nor the photos, nor the model file. The driver decodes each photo (an unreadable one fails its
item here, with the same message as in this process) and puts them in Ray's object store, a
block of at most a forward pass's photos at a time (so the driver
holds one block, and the object store spills to disk beyond its memory); the model file's
bytes go to the object store once. Each actor paints its blocks several photos per forward
pass (:mod:`impasto.batch.painting`) and returns 8-bit pixels; the driver writes each output
atomically and only then marks its item done.

An actor that dies (its process killed, its node lost) is replaced by Ray Data and its block
run again on a live one: Ray Data's actor fault tolerance (``max_restarts=-1``), with the
block's retries bounded by ``--attempts``. If a block still cannot be run, the items not yet
written are recorded as failed with the reason, and the next run of the command retries them.
Needs Ray Data: ``pip install 'ray[data]'`` on the driver and the workers.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from impasto.batch.clips import clip_frames, finish_clip, write_clip
from impasto.batch.job import Listener, NetworkJob, Report, record_failure, report
from impasto.batch.manifest import Item, Manifest, Plan, is_clip
from impasto.batch.painting import Groups, by_model, paint, to_pil, write_painting
from impasto.batch.ray_runner import RayOptions, connected, gpus_per_worker
from impasto.errors import Cancelled, ConfigError, ImpastoError

if TYPE_CHECKING:
    import pyarrow
    import torch

    from impasto.network.apply import ApplyConfig

log = logging.getLogger(__name__)

DATA_HINT = "install Ray Data: pip install 'ray[data]==2.60.0'"
BLOCKS_PER_WORKER = 4


def ray_data() -> Any:
    """The ``ray.data`` module, quiet: no progress bars or execution banners on the terminal
    (the batch shows its own bar). Ray Data's own deprecated settings warn on first use, which
    are Ray's business, not the user's."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import ray.data

            ctx = ray.data.DataContext.get_current()
    except ImportError:
        raise ConfigError(f"--network with --ray needs Ray Data: {DATA_HINT}") from None
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray.data


class PaintedRow(TypedDict):
    """A photo's row out of a :class:`NetworkWorker` (but its ``id`` and ``worker``)."""

    error: str  # "" when painted
    seconds: float
    pixels: bytes  # 8-bit RGB, ``height`` x ``width`` (empty when it failed)
    height: int
    width: int
    meta: str  # the PNG's text, JSON


class CollectedRow(PaintedRow):
    """A photo's row as the driver collects it: Ray Data adds the block's columns back."""

    id: int  # the manifest item
    worker: str


class NetworkWorker:
    """One actor of the pool: opens the model once, then paints the blocks it is given. The
    model arrives as its file's bytes (``model`` holds their object reference, inside a tuple
    so that Ray passes the reference and this actor fetches the bytes once)."""

    def __init__(
        self,
        model: tuple[Any],
        suffix: str,
        name: str,
        config: ApplyConfig,
        threads: int,
        max_batch: int,
    ) -> None:
        import ray
        import torch

        from impasto.network.apply import open_network

        torch.set_num_threads(threads)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"model{suffix}"
            path.write_bytes(ray.get(model[0]))
            self.network = open_network(path, config.backend, config.device, config.precision)
        self.name, self.config, self.max_batch = name, config, max_batch
        node = ray.get_runtime_context().get_node_id()
        self.worker = f"{socket.gethostname()}/{node[:8]}:{os.getpid()}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Rows in: ``id``, ``source``, ``height``, ``width``, ``pixels`` (8-bit RGB).
        Rows out: ``id``, ``pixels``, ``height``, ``width``, ``meta`` (the PNG's text,
        JSON), ``error`` ("" when painted), ``seconds``, ``worker``."""
        import torch

        groups: Groups[int] = Groups(self.config.size, self.max_batch)
        ready = []
        for i in range(len(batch["id"])):
            h, w = int(batch["height"][i]), int(batch["width"][i])
            pixels = np.frombuffer(batch["pixels"][i], dtype=np.uint8).reshape(h, w, 3)
            image = torch.from_numpy(pixels.astype(np.float32) / 255.0)
            ready += groups.add(i, image.permute(2, 0, 1).unsqueeze(0).contiguous())
        out: dict[int, PaintedRow] = {}
        for group in [*ready, *groups.rest()]:
            out.update(self._paint(group, batch["source"]))
        rows: list[Mapping[str, object]] = [out[i] for i in range(len(batch["id"]))]
        columns = {k: np.array([r[k] for r in rows], dtype=object) for k in rows[0]}
        return {"id": batch["id"], **columns, "worker": np.array([self.worker] * len(rows))}

    def _paint(
        self, group: list[tuple[int, torch.Tensor]], sources: np.ndarray
    ) -> dict[int, PaintedRow]:
        """One forward pass; each row's picture and PNG text, or the pass's error."""
        import json

        from impasto.network.apply import metadata

        t0 = time.perf_counter()
        try:
            painted = paint(self.network, [image for _, image in group], self.config)
            error = ""
        except Exception as e:  # recorded against these items by the driver
            painted, error = None, str(e) if isinstance(e, ImpastoError) else repr(e)
        seconds = (time.perf_counter() - t0) / len(group)
        out: dict[int, PaintedRow] = {}
        for k, (i, _) in enumerate(group):
            row = PaintedRow(error=error, seconds=seconds, pixels=b"", height=0, width=0, meta="")
            if painted is not None:
                picture = np.asarray(to_pil(painted[k]))
                meta = metadata(self.network, self.config, self.name, str(sources[i]))
                row["pixels"], row["meta"] = picture.tobytes(), json.dumps(meta)
                row["height"], row["width"] = picture.shape[0], picture.shape[1]
            out[i] = row
        return out


class FrameWorker(NetworkWorker):
    """One actor of a clip's pool: the network's raw output for each frame (the de-flicker,
    which needs the previous output, runs on the driver in frame order)."""

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Rows in: ``id`` (the frame's index), ``height``, ``width``, ``pixels`` (float32
        RGB, as read at the working size). Rows out: ``id``, ``raw`` (float32, the same
        layout, ``out_height`` x ``out_width``), ``error`` ("" when painted), ``worker``."""
        import torch

        frames = [_tensor(batch["pixels"][i], batch["height"][i], batch["width"][i])
                  for i in range(len(batch["id"]))]  # fmt: skip
        try:
            # One pass for the block, as network_frames paints a few frames per pass.
            out = paint(self.network, frames, self.config)
            raw = [o.detach().to(torch.float32).contiguous().numpy().tobytes() for o in out]
            errors, shape = [""] * len(frames), (int(out.shape[-2]), int(out.shape[-1]))
        except Exception as e:  # recorded against the clip by the driver
            raw, errors = [b""] * len(frames), [str(e) if isinstance(e, ImpastoError) else repr(e)]
            errors, shape = errors * len(frames), (0, 0)
        return {
            "id": batch["id"],
            "raw": np.array(raw, dtype=object),
            "out_height": np.array([shape[0]] * len(frames)),
            "out_width": np.array([shape[1]] * len(frames)),
            "error": np.array(errors, dtype=object),
            "worker": np.array([self.worker] * len(frames)),
        }


def _tensor(pixels: bytes, height: Any, width: Any) -> torch.Tensor:
    """(1, 3, H, W) float32 from the bytes of a (3, H, W) float32 frame."""
    import torch

    array = np.frombuffer(pixels, dtype=np.float32).reshape(3, int(height), int(width))
    return torch.from_numpy(array.copy()).unsqueeze(0)


def _frame_blocks(frames: list[torch.Tensor], size: int) -> list[pyarrow.Table]:
    """A clip's frames as blocks of ``size`` rows (float32, exactly as read)."""
    import pyarrow as pa
    import torch

    blocks = []
    for start in range(0, len(frames), size):
        rows: dict[str, list[Any]] = {k: [] for k in ("id", "height", "width", "pixels")}
        for i, frame in enumerate(frames[start : start + size], start):
            rows["id"].append(i)
            rows["height"].append(int(frame.shape[-2]))
            rows["width"].append(int(frame.shape[-1]))
            rows["pixels"].append(frame[0].to(torch.float32).contiguous().numpy().tobytes())
        blocks.append(pa.table(rows))
    return blocks


def _block(items: list[Item], listener: Listener, manifest: Manifest) -> pyarrow.Table | None:
    """Decode ``items``' photos into one block (a table); an unreadable photo fails its item
    here."""
    import pyarrow as pa

    from impasto.io.images import open_image

    rows: dict[str, list[Any]] = {k: [] for k in ("id", "source", "height", "width", "pixels")}
    for item in items:
        try:
            picture = np.asarray(open_image(item.photo))
        except ImpastoError as e:
            started = manifest.start(item.id, "driver")
            listener.item_finished(record_failure(manifest, started, e, 0.0))
            continue
        rows["id"].append(item.id)
        rows["source"].append(item.photo)
        rows["height"].append(picture.shape[0])
        rows["width"].append(picture.shape[1])
        rows["pixels"].append(picture.tobytes())
    return pa.table(rows) if rows["id"] else None


def run_network_ray(
    manifest: Manifest, plan: Plan, job: NetworkJob, options: RayOptions, listener: Listener
) -> Report:
    """Run ``plan``'s items through the models on a Ray Data actor pool; the outputs are
    written here."""
    if not plan.run:
        return report(manifest, plan)
    data = ray_data()  # Ray Data missing: one line before connecting
    with connected(options) as ray:
        cluster = ray.cluster_resources()
        gpus = gpus_per_worker(cluster, job.settings.apply.device)
        workers = options.workers or max(1, int(cluster.get("CPU", 1)) // options.cpus_per_worker)
        if gpus:
            workers = min(workers, int(cluster["GPU"]))
        pool = _Pool(ray, data, manifest, job, options, listener, workers, gpus)
        pool.total = len(plan.run)
        for model, items in by_model(manifest, plan.run).items():
            photos = [i for i in items if not is_clip(i.photo)]
            if photos:
                pool.run(Path(model), photos)
            for clip in (i for i in items if is_clip(i.photo)):
                pool.run_clip(Path(model), clip)
    return report(manifest, plan)


class _Pool:
    """One model's items through ``map_batches`` with an actor pool; results written here."""

    def __init__(
        self,
        ray: Any,
        data: Any,
        manifest: Manifest,
        job: NetworkJob,
        options: RayOptions,
        listener: Listener,
        workers: int,
        gpus: int,
    ) -> None:
        self.ray, self.data, self.manifest, self.job = ray, data, manifest, job
        self.options, self.listener, self.workers, self.gpus = options, listener, workers, gpus
        self.index, self.total = 0, 0

    def run(self, model: Path, items: list[Item]) -> None:
        # Blocks small enough that every actor gets several (one slow to start, or the last
        # blocks, then leave the others less idle), at most a forward pass's photos.
        most = self.job.max_batch
        size = max(1, min(most, math.ceil(len(items) / (BLOCKS_PER_WORKER * self.workers))))
        refs: list[Any] = []
        left: set[int] = set()
        for start in range(0, len(items), size):
            table = _block(items[start : start + size], self.listener, self.manifest)
            if table is not None:
                left.update(int(i) for i in table.column("id").to_pylist())
                refs.append(self.ray.put(table))
        if not refs:
            return
        try:
            for row in self._rows(model, refs, size):
                self._collect(row)
                left.discard(int(row["id"]))
        except (Cancelled, KeyboardInterrupt):
            raise  # the items not written are still queued: the same command goes on
        except Exception as e:  # Ray Data gave up (a block's retries ran out)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            for item_id in sorted(left):
                started = self.manifest.start(item_id, "ray")
                failed = record_failure(self.manifest, started, f"Ray Data: {first}", None)
                self.listener.item_finished(failed)

    def run_clip(self, model: Path, item: Item) -> None:
        """One clip: its frames' network passes spread over the pool, the de-flicker and the
        encoding here in frame order; the video is written atomically, then the item done."""
        started = self.manifest.start(item.id, "ray")
        self.listener.item_started(started, self.index, self.total)
        self.index += 1
        video = self.job.video_config
        t0 = time.perf_counter()
        try:
            frames = list(clip_frames(started, video)[1])  # kept for the de-flicker
            size = max(1, min(self.job.max_batch, math.ceil(len(frames) / self.workers)))
            refs = [self.ray.put(block) for block in _frame_blocks(frames, size)]
            # As network_frames: the frames are at the working size already, and the strength
            # is blended in after the de-flicker (write_clip).
            apply = replace(self.job.settings.apply, size=None, strength=1.0)
            rows = self._rows(model, refs, size, FrameWorker, apply)
            workers: set[str] = set()
            pairs = _in_order(frames, rows, workers)
            write_clip(self.manifest, started, video, pairs, self.listener.poll)
            done = finish_clip(
                self.manifest, started, time.perf_counter() - t0, ",".join(sorted(workers))
            )
        except (Cancelled, KeyboardInterrupt):
            self.manifest.release(item.id)
            raise
        except Exception as e:  # an unreadable clip, a failed pass, Ray Data gave up
            log.debug("clip item %d failed", item.id, exc_info=True)
            done = record_failure(self.manifest, started, _first_line(e), None)
        self.listener.item_finished(done)

    def _rows(
        self,
        model: Path,
        refs: list[Any],
        size: int,
        worker: type[NetworkWorker] = NetworkWorker,
        apply: ApplyConfig | None = None,
    ) -> Any:
        threads = self.options.threads or self.options.cpus_per_worker
        dataset = self.data.from_arrow_refs(refs)
        args = ((self.ray.put(model.read_bytes()),), model.suffix, model.name)
        apply = apply or self.job.settings.apply
        with warnings.catch_warnings():
            # Bounding a block's retries is only possible through ray_remote_args_fn, which
            # Ray 2.60 marks deprecated; without it a photo that kills its worker every time
            # would be retried for ever.
            warnings.simplefilter("ignore", DeprecationWarning)
            painted = dataset.map_batches(
                worker,
                batch_size=size,
                compute=self.data.ActorPoolStrategy(
                    size=min(self.workers, len(refs)), max_tasks_in_flight_per_actor=2
                ),
                num_cpus=self.options.cpus_per_worker,
                num_gpus=self.gpus or None,
                fn_constructor_args=(*args, apply, threads, size),
                ray_remote_args_fn=functools.partial(
                    dict, max_task_retries=self.job.max_attempts - 1
                ),
            )
        return painted.iter_rows()

    def _collect(self, row: CollectedRow) -> None:
        import json

        from PIL import Image

        item = self.manifest.start(int(row["id"]), str(row["worker"]))
        self.listener.item_started(item, self.index, self.total)
        self.index += 1
        try:
            if row["error"]:
                done = record_failure(self.manifest, item, str(row["error"]), row["seconds"])
            else:
                shape = (int(row["height"]), int(row["width"]), 3)
                pixels = np.frombuffer(row["pixels"], dtype=np.uint8).reshape(shape)
                picture = Image.fromarray(pixels)
                meta = json.loads(row["meta"])
                done = write_painting(
                    self.manifest, item, picture, meta, float(row["seconds"]), item.worker or ""
                )
        except ImpastoError as e:
            done = record_failure(self.manifest, item, e, None)
        except BaseException:
            self.manifest.release(item.id)
            raise
        self.listener.item_finished(done)


def _first_line(error: BaseException) -> str:
    if isinstance(error, ImpastoError):
        return str(error)
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _in_order(
    frames: list[torch.Tensor], rows: Any, workers: set[str]
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(input frame, raw output) in frame order from rows that come in any order (the
    de-flicker of a frame needs the previous frame's output); a frame's error stops the clip."""
    import torch

    held: dict[int, torch.Tensor] = {}
    following = 0
    for row in rows:
        if row["error"]:
            raise ImpastoError(f"frame {int(row['id'])}: {row['error']}")
        shape = (1, 3, int(row["out_height"]), int(row["out_width"]))
        raw = np.frombuffer(row["raw"], dtype=np.float32).reshape(shape)
        held[int(row["id"])] = torch.from_numpy(raw.copy())
        workers.add(str(row["worker"]))
        while following in held:
            yield frames[following], held.pop(following)
            following += 1
    if following != len(frames):
        raise ImpastoError(f"Ray Data returned {following} of {len(frames)} frames")

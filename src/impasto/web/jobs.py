"""The studio's job queue: bounded lists of waiting jobs and worker threads that run them.

A worker calls :func:`impasto.api.stylize`, the same entry point as the command line (for a
Photo-mode job :func:`impasto.api.photo`, as ``impasto photo`` does; for an Audio-mode job,
:func:`impasto.web.sounds.run_audio` over impasto.audio's ``transfer`` and ``texture``), with
a callback that records progress, writes a JPEG preview every ``preview_interval`` seconds (an
image job's) and raises :class:`impasto.Cancelled` as soon as the job is cancelled (so a cancel
takes effect after at most one optimisation step).

Instant-mode jobs (a style network's one pass, :func:`impasto.web.instant.run_instant`) wait in
a lane of their own with its own worker: a pass takes about a second, and must not wait behind
an optimisation of several minutes. Both lanes share the store, the gallery and the events.

The state of queued and running jobs is kept in memory (``_live``, a :class:`LiveJob` each) for
the page's event stream and mirrored to SQLite at each preview; finished jobs are read from
SQLite.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impasto.audio.config import AudioConfig
from impasto.config import StyleConfig
from impasto.errors import Cancelled, ImpastoError
from impasto.web.inputs import SAMPLES, sample_label
from impasto.web.instant import InstantTask, Models, run_instant
from impasto.web.sounds import SOUNDS, AudioTask, RunOutcome, run_audio, sound_label
from impasto.web.store import (
    AUDIO,
    CANCELLED,
    DONE,
    FAILED,
    FINISHED,
    IMAGE,
    INSTANT,
    PHOTO,
    QUEUED,
    RUNNING,
    VIDEO,
    JobRecord,
    Store,
    new_id,
)

if TYPE_CHECKING:
    from impasto.features.weights import VGGWeights
    from impasto.network.apply import ApplyConfig
    from impasto.optim.events import StepEvent
    from impasto.video.optimise import FrameEvent
    from impasto.web.video import VideoTask

log = logging.getLogger("impasto.web")

INTERRUPTED = "interrupted: the server stopped before this job finished"

# The queues: optimisations (image and audio jobs), and style networks' passes (Instant mode).
SLOW, FAST = "slow", "fast"


class QueueFull(Exception):
    """The queue holds ``queue_size`` waiting jobs already."""


@dataclass(frozen=True)
class Source:
    """An input of a job: ``ref`` is what the client said ("sample:NAME" or "upload:ID"),
    ``name`` a label for people, ``path`` the file (made by the server)."""

    ref: str
    name: str
    path: Path


@dataclass
class LiveJob:
    """A queued or running job in memory: ``record`` is what the API shows (the database row
    and the live progress); its inputs and its cancel flag are for the worker only."""

    record: JobRecord
    content: Source | None  # None: a sound texture (it has a style only)
    style: Source
    cancel: threading.Event = field(default_factory=threading.Event)
    audio: AudioTask | None = None  # an Audio-mode job's run
    instant: InstantTask | None = None  # an Instant-mode job's run
    video: VideoTask | None = None  # a Video-mode job's run (in the slow lane: minutes)
    masks: tuple[Source, Source] | None = None  # a Photo-mode job's region maps, if any

    @property
    def lane(self) -> str:
        return SLOW if self.instant is None else FAST


def new_record(
    content: Source | None, style: Source, config: StyleConfig | AudioConfig | ApplyConfig
) -> JobRecord:
    """A new job's record: its row in the database and, while it runs, its progress. An
    Instant-mode job (ApplyConfig) is one pass: one step."""
    if isinstance(config, StyleConfig):
        kind, total = IMAGE, config.total_steps
    elif isinstance(config, AudioConfig):
        kind, total = AUDIO, config.steps
    else:
        kind, total = INSTANT, 1
    return JobRecord(
        id=new_id(),
        kind=kind,
        created=time.time(),
        status=QUEUED,
        content="" if content is None else content.ref,
        style=style.ref,
        content_name="" if content is None else content.name,
        style_name=style.name,
        config=config.to_dict(),
        total_steps=total,
        scale=0,
        elapsed=0.0,
    )


class JobManager:
    def __init__(
        self,
        store: Store,
        *,
        workers: int = 1,
        queue_size: int = 8,
        weights: VGGWeights | str | Path | None = None,
        preview_interval: float = 0.75,
        models: Models | None = None,
    ) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.store = store
        self.workers = workers
        self.queue_size = queue_size
        self.preview_interval = preview_interval
        self._weights_spec = weights
        self._weights: VGGWeights | None = None
        self._weights_lock = threading.Lock()
        self.models = models or Models()
        self._cond = threading.Condition()
        self._lanes: dict[str, deque[str]] = {SLOW: deque(), FAST: deque()}
        self._live: dict[str, LiveJob] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = False
        n = store.fail_interrupted(INTERRUPTED)
        if n:
            log.warning("marked %d job(s) of a previous run as failed", n)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start ``workers`` threads for the optimisations, and one for Instant mode's passes
        (none when ``workers`` is 0: a studio that accepts jobs and runs none, for tests)."""
        with self._cond:
            self._stopping = False
            if self._threads:
                return
            lanes = [SLOW] * self.workers + [FAST] * min(1, self.workers)
            for i, lane in enumerate(lanes):
                t = threading.Thread(
                    target=self._work, args=(lane,), name=f"impasto-{lane}-{i}", daemon=True
                )
                self._threads.append(t)
                t.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the running jobs, fail the waiting ones and wait for the workers."""
        with self._cond:
            self._stopping = True
            for live in self._live.values():
                live.cancel.set()
            for pending in self._lanes.values():
                while pending:
                    self._finish(pending.popleft(), FAILED, error=INTERRUPTED)
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    # -- the API's operations --------------------------------------------------------------------
    def submit(self, content: Source, style: Source, config: StyleConfig) -> JobRecord:
        """Queue an image job; QueueFull when ``queue_size`` jobs wait already."""
        return self._enqueue(LiveJob(new_record(content, style, config), content, style))

    def submit_photo(
        self,
        photo: Source,
        reference: Source,
        config: StyleConfig,
        masks: tuple[Source, Source] | None = None,
    ) -> JobRecord:
        """Queue a Photo-mode job: ``photo`` given ``reference``'s look, with ``masks`` (the
        photo's region map and the reference's) or none. Same lane, workers and store as
        images; its inputs are checked already (:func:`impasto.api.check_photo`)."""
        record = replace(new_record(photo, reference, config), kind=PHOTO)
        if masks is not None:
            record = replace(
                record,
                content_mask=masks[0].ref,
                style_mask=masks[1].ref,
                content_mask_name=masks[0].name,
                style_mask_name=masks[1].name,
            )
        return self._enqueue(LiveJob(record, photo, reference, masks=masks))

    def submit_audio(
        self,
        content: Source | None,
        style: Source,
        config: AudioConfig,
        seconds: float | None = None,
    ) -> JobRecord:
        """Queue an Audio-mode job: a transfer, or a texture of ``seconds`` (None: the
        style's length) when ``content`` is None. Same queue, workers and store as images."""
        names = {"style": style.name}
        if content is not None:
            names["content"] = content.name
        task = AudioTask(
            None if content is None else content.path, style.path, config, seconds, names
        )
        record = new_record(content, style, config)
        return self._enqueue(LiveJob(record, content, style, audio=task))

    def submit_instant(self, photo: Source, model: Source, task: InstantTask) -> JobRecord:
        """Queue an Instant-mode job (``model`` names the network as the gallery shows it), in
        its own lane: it never waits behind an optimisation."""
        record = new_record(photo, model, task.config)
        return self._enqueue(LiveJob(record, photo, model, instant=task))

    def submit_video(self, clip: Source, style: Source, task: VideoTask) -> JobRecord:
        """Queue a Video-mode job (``style`` the style image, or the network as the gallery
        shows it); its steps are the clip's frames."""
        record = replace(
            new_record(clip, style, task.config.style_config),
            kind=VIDEO,
            config=task.config.to_dict(),
            total_steps=task.frames,
        )
        return self._enqueue(LiveJob(record, clip, style, video=task))

    def _enqueue(self, live: LiveJob) -> JobRecord:
        with self._cond:
            if self._stopping:
                raise QueueFull("the server is shutting down")
            pending = self._lanes[live.lane]
            if len(pending) >= self.queue_size:
                raise QueueFull(
                    f"the queue is full ({len(pending)} jobs waiting); "
                    "try again when a job has finished"
                )
            job = live.record
            self.store.add_job(job)
            self._live[job.id] = live
            pending.append(job.id)
            self._cond.notify_all()  # the lanes' workers share the condition
            return replace(job)

    # A live record changes under the lock: readers get a copy.
    def get(self, job_id: str) -> JobRecord | None:
        with self._cond:
            live = self._live.get(job_id)
            if live is not None:
                return replace(live.record)
        return self.store.get_job(job_id)

    def list_jobs(self, limit: int = 100) -> list[JobRecord]:
        jobs = self.store.list_jobs(limit)
        with self._cond:
            return [replace(self._live[j.id].record) if j.id in self._live else j for j in jobs]

    def cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a job: a waiting one at once, a running one at its next step."""
        with self._cond:
            live = self._live.get(job_id)
            pending = self._lanes[live.lane] if live is not None else deque()
            if job_id in pending:
                pending.remove(job_id)
                self._finish(job_id, CANCELLED, error="cancelled before it started")
            elif live is not None:
                live.cancel.set()
        return self.get(job_id)

    def position(self, job_id: str) -> int | None:
        """How many jobs wait before this one in its lane; None when it does not wait."""
        with self._cond:
            live = self._live.get(job_id)
            try:
                return self._lanes[live.lane].index(job_id) if live is not None else None
            except ValueError:
                return None

    def counts(self) -> dict[str, int]:
        with self._cond:
            running = sum(1 for j in self._live.values() if j.record.status == RUNNING)
            return {"queued": sum(map(len, self._lanes.values())), "running": running}

    # -- workers ---------------------------------------------------------------------------------
    def _work(self, lane: str) -> None:
        pending = self._lanes[lane]
        while True:
            with self._cond:
                while not pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job_id = pending.popleft()
                live = self._live[job_id]
                job = live.record
                job.status = RUNNING
                job.started = time.time()
            self.store.update_job(job_id, status=RUNNING, started=job.started)
            try:
                self._run(job_id, live)
            except Exception:  # never let a worker die: the next job must still run
                log.exception("job %s crashed", job_id)
                self._finish(job_id, FAILED, error="internal error (see the server log)")

    def _load_weights(self) -> VGGWeights:
        from impasto.features.weights import VGGWeights, load_weights

        with self._weights_lock:
            if self._weights is None:
                spec = self._weights_spec
                if isinstance(spec, VGGWeights):
                    self._weights = spec
                else:
                    self._weights = load_weights(None if spec is None else str(spec))
            return self._weights

    def _progress(self, live: LiveJob, preview: Path | None) -> Callable[[StepEvent], None]:
        """The run's callback: records each step, writes a preview every ``preview_interval``
        seconds (and at the last step; none for a sound: ``preview`` None), and stops the run
        once the job is cancelled."""
        job, job_id, cancel = live.record, live.record.id, live.cancel
        last_preview = [-math.inf]

        def callback(event: StepEvent) -> None:
            from impasto.io.images import save_image

            losses = dict(event.losses)
            saved = False
            now = time.monotonic()
            if now - last_preview[0] >= self.preview_interval or event.step >= event.total_steps:
                last_preview[0] = now
                if preview is not None:
                    save_image(event.image, preview)  # atomic: the page never sees half a file
                    saved = True
                    self.store.update_job(job_id, step=event.step, losses=losses, has_preview=1)
                else:
                    self.store.update_job(job_id, step=event.step, losses=losses)
            with self._cond:
                job.step, job.total_steps = event.step, event.total_steps
                job.scale, job.scales, job.size = event.scale, event.scales, list(event.size)
                job.losses, job.elapsed = losses, event.elapsed
                job.eta = event.eta if math.isfinite(event.eta) else None
                if saved:
                    job.has_preview = True
                    job.preview_version += 1
            if cancel.is_set():
                raise Cancelled(f"cancelled at step {event.step}", step=event.step)

        return callback

    def _stylize(self, live: LiveJob, folder: Path) -> RunOutcome:
        """An image (or Photo-mode) job's run: the result PNG and its final preview in
        ``folder``."""
        from impasto.api import photo, stylize
        from impasto.io.images import save_image

        preview = folder / "preview.jpg"
        callback = self._progress(live, preview)
        job = live.record
        assert live.content is not None
        cfg = StyleConfig.from_dict(job.config)
        weights = self._load_weights()
        content, style = live.content.path, live.style.path
        if job.kind == PHOTO:
            masks = live.masks
            result = photo(
                content,
                style,
                cfg,
                content_mask=None if masks is None else masks[0].path,
                style_mask=None if masks is None else masks[1].path,
                weights=weights,
                callback=callback,
            )
        else:
            result = stylize(content, style, cfg, weights=weights, callback=callback)
        # Sources name what the person picked, not the server's file layout.
        result.sources["content"] = job.content_name
        result.sources["style"] = job.style_name
        result.save(folder / "result.png")  # PNG with the settings in its metadata
        save_image(result.tensor, preview)
        return RunOutcome(result.seconds, result.losses, len(result.history))

    def _video_progress(self, live: LiveJob, preview: Path) -> Callable[[FrameEvent, Any], None]:
        """A video run's callback: records the frame (and the step within it), writes the
        current frame's preview every ``preview_interval`` seconds and at each frame's end,
        and stops the run once the job is cancelled (no video is left: the writer's temp
        file is removed)."""
        from impasto.web.video import frame_done, show_frame

        job, job_id, cancel = live.record, live.record.id, live.cancel
        last_preview = [-math.inf]

        def callback(event: FrameEvent, image: Any) -> None:
            from impasto.io.images import save_image

            now = time.monotonic()
            due = now - last_preview[0] >= self.preview_interval or event.step is None
            saved = image is not None and due
            if saved:
                last_preview[0] = now
                save_image(image, preview)  # atomic: the page never sees half a file
                self.store.update_job(job_id, step=frame_done(event), has_preview=1)
            with self._cond:
                show_frame(job, event)
                if saved:
                    job.has_preview = True
                    job.preview_version += 1
            if cancel.is_set():
                raise Cancelled(f"cancelled at frame {event.frame + 1} of {event.frames}")

        return callback

    def _video(self, live: LiveJob, task: VideoTask, folder: Path) -> RunOutcome:
        """A Video-mode job's run: ``result.mp4`` and the last frame's preview in ``folder``."""
        from impasto.web.video import run_video

        preview = folder / "preview.jpg"
        callback = self._video_progress(live, preview)
        outcome = run_video(task, folder, callback, weights=self._load_weights, models=self.models)
        if not preview.is_file():  # too quick for a preview: the result's first frame
            from impasto.io.images import save_image
            from impasto.video.frames import read_frames

            save_image(next(read_frames(folder / "result.mp4", range(1))), preview)
        return RunOutcome(outcome.seconds, outcome.losses, outcome.frames)

    def _run(self, job_id: str, live: LiveJob) -> None:
        folder = self.store.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        job = live.record
        try:
            if live.audio is not None:  # the spectrogram PNG stands for the preview
                outcome = run_audio(live.audio, folder, self._progress(live, None))
            elif live.instant is not None:  # one pass: no steps to follow, nothing to cancel
                outcome = run_instant(self.models, live.instant, folder)
            elif live.video is not None:
                outcome = self._video(live, live.video, folder)
            else:
                outcome = self._stylize(live, folder)
        except Cancelled as e:
            stopping = self._stopping
            self._finish(
                job_id,
                FAILED if stopping else CANCELLED,
                error=INTERRUPTED if stopping else str(e),
            )
            return
        except ImpastoError as e:
            self._finish(job_id, FAILED, error=str(e))
            return
        with self._cond:
            job.preview_version += 1
            job.losses = outcome.losses or job.losses
            job.step = outcome.steps
            job.eta = 0.0
            job.seconds, job.has_result, job.has_preview = outcome.seconds, True, True
        self._finish(job_id, DONE)

    def _finish(self, job_id: str, status: str, error: str | None = None) -> None:
        """Record a job's end (and ``error``, why it did not finish) in SQLite, then drop its
        live state (readers fall back to the database, which already holds the end)."""
        assert status in FINISHED
        with self._cond:
            live = self._live.get(job_id)
            if live is None:  # not live (any more): its end is all there is to write
                self.store.update_job(job_id, status=status, finished=time.time(), error=error)
                return
            job = live.record
            if error is not None:
                job.error = error
            self.store.update_job(
                job_id,
                status=status,
                finished=time.time(),
                step=job.step,
                losses=job.losses,
                error=job.error,
                seconds=job.seconds,
                has_preview=int(job.has_preview),
                has_result=int(job.has_result),
            )
            self._live.pop(job_id, None)


def sample_source(name: str) -> Source | None:
    path = SAMPLES.get(name)
    return Source(f"sample:{name}", sample_label(name), path) if path else None


def sound_source(name: str) -> Source | None:
    path = SOUNDS.get(name)
    return Source(f"sound:{name}", sound_label(name), path) if path else None

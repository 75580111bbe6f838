"""The in-process runner: one item at a time, each with every core (torch's threads), through
the same :func:`impasto.api.stylize` as ``impasto stylize``. The weights are loaded once."""

from __future__ import annotations

import logging
import time

from impasto.api import stylize
from impasto.batch.job import (
    Job,
    Listener,
    Report,
    record_failure,
    report,
    this_worker,
    write_result,
)
from impasto.batch.manifest import Manifest, Plan
from impasto.errors import Cancelled
from impasto.features.weights import VGGWeights

log = logging.getLogger(__name__)


def run_local(
    manifest: Manifest, plan: Plan, job: Job, weights: VGGWeights, listener: Listener
) -> Report:
    """Run ``plan``'s items in order. A failed item is recorded and the batch goes on;
    :class:`Cancelled` (or Ctrl-C) puts the current item back in the queue and propagates."""
    worker = this_worker()
    for index, item_id in enumerate(plan.run):
        run_item(manifest, item_id, job, weights, listener, worker, index, len(plan.run))
    return report(manifest, plan)


def run_item(
    manifest: Manifest,
    item_id: int,
    job: Job,
    weights: VGGWeights,
    listener: Listener,
    worker: str,
    index: int = 0,
    total: int = 1,
) -> None:
    """One item: start it, stylize, write the output, mark it done (or failed)."""
    item = manifest.start(item_id, worker)
    listener.item_started(item, index, total)
    t0 = time.perf_counter()
    try:
        result = stylize(
            item.photo, item.style, job.settings.config, weights=weights, callback=listener.step
        )
        item = write_result(manifest, item, result, worker)
    except (Cancelled, KeyboardInterrupt):
        manifest.release(item_id)
        raise
    except Exception as e:  # recorded against the item; the batch goes on
        log.debug("item %d failed", item_id, exc_info=True)
        item = record_failure(manifest, item, e, time.perf_counter() - t0)
    listener.item_finished(item)

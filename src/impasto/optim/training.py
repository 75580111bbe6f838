"""The loop that trains a network resumably (a style network, an upscaler): steps until the
run's total or its ``minutes``, saving the state every ``every`` steps, at the end, and when
the callback cancels the run.

The trainers differ in what a step computes and what a checkpoint holds; they hand those in
as callables, and the stopping, saving and cancelling are written here once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from impasto.errors import Cancelled, ConfigError

E = TypeVar("E")


class Stepping(Protocol):
    """A trainer as the loop sees it: the steps done, and whether its time is up."""

    @property
    def step(self) -> int: ...

    def out_of_time(self) -> bool: ...


def out_of_time(minutes: float, step: int, elapsed: float) -> bool:
    """Whether a run has used its ``minutes`` (wall time, resumed runs included); never
    before its first step."""
    return bool(minutes) and step > 0 and elapsed >= 60 * minutes


def check_resume_steps(done: int, steps: int | None) -> None:
    """Refuse a new total below the steps a resumed run has already done."""
    if steps is not None and steps < done:
        raise ConfigError(f"steps must be at least the {done} already done, got {steps}")


def run_steps(
    trainer: Stepping,
    total: int,
    step: Callable[[], E],
    callback: Callable[[E], None] | None,
    save: Callable[[], Path] | None,
    every: int,
) -> None:
    """Call ``step`` until ``trainer`` has done ``total`` steps or is out of time, handing
    each event to ``callback``. With ``save`` (it writes the checkpoint and returns its
    folder): every ``every`` steps, at the end, and before re-raising a
    :class:`~impasto.errors.Cancelled` that then names the step and the folder."""
    try:
        while trainer.step < total and not trainer.out_of_time():
            event = step()
            if save is not None and trainer.step % every == 0:
                save()
            if callback is not None:
                callback(event)
    except Cancelled as e:
        if save is None:
            raise
        folder = save()
        raise Cancelled(
            f"stopped at step {trainer.step}; checkpoint saved in {folder}",
            step=trainer.step,
            checkpoint=folder,
        ) from e
    if save is not None:
        save()

"""Progress events: one per optimisation step, for progress bars, snapshots and the web page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class StepEvent:
    """What a run reports after every step (one forward and backward pass of the network).

    ``image`` is the current image, (1, 3, H, W) in [0, 1] (not clamped); it is the live tensor
    of the run, so a callback that keeps it must clone it and must never modify it.
    A callback stops a run by raising :class:`impasto.Cancelled`.
    """

    step: int  # 1-based, counted over all scales
    total_steps: int
    scale: int  # 0-based index of the current scale
    scales: int
    size: tuple[int, int]  # (H, W) at this scale
    losses: dict[str, float]  # weighted terms: content, style, tv, total
    elapsed: float  # seconds since the run started

    image: torch.Tensor

    @property
    def eta(self) -> float:
        """Seconds left, assuming the remaining steps cost what the finished ones did."""
        if self.step <= 0:
            return float("nan")
        return self.elapsed / self.step * (self.total_steps - self.step)


Callback = Callable[[StepEvent], None]


@dataclass(frozen=True)
class StageEvent:
    """Progress of a stage that follows the optimisation (``stylize --upscale``: the
    upscaler's fine-tune on the painting, then the enlargement): ``done`` of ``total`` units
    (training steps, tiles). A callback stops the run by raising :class:`impasto.Cancelled`."""

    stage: str  # "finetune" or "enlarge"
    done: int
    total: int
    elapsed: float  # seconds since the stage started
    losses: dict[str, float] = field(default_factory=dict)  # a training step's terms


StageCallback = Callable[[StageEvent], None]

"""Coarse to fine: optimise the image at a series of growing sizes, each started from the last
one enlarged (the multi-resolution recipe of neural-style and Gatys et al. 2017, section 5).

The loop takes what differs between callers from them: the image to start from and, per
scale, the targets to match. A still image computes its targets from the content and style at
each scale; a video frame can start from the warped previous frame and reuse style targets
computed once for the whole clip. Progress (the scale, the optimiser's state, the loss history,
the time spent) is a typed value the caller can save and hand back to continue exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from impasto.config import Optimizer, StyleConfig
from impasto.errors import Cancelled, DivergedError
from impasto.features.device import CPU_FP32, Arithmetic
from impasto.features.extractor import FeatureExtractor
from impasto.losses.memory import tile_for
from impasto.losses.objective import LossWeights, make_objective
from impasto.losses.targets import ScaleTargets
from impasto.optim.events import Callback, StepEvent
from impasto.optim.loop import OptimizerState, PixelOptimizer
from impasto.preprocess.resize import fit_long_side, plan_steps, pyramid_sizes, resize


@dataclass(frozen=True)
class Scale:
    """One size of a coarse-to-fine run."""

    index: int  # 0 = the coarsest
    long_side: int
    hw: tuple[int, int]  # (H, W) of the image at this scale
    steps: int
    first_step: int  # steps run at the smaller scales before this one
    tile: int  # tile size of the loss at this scale; 0 = the whole image at once


def check_plan(cfg: StyleConfig) -> None:
    """Refuse, from the settings alone, a step plan the scales cannot take: per-scale counts
    for another number of scales, or ``final_steps`` that leave a smaller scale none.
    Raises ConfigError naming the setting."""
    sizes = pyramid_sizes(cfg.size, cfg.scales, cfg.min_size)
    plan_steps(cfg.steps, sizes, cfg.final_steps, cfg.final_share)


def plan_scales(
    cfg: StyleConfig, canvas: tuple[int, int], device_free: int | None = None
) -> list[Scale]:
    """The scales of a run whose output is ``canvas`` = (H, W) pixels; on a GPU with
    ``device_free`` bytes free, scales that would not fit there are tiled."""
    sizes = pyramid_sizes(cfg.size, cfg.scales, cfg.min_size)
    steps = plan_steps(cfg.steps, sizes, cfg.final_steps, cfg.final_share)
    out = []
    for i, (long_side, n) in enumerate(zip(sizes, steps, strict=True)):
        hw = fit_long_side(canvas[0], canvas[1], long_side)
        tile = tile_for(cfg.tile, hw, device_free)
        out.append(Scale(i, long_side, hw, n, sum(steps[:i]), tile))
    return out


@dataclass
class Progress:
    """Where a run stands: enough to continue it to the same image as an uninterrupted run."""

    scale: int = 0  # index of the scale being optimised
    optimizer: OptimizerState | None = None  # PixelOptimizer.state_dict() at that scale
    history: list[dict[str, float]] = field(default_factory=list)  # weighted terms per step
    elapsed: float = 0.0  # seconds spent so far


@dataclass(frozen=True)
class Saver:
    """Save the progress every ``every`` steps and when the run is cancelled; ``save``
    writes it (with whatever else the caller keeps) and returns where."""

    every: int
    save: Callable[[Progress], Path]


@dataclass(frozen=True)
class PyramidRun:
    """What the loop needs besides the targets and the start: the network, the scales, the
    loss weights and the optimiser's settings."""

    extractor: FeatureExtractor
    scales: list[Scale]
    weights: LossWeights
    optimizer: Optimizer
    lr: float
    tol: float
    arithmetic: Arithmetic = CPU_FP32  # the device and its autocast
    # How a scale's result becomes the next scale's start, (image, (h, w)) → image; None:
    # bilinear (photo mode carries the recolouring onto the sharper photo instead).
    enlarge: Callable[[torch.Tensor, tuple[int, int]], torch.Tensor] | None = None

    @classmethod
    def of(
        cls,
        cfg: StyleConfig,
        extractor: FeatureExtractor,
        scales: list[Scale],
        *,
        content: bool,
        arithmetic: Arithmetic = CPU_FP32,
    ) -> PyramidRun:
        weights = LossWeights.of(cfg, content=content)
        lr, tol = cfg.learning_rate, cfg.tol
        return cls(extractor, scales, weights, cfg.optimizer, lr, tol, arithmetic)

    @property
    def total_steps(self) -> int:
        return sum(s.steps for s in self.scales)


def run_pyramid(
    run: PyramidRun,
    targets_for: Callable[[Scale], ScaleTargets],
    start: torch.Tensor | None,
    *,
    progress: Progress | None = None,
    callback: Callback | None = None,
    saver: Saver | None = None,
) -> tuple[torch.Tensor, Progress]:
    """Optimise from ``start`` (any size; enlarged or shrunk to the first scale) through every
    scale; or, with ``progress`` from a saved run, continue where it stood (``start`` is then
    not used). Returns the image at the last scale (not clamped) and the final progress.

    Raises:
        Cancelled: the callback cancelled; with a ``saver``, after saving, and the error
            names the checkpoint.
    """
    progress = progress or Progress()
    clock = _Clock(time.perf_counter() - progress.elapsed)
    history = list(progress.history)
    resumed = progress.optimizer
    x = None
    for scale in run.scales[progress.scale :]:
        objective = make_objective(
            run.extractor,
            targets_for(scale),
            run.weights,
            tile=scale.tile,
            arithmetic=run.arithmetic,
        )
        if resumed is not None:
            resumed = _moved(resumed, run.arithmetic.device)
            opt = PixelOptimizer(resumed["x"], objective, optimizer=run.optimizer, lr=run.lr)
            opt.load_state_dict(resumed)
            resumed = None
        else:
            x0 = start if x is None else x
            assert x0 is not None, "a run that does not resume needs a start image"
            if tuple(x0.shape[-2:]) != scale.hw:
                grow = run.enlarge if run.enlarge is not None and x is not None else resize
                x0 = grow(x0, scale.hw)
            x0 = x0.to(run.arithmetic.device)
            opt = PixelOptimizer(x0, objective, optimizer=run.optimizer, lr=run.lr)
        step = _Stepper(run, scale, opt, history, clock, callback, saver)
        try:
            x = opt.run(scale.steps, step, tol=run.tol)
        except Cancelled as e:
            raise step.cancelled(e) from None
        except DivergedError as e:
            raise _diverged(e, run, scale) from None
    assert x is not None
    return x, Progress(len(run.scales) - 1, None, history, clock.elapsed())


def _moved(state: Any, device: torch.device) -> Any:
    """A saved optimiser state (read onto the CPU) with its tensors on ``device``."""
    if isinstance(state, torch.Tensor):
        return state.to(device)
    if isinstance(state, dict):
        return {k: _moved(v, device) for k, v in state.items()}
    if isinstance(state, list):
        return [_moved(v, device) for v in state]
    return state


# The setting behind each loss term, to name in the error when that term overflows.
_SETTING = {
    "content": "content_weight",
    "style": "style_weight",
    "tv": "tv_weight",
    "photo": "photo_weight",
}


def _diverged(error: DivergedError, run: PyramidRun, scale: Scale) -> DivergedError:
    """``error`` with the scale and the settings most likely to blame."""
    w = run.weights
    values = {
        "content_weight": w.content,
        "style_weight": w.style,
        "tv_weight": w.tv,
        "photo_weight": w.photo,
    }
    named = [_SETTING[t] for t in error.terms if t in _SETTING]
    hint = ", ".join(f"{s} (now {values[s]:g})" for s in named) or "the loss weights or lr"
    step = scale.first_step + error.step
    return DivergedError(
        f"{error} of scale {scale.index + 1} ({scale.hw[1]}x{scale.hw[0]} px); nothing was "
        f"written: lower {hint}",
        step=step,
        terms=error.terms,
    )


@dataclass(frozen=True)
class _Clock:
    started: float

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


@dataclass
class _Stepper:
    """After each step at one scale: record the losses, save every ``saver.every`` steps,
    and tell the callback."""

    run: PyramidRun
    scale: Scale
    opt: PixelOptimizer
    history: list[dict[str, float]]
    clock: _Clock
    callback: Callback | None
    saver: Saver | None

    def progress(self) -> Progress:
        return Progress(self.scale.index, self.opt.state_dict(), self.history, self.clock.elapsed())

    def __call__(self, step: int, losses: dict[str, float], image: torch.Tensor) -> None:
        self.history.append(losses)
        done = self.scale.first_step + step
        if self.saver is not None and done % self.saver.every == 0:
            self.saver.save(self.progress())
        if self.callback is not None:
            self.callback(
                StepEvent(
                    step=done,
                    total_steps=self.run.total_steps,
                    scale=self.scale.index,
                    scales=len(self.run.scales),
                    size=(image.shape[-2], image.shape[-1]),
                    losses=losses,
                    elapsed=self.clock.elapsed(),
                    image=image,
                )
            )

    def cancelled(self, error: Cancelled) -> Cancelled:
        """``error`` as the run reports it: after saving, naming the checkpoint."""
        if self.saver is None:
            return error
        folder = self.saver.save(self.progress())
        step = self.scale.first_step + self.opt.steps
        return Cancelled(
            f"stopped at step {step}; checkpoint saved in {folder}", step=step, checkpoint=folder
        )

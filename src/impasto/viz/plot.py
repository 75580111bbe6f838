"""Loss curves: the weighted loss terms against the step, on a log scale, with the starts of
the scales of a coarse-to-fine run marked.

matplotlib is imported when a plot is drawn, and only through its object API on an Agg
canvas: nothing here touches pyplot's global state or the process's backend.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impasto.errors import OutputError
from impasto.io.atomic import atomic_output
from impasto.viz._draw import check_path

if TYPE_CHECKING:
    from impasto.optim.events import StepEvent

PLOT_FORMATS: tuple[str, ...] = (".png", ".svg", ".pdf")
TERMS: tuple[str, ...] = ("total", "content", "style", "tv")
# Colours per term (a single run) and per cell (several runs): matplotlib's tab10 order.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

History = Sequence[Mapping[str, float]]


@dataclass
class ScaleTracker:
    """A step-event callback noting the first step of each new scale of a run, for
    :func:`plot_losses`' ``scale_boundaries`` (runs may stop a scale early, so the boundaries
    cannot be worked out from the config)."""

    boundaries: list[int] = field(default_factory=list)
    _scale: int | None = None

    def __call__(self, event: StepEvent) -> None:
        if self._scale is not None and event.scale != self._scale:
            self.boundaries.append(event.step)
        self._scale = event.scale


def check_plot_path(path: str | os.PathLike[str], flag: str = "plot") -> Path:
    """Fail before any work if ``path`` is not a writable .png, .svg or .pdf path."""
    return check_path(path, PLOT_FORMATS, flag)


def _series(history: History, key: str) -> tuple[list[int], list[float]] | None:
    """Steps and values of one term, positive values only (a log axis has no zero); None
    when the term never appears or is never positive (e.g. ``tv_weight=0``)."""
    xs, ys = [], []
    for i, losses in enumerate(history, start=1):
        v = losses.get(key)
        if v is not None and v > 0 and math.isfinite(v):
            xs.append(i)
            ys.append(float(v))
    return (xs, ys) if ys else None


def plot_losses(
    histories: Mapping[str, History] | History,
    path: str | os.PathLike[str],
    scale_boundaries: Mapping[str, Sequence[int]] | Sequence[int] | None = None,
    *,
    title: str | None = None,
) -> Path:
    """Draw loss curves to ``path`` (.png, .svg or .pdf), atomically.

    Args:
        histories: one run's ``Result.history`` (a list of per-step loss dicts), or several
            runs by label (e.g. the cells of a grid).
        scale_boundaries: the first step of each scale after the first (see
            :class:`ScaleTracker`): a list for all runs, or a list per label. Each is marked
            with a dashed vertical line.
        title: drawn above the plot.

    One run gives one panel with total, content, style and TV; several runs give four panels,
    one per term, with a labelled line per run.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    p = check_plot_path(path)
    runs, bounds = _runs_and_bounds(histories, scale_boundaries)
    if not runs or not any(len(h) for h in runs.values()):
        raise OutputError(f"no losses to plot to {p}: the run made no step")
    single = len(runs) == 1
    fig = Figure(figsize=(7.0, 4.2) if single else (9.0, 6.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    if single:
        _one_run(fig, *next(iter(runs.items())), bounds, title)
    else:
        _several_runs(fig, runs, bounds, title)
    _save(fig, p)
    return p


def _runs_and_bounds(
    histories: Mapping[str, History] | History,
    scale_boundaries: Mapping[str, Sequence[int]] | Sequence[int] | None,
) -> tuple[dict[str, History], dict[str, list[int]]]:
    """The runs by label, and each run's scale boundaries."""
    if isinstance(histories, Mapping):
        runs = {str(k): v for k, v in histories.items()}
    else:
        runs = {"": histories}
    bounds: dict[str, list[int]] = {}
    if isinstance(scale_boundaries, Mapping):
        bounds = {str(k): [int(s) for s in v] for k, v in scale_boundaries.items()}
    elif scale_boundaries is not None:
        bounds = {k: [int(s) for s in scale_boundaries] for k in runs}
    return runs, bounds


def _one_run(
    fig: Any, label: str, history: History, bounds: dict[str, list[int]], title: str | None
) -> None:
    """One panel: total, content, style and TV of one run."""
    ax = fig.add_subplot()
    for k, term in enumerate(TERMS):
        s = _series(history, term)
        if s is not None:
            # The total on top, in black: with a small content term it hides under another.
            total = term == "total"
            ax.plot(
                *s,
                color="#111111" if total else PALETTE[k],
                lw=1.4,
                ls=(0, (4, 2)) if total else "-",
                zorder=3 if total else 2,
                label=term,
            )
    _mark_scales(ax, bounds.get(label, []), "#555555")
    _style_axis(ax, "weighted loss")
    # Beside the axes: inside, it would hide the start of some curve.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    if title or label:
        ax.set_title(title or label, fontsize=11)


def _several_runs(
    fig: Any, runs: dict[str, History], bounds: dict[str, list[int]], title: str | None
) -> None:
    """Four panels, one per term, a labelled line per run."""
    axes = fig.subplots(2, 2, sharex=True)
    shared = len({tuple(b) for b in bounds.values()}) == 1 and len(bounds) == len(runs)
    for ax, term in zip(axes.flat, TERMS, strict=True):
        for k, (label, history) in enumerate(runs.items()):
            color = PALETTE[k % len(PALETTE)]
            s = _series(history, term)
            if s is not None:
                ax.plot(*s, color=color, lw=1.4, label=label)
            if not shared:
                _mark_scales(ax, bounds.get(label, []), color)
        if shared:
            _mark_scales(ax, next(iter(bounds.values())), "#555555")
        _style_axis(ax, f"{term} loss", xlabel=term in ("style", "tv"))
    axes[0, 0].legend(loc="best", fontsize=8, framealpha=0.9, edgecolor="none")
    if title:
        fig.suptitle(title, fontsize=11)


def _save(fig: Any, p: Path) -> None:
    fmt = p.suffix.lower()[1:]
    # No dates or versions in the file: a gallery re-drawn by the same code is byte-identical.
    meta: dict[str, None] = {  # None: matplotlib leaves the field out
        "png": {"Software": None},
        "svg": {"Date": None, "Creator": None},
        "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
    }[fmt]
    with atomic_output(p) as f:
        fig.savefig(f, format=fmt, metadata=meta)


def _mark_scales(ax: Any, boundaries: Sequence[int], color: str) -> None:
    for i, step in enumerate(boundaries):
        # Between the last step of one scale and the first of the next.
        ax.axvline(
            step - 0.5,
            color=color,
            ls="--",
            lw=0.9,
            alpha=0.7,
            label="new scale" if i == 0 and color == "#555555" else None,
        )


def _style_axis(ax: Any, ylabel: str, xlabel: bool = True) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if xlabel:
        ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)

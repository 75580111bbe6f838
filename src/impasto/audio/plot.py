"""Spectrograms side by side (content, style, result), because a picture of the sound says
more than the loss numbers do.

matplotlib is imported when a plot is drawn, through its object API on an Agg canvas only:
nothing here touches pyplot's global state or the process's backend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from impasto.errors import OutputError
from impasto.io.atomic import atomic_output, check_writable

PLOT_FORMATS: tuple[str, ...] = (".png", ".svg", ".pdf")


def check_plot_path(path: str | os.PathLike[str], flag: str = "--plot") -> Path:
    """Fail before any work if ``path`` is not a writable .png, .svg or .pdf path."""
    return check_writable(path, PLOT_FORMATS, flag)


def plot_spectrograms(
    panels: list[tuple[str, torch.Tensor]],
    path: str | os.PathLike[str],
    sample_rate: int,
    hop: int,
) -> Path:
    """Draw each (title, log spectrogram (bins, frames)) panel side by side on one colour
    scale (time in seconds, frequency in kHz) and write the picture atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    p = check_plot_path(path)
    if not panels:
        raise OutputError(f"no spectrograms to plot to {p}")
    top = max(float(spec.max()) for _, spec in panels)
    fig = Figure(figsize=(4.0 * len(panels), 3.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    image: Any = None
    for ax, (title, spec) in zip(axes, panels, strict=True):
        frames = spec.shape[1]
        extent = (0.0, frames * hop / sample_rate, 0.0, sample_rate / 2000)
        image = ax.imshow(
            spec.detach().numpy(),
            origin="lower",
            aspect="auto",
            extent=extent,
            cmap="magma",
            vmin=0.0,
            vmax=top,
            interpolation="nearest",
        )
        ax.set_title(title)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    fig.colorbar(image, ax=list(axes), label="log(1 + |STFT|)", shrink=0.9)
    with atomic_output(p) as f:
        fig.savefig(
            f,
            format=p.suffix.lower()[1:],
            metadata={"Software": None} if p.suffix.lower() == ".png" else None,
        )
    return p

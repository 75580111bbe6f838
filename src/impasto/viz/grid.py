"""Parameter grids: one run per value of one setting, everything else (the seed included)
equal, laid out as a labelled contact sheet.

The kinds reproduce the figures that explain the method (Gatys, Ecker & Bethge 2016):

* ``ratio``: the style weight beta with the content weight alpha fixed at 1, so a value is
  the ratio beta/alpha (figure 3's columns; larger = more style, less content);
* ``layers``: style from relu1_1 only, up to relu2_1, ... up to relu5_1 (figure 3's rows):
  deeper layers match larger, more abstract structures;
* ``init``: white noise (the paper), the content photo, or a blurred content photo;
* ``optimizer``: L-BFGS (the paper) or Adam at the same number of steps;
* ``pooling``: max (what VGG19 was trained with) or average (the paper's figures).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

from impasto.config import Init, Optimizer, Pooling, StyleConfig
from impasto.errors import ConfigError
from impasto.io.images import ImageLike, load_image, tensor_to_pil
from impasto.jsontypes import JSONValue
from impasto.layers import LAYER_NAMES, LAYER_PRESETS
from impasto.viz._draw import BACKGROUND, draw_lines, fit, font, line_height, wrap
from impasto.viz.plot import ScaleTracker

if TYPE_CHECKING:
    from impasto.api import Result, WeightsLike
    from impasto.optim.events import StepEvent

VARY_KINDS: tuple[str, ...] = ("ratio", "layers", "init", "optimizer", "pooling")

DEFAULT_VALUES: dict[str, tuple[str, ...]] = {
    "ratio": ("0.01", "0.1", "1", "10", "100"),
    "layers": tuple(LAYER_PRESETS),
    "init": tuple(m.value for m in (Init.NOISE, Init.CONTENT, Init.PALETTE, Init.BLUR)),
    "optimizer": tuple(m.value for m in Optimizer),
    "pooling": tuple(m.value for m in Pooling),
}

# Small and quick by default: a 5-cell grid takes about a minute with the real VGG19 on a
# 2-core CPU. Two scales (96 then 128 px) give the coarse structure cheaply.
GRID_CONFIG = StyleConfig(size=128, scales=2, min_size=96, steps=60)

GridCallback = Callable[[int, "StepEvent"], None]


def _check_kind(vary: str) -> str:
    kind = str(vary).strip().lower()
    if kind not in VARY_KINDS:
        raise ConfigError(f"unknown --vary {vary!r}; choose one of: {', '.join(VARY_KINDS)}")
    return kind


def _parse_one(kind: str, text: str) -> Any:
    """One value of ``kind`` as the StyleConfig field value it stands for."""
    v = text.strip()
    if kind == "ratio":
        try:
            x = float(v)
        except ValueError:
            x = math.nan
        if not math.isfinite(x) or x < 0:
            raise ConfigError(
                f"cannot read {text!r} as a style/content weight ratio: "
                "give non-negative numbers, e.g. 0.1,1,10"
            )
        return x
    if kind == "layers":
        if v in LAYER_PRESETS:
            return LAYER_PRESETS[v]
        names = tuple(s.strip() for s in v.split("+"))
        if all(n in LAYER_NAMES for n in names) and names:
            return names
        raise ConfigError(
            f"cannot read {text!r} as style layers: give a preset "
            f"({', '.join(LAYER_PRESETS)}) or layer names joined by '+', e.g. relu1_1+relu3_1"
        )
    allowed = DEFAULT_VALUES[kind]
    if v.lower() not in allowed:
        raise ConfigError(f"cannot read {text!r} as {kind}: choose from {', '.join(allowed)}")
    return v.lower()


def parse_values(vary: str, values: str | Sequence[str] | None = None) -> list[tuple[str, Any]]:
    """(label text, config value) per cell: ``values`` as a comma-separated string or a list
    of strings, or the kind's defaults (:data:`DEFAULT_VALUES`) when None.

    Raises ConfigError naming an unknown ``vary`` (with the choices) or a value that does not
    parse.
    """
    kind = _check_kind(vary)
    if values is None:
        items: list[str] = list(DEFAULT_VALUES[kind])
    elif isinstance(values, str):
        items = [s.strip() for s in values.split(",")]
    else:
        items = [str(s).strip() for s in values]
    if not items or any(not s for s in items):
        raise ConfigError(f"--values for {kind} has an empty entry: {','.join(items)!r}")
    return [(s, _parse_one(kind, s)) for s in items]


def cell_config(base: StyleConfig, vary: str, value: Any) -> StyleConfig:
    """``base`` with the one setting that ``vary`` names set to ``value``."""
    kind = _check_kind(vary)
    if kind == "ratio":
        return base.replace(content_weight=1.0, style_weight=float(value))
    if kind == "layers":
        # Per-layer weights are tied to the layer list; a new list gets equal weights.
        return base.replace(style_layers=tuple(value), style_layer_weights=None)
    return base.replace(**{kind: value})


def cell_label(vary: str, text: str, value: Any) -> str:
    """What is written under a cell."""
    kind = _check_kind(vary)
    if kind == "ratio":
        return f"style/content {float(value):g}"
    if kind == "layers":
        layers = tuple(value)
        if text in LAYER_PRESETS or layers == LAYER_PRESETS.get(f"upto{len(layers)}"):
            return f"{layers[0]} only" if len(layers) == 1 else f"up to {layers[-1]}"
        return "+".join(layers)
    return f"{kind} {value}"


def run_grid(
    content: ImageLike,
    style: ImageLike,
    vary: str,
    values: str | Sequence[str] | None = None,
    base_config: StyleConfig | None = None,
    weights: WeightsLike = None,
    callback: GridCallback | None = None,
    *,
    columns: int | None = None,
) -> tuple[Image.Image, list[Result]]:
    """Run ``content`` x ``style`` once per value of the setting ``vary`` and lay the results
    out as a labelled contact sheet.

    Args:
        vary: one of :data:`VARY_KINDS`.
        values: comma-separated string or list; None gives :data:`DEFAULT_VALUES` [vary].
        base_config: every other setting (default :data:`GRID_CONFIG`: 128 px, few steps);
            each cell uses its seed.
        weights: as for :func:`impasto.stylize`; loaded once for all cells.
        callback: receives (cell index, StepEvent) after every step of every cell.
        columns: cells per row (default: all in one row, up to 5).
    Returns:
        The sheet (a header with the content and style images, then the cells with their
        labels) and the cells' :class:`Result` s, in order. Each result's
        ``extra["scale_boundaries"]`` holds the first step of each scale after the first.
    Raises:
        ConfigError: unknown ``vary``, a value that does not parse, or a bad cell setting,
            all before the first run starts.
    """
    from impasto.api import stylize
    from impasto.features.weights import VGGWeights, load_weights

    kind = _check_kind(vary)
    cells = parse_values(kind, values)
    base = base_config if base_config is not None else GRID_CONFIG
    configs = [cell_config(base, kind, v) for _, v in cells]  # every config error comes first
    labels = [cell_label(kind, t, v) for t, v in cells]
    content_img, style_img = load_image(content), load_image(style)
    vgg = weights if isinstance(weights, VGGWeights) else load_weights(weights)

    results: list[Result] = []
    for i, cfg in enumerate(configs):
        tracker = ScaleTracker()

        def on_step(event: StepEvent, _i: int = i, _t: ScaleTracker = tracker) -> None:
            _t(event)
            if callback is not None:
                callback(_i, event)

        result = stylize(content_img, style_img, cfg, weights=vgg, callback=on_step)
        result.extra["scale_boundaries"] = list(tracker.boundaries)
        result.extra["label"] = labels[i]
        results.append(result)
    sheet = contact_sheet(
        [r.image for r in results],
        labels,
        content=tensor_to_pil(content_img),
        style=tensor_to_pil(style_img),
        title=_title(kind, base),
        columns=columns,
    )
    return sheet, results


def _title(kind: str, base: StyleConfig) -> str:
    what = {
        "ratio": "style weight / content weight",
        "layers": "style layers",
        "init": "initial image",
        "optimizer": "optimizer",
        "pooling": "pooling",
    }[kind]
    return f"varying {what} · {base.size} px, {base.total_steps} steps, seed {base.seed}"


def contact_sheet(
    cells: Sequence[Image.Image],
    labels: Sequence[str],
    *,
    content: Image.Image | None = None,
    style: Image.Image | None = None,
    title: str | None = None,
    columns: int | None = None,
    pad: int = 8,
) -> Image.Image:
    """Cells of equal size in rows with their label under each; above them a header with the
    title and the content and style images (as large as a cell), labelled."""
    if not cells or len(cells) != len(labels):
        raise ValueError(f"need one label per cell, got {len(cells)} cells, {len(labels)} labels")
    cw = max(im.width for im in cells)
    ch = max(im.height for im in cells)
    ncol = columns if columns else min(len(cells), 5)
    ncol = max(1, min(ncol, len(cells)))
    nrow = math.ceil(len(cells) / ncol)
    width = ncol * cw + (ncol + 1) * pad
    f = font(max(10, min(14, cw // 10)))
    lh = line_height(f)
    wrapped = [wrap(label.split(" "), f, cw, sep=" ") for label in labels]
    label_h = max(len(w) for w in wrapped) * lh + 4

    header = [(im, name) for im, name in ((content, "content"), (style, "style")) if im]
    # The header never makes the sheet narrower than its two thumbnails.
    width = max(width, len(header) * cw + (len(header) + 1) * pad)
    title_lines = wrap(title.split(" "), f, width - 2 * pad, sep=" ") if title else []
    title_h = len(title_lines) * lh + (pad if title_lines else 0)
    header_h = (ch + lh + 4 + pad) if header else 0
    height = pad + title_h + header_h + nrow * (ch + label_h) + nrow * pad
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)

    y = pad
    if title_lines:
        draw_lines(draw, title_lines, f, (pad, y, width - 2 * pad))
        y += title_h
    if header:
        hw = len(header) * cw + (len(header) - 1) * pad
        x = (width - hw) // 2
        for im, name in header:
            thumb = fit(im, (cw, ch))
            sheet.paste(thumb, (x + (cw - thumb.width) // 2, y + (ch - thumb.height) // 2))
            draw_lines(draw, [name], f, (x, y + ch + 2, cw))
            x += cw + pad
        y += header_h
        draw.line([(pad, y - pad // 2), (width - pad, y - pad // 2)], fill=(200, 200, 200))
    for k, (im, lines) in enumerate(zip(cells, wrapped, strict=True)):
        r, c = divmod(k, ncol)
        x0 = pad + c * (cw + pad)
        y0 = y + r * (ch + label_h + pad)
        sheet.paste(im, (x0 + (cw - im.width) // 2, y0 + (ch - im.height) // 2))
        draw_lines(draw, lines, f, (x0, y0 + ch + 2, cw))
    return sheet


def _labels(results: Sequence[Result]) -> list[str]:
    """The cells' labels, made unique (a value given twice gets " (2)")."""
    out: list[str] = []
    for i, r in enumerate(results):
        label = str(r.extra.get("label", f"cell {i + 1}"))
        n, unique = 1, label
        while unique in out:
            n += 1
            unique = f"{label} ({n})"
        out.append(unique)
    return out


def grid_histories(results: Sequence[Result]) -> dict[str, list[dict[str, float]]]:
    """The cells' loss histories by label, for :func:`impasto.viz.plot_losses`."""
    return {k: r.history for k, r in zip(_labels(results), results, strict=True)}


def _ints(value: JSONValue) -> list[int]:
    """``extra["scale_boundaries"]`` as grid_sheet wrote it: a list of steps (none if absent)."""
    return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []


def grid_boundaries(results: Sequence[Result]) -> dict[str, list[int]]:
    """The cells' scale boundaries by label, for :func:`impasto.viz.plot_losses`."""
    return {
        k: _ints(r.extra.get("scale_boundaries"))
        for k, r in zip(_labels(results), results, strict=True)
    }

"""Large stylized pictures fast (issue 27): the engine paints at ``size / upscale``, then the
upscaler enlarges the result ``upscale`` times to ``size``, instead of optimising every pixel of
the large picture tile by tile (docs/upscale.md, "Large stylized pictures: --upscale").

:func:`stylize` is the package face's ``impasto.stylize``: with ``upscale`` 1 (the default) it
is :func:`impasto.api.stylize` itself, argument for argument. It lives here, above ``api``,
since the engine's layer may not import the upscaler's.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch
import torch.nn.functional as F

import impasto.api as api
from impasto.api import (
    Checkpointing,
    Result,
    StylesLike,
    WarmStart,
    WeightsLike,
    check_settings,
)
from impasto.config import StyleConfig
from impasto.errors import ConfigError
from impasto.io.images import ImageLike, load_image
from impasto.losses.targets import PreparedStyle
from impasto.optim.events import Callback, StageCallback, StageEvent
from impasto.preprocess.resize import fit_long_side
from impasto.superres.apply import Enlarger, check_output_fits, open_upscaler, tile_count
from impasto.superres.finetune import finetuned

# Input tiles of the enlargement (px a side): as `impasto upscale`'s default.
TILE = 256


def painted_config(cfg: StyleConfig) -> StyleConfig:
    """The settings the engine paints with: ``cfg`` at ``size / upscale`` (rounded), upscale 1."""
    return cfg.replace(size=cfg.painted_size, upscale=1)


def check_route(cfg: StyleConfig) -> StyleConfig:
    """Every check the settings alone allow, before any work: :func:`impasto.api.check_settings`
    of the run the engine makes (with ``upscale``, the painted run's step plan and device)."""
    if cfg.upscale == 1:
        return check_settings(cfg)
    check_settings(painted_config(cfg))
    return cfg


def output_size(canvas: tuple[int, int], cfg: StyleConfig) -> tuple[int, int]:
    """(H, W) of the output of content ``canvas`` = (H, W): its long side ``size``, as a run
    painting at ``size`` gives it."""
    return fit_long_side(canvas[0], canvas[1], cfg.size)


def stylize(
    content: ImageLike,
    style: StylesLike | None = None,
    config: StyleConfig | None = None,
    *,
    weights: WeightsLike = None,
    callback: Callback | None = None,
    checkpoint: Checkpointing | None = None,
    content_mask: ImageLike | None = None,
    coarse_style: StylesLike | None = None,
    prepared: PreparedStyle | None = None,
    warm: WarmStart | None = None,
    upscaler: str | os.PathLike[str] | None = None,
    on_stage: StageCallback | None = None,
    **overrides: Any,
) -> Result:
    """:func:`impasto.api.stylize`, and with ``upscale`` 2 or 4 (a config field, or
    ``upscale=4``) the large-picture route: the engine paints at ``size / upscale``
    (:func:`painted_config`), then the upscaler (``upscaler``: a model file, None: the bundled
    one) enlarges the picture to ``size``, fine-tuned first for ``upscale_finetune`` steps on
    the style images (:mod:`impasto.superres.finetune`; cached per painting).

    Arguments as for :func:`impasto.api.stylize`; ``callback`` receives the painting's
    :class:`StepEvent`\\ s, ``on_stage`` the enlargement's :class:`StageEvent`\\ s (raise
    :class:`impasto.Cancelled` in either to stop). With ``upscale`` the route refuses a
    checkpoint, a prepared style and a warm start (ConfigError, before any work).

    The result's ``config`` is the settings asked for (``size`` the output's long side,
    ``upscale``); its history is the painting's; its ``seconds`` the whole route's.
    """
    cfg = api.config_with(config, overrides)
    if cfg.upscale == 1:
        return api.stylize(
            content,
            style,
            cfg,
            weights=weights,
            callback=callback,
            checkpoint=checkpoint,
            content_mask=content_mask,
            coarse_style=coarse_style,
            prepared=prepared,
            warm=warm,
        )
    check_route(cfg)
    for given, what in ((checkpoint, "a checkpoint"), (prepared, "a prepared style"),
                        (warm, "a warm start")):  # fmt: skip
        if given is not None:
            raise ConfigError(f"upscale={cfg.upscale} does not take {what}; use upscale=1")
    return _upscaled(
        content, style, cfg, weights=weights, callback=callback, content_mask=content_mask,
        coarse_style=coarse_style, upscaler=upscaler, on_stage=on_stage,
    )  # fmt: skip


def _upscaled(
    content: ImageLike,
    style: StylesLike | None,
    cfg: StyleConfig,
    *,
    weights: WeightsLike,
    callback: Callback | None,
    content_mask: ImageLike | None,
    coarse_style: StylesLike | None,
    upscaler: str | os.PathLike[str] | None,
    on_stage: StageCallback | None,
) -> Result:
    """The large-picture route of :func:`stylize` (its settings checked): paint at
    ``size / upscale``, fine-tune the upscaler (``upscale_finetune`` > 0), enlarge to size."""
    started = time.perf_counter()
    image = load_image(content)
    hw = output_size((image.shape[-2], image.shape[-1]), cfg)
    check_output_fits((hw[1] // cfg.upscale, hw[0] // cfg.upscale), cfg.upscale)
    enlarger = open_upscaler(upscaler)
    if cfg.upscale not in enlarger.info.network.scales:
        raise ConfigError(
            f"upscale={cfg.upscale}: this upscaler enlarges only {enlarger.info.network.scales}"
        )
    painted = api.stylize(
        content,
        style,
        painted_config(cfg),
        weights=weights,
        callback=callback,
        content_mask=content_mask,
        coarse_style=coarse_style,
    )
    sources = {**painted.sources, "upscaler": str(upscaler or "bundled")}
    if cfg.upscale_finetune > 0:
        tuned = finetuned(
            _paintings(style), cfg.upscale, cfg.upscale_finetune, base=upscaler,
            weights=weights, seed=cfg.seed, on_stage=on_stage,
        )  # fmt: skip
        enlarger = tuned.enlarger
        how = f"trained in {tuned.seconds:.1f} s" if tuned.trained else "cached"
        sources["upscaler_finetune"] = f"{tuned.path.name} ({how})"
    big = enlarge_to(enlarger, painted.tensor, cfg.upscale, hw, on_stage)
    elapsed = time.perf_counter() - started
    return Result(big, cfg, painted.history, elapsed, sources, dict(painted.extra))


def _paintings(style: StylesLike | None) -> list[ImageLike]:
    """The style images of ``style`` (one, a :class:`~impasto.api.Style`, or a list) with a
    weight above 0: what the upscaler is fine-tuned on."""
    items: list[Any] = list(style) if isinstance(style, (list, tuple)) else [style]
    out: list[ImageLike] = []
    for s in items:
        if isinstance(s, api.Style):
            if s.weight > 0:
                out.append(s.image)
        elif s is not None:
            out.append(s)
    return out


def enlarge_to(
    enlarger: Enlarger,
    image: torch.Tensor,
    scale: int,
    hw: tuple[int, int],
    on_stage: StageCallback | None = None,
) -> torch.Tensor:
    """``image`` enlarged ``scale`` times by ``enlarger`` through tiles, then fitted to ``hw``:
    ``size / upscale`` is rounded, so the enlarged picture may differ from ``hw`` by up to
    ``scale / 2`` px a side; its last rows and columns are cut, or the edge repeated, rather
    than resampling the whole picture (which would soften what the upscaler sharpened)."""
    total = tile_count((image.shape[-1], image.shape[-2]), TILE)
    done = 0
    started = time.perf_counter()

    def tick() -> None:
        nonlocal done
        done += 1
        if on_stage is not None:
            on_stage(StageEvent("enlarge", done, total, time.perf_counter() - started))

    out = enlarger.enlarge(image, scale, TILE, tick)
    return fit_to(out, hw)


def fit_to(image: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """``image`` (N, C, H, W) cut, or its last row and column repeated, to ``hw``."""
    h, w = image.shape[-2:]
    pad_h, pad_w = max(0, hw[0] - h), max(0, hw[1] - w)
    if pad_h or pad_w:
        image = F.pad(image, (0, pad_w, 0, pad_h), mode="replicate")
    return image[..., : hw[0], : hw[1]].contiguous()

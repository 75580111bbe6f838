"""The upscaler fine-tuned on the painting, for ``stylize --upscale`` (issue 27).

The painting is the high-resolution data of its own strokes: crops of it at its own
resolution, blurred and shrunk by the route's scale, are what the upscaler learns to enlarge
back (the steps of :func:`impasto.superres.train.finetune_upscaler`, which are
``train-upscaler``'s). A fine-tune is cached per painting in the user's cache folder
(:func:`cache_dir`), keyed by the painting's SHA-256, the base upscaler file's SHA-256 and the
fine-tune's settings, so the second picture in the same style starts at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from impasto.config import Precision
from impasto.errors import NetworkFileError, OutputError
from impasto.io.images import ImageLike, load_image
from impasto.network.photos import PhotoSet
from impasto.optim.events import StageCallback, StageEvent, StepEvent
from impasto.preprocess.resize import fit_long_side, resize
from impasto.superres.apply import TorchEnlarger, bundled_upscaler
from impasto.superres.config import UpscaleTrainConfig
from impasto.superres.model import Upscaler
from impasto.superres.modelfile import UpscalerInfo, load_upscaler, save_upscaler
from impasto.superres.train import finetune_upscaler

log = logging.getLogger(__name__)

FORMAT = 2  # of the cache key: raise it when what a cached fine-tune means changes
# A painting is cut into crops at its own resolution, its short side first shrunk to at most
# this (a scan of many megapixels would only slow the crops' selection).
PAINTING_SIDE = 1024


def cache_dir() -> Path:
    """Where fine-tuned upscalers are kept: ``$IMPASTO_CACHE/upscalers``, else
    ``$XDG_CACHE_HOME/impasto/upscalers``, else ``~/.cache/impasto/upscalers``."""
    env = os.environ.get("IMPASTO_CACHE")
    if env:
        return Path(env) / "upscalers"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "impasto" / "upscalers"


# The fine-tune's weight of the sub-pixel grid error: without it the relu2_2 term paints a
# 4 px cross-hatch within a few steps (docs/upscale.md, "The fine-tune on the painting").
FINETUNE_GRID_WEIGHT = 3.0


def finetune_config(steps: int, seed: int = 0) -> UpscaleTrainConfig:
    """The fine-tune's settings: ``train-upscaler``'s with the grid term, for ``steps`` steps,
    in fp32 on the CPU (a network of 100k weights on 64 px crops: the same bytes on every
    machine)."""
    return UpscaleTrainConfig(
        steps=steps, photo_side=PAINTING_SIDE, precision=Precision.FP32, device="cpu", seed=seed,
        grid_weight=FINETUNE_GRID_WEIGHT,
    )  # fmt: skip


def sha256_of(image: ImageLike) -> str:
    """SHA-256 of a painting: its file's bytes for a path, else its decoded pixels'."""
    if isinstance(image, (str, os.PathLike)) and Path(image).is_file():
        h = hashlib.sha256()
        with open(image, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    pixels = load_image(image).contiguous().numpy().tobytes()
    return hashlib.sha256(pixels).hexdigest()


def cache_key(
    paintings: Sequence[ImageLike],
    base: str | os.PathLike[str] | None,
    scale: int,
    config: UpscaleTrainConfig,
) -> str:
    """The fine-tune's key: the paintings' SHA-256s, the base upscaler file's (None: the
    bundled one), the scale and the fine-tune's settings."""
    record = {
        "format": FORMAT,
        "paintings": [sha256_of(p) for p in paintings],
        "base": sha256_of(base if base is not None else bundled_upscaler()),
        "scale": scale,
        "config": config.to_dict(),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def painting_set(paintings: Sequence[ImageLike], side: int = PAINTING_SIDE) -> PhotoSet:
    """The paintings as training photos: 8-bit, at their own resolution up to a short side
    of ``side``."""
    out, names = [], []
    for p in paintings:
        x = load_image(p)
        h, w = x.shape[-2:]
        if min(h, w) > side:
            x = resize(x, fit_long_side(h, w, round(side * max(h, w) / min(h, w))))
        out.append((x[0] * 255).round().clamp(0, 255).to(torch.uint8))
        names.append(os.fspath(p) if isinstance(p, (str, os.PathLike)) else type(p).__name__)
    return PhotoSet(tuple(out), tuple(names), 0)


@dataclass(frozen=True)
class Tuned:
    """A fine-tuned upscaler, where it is cached, and whether it was trained now."""

    enlarger: TorchEnlarger
    path: Path
    trained: bool
    seconds: float


def finetuned(
    paintings: Sequence[ImageLike],
    scale: int,
    steps: int,
    *,
    base: str | os.PathLike[str] | None = None,
    weights: Any = None,
    seed: int = 0,
    on_stage: StageCallback | None = None,
) -> Tuned:
    """The upscaler ``base`` (None: the bundled one) fine-tuned ``steps`` steps on
    ``paintings`` at ``scale``: from the cache when it holds this key, else trained now and
    written there atomically (a cache that cannot be written is logged and skipped).
    ``on_stage`` receives a "finetune" :class:`StageEvent` per step."""
    started = time.perf_counter()
    config = finetune_config(steps, seed)
    key = cache_key(paintings, base, scale, config)
    path = cache_dir() / f"{key[:32]}.safetensors"
    if path.is_file():
        try:
            model, info = load_upscaler(path)
            return Tuned(TorchEnlarger(model, info), path, False, time.perf_counter() - started)
        except NetworkFileError as e:  # a damaged cache file is trained again, then replaced
            log.warning("retraining the fine-tuned upscaler: %s", e)
    model, info = load_upscaler(base if base is not None else bundled_upscaler())
    photos = painting_set(paintings)

    def progress(event: StepEvent) -> None:
        if on_stage is not None:
            loss = {"total": event.losses["total"]}
            on_stage(StageEvent("finetune", event.step, event.total_steps, event.elapsed, loss))

    result = finetune_upscaler(
        model, photos, config, scales=(scale,), weights=weights, callback=progress,
        source=", ".join(photos.names),
    )  # fmt: skip
    tuned = UpscalerInfo(info.network, {**result.training, "key": key, "base": info.training})
    _save(result.model, path, tuned)
    enlarger = TorchEnlarger(result.model, tuned)
    return Tuned(enlarger, path, True, time.perf_counter() - started)


def _save(model: Upscaler, path: Path, info: UpscalerInfo) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_upscaler(model, path, info)
    except (OutputError, OSError) as e:
        log.warning("the fine-tuned upscaler is not cached: %s", e)

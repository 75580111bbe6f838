"""Training an upscaler: Adam on random high-resolution crops of a photo folder, each shrunk
(blur, bicubic, 8 bits) and enlarged back by the network, against the pixels' L1 error plus the
engine's content error at VGG19's relu2_2 (Johnson, Alahi & Fei-Fei 2016, section 4).

The photos are the style networks' (:func:`impasto.network.photos.load_photos`), kept near
their own resolution: a crop is a piece of the photo, not the photo resized, since what the
network learns is the photo's own fine detail. Every draw comes from the run's
``torch.Generator``, so a resumed run takes the same steps as one never interrupted.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from impasto.errors import CheckpointError, ConfigError
from impasto.features.device import Arithmetic, arithmetic, resolve_device
from impasto.features.extractor import FeatureExtractor
from impasto.features.weights import VGGWeights, WeightsLike, weights_and_path
from impasto.losses.functional import content_layer_loss
from impasto.network.photos import PhotoSet, load_photos
from impasto.optim.checkpoint import read_state, write_state
from impasto.optim.events import StepEvent
from impasto.optim.training import check_resume_steps, out_of_time, run_steps
from impasto.superres.config import UpscalerConfig, UpscaleTrainConfig
from impasto.superres.degrade import shrink
from impasto.superres.model import Upscaler, build_upscaler

FILE = "upscaler-training.pt"
KIND = "impasto-upscaler-training"
FORMAT = 1

TrainCallback = Callable[[StepEvent], None]


@dataclass(frozen=True)
class UpscaleInputs:
    """What a run starts from: settings, the photo folder, the VGG19 file (None: the
    default), what ``precision`` resolved to, and ``extra`` for the caller."""

    config: UpscaleTrainConfig
    network: UpscalerConfig
    photos: str
    weights_path: str | None = None
    precision: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class UpscaleTrainResult:
    """The trained network (eval mode, CPU), its inputs and how the run went."""

    model: Upscaler
    inputs: UpscaleInputs
    history: list[dict[str, float]]
    seconds: float

    @property
    def training(self) -> dict[str, Any]:
        """What the model file records about the run."""
        return {
            **self.inputs.config.to_dict(),
            "steps_run": len(self.history),
            "precision": self.inputs.precision,
            "seconds": round(self.seconds, 1),
            "final_losses": self.history[-1] if self.history else {},
        }


def train_upscaler(
    photos: str | os.PathLike[str],
    config: UpscaleTrainConfig | None = None,
    network: UpscalerConfig | None = None,
    *,
    weights: WeightsLike = None,
    callback: TrainCallback | None = None,
    checkpoint: Path | None = None,
    every: int = 100,
    extra: dict[str, Any] | None = None,
) -> UpscaleTrainResult:
    """Train an upscaler on the photos under ``photos`` (a folder, searched recursively).
    With ``checkpoint`` (a folder) the state is saved there every ``every`` steps, at the end
    and when ``callback`` raises :class:`~impasto.errors.Cancelled`."""
    vgg, path = weights_and_path(weights)
    inputs = UpscaleInputs(
        config or UpscaleTrainConfig(),
        network or UpscalerConfig(),
        os.fspath(photos),
        path,
        extra=dict(extra or {}),
    )
    return _train(inputs, vgg, None, callback, checkpoint, every)


def resume_upscaler(
    folder: str | os.PathLike[str],
    *,
    weights: WeightsLike = None,
    callback: TrainCallback | None = None,
    steps: int | None = None,
) -> UpscaleTrainResult:
    """Continue the run saved in ``folder`` (it goes on saving there); ``steps`` trains to
    a new total, at least the steps already done."""
    inputs, state, every = load_upscale_training(folder)
    check_resume_steps(state["step"], steps)
    if steps is not None:
        inputs = replace(inputs, config=inputs.config.replace(steps=steps))
    vgg, _ = weights_and_path(weights if weights is not None else inputs.weights_path)
    return _train(inputs, vgg, state, callback, Path(folder), every)


def _train(
    inputs: UpscaleInputs,
    vgg: VGGWeights,
    state: dict[str, Any] | None,
    callback: TrainCallback | None,
    folder: Path | None,
    every: int,
    photos: PhotoSet | None = None,
    model: Upscaler | None = None,
) -> UpscaleTrainResult:
    """The run of ``inputs``: on ``photos`` (None: the folder ``inputs.photos`` names), from
    ``model``'s weights (None: fresh ones from the seed; a copy trains, ``model`` is kept)."""
    cfg = inputs.config
    device = resolve_device(cfg.device)
    if photos is None:
        photos = load_photos(inputs.photos, cfg.photo_side)
    if inputs.precision is None:
        inputs = replace(inputs, precision=arithmetic(cfg.precision, device).name)
    trainer = _Trainer.start(
        inputs, vgg, photos, state, Arithmetic.named(device, str(inputs.precision)), model
    )

    def save() -> Path:
        assert folder is not None
        return save_upscale_training(folder, trainer, every)

    run_steps(
        trainer, cfg.steps, trainer.train_step, callback, None if folder is None else save, every
    )
    trainer.model.cpu().eval()
    return UpscaleTrainResult(trainer.model, trainer.inputs, trainer.history, trainer.elapsed())


def random_patches(photos: PhotoSet, batch: int, crop: int, g: torch.Generator) -> torch.Tensor:
    """(batch, 3, crop, crop) float32 in [0, 1]: pieces of random photos at their own
    resolution, at random places, mirrored and transposed at random (the eight symmetries of
    the square). Photos smaller than ``crop`` are enlarged to it first."""
    out = []
    for i in torch.randint(len(photos), (batch,), generator=g).tolist():
        x = photos.photos[i].unsqueeze(0).to(torch.float32) / 255.0
        h, w = x.shape[-2:]
        if min(h, w) < crop:
            from impasto.preprocess.resize import resize

            f = crop / min(h, w)
            x = resize(x, (max(crop, math.ceil(h * f)), max(crop, math.ceil(w * f))))
            h, w = x.shape[-2:]
        top = int(torch.randint(h - crop + 1, (), generator=g))
        left = int(torch.randint(w - crop + 1, (), generator=g))
        x = x[..., top : top + crop, left : left + crop]
        flips = torch.rand(3, generator=g).tolist()
        if flips[0] < 0.5:
            x = x.flip(-1)
        if flips[1] < 0.5:
            x = x.flip(-2)
        if flips[2] < 0.5:
            x = x.transpose(-2, -1)
        out.append(x)
    return torch.cat(out).contiguous()


# The grid term compares the phase means of windows this large: a sub-pixel head's pattern
# whose sign follows the picture (the painting fine-tune's 4 px cross-hatch) averages away over a
# whole 64 px crop but not over 16 px (docs/upscale.md has the measurements).
GRID_WINDOW = 16


def phase_detail(x: torch.Tensor, period: int, window: int | None = None) -> torch.Tensor:
    """The fine detail of ``x`` (its grey minus a 9 px box blur) averaged over every position
    modulo ``period`` within each ``window`` x ``window`` square (None: the whole picture):
    (N, rows, columns, period, period). Strokes and edges average away; a sub-pixel head's
    grid (a pattern repeating every ``period`` px) stays. Over the whole picture, its spread
    in grey levels is benchmarks/upscale_finetune.py's ``grid``."""
    g = x.float().mean(1, keepdim=True)
    detail = g - F.avg_pool2d(F.pad(g, (4, 4, 4, 4), mode="reflect"), 9, 1)
    n, _, h, w = detail.shape
    wh, ww = (h, w) if window is None else (window, window)
    wh, ww = wh // period * period, ww // period * period
    rows, cols = h // wh, w // ww
    cells = detail[:, 0, : rows * wh, : cols * ww].reshape(
        n, rows, wh // period, period, cols, ww // period, period
    )
    return cells.mean((2, 5)).permute(0, 1, 3, 2, 4)


def most_detailed(crops: torch.Tensor, keep: int) -> torch.Tensor:
    """The ``keep`` crops of (N, 3, H, W) with the most fine detail: the largest mean error
    of shrinking them 4x and enlarging back by bicubic (smooth crops lose nothing), in the
    order drawn."""
    if keep >= crops.shape[0]:
        return crops
    back = F.interpolate(shrink(crops, 4), scale_factor=4, mode="bicubic", align_corners=False)
    error = (back - crops).abs().mean(dim=(1, 2, 3))
    chosen = torch.topk(error, keep).indices.sort().values
    return crops[chosen]


@dataclass
class _Trainer:
    inputs: UpscaleInputs
    model: Upscaler
    optimizer: torch.optim.Adam
    generator: torch.Generator
    extractor: FeatureExtractor
    photos: PhotoSet
    arith: Arithmetic
    history: list[dict[str, float]]
    started: float
    step: int = 0

    @classmethod
    def start(
        cls,
        inputs: UpscaleInputs,
        vgg: VGGWeights,
        photos: PhotoSet,
        state: dict[str, Any] | None,
        arith: Arithmetic,
        start: Upscaler | None = None,
    ) -> _Trainer:
        cfg = inputs.config
        extractor = FeatureExtractor(vgg, cfg.feature_layers).to(arith.device)
        extractor.requires_grad_(False)
        if start is None:
            model = build_upscaler(inputs.network, cfg.seed)
        else:  # a copy of the given weights (in float32, trainable), the caller's kept
            model = copy.deepcopy(start).to(torch.float32).requires_grad_(True)
        model = model.to(arith.device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        generator = torch.Generator().manual_seed(cfg.seed)
        history: list[dict[str, float]] = []
        step, elapsed = 0, 0.0
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            generator.set_state(state["generator"])
            history, step, elapsed = (
                list(state["history"]),
                int(state["step"]),
                float(state["elapsed"]),
            )
        return cls(
            inputs,
            model,
            optimizer,
            generator,
            extractor,
            photos,
            arith,
            history,
            time.perf_counter() - elapsed,
            step,
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def out_of_time(self) -> bool:
        return out_of_time(self.inputs.config.minutes, self.step, self.elapsed())

    def batch(self) -> tuple[int, torch.Tensor, torch.Tensor]:
        """(scale, inputs, targets) of the next step: the scales take turns."""
        cfg = self.inputs.config
        scales = self.inputs.network.scales
        scale = scales[self.step % len(scales)]
        drawn = math.ceil(cfg.batch_size / cfg.detail)
        hr = most_detailed(
            random_patches(self.photos, drawn, cfg.crop_size, self.generator), cfg.batch_size
        )
        sigmas = (torch.rand(cfg.batch_size, generator=self.generator) * cfg.blur).tolist()
        lr = torch.cat([shrink(hr[i : i + 1], scale, s) for i, s in enumerate(sigmas)])
        return scale, lr.to(self.arith.device), hr.to(self.arith.device)

    def losses(self, out: torch.Tensor, hr: torch.Tensor, scale: int) -> dict[str, torch.Tensor]:
        cfg = self.inputs.config
        terms = {"pixel": (out - hr).abs().mean()}
        if cfg.grid_weight:
            mine, target = (phase_detail(x, scale, GRID_WINDOW) for x in (out, hr))
            terms["grid"] = (mine - target).abs().mean()
        with self.arith.autocast():
            with torch.no_grad():
                target = self.extractor(hr)
            feats = self.extractor(out)
        for name in cfg.feature_layers:
            terms[name] = content_layer_loss(feats[name], target[name])
        total = cfg.pixel_weight * terms["pixel"] + cfg.feature_weight * sum(
            (terms[n] for n in cfg.feature_layers), torch.zeros((), device=out.device)
        )
        if cfg.grid_weight:
            total = total + cfg.grid_weight * terms["grid"]
        return {"total": total, **terms}

    def train_step(self) -> StepEvent:
        scale, lr, hr = self.batch()
        out = self.model(lr, scale)
        terms = self.losses(out, hr, scale)
        self.optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        self.optimizer.step()
        self.step += 1
        losses = {k: float(v.detach()) for k, v in terms.items()}
        losses["scale"] = float(scale)
        self.history.append(losses)
        cfg = self.inputs.config
        return StepEvent(
            step=self.step,
            total_steps=cfg.steps,
            scale=0,
            scales=1,
            size=(cfg.crop_size, cfg.crop_size),
            losses=losses,
            elapsed=self.elapsed(),
            image=out[:1].detach().clamp(0, 1).cpu(),
        )


def save_upscale_training(folder: Path, trainer: _Trainer, every: int) -> Path:
    """Write the run's state atomically to folder/FILE; returns the folder."""
    i = trainer.inputs
    write_state(
        folder,
        {
            "format": FORMAT,
            "kind": KIND,
            "config": i.config.to_dict(),
            "network": i.network.to_dict(),
            "photos": i.photos,
            "weights_path": i.weights_path,
            "precision": i.precision,
            "extra": dict(i.extra),
            "every": every,
            "step": trainer.step,
            "model": {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()},
            "optimizer": trainer.optimizer.state_dict(),
            "generator": trainer.generator.get_state(),
            "history": list(trainer.history),
            "elapsed": trainer.elapsed(),
        },
        FILE,
    )
    return folder


def load_upscale_training(
    folder: str | os.PathLike[str],
) -> tuple[UpscaleInputs, dict[str, Any], int]:
    """(inputs, state, every) of the run saved in ``folder``; CheckpointError, in one line,
    for a missing, foreign or damaged file."""
    target, data = read_state(folder, FILE, "upscaler training checkpoint")
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise CheckpointError(f"{target} is not an impasto upscaler training checkpoint")
    if data.get("format") != FORMAT:
        raise CheckpointError(f"{target}: format {data.get('format')!r}, not {FORMAT}")
    try:
        inputs = UpscaleInputs(
            UpscaleTrainConfig.from_dict(data["config"]),
            UpscalerConfig.from_dict(data["network"]),
            str(data["photos"]),
            data["weights_path"],
            data["precision"],
            dict(data["extra"]),
        )
        return inputs, data, int(data["every"])
    except KeyError as e:
        raise CheckpointError(f"{target} lacks {e.args[0]!r}") from None
    except (ConfigError, TypeError, ValueError) as e:
        raise CheckpointError(f"{target} is damaged: {e}") from None


def finetune_upscaler(
    model: Upscaler,
    photos: PhotoSet,
    config: UpscaleTrainConfig,
    *,
    scales: tuple[int, ...] | None = None,
    weights: WeightsLike = None,
    callback: TrainCallback | None = None,
    source: str = "",
) -> UpscaleTrainResult:
    """Continue training ``model`` (a copy: ``model`` is kept) on ``photos`` for
    ``config.steps`` steps, the heads of ``scales`` only (None: all of the model's), by the
    same steps as :func:`train_upscaler` (crops at the photos' own resolution, shrunk and
    enlarged back, L1 plus the relu2_2 content error). ``source`` names the photos in the
    run's record. No checkpoint: a fine-tune is short."""
    vgg, path = weights_and_path(weights)
    network = model.config if scales is None else model.config.replace(scales=scales)
    inputs = UpscaleInputs(config, network, source, path)
    return _train(inputs, vgg, None, callback, None, config.steps, photos=photos, model=model)

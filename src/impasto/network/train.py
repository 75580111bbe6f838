"""Training a style network (Johnson, Alahi & Fei-Fei 2016): Adam on random crops of a folder
of photos, against the engine's own loss network and loss functions.

The loss is :func:`impasto.losses.objective.make_objective`'s: the same extractor, Gram
matrices and normalisation as ``impasto stylize``, with the style's Gram targets computed once
and the content targets (the crops' own activations) every step. Only the transformation
network learns; VGG19 is frozen.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from impasto.errors import CollapsedError, DeviceError
from impasto.features.device import Arithmetic, arithmetic, resolve_device
from impasto.features.extractor import FeatureExtractor
from impasto.features.weights import VGGWeights, WeightsLike, weights_and_path
from impasto.io.images import ImageLike, load_image
from impasto.jsontypes import JSONObject
from impasto.losses.functional import pixel_loss
from impasto.losses.objective import LossWeights, Objective, make_objective
from impasto.losses.targets import ScaleTargets, content_targets, style_targets
from impasto.network.checkpoint import TrainCheckpoint, TrainInputs, TrainState, save_training
from impasto.network.config import ContentFrom, NetworkConfig, TrainConfig
from impasto.network.finetune import StartingPoint, check_architecture, starting_point
from impasto.network.info import NetworkInfo
from impasto.network.model import TransformNet, build_network
from impasto.network.modelfile import StyleNetwork
from impasto.network.photos import (
    PhotoSet,
    load_pairs,
    load_photos,
    pair_crops,
    random_crops,
    short_side_size,
)
from impasto.optim.events import StepEvent
from impasto.optim.training import check_resume_steps, out_of_time, run_steps
from impasto.preprocess.resize import resize, resize_long_side

# Collapse: this many steps in a row of flat, black or noise output while the loss moved less than
# STALLED times the first step's loss over them.
COLLAPSE_WINDOW = 50
STALLED = 0.01
FLAT_STD = 0.02  # per-image pixel standard deviation below this: a flat picture
BLACK_MEAN = 0.03
NOISE_RATIO = 0.8  # see degenerate()


@dataclass(frozen=True)
class TrainEvent(StepEvent):
    """A :class:`StepEvent` of training: ``image`` is the network's output for the first crop
    of the step's batch; ``preview``, every ``preview_every`` steps, its output for the
    held-out validation photos (N, 3, crop, crop), else None."""

    preview: torch.Tensor | None = None


TrainCallback = Callable[[TrainEvent], None]
"""Any StepEvent callback (a progress bar, a frame recorder) will do."""


@dataclass(frozen=True)
class TrainCheckpointing:
    """Save the run's state in ``folder`` every ``every`` steps and when it is cancelled;
    ``extra`` is kept with it (e.g. the CLI's output path)."""

    folder: Path
    every: int = 100
    extra: JSONObject = field(default_factory=dict)


@dataclass
class TrainResult:
    """A trained network (in eval mode), what it was trained from, and how it went."""

    model: TransformNet
    inputs: TrainInputs
    history: list[dict[str, float]]
    seconds: float
    skipped: int = 0

    @property
    def network(self) -> StyleNetwork:
        """The trained network with what it was trained from, ready to stylize or save."""
        i = self.inputs
        training: JSONObject = {
            **i.config.to_dict(),
            "steps_run": len(self.history),
            "precision": i.precision,
            "seconds": round(self.seconds, 1),
            "final_losses": dict(self.history[-1]) if self.history else {},
        }
        if i.start_from is not None:  # fine-tuned: the model it started from
            training["start_from"] = dict(i.start_from)
        return StyleNetwork(
            self.model, NetworkInfo(i.network, i.style_name, i.style_sha256, training)
        )

    def save(self, path: str | os.PathLike[str], half: bool = False) -> Path:
        """Write the model file (``.safetensors``) atomically, with its metadata; ``half``
        stores the weights as float16."""
        return self.network.save(path, half)


def identify(style: ImageLike) -> tuple[str, str]:
    """(name, SHA-256) of a style image: of the file's bytes for a path, else of its pixels."""
    if isinstance(style, (str, os.PathLike)):
        p = Path(style)
        load_image(p)  # a clean InvalidImageError for a bad file, before reading its bytes
        return p.name, hashlib.sha256(p.read_bytes()).hexdigest()
    pixels = load_image(style)
    return type(style).__name__, hashlib.sha256(pixels.numpy().tobytes()).hexdigest()


def train_network(
    style: ImageLike,
    photos: str | os.PathLike[str],
    config: TrainConfig | None = None,
    network: NetworkConfig | None = None,
    *,
    weights: WeightsLike = None,
    callback: TrainCallback | None = None,
    checkpoint: TrainCheckpointing | None = None,
    start_from: str | os.PathLike[str] | StartingPoint | None = None,
) -> TrainResult:
    """Train a network that paints photos in the style of ``style``.

    ``photos``: a folder, searched recursively for JPEG, PNG and WebP files; all are decoded
    before the first step (unreadable ones skipped with a warning, none readable refused).
    ``callback`` gets a :class:`TrainEvent` after every step and may raise
    :class:`~impasto.errors.Cancelled`; with ``checkpoint`` the state is then saved first.
    ``start_from``: fine-tune a trained model (a model file, a model's name from ``impasto
    models``, or a :func:`~impasto.network.finetune.starting_point`) instead of starting
    from fresh weights; the network keeps that model's architecture (``network``, when given,
    must agree with it: ConfigError otherwise, before any work).
    Raises CollapsedError when the output goes flat or black while the loss stalls.
    """
    start = start_from
    if start is not None and not isinstance(start, StartingPoint):
        start = starting_point(start, network)  # refused before the weights and the photos
    elif start is not None and network is not None:
        check_architecture(start.network, start.path.name, network)
    vgg, weights_path = weights_and_path(weights)
    name, sha = identify(style)
    inputs = TrainInputs(
        config=config or TrainConfig(),
        network=start.network if start else network or NetworkConfig(),
        style=load_image(style),
        style_name=name,
        style_sha256=sha,
        photos=os.fspath(photos),
        weights_path=weights_path,
        extra=dict(checkpoint.extra) if checkpoint else {},
        start_from=start.record if start else None,
    )
    return _train(inputs, vgg, None, callback, checkpoint, start.weights if start else None)


def resume_training(
    folder: str | os.PathLike[str],
    *,
    weights: WeightsLike = None,
    callback: TrainCallback | None = None,
    steps: int | None = None,
) -> TrainResult:
    """Continue the run saved in ``folder``; it goes on saving there. ``steps`` trains to a
    new total (at least the steps already done) instead of the run's own."""
    from impasto.network.checkpoint import load_training

    saved = load_training(folder)
    inputs = saved.inputs
    check_resume_steps(saved.state.step, steps)
    if steps is not None:
        inputs = replace(inputs, config=inputs.config.replace(steps=steps))
    vgg, _ = weights_and_path(weights if weights is not None else inputs.weights_path)
    spec = TrainCheckpointing(Path(folder), saved.every, dict(inputs.extra))
    return _train(inputs, vgg, saved.state, callback, spec)


def _train(
    inputs: TrainInputs,
    vgg: VGGWeights,
    state: TrainState | None,
    callback: TrainCallback | None,
    spec: TrainCheckpointing | None,
    initial: dict[str, torch.Tensor] | None = None,
) -> TrainResult:
    """Run ``inputs`` from ``state`` (None: a new run, from ``initial``'s weights when
    given, else from fresh ones)."""
    cfg = inputs.config
    device = resolve_device(cfg.device)  # a device this machine lacks: refused before work
    photos = (
        load_pairs(inputs.photos, cfg.targets)
        if cfg.targets
        else load_photos(inputs.photos, math.ceil(cfg.crop_size * (1 + cfg.scale_jitter)))
    )
    if inputs.precision is None:  # resolved once, when the run starts, and kept
        inputs = replace(inputs, precision=arithmetic(cfg.precision, device).name)
    arith = Arithmetic.named(device, str(inputs.precision))
    trainer = _Trainer.start(inputs, vgg, photos, state, arith, initial)

    def save() -> Path:
        assert spec is not None
        return save_training(spec.folder, trainer.checkpoint(spec.every))

    run_steps(
        trainer,
        cfg.steps,
        lambda: _step(trainer, device),
        callback,
        None if spec is None else save,
        1 if spec is None else spec.every,
    )
    trainer.model.cpu().eval()  # model files and callers get it on the CPU
    return TrainResult(
        trainer.model, trainer.inputs, trainer.history, trainer.elapsed(), photos.skipped
    )


def _step(trainer: _Trainer, device: torch.device) -> TrainEvent:
    """One training step; a device out of memory is one line naming what to lower."""
    try:
        return trainer.train_step()
    except torch.OutOfMemoryError:
        cfg = trainer.inputs.config
        raise DeviceError(
            f"out of memory on {device} with {cfg.batch_size} crops of {cfg.crop_size} px: "
            "lower batch_size or crop_size"
        ) from None


@dataclass
class _Trainer:
    """The live state of a run: network, optimiser, crop generator, loss network, targets."""

    inputs: TrainInputs
    model: TransformNet
    optimizer: torch.optim.Adam
    generator: torch.Generator
    extractor: FeatureExtractor
    style: dict[str, torch.Tensor]
    photos: PhotoSet
    validation: torch.Tensor | None
    history: list[dict[str, float]]
    started: float
    arith: Arithmetic
    step: int = 0
    flat_steps: int = 0

    @classmethod
    def start(
        cls,
        inputs: TrainInputs,
        vgg: VGGWeights,
        photos: PhotoSet,
        state: TrainState | None,
        arith: Arithmetic,
        initial: dict[str, torch.Tensor] | None = None,
    ) -> _Trainer:
        cfg = inputs.config
        device = arith.device
        extractor = FeatureExtractor(vgg, cfg.layers, cfg.pooling, cfg.padding).to(device)
        style = resize_long_side(inputs.style, max(16, round(cfg.crop_size * cfg.style_scale)))
        with arith.autocast():
            grams = style_targets(extractor, style.to(device), cfg.style_layers)  # once
        model = build_network(inputs.network, cfg.seed)
        if initial is not None and state is None:  # fine-tuning: the model's own weights
            model.load_state_dict(initial, strict=True)
        model = model.to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        generator = torch.Generator().manual_seed(cfg.seed)
        train, held_out = photos.split(cfg.validation)
        history: list[dict[str, float]] = []
        step, elapsed = 0, 0.0
        if state is not None:
            model.load_state_dict(state.model)
            optimizer.load_state_dict(state.optimizer)
            generator.set_state(state.generator)
            history, step, elapsed = list(state.history), state.step, state.elapsed
        validation = _center_crops(held_out, cfg.crop_size) if len(held_out) else None
        validation = None if validation is None else validation.to(device)
        return cls(
            inputs,
            model,
            optimizer,
            generator,
            extractor,
            grams,
            train,
            validation,
            history,
            time.perf_counter() - elapsed,
            arith,
            step,
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def out_of_time(self) -> bool:
        """Whether the run has used its ``minutes`` (wall time, resumed runs included)."""
        return out_of_time(self.inputs.config.minutes, self.step, self.elapsed())

    def train_step(self) -> TrainEvent:
        """One Adam step on a fresh batch of crops; the event of that step."""
        cfg = self.inputs.config
        crops, goal = self._crops()
        kept = goal if cfg.content_from is ContentFrom.TARGET else crops
        with self.arith.autocast():
            content = content_targets(self.extractor, kept, cfg.content_layers)
        weights = LossWeights(
            cfg.content_weight,
            cfg.style_weight,
            cfg.tv_weight,
            {n: 1.0 / len(cfg.style_layers) for n in cfg.style_layers},
        )
        objective = make_objective(
            self.extractor,
            ScaleTargets(content=content, style=self.style),
            weights,
            arithmetic=self.arith,
        )
        assert isinstance(objective, Objective)  # whole crops, never tiled
        out = self.model(crops)
        total, terms = objective(out)
        if self.photos.targets and cfg.pixel_weight:
            terms["pixel"] = cfg.pixel_weight * pixel_loss(out, goal)  # distillation's own term
            total = terms["total"] = total + terms["pixel"]
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.step += 1
        losses = {k: float(v.detach()) for k, v in terms.items()}
        self.history.append(losses)
        self._check_collapse(out.detach())
        return TrainEvent(
            step=self.step,
            total_steps=cfg.steps,
            scale=0,
            scales=1,
            size=(cfg.crop_size, cfg.crop_size),
            losses=losses,
            elapsed=self.elapsed(),
            image=out[:1].detach().cpu(),
            preview=self._preview(),
        )

    def _crops(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(the network's input crops, the crops its content loss matches): the same crops,
        or with targets the targets' crops at the same place. Drawn on the CPU (a seed
        means the same crops everywhere), then moved to the run's device."""
        cfg = self.inputs.config
        if self.photos.targets:
            crops, goal = pair_crops(
                self.photos, cfg.batch_size, cfg.crop_size, cfg.flip, self.generator
            )
            return crops.to(self.arith.device), goal.to(self.arith.device)
        crops = random_crops(
            self.photos,
            cfg.batch_size,
            cfg.crop_size,
            cfg.scale_jitter,
            cfg.flip,
            self.generator,
        ).to(self.arith.device)
        return crops, crops

    def _preview(self) -> torch.Tensor | None:
        every = self.inputs.config.preview_every
        if self.validation is None or not every:
            return None
        if self.step % every and self.step != self.inputs.config.steps:
            return None
        with torch.no_grad():
            return self.model(self.validation).cpu()

    def _check_collapse(self, out: torch.Tensor) -> None:
        """Count steps of flat, black or noise output; after COLLAPSE_WINDOW of them in a row
        with the loss stalled, stop with the likely cause rather than train on for an hour."""
        kind = degenerate(out)
        self.flat_steps = self.flat_steps + 1 if kind else 0
        if kind is None or self.flat_steps < COLLAPSE_WINDOW:
            return
        first = self.history[-COLLAPSE_WINDOW]["total"]
        last = self.history[-1]["total"]
        if abs(first - last) > STALLED * max(abs(self.history[0]["total"]), 1e-12):
            return  # still moving, relative to where the run started
        raise CollapsedError(
            f"training collapsed at step {self.step}: the output is {kind} and the loss "
            f"stalled at {last:.4g}; {_likely_cause(self.inputs.config, kind)}",
            step=self.step,
        )

    def checkpoint(self, every: int) -> TrainCheckpoint:
        state = TrainState(
            step=self.step,
            model={k: v.detach().clone() for k, v in self.model.state_dict().items()},
            optimizer=self.optimizer.state_dict(),
            generator=self.generator.get_state(),
            history=list(self.history),
            elapsed=self.elapsed(),
        )
        return TrainCheckpoint(self.inputs, state, every)


def degenerate(out: torch.Tensor) -> str | None:
    """ "black", "flat" or "noise" when a batch of outputs (N, 3, H, W) is one of those, else
    None. Noise: neighbouring pixels differ about as much as random pixels do (the mean squared
    neighbour difference over twice the variance is near 1; photos and paintings are far
    below, since their pixels correlate with their neighbours)."""
    x = out.detach().to(torch.float32)
    if float(x.mean()) < BLACK_MEAN:
        return "black"
    var = x.var(dim=(-2, -1))
    if float(var.sqrt().mean()) < FLAT_STD:
        return "flat"
    dx = (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean(dim=(-2, -1))
    dy = (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean(dim=(-2, -1))
    ratio = ((dx + dy) / 2) / (2 * var.clamp_min(1e-12))
    return "noise" if float(ratio.mean()) > NOISE_RATIO else None


def _likely_cause(cfg: TrainConfig, kind: str) -> str:
    if cfg.content_weight == 0:
        return "likely cause: content_weight is 0, so nothing ties the output to the photo"
    if kind == "black":
        return f"likely cause: lr {cfg.lr:g} is too high (the output saturated); lower it"
    if kind == "noise":
        return (
            f"likely cause: lr {cfg.lr:g} is too high or tv_weight {cfg.tv_weight:g} too low; "
            "lower the one or raise the other"
        )
    return (
        f"likely cause: style_weight {cfg.style_weight:g} or tv_weight {cfg.tv_weight:g} "
        f"outweighs content_weight {cfg.content_weight:g}; lower them or raise content_weight"
    )


def _center_crops(photos: PhotoSet, crop: int) -> torch.Tensor:
    """The held-out photos, each resized to a short side of ``crop`` and cut in the middle."""
    out = []
    for p in photos.photos:
        x = p.unsqueeze(0).to(torch.float32) / 255.0
        h, w = x.shape[-2:]
        size = short_side_size(h, w, crop, crop)
        x = resize(x, size)
        top, left = (size[0] - crop) // 2, (size[1] - crop) // 2
        out.append(x[..., top : top + crop, left : left + crop])
    return torch.cat(out)

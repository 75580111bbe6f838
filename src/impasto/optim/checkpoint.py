"""Saving and loading the state of a run, so that a long run survives interruption.

A checkpoint is typed: :class:`RunInputs` (the settings and every image the run was given,
loaded) plus the pyramid's :class:`~impasto.optim.pyramid.Progress`. On disk it is one
``torch.save`` of plain values (tensors, numbers, strings, lists, dicts) read back with
``weights_only=True``, so loading a checkpoint runs no code. ``FORMAT`` numbers the layout.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import torch

from impasto.config import StyleConfig, saved_style_settings
from impasto.errors import CheckpointError, ConfigError
from impasto.io.atomic import atomic_write
from impasto.jsontypes import JSONObject
from impasto.losses.targets import RegionMap, StyleSource, TargetSources
from impasto.optim.loop import OptimizerState
from impasto.optim.pyramid import Progress
from impasto.preprocess.masks import RGB

FILE = "checkpoint.pt"
FORMAT = 1


# The layout on disk (format 1), written once: what to_dict writes and from_dict reads.
class MaskState(TypedDict):
    masks: torch.Tensor  # (N, H, W), one plane per region
    colors: list[list[int]]  # each region's RGB in the mask image


class StyleState(TypedDict):
    image: torch.Tensor
    weight: float
    name: str
    masks: NotRequired[torch.Tensor]  # a style with its own regions (MaskState's keys)
    colors: NotRequired[list[list[int]]]
    region: NotRequired[list[int]]  # the content region (RGB) the style paints


class CheckpointState(TypedDict):
    format: int
    config: JSONObject  # StyleConfig.to_dict()
    content: torch.Tensor | None
    canvas: list[int]  # (H, W)
    styles: list[StyleState]
    coarse: list[StyleState]
    init: torch.Tensor | None
    weights_path: str | None
    sources: dict[str, str]
    extra: JSONObject  # the caller's (plain JSON values)
    precision: str | None  # absent in checkpoints written before it was kept
    level: int  # Progress.scale
    optimizer: OptimizerState | None
    history: list[dict[str, float]]
    elapsed: float
    every: int
    content_mask: NotRequired[MaskState]


@dataclass(frozen=True)
class RunInputs:
    """Everything a run starts from, loaded: enough to run it again, or to continue it.

    ``canvas`` is the output's (H, W); ``init`` the start image when ``config.init`` names a
    file; ``sources`` says where the inputs came from (for the output's metadata); ``extra``
    belongs to the caller (e.g. the CLI's output path) and is handed back with the result.
    ``precision`` is what ``config.precision`` resolved to ("fp32" or "bf16") once the run
    started: ``auto`` is a measurement that a loaded machine can tip either way, so a resumed
    run keeps the arithmetic it began with.
    """

    config: StyleConfig
    content: torch.Tensor | None
    canvas: tuple[int, int]
    targets: TargetSources
    init: torch.Tensor | None = None
    weights_path: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    extra: JSONObject = field(default_factory=dict)
    precision: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """A run's inputs and progress, and how often it saves."""

    inputs: RunInputs
    progress: Progress
    every: int

    def to_dict(self) -> CheckpointState:
        i, p = self.inputs, self.progress
        out: CheckpointState = {
            "format": FORMAT,
            "config": i.config.to_dict(),
            "content": i.content,
            "canvas": list(i.canvas),
            "styles": [_style_dict(s) for s in i.targets.styles],
            "coarse": [_style_dict(s) for s in i.targets.coarse],
            "init": i.init,
            "weights_path": i.weights_path,
            "sources": dict(i.sources),
            "extra": dict(i.extra),
            "precision": i.precision,
            "level": p.scale,
            "optimizer": p.optimizer,
            "history": list(p.history),
            "elapsed": p.elapsed,
            "every": self.every,
        }
        if i.targets.content_mask is not None:
            out["content_mask"] = _mask_dict(i.targets.content_mask)
        return out

    @classmethod
    def from_dict(cls, data: CheckpointState) -> Checkpoint:
        """The checkpoint ``to_dict`` wrote; CheckpointError names what is missing or wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CheckpointError(f"not an impasto checkpoint of format {FORMAT}")
        try:
            mask = data.get("content_mask")
            inputs = RunInputs(
                config=StyleConfig.from_dict(saved_style_settings(data["config"])),
                content=data["content"],
                canvas=(int(data["canvas"][0]), int(data["canvas"][1])),
                targets=TargetSources(
                    styles=[_style_source(e) for e in data["styles"]],
                    coarse=[_style_source(e) for e in data["coarse"]],
                    content_mask=None if mask is None else _region_map(mask),
                ),
                init=data["init"],
                weights_path=data["weights_path"],
                sources=dict(data["sources"]),
                extra=dict(data["extra"]),
                precision=_precision(data.get("precision")),  # absent before it was kept
            )
            progress = Progress(
                scale=int(data["level"]),
                optimizer=data["optimizer"],
                history=list(data["history"]),
                elapsed=float(data["elapsed"]),
            )
            return cls(inputs, progress, int(data["every"]))
        except KeyError as e:
            raise CheckpointError(f"the checkpoint lacks {e.args[0]!r}") from None
        except (ConfigError, TypeError, ValueError, IndexError) as e:
            raise CheckpointError(f"the checkpoint is damaged: {e}") from None


def _precision(value: Any) -> str | None:
    if value is None or value in ("fp32", "bf16"):
        return value
    raise CheckpointError(f"unknown precision {value!r} (fp32 or bf16)")


def _mask_dict(mask: RegionMap) -> MaskState:
    return {"masks": mask.masks, "colors": [list(c) for c in mask.colors]}


def _region_map(data: MaskState | StyleState) -> RegionMap:
    return RegionMap(data["masks"], tuple(_rgb(c) for c in data["colors"]))


def _rgb(values: Any) -> RGB:
    r, g, b = (int(v) for v in values)
    return (r, g, b)


def _style_dict(s: StyleSource) -> StyleState:
    out: StyleState = {"image": s.image, "weight": s.weight, "name": s.name}
    if s.mask is not None:
        out["masks"], out["colors"] = s.mask.masks, [list(c) for c in s.mask.colors]
    if s.region is not None:
        out["region"] = list(s.region)
    return out


def _style_source(data: StyleState) -> StyleSource:
    mask = _region_map(data) if "masks" in data else None
    region = _rgb(data["region"]) if "region" in data else None
    return StyleSource(data["image"], float(data["weight"]), str(data["name"]), mask, region)


def write_state(
    folder: str | os.PathLike[str], data: Mapping[str, object], name: str = FILE
) -> Path:
    """Write ``data`` (a checkpoint's state: plain values and tensors) atomically to
    folder/``name``; returns it."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    target = d / name
    with atomic_write(target) as f:
        torch.save(data, f)
    return target


def read_state(
    folder: str | os.PathLike[str], name: str = FILE, what: str = "checkpoint"
) -> tuple[Path, Any]:
    """(the file, what ``write_state`` wrote there), read with ``weights_only`` (no code runs);
    ``folder`` may be the file itself. CheckpointError names a missing or unreadable file."""
    p = Path(folder)
    target = p / name if p.is_dir() else p
    if not target.is_file():
        raise CheckpointError(f"no {what} found in {p} (expected {p / name})")
    try:
        return target, torch.load(target, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise CheckpointError(f"cannot read {what} {target}: {e}") from None


def save_checkpoint(folder: str | os.PathLike[str], checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` atomically to folder/FILE; returns that file."""
    return write_state(folder, checkpoint.to_dict())


def load_checkpoint(folder: str | os.PathLike[str]) -> Checkpoint:
    """The checkpoint in ``folder`` (or the checkpoint file itself)."""
    target, state = read_state(folder)
    try:
        return Checkpoint.from_dict(state)
    except CheckpointError as e:
        raise CheckpointError(f"{target}: {e}") from None

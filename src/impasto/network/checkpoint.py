"""Saving and resuming a training run, after :mod:`impasto.optim.checkpoint`: typed inputs
plus typed state, one ``torch.save`` of plain values read back with ``weights_only=True`` (so
loading runs no code), written atomically, with a format version.

The state holds everything the next step depends on (the network's and Adam's state, the
crop generator's state), so a resumed run gives the same weights as one never interrupted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import torch

from impasto.errors import CheckpointError, ConfigError
from impasto.jsontypes import JSONObject
from impasto.network.config import NetworkConfig, TrainConfig
from impasto.optim.checkpoint import read_state, write_state

FILE = "training.pt"
FORMAT = 1


@dataclass(frozen=True)
class TrainInputs:
    """What a training run starts from: its settings, the style image (full size, loaded),
    its name and SHA-256, the photo folder, the VGG19 weight file (None: the default or an
    object), what ``precision`` resolved to, ``extra`` for the caller (e.g. the output), and
    for a fine-tuning run the model it started from (``StartingPoint.record``: file name,
    path, SHA-256; None for a run from fresh weights)."""

    config: TrainConfig
    network: NetworkConfig
    style: torch.Tensor
    style_name: str
    style_sha256: str
    photos: str
    weights_path: str | None = None
    precision: str | None = None
    extra: JSONObject = field(default_factory=dict)
    start_from: JSONObject | None = None


class TrainCheckpointState(TypedDict):
    """The layout on disk, written once: what ``to_dict`` writes and ``from_dict`` reads."""

    format: int
    kind: str  # "impasto-training"
    config: JSONObject  # TrainConfig.to_dict()
    network: JSONObject  # NetworkConfig.to_dict()
    style: torch.Tensor
    style_name: str
    style_sha256: str
    photos: str
    weights_path: str | None
    precision: str | None
    extra: JSONObject  # the caller's
    start_from: JSONObject | None  # fine-tuning's model (absent in older checkpoints: None)
    step: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]  # torch.optim.Adam's own state_dict
    generator: torch.Tensor
    history: list[dict[str, float]]
    elapsed: float
    every: int


@dataclass(frozen=True)
class TrainState:
    """Where a run stands after ``step`` steps."""

    step: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    generator: torch.Tensor
    history: list[dict[str, float]]
    elapsed: float


@dataclass(frozen=True)
class TrainCheckpoint:
    inputs: TrainInputs
    state: TrainState
    every: int

    def to_dict(self) -> TrainCheckpointState:
        i, s = self.inputs, self.state
        return {
            "format": FORMAT,
            "kind": "impasto-training",
            "config": i.config.to_dict(),
            "network": i.network.to_dict(),
            "style": i.style,
            "style_name": i.style_name,
            "style_sha256": i.style_sha256,
            "photos": i.photos,
            "weights_path": i.weights_path,
            "precision": i.precision,
            "extra": dict(i.extra),
            "start_from": None if i.start_from is None else dict(i.start_from),
            "step": s.step,
            "model": s.model,
            "optimizer": s.optimizer,
            "generator": s.generator,
            "history": list(s.history),
            "elapsed": s.elapsed,
            "every": self.every,
        }

    @classmethod
    def from_dict(cls, data: TrainCheckpointState) -> TrainCheckpoint:
        """The checkpoint ``to_dict`` wrote; CheckpointError names what is missing or wrong."""
        if not isinstance(data, dict) or data.get("kind") != "impasto-training":
            raise CheckpointError("not an impasto training checkpoint")
        if data.get("format") != FORMAT:
            raise CheckpointError(
                f"training checkpoint format {data.get('format')!r}, not {FORMAT}"
            )
        try:
            inputs = TrainInputs(
                TrainConfig.from_dict(data["config"]),
                NetworkConfig.from_dict(data["network"]),
                data["style"],
                str(data["style_name"]),
                str(data["style_sha256"]),
                str(data["photos"]),
                data["weights_path"],
                data["precision"],
                dict(data["extra"]),
                _start_from(data.get("start_from")),
            )
            state = TrainState(
                int(data["step"]),
                dict(data["model"]),
                dict(data["optimizer"]),
                data["generator"],
                list(data["history"]),
                float(data["elapsed"]),
            )
            return cls(inputs, state, int(data["every"]))
        except KeyError as e:
            raise CheckpointError(f"the training checkpoint lacks {e.args[0]!r}") from None
        except (ConfigError, TypeError, ValueError) as e:
            raise CheckpointError(f"the training checkpoint is damaged: {e}") from None


def _start_from(value: object) -> JSONObject | None:
    if value is None or isinstance(value, dict):
        return value
    raise CheckpointError(f"the training checkpoint is damaged: start_from {value!r}")


def save_training(folder: str | os.PathLike[str], checkpoint: TrainCheckpoint) -> Path:
    """Write ``checkpoint`` atomically to folder/FILE; returns the folder."""
    write_state(folder, checkpoint.to_dict(), FILE)
    return Path(folder)


def load_training(folder: str | os.PathLike[str]) -> TrainCheckpoint:
    """The training checkpoint in ``folder`` (or the file itself)."""
    target, state = read_state(folder, FILE, "training checkpoint")
    try:
        return TrainCheckpoint.from_dict(state)
    except CheckpointError as e:
        raise CheckpointError(f"{target}: {e}") from None

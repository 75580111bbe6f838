"""Fine-tuning: a training run that starts from a trained model's weights (``impasto train
--from MODEL``) instead of freshly initialised ones, and keeps that model's architecture.

A trained network already turns photos into pictures that keep their content (its encoder,
residual blocks and decoder are trained), so a run for another painting starts from a network
whose content loss is low and only the style has to move; the same painting's model can be
trained on (longer, on other photos, with other weights). The run records where it started
from (the file's name, path and SHA-256) in its checkpoint and in the model file it writes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from impasto.errors import ConfigError, NetworkFileError
from impasto.jsontypes import JSONObject
from impasto.network.config import NetworkConfig
from impasto.network.modelfile import load_network
from impasto.network.registry import find_model


@dataclass(frozen=True)
class StartingPoint:
    """The model a run starts from: its file, the file's SHA-256, its architecture and its
    weights (float32, on the CPU)."""

    path: Path
    sha256: str
    network: NetworkConfig
    weights: dict[str, torch.Tensor]

    @property
    def record(self) -> JSONObject:
        """What the checkpoint and the model file keep of it."""
        return {"model": self.path.name, "path": str(self.path), "sha256": self.sha256}


def starting_point(
    model: str | os.PathLike[str],
    network: NetworkConfig | Mapping[str, object] | None = None,
) -> StartingPoint:
    """The model file ``model`` (a path, or the name of a model ``impasto models`` lists),
    loaded, with the network settings given in ``network`` checked against its own (a
    NetworkConfig: all of them; a mapping: those named; None: none).

    NetworkFileError, in one line, for a file that is not an impasto style network (an ONNX
    export included: it holds no trainable weights here); ConfigError naming the setting when
    a given one differs from the model's (a fine-tuned network keeps its architecture)."""
    path = find_model(model).resolve()
    if path.suffix.lower() == ".onnx":
        raise NetworkFileError(
            f"{path.name} is an ONNX export; fine-tuning starts from a .safetensors model file"
        )
    loaded = load_network(path)  # refuses any other file in one line
    check_architecture(loaded.info.network, path.name, network)
    weights = {k: v.detach().clone() for k, v in loaded.model.state_dict().items()}
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return StartingPoint(path, sha, loaded.info.network, weights)


def check_architecture(
    own: NetworkConfig, name: str, network: NetworkConfig | Mapping[str, object] | None
) -> None:
    """ConfigError naming the first setting given in ``network`` (see :func:`starting_point`)
    that differs from ``own``, the network of the model file ``name``."""
    given = network.to_dict() if isinstance(network, NetworkConfig) else dict(network or {})
    known = own.to_dict()
    for key, value in given.items():
        if key not in known:
            raise ConfigError(f"unknown network setting {key!r}")
        if value != known[key]:
            raise ConfigError(
                f"{key} {value} conflicts with {name}, whose network has {key} {known[key]} "
                f"(fine-tuning keeps the model's architecture; leave {key} out)"
            )

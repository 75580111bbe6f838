"""Model files: a trained network's weights in ``safetensors`` with what it is in the metadata
(its architecture, the style image's name and SHA-256, the training settings, impasto's
version), and :func:`load_network`, which refuses any file that is not one in one line.

safetensors holds only tensors and a string map, so loading a model file runs no code.
The ``safetensors`` package comes with the ``network`` extra; it is imported when a file is
written or read, never on import.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from impasto.errors import ConfigError, NetworkFileError, OutputError
from impasto.io.atomic import atomic_write, check_writable
from impasto.network.config import NetworkConfig
from impasto.network.model import TransformNet
from impasto.network.stylizer import Stylizer

KIND = "impasto-style-network"
FORMAT = 1
ARCHITECTURE = "johnson2016-instancenorm-resizeconv"
EXTENSIONS = (".safetensors",)


@dataclass(frozen=True)
class NetworkInfo:
    """What a model file says about its network."""

    network: NetworkConfig
    style_name: str = ""
    style_sha256: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    version: str = ""

    def metadata(self) -> dict[str, str]:
        from impasto.version import __version__

        return {
            "format": KIND,
            "format_version": str(FORMAT),
            "architecture": ARCHITECTURE,
            "network": json.dumps(self.network.to_dict(), sort_keys=True),
            "style_name": self.style_name,
            "style_sha256": self.style_sha256,
            "training": json.dumps(self.training, sort_keys=True),
            "impasto_version": self.version or __version__,
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str) -> NetworkInfo:
        if meta.get("format") != KIND:
            raise NetworkFileError(f"{where} is not an impasto style network (no impasto metadata)")
        if meta.get("format_version") != str(FORMAT) or meta.get("architecture") != ARCHITECTURE:
            raise NetworkFileError(
                f"{where} is a style network of format {meta.get('format_version')!r} "
                f"({meta.get('architecture')}); this impasto reads format {FORMAT}"
            )
        try:
            return cls(
                NetworkConfig.from_dict(json.loads(meta["network"])),
                meta.get("style_name", ""),
                meta.get("style_sha256", ""),
                json.loads(meta.get("training", "{}")),
                meta.get("impasto_version", ""),
            )
        except (KeyError, ValueError, TypeError, ConfigError) as e:
            raise NetworkFileError(f"{where} has damaged network metadata: {e}") from None


class StyleNetwork(Stylizer):
    """A trained network on torch (CPU, float32, eval mode, gradients off)."""

    def __init__(self, model: TransformNet, info: NetworkInfo) -> None:
        self.model = model.eval().requires_grad_(False)
        self.info = info

    def run(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.model(batch)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model file atomically (``.safetensors``)."""
        return save_network(self.model, path, self.info)


def save_network(
    model: TransformNet, path: str | os.PathLike[str], info: NetworkInfo | None = None
) -> Path:
    """Write ``model``'s weights and ``info`` to ``path`` atomically."""
    from safetensors.torch import save

    p = check_writable(path, EXTENSIONS, "model file")
    info = info or NetworkInfo(model.config)
    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    data = save(tensors, metadata=info.metadata())
    try:
        with atomic_write(p) as f:
            f.write(data)
    except OSError as e:
        raise OutputError(f"cannot write {p}: {e.strerror or e}") from None
    return p


def load_network(path: str | os.PathLike[str]) -> StyleNetwork:
    """The style network in ``path``; NetworkFileError, in one line, for a missing file or
    one that is not an impasto style network (or is damaged)."""
    p = Path(path)
    if not p.is_file():
        raise NetworkFileError(f"model file not found: {p}")
    meta, tensors = _read(p)
    info = NetworkInfo.from_metadata(meta, str(p))
    model = TransformNet(info.network)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError:
        raise NetworkFileError(
            f"{p}: its weights do not fit the network its metadata describes (damaged file)"
        ) from None
    return StyleNetwork(model, info)


def _read(p: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != KIND:
                raise NetworkFileError(f"{p} is not an impasto style network (no impasto metadata)")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NetworkFileError(f"{p} is not an impasto style network ({first})") from None
    return dict(meta), tensors

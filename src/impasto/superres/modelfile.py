"""Upscaler model files: the weights in ``safetensors`` with what the network is in the
metadata (its shape, the training settings, impasto's version); loading runs no code."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from impasto.errors import ConfigError, NetworkFileError
from impasto.io.atomic import check_writable
from impasto.io.modelfile import (
    check_model_metadata,
    model_metadata,
    read_safetensors,
    write_safetensors,
)
from impasto.superres.config import UpscalerConfig
from impasto.superres.model import Upscaler

KIND = "impasto-upscaler"
FORMAT = 1
ARCHITECTURE = "fsrcnn-subpixel-bicubic-residual"


@dataclass(frozen=True)
class UpscalerInfo:
    """What a model file says about its upscaler."""

    network: UpscalerConfig
    training: dict[str, Any] = field(default_factory=dict)
    version: str = ""

    def metadata(self) -> dict[str, str]:
        return model_metadata(
            KIND, FORMAT, ARCHITECTURE, self.network.to_dict(), self.training, self.version
        )

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str) -> UpscalerInfo:
        check_model_metadata(meta, where, KIND, FORMAT, ARCHITECTURE, "upscaler")
        try:
            return cls(
                UpscalerConfig.from_dict(json.loads(meta["network"])),
                json.loads(meta.get("training", "{}")),
                meta.get("impasto_version", ""),
            )
        except (KeyError, ValueError, TypeError, ConfigError) as e:
            raise NetworkFileError(f"{where} has damaged upscaler metadata: {e}") from None


def save_upscaler(
    model: Upscaler,
    path: str | os.PathLike[str],
    info: UpscalerInfo | None = None,
    half: bool = False,
) -> Path:
    """Write ``model`` and ``info`` to ``path`` (``.safetensors``) atomically; ``half``
    stores float16 weights (half the file)."""
    p = check_writable(path, (".safetensors",), "model file")
    info = info or UpscalerInfo(model.config)
    dtype = torch.float16 if half else torch.float32
    tensors = {
        k: v.detach().cpu().to(dtype).contiguous().clone() for k, v in model.state_dict().items()
    }
    return write_safetensors(p, tensors, info.metadata())


def load_upscaler(path: str | os.PathLike[str]) -> tuple[Upscaler, UpscalerInfo]:
    """The upscaler in ``path`` (eval mode, float32, no gradients) and its info;
    NetworkFileError, in one line, for a missing file or one that is not an impasto upscaler."""
    p = Path(path)
    if not p.is_file():
        raise NetworkFileError(f"upscaler file not found: {p}")
    meta, tensors = read_safetensors(p, KIND, "upscaler")
    info = UpscalerInfo.from_metadata(meta, str(p))
    tensors = {k: v.to(torch.float32) for k, v in tensors.items()}
    model = Upscaler(info.network)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError:
        raise NetworkFileError(
            f"{p}: its weights do not fit the network its metadata describes"
        ) from None
    return model.eval().requires_grad_(False), info

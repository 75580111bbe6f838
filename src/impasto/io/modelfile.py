"""impasto's model files (style networks, upscalers). Their metadata (safetensors and ONNX) is
a string map naming the file's kind, format and architecture, the network's shape and the
training settings as JSON, and the impasto version that wrote it. Each kind of file supplies
its own names; the layout, the refusals of a foreign or newer file, and the reading and
atomic writing of a safetensors file are written here once.

safetensors holds only tensors and a string map, so reading a model file runs no code; the
package (the ``network`` extra) is imported when a file is written or read, never on import."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from impasto.errors import NetworkFileError
from impasto.io.atomic import write_bytes


def model_metadata(
    kind: str,
    format_version: int,
    architecture: str,
    network: Mapping[str, Any],
    training: Mapping[str, Any],
    version: str = "",
    fields: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The metadata of a model file; ``fields`` (the kind's own strings) stand between the
    network and the training settings; ``version`` "" is this impasto's."""
    from impasto.version import __version__

    return {
        "format": kind,
        "format_version": str(format_version),
        "architecture": architecture,
        "network": json.dumps(dict(network), sort_keys=True),
        **(fields or {}),
        "training": json.dumps(dict(training), sort_keys=True),
        "impasto_version": version or __version__,
    }


def check_model_metadata(
    meta: Mapping[str, str],
    where: str,
    kind: str,
    format_version: int,
    architecture: str,
    what: str,
) -> None:
    """NetworkFileError, in one line, unless ``meta`` is that of a ``kind`` file of this
    format and architecture; ``what`` names the kind in the message ("style network")."""
    if meta.get("format") != kind:
        raise NetworkFileError(f"{where} is not an impasto {what} (no impasto metadata)")
    if (
        meta.get("format_version") != str(format_version)
        or meta.get("architecture") != architecture
    ):
        article = "an" if what[:1] in "aeiou" else "a"
        raise NetworkFileError(
            f"{where} is {article} {what} of format {meta.get('format_version')!r} "
            f"({meta.get('architecture')}); this impasto reads format {format_version}"
        )


def write_safetensors(
    path: Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]
) -> Path:
    """Write ``tensors`` and ``metadata`` to ``path`` (checked with ``check_writable``
    first) atomically, as safetensors."""
    from safetensors.torch import save

    return write_bytes(path, save(dict(tensors), metadata=dict(metadata)))


def read_safetensors(
    path: Path, kind: str, what: str
) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """(metadata, tensors) of the safetensors file ``path``; NetworkFileError, in one line,
    when it cannot be read or its metadata is not of a ``kind`` file (``what`` names it)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != kind:
                raise NetworkFileError(f"{path} is not an impasto {what} (no impasto metadata)")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NetworkFileError(f"{path} is not an impasto {what} ({first})") from None
    return dict(meta), tensors

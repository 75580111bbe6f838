"""The metadata of impasto's model files (style networks, upscalers; safetensors and ONNX):
a string map naming the file's kind, format and architecture, the network's shape and the
training settings as JSON, and the impasto version that wrote it. Each kind of file supplies
its own names; the layout and the refusals of a foreign or newer file are written here once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from impasto.errors import NetworkFileError


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

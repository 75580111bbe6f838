"""What a style network is, as its files record it: :class:`NetworkInfo` and the metadata
keys of model files and ONNX exports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from impasto.errors import ConfigError, NetworkFileError
from impasto.jsontypes import JSONObject
from impasto.network.config import NetworkConfig

KIND = "impasto-style-network"
FORMAT = 1
ARCHITECTURE = "johnson2016-instancenorm-resizeconv"


@dataclass(frozen=True)
class NetworkInfo:
    """What a model file says about its network."""

    network: NetworkConfig
    style_name: str = ""
    style_sha256: str = ""
    training: JSONObject = field(default_factory=dict)  # TrainConfig's and how it went
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

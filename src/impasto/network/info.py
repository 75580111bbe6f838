"""What a style network is, as its files record it: :class:`NetworkInfo` and the metadata
keys of model files and ONNX exports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from impasto.errors import ConfigError, NetworkFileError
from impasto.io.modelfile import check_model_metadata, model_metadata
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
        return model_metadata(
            KIND,
            FORMAT,
            ARCHITECTURE,
            self.network.to_dict(),
            self.training,
            self.version,
            {"style_name": self.style_name, "style_sha256": self.style_sha256},
        )

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str) -> NetworkInfo:
        check_model_metadata(meta, where, KIND, FORMAT, ARCHITECTURE, "style network")
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

"""Small style-network settings the training tests share: a network a few kilobytes big and
a run of a few steps on 32 px crops, in fp32 (the same on every CPU)."""

from __future__ import annotations

from impasto.network.config import NetworkConfig, TrainConfig

SMALL = NetworkConfig(width=0.125, blocks=1)


def tiny_config(**changes: object) -> TrainConfig:
    base = dict(steps=4, batch_size=2, crop_size=32, precision="fp32", validation=0, lr=1e-2)
    base.update(changes)
    return TrainConfig(**base)  # type: ignore[arg-type]

"""Where a run computes: the CPU, a CUDA GPU or Apple's MPS, and the arithmetic that is fast and
safe there.

``auto`` prefers a CUDA GPU, then MPS, then the CPU. A device that is asked for but absent is a
ConfigError before any work. Random numbers are always drawn on the CPU (a seed means the same
noise on every device) and moved; results come back to the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from impasto.config import Precision
from impasto.errors import ConfigError
from impasto.validate import DEVICE_PATTERN


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(spec: str) -> torch.device:
    """The device ``spec`` names ("auto", "cpu", "cuda", "cuda:N", "mps"), checked to exist."""
    if not DEVICE_PATTERN.fullmatch(spec):
        raise ConfigError(f"unknown device {spec!r}; choose auto, cpu, cuda, cuda:N or mps")
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {spec}: this machine has no CUDA GPU; use cpu or auto")
        index = int(spec.split(":")[1]) if ":" in spec else torch.cuda.current_device()
        count = torch.cuda.device_count()
        if index >= count:
            raise ConfigError(
                f"device {spec}: there is no GPU {index}; this machine has {count} "
                f"(cuda:0 to cuda:{count - 1})"
            )
        return torch.device("cuda", index)
    if spec == "mps" and not _mps_available():
        raise ConfigError("device mps: Apple's Metal (MPS) is not available here; use cpu or auto")
    return torch.device(spec)


def describe(device: torch.device) -> str:
    """``cuda:0 (NVIDIA H200)``, ``mps``, ``cpu (AMD EPYC ...)``: what a run prints once."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({cpu_model()})"
    return str(device)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown model"


@dataclass(frozen=True)
class Arithmetic:
    """How the network computes on a device: ``dtype`` of its autocast convolutions (None:
    float32 throughout). Gram matrices and losses are float32 on every device."""

    device_type: str
    dtype: torch.dtype | None
    index: int | None = None  # which GPU

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    @property
    def device(self) -> torch.device:
        return torch.device(self.device_type) if self.index is None else torch.device(
            self.device_type, self.index
        )

    @classmethod
    def named(cls, device: torch.device, name: str) -> Arithmetic:
        """The arithmetic a run resolved to earlier ("fp32", "bf16", "fp16"), on ``device``."""
        dtypes = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
        return cls(device.type, dtypes[name], device.index)

    def autocast(self) -> torch.autocast:
        """The device's low-precision convolutions, for a loss network (a network being
        trained stays float32); disabled for fp32."""
        dtype = self.dtype or torch.bfloat16
        return torch.autocast(self.device_type, dtype=dtype, enabled=self.dtype is not None)


def arithmetic(precision: Precision, device: torch.device) -> Arithmetic:
    """The autocast for ``precision`` on ``device``. ``auto`` on the CPU measures bf16 against
    fp32 (features.extractor.use_bf16); on CUDA it takes bf16 where the GPU supports it, else
    fp16; on MPS it stays fp32. ``bf16`` where a device lacks it falls back to fp32."""
    if device.type == "cpu":
        from impasto.features.extractor import use_bf16

        return Arithmetic("cpu", torch.bfloat16 if use_bf16(precision) else None)
    if precision is Precision.FP32 or device.type != "cuda":
        return Arithmetic(device.type, None, device.index)
    bf16 = torch.cuda.is_bf16_supported()
    if precision is Precision.BF16:
        return Arithmetic("cuda", torch.bfloat16 if bf16 else None, device.index)
    return Arithmetic("cuda", torch.bfloat16 if bf16 else torch.float16, device.index)


CPU_FP32 = Arithmetic("cpu", None)


def free_memory(device: torch.device) -> int | None:
    """Bytes free on a CUDA device; None elsewhere (the CPU's limit is the machine's)."""
    if device.type != "cuda":
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)

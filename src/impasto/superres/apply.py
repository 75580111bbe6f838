"""Enlarging pictures with a trained upscaler: on torch or onnxruntime, tile by tile with an
overlap wider than the network's reach (so the tiles join without a seam and the memory of a
pass stays bounded whatever the output's size), with refusals before any work."""

from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import torch

import impasto.validate as validate
from impasto.config import Precision, Settings, setting
from impasto.errors import ConfigError, InvalidImageError, OutputError
from impasto.features.device import arithmetic, resolve_device
from impasto.io.images import (
    OUTPUT_FORMATS,
    check_output_path,
    image_size,
    load_image,
    save_image,
)
from impasto.losses.memory import memory_limit
from impasto.network.photos import find_photos
from impasto.superres.config import check_scale
from impasto.superres.model import AtScale, Upscaler
from impasto.superres.modelfile import UpscalerInfo, load_upscaler

log = logging.getLogger(__name__)

# The network sees 2 + 6 + 1 input pixels either side (5x5, six 3x3, the 3x3 head) and the
# bicubic base 2 more: tiles overlapping by more than that give the whole picture's pixels.
REACH = 11
OVERLAP = 16
# An output costs about this many bytes a pixel while it is assembled and written (the float32
# picture, its 8-bit copy and Pillow's), and may take this share of the machine's memory.
BYTES_PER_OUTPUT_PIXEL = 32
MEMORY_SHARE = 0.5


class UpscaleBackend(str, Enum):
    TORCH = "torch"
    ONNXRUNTIME = "onnxruntime"


def bundled_upscaler() -> Path:
    """The upscaler shipped with impasto (``impasto/data/upscalers/upscaler.safetensors``,
    beside the style networks rather than among them: ``impasto models`` lists those)."""
    import impasto.data

    return Path(impasto.data.__file__).parent / "upscalers" / "upscaler.safetensors"


@dataclass(frozen=True)
class UpscaleConfig(Settings):
    """Settings of ``impasto upscale``."""

    scale: int = field(
        default=4, metadata=setting("enlargement: 2 or 4", group="size", choices=("2", "4"))
    )
    tile: int = field(
        default=256,
        metadata=setting(
            "side of the input tiles a pass takes, px (memory is bounded by the tile, not the "
            "picture)",
            group="size",
        ),
    )
    backend: UpscaleBackend = field(
        default=UpscaleBackend.TORCH,
        metadata=setting("what runs the network", group="network", choices=UpscaleBackend),
    )
    precision: Precision = field(
        default=Precision.FP32,
        metadata=setting(
            "arithmetic of a torch pass (auto: bf16 where this CPU measures it faster); "
            "onnxruntime computes in fp32",
            group="network",
            choices=Precision,
        ),
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", check_scale(self.scale))
        tile = validate.integer("tile", self.tile)
        if tile < 2 * OVERLAP + 16:
            raise ConfigError(f"tile must be at least {2 * OVERLAP + 16} px, got {self.tile!r}")
        object.__setattr__(self, "tile", tile)
        object.__setattr__(
            self, "backend", validate.choice(UpscaleBackend, self.backend, "backend")
        )
        object.__setattr__(
            self, "precision", validate.choice(Precision, self.precision, "precision")
        )
        if self.backend is UpscaleBackend.ONNXRUNTIME and self.precision is Precision.BF16:
            raise ConfigError("precision bf16: onnxruntime computes in fp32 here; use torch")


class Enlarger(ABC):
    """A trained upscaler behind a backend: :meth:`run` takes one batch at one scale."""

    def __init__(self, info: UpscalerInfo) -> None:
        self.info = info

    @property
    def precision(self) -> str:
        return "fp32"

    @abstractmethod
    def run(self, batch: torch.Tensor, scale: int) -> torch.Tensor:
        """(N, 3, h, w) float32 in [0, 1] → (N, 3, r h, r w) float32, unclamped."""

    def enlarge(
        self, image: torch.Tensor, scale: int, tile: int = 256, tick: Any = None
    ) -> torch.Tensor:
        """(N, 3, h, w) in [0, 1] → (N, 3, scale h, scale w) in [0, 1], through tiles of at
        most ``tile`` px a side overlapping by OVERLAP px; ``tick()`` after each tile. Never
        modifies ``image``."""
        r = check_scale(scale)
        if r not in self.info.network.scales:
            raise ConfigError(
                f"this upscaler has no x{r} head (it enlarges {self.info.network.scales})"
            )
        x = image.detach().to(torch.float32)
        return tiled(lambda t: self.run(t, r), x, r, tile, tick=tick).clamp_(0.0, 1.0)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Starts of the tiles covering ``length`` px with tiles of ``tile`` px overlapping by at
    least 2 ``overlap`` px; the last tile ends at ``length``."""
    if length <= tile:
        return [0]
    step = tile - 2 * overlap
    starts = [*range(0, length - tile, step), length - tile]
    return sorted(set(starts))


def tile_count(size: tuple[int, int], tile: int, overlap: int = OVERLAP) -> int:
    """How many tiles a picture of ``size`` (w, h) takes."""
    return len(tile_starts(size[0], tile, overlap)) * len(tile_starts(size[1], tile, overlap))


def tiled(
    run: Any, x: torch.Tensor, r: int, tile: int, overlap: int = OVERLAP, tick: Any = None
) -> torch.Tensor:
    """``run`` (a pass enlarging by ``r``) over ``x`` tile by tile: each tile keeps the part of
    its output farther than ``overlap`` input px from its inner edges, which is exactly the
    whole picture's output there when ``overlap`` exceeds the network's REACH."""
    n, c, h, w = x.shape
    if h <= tile and w <= tile:
        out = run(x)
        if tick is not None:
            tick()
        return out
    out = torch.empty(n, c, h * r, w * r, dtype=torch.float32)
    for top in tile_starts(h, tile, overlap):
        for left in tile_starts(w, tile, overlap):
            piece = run(x[..., top : top + tile, left : left + tile])
            th, tw = min(tile, h - top), min(tile, w - left)
            y0 = 0 if top == 0 else overlap
            x0 = 0 if left == 0 else overlap
            y1 = th if top + th == h else th - overlap
            x1 = tw if left + tw == w else tw - overlap
            out[..., (top + y0) * r : (top + y1) * r, (left + x0) * r : (left + x1) * r] = piece[
                ..., y0 * r : y1 * r, x0 * r : x1 * r
            ]
            if tick is not None:
                tick()
    return out


class TorchEnlarger(Enlarger):
    def __init__(
        self, model: Upscaler, info: UpscalerInfo, dtype: torch.dtype | None = None
    ) -> None:
        super().__init__(info)
        self.model = model.eval().requires_grad_(False).to(dtype or torch.float32)

    @property
    def precision(self) -> str:
        dtype = next(self.model.parameters()).dtype
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")

    def run(self, batch: torch.Tensor, scale: int) -> torch.Tensor:
        weight = next(self.model.parameters())
        with torch.no_grad():
            out = self.model(batch.to(weight.device, weight.dtype), scale)
        return out.to(torch.float32).cpu()


class OnnxEnlarger(Enlarger):
    """One onnxruntime session per scale, exported in memory from the torch network."""

    def __init__(self, model: Upscaler, info: UpscalerInfo) -> None:
        from impasto.network.export import module_onnx_bytes, ort_session

        super().__init__(info)
        self.sessions = {
            r: ort_session(
                module_onnx_bytes(AtScale(model, r), info.metadata(), ("small", "large"))
            )
            for r in info.network.scales
        }

    def run(self, batch: torch.Tensor, scale: int) -> torch.Tensor:
        import numpy as np

        x = np.ascontiguousarray(batch.detach().to(torch.float32).numpy())
        (y,) = self.sessions[scale].run(["large"], {"small": x})
        return torch.from_numpy(np.asarray(y, dtype=np.float32))


def open_upscaler(
    path: str | os.PathLike[str] | None = None,
    backend: UpscaleBackend | str = UpscaleBackend.TORCH,
    precision: Precision | str = Precision.FP32,
) -> Enlarger:
    """The upscaler in ``path`` (None: the bundled one) on ``backend``; NetworkFileError in
    one line for a file that is not an impasto upscaler."""
    kind = validate.choice(UpscaleBackend, backend, "backend")
    arith = validate.choice(Precision, precision, "precision")
    model, info = load_upscaler(path if path is not None else bundled_upscaler())
    if kind is UpscaleBackend.ONNXRUNTIME:
        return OnnxEnlarger(model, info)
    return TorchEnlarger(model, info, arithmetic(arith, resolve_device("cpu")).dtype)


def check_output_fits(size: tuple[int, int], scale: int, limit: int | None = None) -> None:
    """Refuse, before any work, an output of ``size`` (w, h) enlarged ``scale`` times that
    this machine's memory (or ``limit`` bytes) could not hold while it is written."""
    w, h = size
    pixels = w * h * scale * scale
    limit = memory_limit() if limit is None else limit
    if limit is not None and pixels * BYTES_PER_OUTPUT_PIXEL > MEMORY_SHARE * limit:
        most = int(MEMORY_SHARE * limit / BYTES_PER_OUTPUT_PIXEL) // (scale * scale)
        raise OutputError(
            f"a {w * scale}x{h * scale} px output needs about "
            f"{pixels * BYTES_PER_OUTPUT_PIXEL / 2**30:.1f} GiB, more than this machine allows; "
            f"inputs up to about {most / 1e6:.1f} Mpx enlarge {scale}x here"
        )


@dataclass(frozen=True)
class Enlarged:
    """What :func:`upscale_path` wrote, and the inputs it skipped (unreadable)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def metadata(enlarger: Enlarger, config: UpscaleConfig, source: str) -> dict[str, str]:
    from impasto.version import __version__

    record = {
        "version": __version__,
        "upscale": config.to_dict(),
        "network": enlarger.info.network.to_dict(),
        "precision": enlarger.precision,
        "source": source,
    }
    return {"Software": f"impasto {__version__}", "impasto": json.dumps(record, sort_keys=True)}


@dataclass(frozen=True)
class Job:
    """One picture to enlarge: where from, where to, and its size (w, h; None when its
    header is unreadable: it is skipped when its turn comes)."""

    source: Path
    target: Path
    size: tuple[int, int] | None


def plan(source: Path, output: Path, scale: int) -> list[Job]:
    """The pictures to enlarge, each one's output checked against memory, before any work."""
    if not source.exists():
        raise InvalidImageError(f"input not found: {source}")
    if not source.is_dir():
        size = image_size(source)
        check_output_fits(size, scale)
        return [Job(source, check_output_path(output), size)]
    if output.suffix.lower() in OUTPUT_FORMATS or output.is_file():
        raise OutputError(
            f"the input {source} is a folder, so the output must be a folder: {output}"
        )
    if not output.parent.is_dir():
        raise OutputError(f"output folder's parent does not exist: {output.parent}")
    jobs = []
    for path in find_photos(source):
        try:
            found: tuple[int, int] | None = image_size(path)
        except InvalidImageError:
            found = None
        if found is not None:
            check_output_fits(found, scale)
        jobs.append(Job(path, output / path.relative_to(source).with_suffix(".png"), found))
    return jobs


def total_tiles(jobs: list[Job], tile: int) -> int:
    """Tiles of every readable picture: what a progress bar counts."""
    return sum(tile_count(j.size, tile) for j in jobs if j.size is not None)


def upscale_path(
    enlarger: Enlarger,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: UpscaleConfig | None = None,
    tick: Any = None,
    jobs: list[Job] | None = None,
) -> Enlarged:
    """Enlarge ``source`` (an image, or a folder searched recursively) into ``output`` (a
    file, or a folder of PNGs mirroring the source's layout); ``tick()`` after each tile.
    ``jobs``: :func:`plan`'s, when the caller planned already."""
    cfg = config or UpscaleConfig()
    single = not Path(source).is_dir()
    done = Enlarged()
    for job in jobs if jobs is not None else plan(Path(source), Path(output), cfg.scale):
        try:
            image = load_image(job.source)
        except InvalidImageError as e:
            if single:
                raise
            log.warning("skipping %s", e)
            done.skipped.append(str(job.source))
            continue
        out = enlarger.enlarge(image, cfg.scale, cfg.tile, tick)
        job.target.parent.mkdir(parents=True, exist_ok=True)
        done.written.append(save_image(out, job.target, metadata(enlarger, cfg, job.source.name)))
    return done


def upscale(
    image: Any,
    scale: int = 4,
    *,
    model: str | os.PathLike[str] | None = None,
    backend: UpscaleBackend | str = UpscaleBackend.TORCH,
    precision: Precision | str = Precision.FP32,
    tile: int = 256,
) -> torch.Tensor:
    """The Python face: a path, Pillow image or tensor (3, H, W) / (1, 3, H, W) in [0, 1]
    enlarged ``scale`` (2 or 4) times, as a float32 (1, 3, H', W') tensor in [0, 1]."""
    cfg = UpscaleConfig(
        scale=scale,
        tile=tile,
        backend=validate.choice(UpscaleBackend, backend, "backend"),
        precision=validate.choice(Precision, precision, "precision"),
    )
    x = load_image(image)
    check_output_fits((x.shape[-1], x.shape[-2]), cfg.scale)
    return open_upscaler(model, cfg.backend, cfg.precision).enlarge(x, cfg.scale, cfg.tile)

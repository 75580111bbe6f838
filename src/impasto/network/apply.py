"""Applying a trained network: to one image, or a folder of them; on torch or onnxruntime;
with the content's colours kept as ``impasto stylize --preserve-color`` keeps them and as much
of the painting as ``strength`` asks; each output written atomically with the model and
settings in its PNG metadata."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import torch

import impasto.validate as validate
from impasto.config import (
    ColorPreservation,
    Precision,
    Settings,
    setting,
)
from impasto.errors import (
    ConfigError,
    DeviceError,
    InvalidImageError,
    NetworkFileError,
    OutputError,
)
from impasto.features.device import arithmetic, resolve_device
from impasto.io.images import OUTPUT_FORMATS, check_output_path, load_image, save_image
from impasto.network.modelfile import StyleNetwork, load_network
from impasto.network.photos import find_photos
from impasto.network.stylizer import MIN_SIDE, Stylizer
from impasto.preprocess.color import match_color_stats, recombine_luminance
from impasto.preprocess.resize import resize

log = logging.getLogger(__name__)


# How much of a network's painting to keep, written once: ApplyConfig's field (impasto apply,
# batch --network, Instant mode) and VideoConfig's (impasto video --network, Video mode).
STRENGTH = setting(
    "how much of the network's painting to keep, from 0 (the photo) to 1 (the "
    "network's output): the output blended with the photo, pixel by pixel",
    group="styles",
    metavar="S",
)


class Backend(str, Enum):
    AUTO = "auto"  # a .onnx file on onnxruntime, a .safetensors file on torch
    TORCH = "torch"
    ONNXRUNTIME = "onnxruntime"


@dataclass(frozen=True)
class ApplyConfig(Settings):
    """Settings of ``impasto apply``."""

    size: int | None = field(
        default=None,
        metadata=setting(
            "long side of the outputs, px", group="size", default_text="the input's size"
        ),
    )
    backend: Backend = field(
        default=Backend.AUTO,
        metadata=setting(
            "what runs the network: auto takes onnxruntime for .onnx, torch for .safetensors",
            group="network",
            choices=Backend,
        ),
    )
    preserve_color: ColorPreservation = field(
        default=ColorPreservation.NONE,
        metadata=setting(
            "keep the photo's colours: luminance takes the output's luminance and the photo's "
            "chroma; histogram matches the output's colour mean and covariance to the photo's",
            group="styles",
            choices=ColorPreservation,
        ),
    )
    strength: float = field(default=1.0, metadata=STRENGTH)
    device: str = field(
        default="auto",
        metadata=setting(
            "where the network runs on torch: auto (a CUDA GPU, then Apple's MPS, then the "
            "CPU), cpu, cuda, cuda:N or mps; onnxruntime runs on the CPU",
            group="network",
            metavar="DEVICE",
        ),
    )
    precision: Precision = field(
        default=Precision.AUTO,
        metadata=setting(
            "arithmetic of a torch pass: auto takes bf16 where this CPU measures it faster "
            "(half the time on a Zen 4, outputs within ~1/255), on a CUDA GPU bf16 or fp16; "
            "onnxruntime computes in fp32",
            group="network",
            choices=Precision,
        ),
    )

    def __post_init__(self) -> None:
        if self.size is not None and (
            not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < MIN_SIDE
        ):
            raise ConfigError(
                f"size must be an integer of at least {MIN_SIDE} px, got {self.size!r}"
            )
        s = object.__setattr__
        s(self, "backend", validate.choice(Backend, self.backend, "backend"))
        colour = validate.choice(ColorPreservation, self.preserve_color, "preserve_color")
        s(self, "preserve_color", colour)
        s(self, "strength", check_strength(self.strength))
        s(self, "device", validate.device(self.device))
        s(self, "precision", validate.choice(Precision, self.precision, "precision"))


def check_strength(value: object) -> float:
    """``value`` as a strength: a number from 0 to 1 (not a bool)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
    if not ok:  # NaN fails the range test too
        raise ConfigError(f"strength must be a number from 0 to 1, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_onnx_precision(onnx: bool, precision: Precision) -> None:
    """onnxruntime (its CPU build) computes in fp32: asking it for bf16 is refused."""
    if onnx and precision is Precision.BF16:
        raise ConfigError("precision bf16: onnxruntime computes in fp32 here; use torch")


def open_network(
    path: str | os.PathLike[str],
    backend: Backend | str = Backend.AUTO,
    device: str = "cpu",
    precision: Precision | str = Precision.FP32,
) -> Stylizer:
    """The network in ``path`` on ``backend``: a ``.safetensors`` model file runs on torch
    (on ``device``, in ``precision``) or (exported in memory) onnxruntime; an ``.onnx``
    export runs on onnxruntime only. onnxruntime (its CPU build) runs on the CPU in fp32:
    asking it for a GPU or a lower precision is refused, and ``auto`` then means those."""
    from impasto.network.export import load_onnx, onnx_session_for

    backend = validate.choice(Backend, backend, "backend")
    arith = validate.choice(Precision, precision, "precision")
    where = resolve_device(validate.device(device))  # refused before the file is read
    onnx = backend is Backend.ONNXRUNTIME or Path(path).suffix.lower() == ".onnx"
    check_onnx_precision(onnx, arith)
    if onnx and where.type != "cpu":
        if device != "auto":
            raise ConfigError(f"device {device}: onnxruntime runs on the CPU here; use torch")
        where = torch.device("cpu")
    p = Path(path)
    if p.suffix.lower() == ".onnx":
        if backend is Backend.TORCH:
            raise ConfigError(f"{p} is an ONNX export, which runs on onnxruntime, not torch")
        return load_onnx(p)
    if p.suffix.lower() != ".safetensors":
        raise NetworkFileError(
            f"unknown model file extension {p.suffix or '(none)'!r} in {p}; "
            "use .safetensors or .onnx"
        )
    network = load_network(p)
    if backend is Backend.ONNXRUNTIME:
        return onnx_session_for(network)
    return network.to(where, arithmetic(arith, where).dtype)


def backend_of(network: Stylizer) -> str:
    return "torch" if isinstance(network, StyleNetwork) else "onnxruntime"


def stylize_image(network: Stylizer, image: torch.Tensor, config: ApplyConfig) -> torch.Tensor:
    """(N, 3, H, W) photos through the network at ``config.size``, colours kept as asked
    (the same colour functions as ``impasto stylize``'s ``preserve_color``), then blended
    with the photo by ``config.strength``."""
    out = network.stylize(image, config.size)
    if config.preserve_color is ColorPreservation.NONE and config.strength == 1:
        return out
    photo = resize(image, (out.shape[-2], out.shape[-1]))
    if config.preserve_color is ColorPreservation.LUMINANCE:
        out = recombine_luminance(out, photo)
    elif config.preserve_color is ColorPreservation.HISTOGRAM:
        # The style was fixed at training, so histogram matching recolours the output (stylize
        # recolours the style image before its run instead).
        out = match_color_stats(out, photo)
    return blend(out, photo, config.strength)


def blend(out: torch.Tensor, photo: torch.Tensor, strength: float) -> torch.Tensor:
    """``strength`` of ``out`` and the rest of ``photo``, pixel by pixel (same shapes).

    A blend in pixel space rather than a walk of the network's instance-norm scales and
    shifts towards 1 and 0: this network (Johnson et al.'s, one style) was never trained to
    reproduce the photo, so no setting of those parameters gives it back. Measured on the
    bundled starry_night at 256 px (tubingen): the walk stays a painting all the way, its
    mean distance to the photo 0.157 at 0 against 0.138 at 1 (it moves away), while the
    blend falls linearly from 0.138 to 0, the photo showing through the strokes."""
    if strength == 1:
        return out
    if strength == 0:
        return photo.clone()
    return torch.lerp(photo, out, strength).clamp_(0, 1)


def paint(
    network: Stylizer, image: torch.Tensor, config: ApplyConfig
) -> tuple[torch.Tensor, float]:
    """:func:`stylize_image` and the seconds it took (the pass and the colour); a device out of
    memory becomes one :class:`DeviceError` line naming the size."""
    start = time.perf_counter()
    try:
        out = stylize_image(network, image, config)
    except torch.OutOfMemoryError:
        h, w = image.shape[-2:]
        raise DeviceError(
            f"out of memory on {config.device} at {w}x{h} px: lower size, or use the cpu"
        ) from None
    return out, time.perf_counter() - start


@dataclass(frozen=True)
class Applied:
    """What :func:`apply_network` wrote, the inputs it skipped (unreadable), and the seconds
    each image took (network and colour, not decoding or writing)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def metadata(network: Stylizer, config: ApplyConfig, model: str, source: str) -> dict[str, str]:
    """PNG text chunks: the model, its style, the settings and the backend."""
    from impasto.version import __version__

    info = network.info
    record = {
        "version": __version__,
        "model": model,
        "style_name": info.style_name,
        "style_sha256": info.style_sha256,
        "network": info.network.to_dict(),
        "apply": config.to_dict(),
        "backend": backend_of(network),
        "precision": network.precision,
        "source": source,
    }
    return {"Software": f"impasto {__version__}", "impasto": json.dumps(record, sort_keys=True)}


def apply_network(
    network: Stylizer,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: ApplyConfig | None = None,
    *,
    model: str = "",
) -> Applied:
    """Paint ``source`` (an image, or a folder searched recursively) and write ``output`` (a
    file, or for a folder a folder of PNGs mirroring the source's layout). In a folder,
    unreadable files are skipped with a logged warning and listed in the result."""
    cfg = config or ApplyConfig()
    src = Path(source)
    if not src.is_dir():
        out = check_output_path(output)
        image = load_image(src)
        return _one(network, cfg, image, out, metadata(network, cfg, model, src.name), Applied())
    folder = Path(output)
    if folder.suffix.lower() in OUTPUT_FORMATS or folder.is_file():
        raise OutputError(f"the input {src} is a folder, so the output must be a folder: {folder}")
    if not folder.parent.is_dir():
        raise OutputError(f"output folder's parent does not exist: {folder.parent}")
    done = Applied()
    for path in find_photos(src):
        rel = path.relative_to(src)
        try:
            image = load_image(path)
        except InvalidImageError as e:
            log.warning("skipping %s", e)
            done.skipped.append(str(path))
            continue
        target = folder / rel.with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        _one(network, cfg, image, target, metadata(network, cfg, model, str(rel)), done)
    return done


def _one(
    network: Stylizer,
    cfg: ApplyConfig,
    image: torch.Tensor,
    target: Path,
    meta: dict[str, str],
    done: Applied,
) -> Applied:
    out, seconds = paint(network, image, cfg)
    done.seconds.append(seconds)
    done.written.append(save_image(out, target, meta))
    return done

"""The studio's Instant mode: a trained style network (Johnson, Alahi & Fei-Fei 2016; see
:mod:`impasto.network`) paints a photo in one forward pass.

- The models: the bundled ones and the user's (``$IMPASTO_MODELS``, else ``~/.impasto/models``:
  the folders of :mod:`impasto.network.registry`), looked for again at every listing, so that a
  network trained while the studio runs shows up; each file's metadata is read once per version
  of the file (its size and modification time).
- The settings: :class:`~impasto.network.apply.ApplyConfig`'s fields, the same source as
  ``impasto apply``'s flags, but ``device`` (every job runs on ``impasto serve --device``).
- The worker's run: ``impasto apply``'s own functions (the pass and the colour), the result a
  PNG with the metadata ``impasto apply`` writes.

A client names a model by the ref this module made (``"bundled:FILE"`` or ``"user:FILE"``),
looked up among the files found: nothing it sends becomes part of a path.

torch, safetensors and onnxruntime are imported when a model is read or run, not when the
studio starts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impasto.errors import ConfigError, NetworkFileError
from impasto.network.info import NetworkInfo
from impasto.network.registry import MODEL_EXTENSIONS, bundled_dir, user_dir
from impasto.network.stylizer import MIN_SIDE
from impasto.preprocess.resize import fit_long_side
from impasto.web.form import FormField, settings_form
from impasto.web.sounds import RunOutcome

if TYPE_CHECKING:
    from impasto.network.apply import ApplyConfig
    from impasto.network.stylizer import Stylizer

BUNDLED, USER = "bundled", "user"
MAX_OPEN = 4  # opened networks kept for the next job (a few MB each)

# ApplyConfig's fields the form leaves out, and why (the page and the docs say so).
NOT_IN_INSTANT: dict[str, str] = {
    "device": "every job runs on the device given to `impasto serve --device`",
}

FileKey = tuple[str, int, int]  # a file's path, size and modification time (ns)


def train_hint() -> str:
    """What to do when there is no model: the command that trains one into the user's folder."""
    return (
        "train one with `impasto train PAINTING.jpg --photos DIR "
        f"-o {user_dir() / 'NAME.safetensors'}` and it shows here"
    )


@dataclass(frozen=True)
class StudioModel:
    """A model file found: ``ref`` is how a client names it; ``info`` its metadata, None when
    it cannot be used (``problem`` says why, in one line)."""

    ref: str
    name: str  # the file's stem, as `impasto models` and `impasto apply NAME` call it
    path: Path
    bundled: bool
    info: NetworkInfo | None
    problem: str | None


def _key(path: Path) -> FileKey:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def _model_files(folder: Path) -> list[Path]:
    """The model files in ``folder``, by name (the registry's rule: its extensions, files)."""
    if not folder.is_dir():
        return []
    return [
        p for p in sorted(folder.iterdir()) if p.suffix.lower() in MODEL_EXTENSIONS and p.is_file()
    ]


def _read_info(path: Path) -> NetworkInfo:
    if path.suffix.lower() == ".onnx":
        from impasto.network.export import load_onnx

        return load_onnx(path).info
    from impasto.network.modelfile import load_network

    return load_network(path).info


class Models:
    """The studio's style networks: found at each listing, each file's metadata read once per
    version, and up to ``MAX_OPEN`` opened networks kept for the next jobs (reading a file, or
    exporting it for onnxruntime, can cost more than a small picture's pass)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._about: dict[FileKey, tuple[NetworkInfo | None, str | None]] = {}
        self._open: OrderedDict[tuple[FileKey, str, str, str], Stylizer] = OrderedDict()

    def found(self) -> list[StudioModel]:
        """Every model file, bundled first, then the user's, each by name."""
        out = []
        for folder, bundled in ((bundled_dir(), True), (user_dir(), False)):
            for path in _model_files(folder):
                info, problem = self._about_file(path)
                ref = f"{BUNDLED if bundled else USER}:{path.name}"
                out.append(StudioModel(ref, path.stem, path, bundled, info, problem))
        return out

    def _about_file(self, path: Path) -> tuple[NetworkInfo | None, str | None]:
        try:
            key = _key(path)
        except OSError as e:
            return None, f"cannot read {path.name}: {e.strerror or e}"
        with self._lock:
            if key in self._about:
                return self._about[key]
        try:
            about: tuple[NetworkInfo | None, str | None] = (_read_info(path), None)
        except NetworkFileError as e:  # its message names the server's path; the name will do
            about = (None, str(e).replace(str(path), path.name))
        except ImportError as e:
            about = (None, f"reading style networks needs the network extra ({e.name} is "
                           "missing): pip install 'impasto[network]'")  # fmt: skip
        with self._lock:
            for old in [k for k in self._about if k[0] == key[0]]:  # an older version
                del self._about[old]
            self._about[key] = about
        return about

    def find(self, ref: Any) -> StudioModel:
        """The usable model ``ref`` names; ConfigError (one line) for an unknown ref or a file
        that is not an impasto style network."""
        if not isinstance(ref, str):
            raise ConfigError(f"model must be a string such as 'user:NAME.safetensors': {ref!r}")
        models = self.found()
        for model in models:
            if model.ref == ref:
                if model.problem is not None:
                    raise ConfigError(f"model {ref!r} cannot be used: {model.problem}")
                return model
        if not models:
            hint = train_hint()
            raise ConfigError(f"unknown model {ref!r}: there are no style networks yet; {hint}")
        raise ConfigError(f"unknown model {ref!r}; models: {', '.join(m.ref for m in models)}")

    def open(self, model: StudioModel, config: ApplyConfig) -> Stylizer:
        """The network of ``model`` on ``config``'s backend and device, opened once per file
        version and kept for the next jobs."""
        from impasto.network.apply import open_network

        try:
            key = (_key(model.path), config.backend.value, config.device, config.precision.value)
        except OSError as e:  # removed (or made unreadable) since the job was submitted
            raise NetworkFileError(f"cannot read {model.path.name}: {e.strerror or e}") from None
        with self._lock:
            if key in self._open:
                self._open.move_to_end(key)
                return self._open[key]
        network = open_network(model.path, config.backend, config.device, config.precision)
        with self._lock:
            self._open[key] = network
            while len(self._open) > MAX_OPEN:
                self._open.popitem(last=False)
        return network


# -- the settings form ---------------------------------------------------------------------------
@lru_cache(maxsize=1)
def instant_form_fields() -> list[FormField]:
    """ApplyConfig's form (but NOT_IN_INSTANT), as the image form is StyleConfig's."""
    from impasto.network.apply import ApplyConfig

    return settings_form(ApplyConfig, NOT_IN_INSTANT)


def build_apply_config(data: Any, *, max_size: int, device: str = "auto") -> ApplyConfig:
    """The studio's ApplyConfig from a client's JSON object, within the studio's limits.

    Raises ConfigError naming the field (the page shows it as is)."""
    from impasto.network.apply import ApplyConfig

    if not isinstance(data, dict):
        raise ConfigError("config must be a JSON object of ApplyConfig fields")
    if "device" in data:
        raise ConfigError(f"device: {NOT_IN_INSTANT['device']}")
    try:
        cfg = ApplyConfig.from_dict(data)
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError) as e:  # a JSON type the checks missed
        raise ConfigError(f"bad config: {e}") from None
    if cfg.size is not None and cfg.size > max_size:
        raise ConfigError(f"size must be at most {max_size} px in this studio, got {cfg.size}")
    return cfg.replace(device=device)


def check_backend(model: StudioModel, config: ApplyConfig) -> None:
    """Refuse, before any work, what ``open_network`` would refuse for this model on this
    backend and device: torch for an ONNX export, or onnxruntime (CPU only) when the studio
    computes on a named GPU, or in bf16."""
    from impasto.network.apply import Backend, check_onnx_precision

    onnx_file = model.path.suffix.lower() == ".onnx"
    if onnx_file and config.backend is Backend.TORCH:
        raise ConfigError(
            f"backend torch cannot run {model.path.name}, an ONNX export; choose auto or "
            "onnxruntime"
        )
    onnx = onnx_file or config.backend is Backend.ONNXRUNTIME
    check_onnx_precision(onnx, config.precision)
    if onnx and config.device not in ("auto", "cpu"):
        raise ConfigError(
            f"backend onnxruntime runs on the CPU, but this studio computes on {config.device}; "
            "choose backend torch (or a .safetensors model)"
        )


def fit_photo(config: ApplyConfig, width: int, height: int, max_size: int) -> ApplyConfig:
    """The settings for a photo of ``width`` x ``height``: no size (the photo's own) becomes
    ``max_size`` for a photo larger than the studio's limit; refused (ConfigError) when the
    picture would have a side too short for the network."""
    if config.size is None and max(width, height) > max_size:
        config = config.replace(size=max_size)
    long_side = config.size or max(width, height)
    h, w = fit_long_side(height, width, long_side)
    if min(h, w) < MIN_SIDE:
        raise ConfigError(
            f"size: the picture would be {w}x{h} px; the network needs sides of at least "
            f"{MIN_SIDE} px (raise size)"
        )
    return config


# -- the worker's part ---------------------------------------------------------------------------
@dataclass(frozen=True)
class InstantTask:
    """What an Instant-mode job runs: the model, the photo and the settings."""

    model: StudioModel
    photo: Path
    photo_name: str  # what the person picked, for the result's metadata
    config: ApplyConfig


def run_instant(models: Models, task: InstantTask, folder: Path) -> RunOutcome:
    """Paint the photo with the network and write ``result.png`` (with ``impasto apply``'s
    metadata: the model, its style, the settings, the backend) and ``preview.jpg`` into
    ``folder``. The outcome's seconds are the pass and the colour, as ``impasto apply``
    counts them (not reading the photo or writing the files)."""
    from impasto.io.images import load_image, save_image
    from impasto.network.apply import metadata, paint

    cfg = task.config
    network = models.open(task.model, cfg)
    image = load_image(task.photo)
    out, seconds = paint(network, image, cfg)
    save_image(out, folder / "result.png", metadata(network, cfg, task.model.path.name,
                                                    task.photo_name))  # fmt: skip
    save_image(out, folder / "preview.jpg")
    return RunOutcome(seconds, None, 1)

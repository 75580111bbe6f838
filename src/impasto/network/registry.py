"""Where models live: the bundled ones (``impasto/data/models``, shipped with the package) and
the user's (``$IMPASTO_MODELS``, else ``~/.impasto/models``), so that ``impasto apply`` takes a
model by name as well as by path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from impasto.errors import NetworkFileError
from impasto.network.info import NetworkInfo
from impasto.network.modelfile import load_network

MODEL_EXTENSIONS = (".safetensors", ".onnx")


def bundled_dir() -> Path:
    import impasto.data

    return Path(impasto.data.__file__).parent / "models"


def user_dir() -> Path:
    """``$IMPASTO_MODELS``, else ``~/.impasto/models``."""
    env = os.environ.get("IMPASTO_MODELS")
    if env:
        return Path(env)
    try:
        return Path.home() / ".impasto" / "models"
    except RuntimeError:
        return Path("impasto-models")


@dataclass(frozen=True)
class ModelEntry:
    """One model file found: its name (the file's stem), path, whether it is bundled, and its
    metadata (None for an ONNX export or a file that is not an impasto network)."""

    name: str
    path: Path
    bundled: bool
    info: NetworkInfo | None


def list_models() -> list[ModelEntry]:
    """Every model file in the bundled and the user's folders, bundled first, by name."""
    out = []
    for folder, bundled in ((bundled_dir(), True), (user_dir(), False)):
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() not in MODEL_EXTENSIONS or not p.is_file():
                continue
            info = None
            if p.suffix.lower() == ".safetensors":
                try:
                    info = load_network(p).info
                except NetworkFileError:
                    pass
            out.append(ModelEntry(p.stem, p, bundled, info))
    return out


def find_model(name: str | os.PathLike[str]) -> Path:
    """``name`` itself when it is a file, else the model of that name (stem) among
    :func:`list_models`'s, a ``.safetensors`` file before an ``.onnx`` one."""
    p = Path(name)
    if p.is_file():
        return p
    matches = [e.path for e in list_models() if e.name == str(name)]
    if not matches:
        raise NetworkFileError(
            f"no model file or model named {str(name)!r} (see `impasto models`; user models "
            f"go in {user_dir()})"
        )
    return sorted(matches, key=lambda m: m.suffix.lower() != ".safetensors")[0]

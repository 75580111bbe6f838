"""The bundled style networks (src/impasto/data/models, made by `make models`): each loads as an
impasto network, its metadata names its style and the style file's SHA-256, it is stored small
(float16), `impasto models` finds it and a 64 px apply runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from impasto.network.config import NetworkConfig, TrainConfig
from impasto.network.modelfile import StyleNetwork, load_network
from impasto.network.registry import bundled_dir, find_model, list_models

STYLES = ("starry_night", "the_scream", "starry_night_fast")
PAINTING = {"starry_night_fast": "starry_night"}  # the Makefile's MODEL_PAINTING_<name>


def _painting(name: str) -> str:
    return f"{PAINTING.get(name, name)}.jpg"


@pytest.mark.parametrize("name", STYLES)
def test_a_bundled_network_loads_and_names_its_style(name: str, samples_dir: Path) -> None:
    path = bundled_dir() / f"{name}.safetensors"
    assert path.is_file(), "run `make models`"
    net = load_network(path)
    assert isinstance(net, StyleNetwork)
    # The default shape (measured in docs/network.md), or the width and resize its recipe asks for.
    recipe = _recipe(name)
    width = float(recipe.get("width", NetworkConfig().width))
    upsample = recipe.get("upsample", NetworkConfig().upsample.value)
    assert net.info.network == NetworkConfig(width=width, upsample=upsample)  # type: ignore[arg-type]
    assert net.info.style_name == _painting(name)
    sample = samples_dir / _painting(name)
    assert net.info.style_sha256 == hashlib.sha256(sample.read_bytes()).hexdigest()
    training = net.info.training
    assert training["steps_run"] > 0 and training["seconds"] > 0
    assert training["precision"] in ("fp32", "bf16")
    assert path.stat().st_size < 1_000_000  # float16 storage: small enough to commit


@pytest.mark.parametrize("name", STYLES)
def test_a_bundled_network_paints_a_small_photo(name: str) -> None:
    net = load_network(find_model(name))
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    out = net.stylize(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert float(out.std()) > 0.02  # a picture, not a flat field


def test_impasto_models_lists_the_bundled_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPASTO_MODELS", str(tmp_path))  # no user models
    bundled = {e.name: e for e in list_models() if e.bundled}
    assert set(STYLES) <= set(bundled)
    for name in STYLES:
        info = bundled[name].info
        assert info is not None and info.style_name == _painting(name)


def _makefile() -> dict[str, str]:
    """The Makefile's ``NAME ?= value`` settings, continuation lines joined."""
    text = (Path(__file__).resolve().parents[2] / "Makefile").read_text().replace("\\\n", " ")
    return dict(ln.split(" ?= ", 1) for ln in text.splitlines() if " ?= " in ln)


def _recipe(name: str) -> dict[str, str]:
    """The Makefile's MODEL_FLAGS and MODEL_RECIPE_<name>, flag by flag (the later wins;
    a $(VARIABLE) inside is expanded)."""
    settings = _makefile()

    def value(variable: str) -> list[str]:
        words = settings[variable].split()
        return [w for word in words for w in (value(word[2:-1]) if word[:2] == "$(" else [word])]

    words = value("MODEL_FLAGS") + value(f"MODEL_RECIPE_{name}")
    flags: dict[str, str] = {}
    for i, word in enumerate(words):
        if word.startswith("--"):
            following = words[i + 1] if i + 1 < len(words) else ""
            flags[word[2:].replace("-", "_")] = "" if following.startswith("--") else following
    return flags


@pytest.mark.parametrize("name", STYLES)
def test_a_bundled_network_was_trained_by_the_makefiles_recipe(name: str) -> None:
    """What `make models` would run is what the shipped file records having run."""
    training = load_network(bundled_dir() / f"{name}.safetensors").info.training
    recipe = _recipe(name)
    keys = ("batch_size", "crop_size", "style_scale", "content_weight", "lr", "minutes", "steps")
    for key in keys:
        assert float(training[key]) == float(recipe[key]), key
    tv_weight = recipe.get("tv_weight", TrainConfig.__dataclass_fields__["tv_weight"].default)
    assert float(training["tv_weight"]) == float(tv_weight)  # type: ignore[arg-type]
    assert training["validation"] == int(recipe["validation"])


def test_make_models_trains_every_bundled_network_on_its_painting() -> None:
    settings = _makefile()
    assert settings["MODEL_STYLES"].split() == list(STYLES)
    for name in STYLES:
        painting = settings.get(f"MODEL_PAINTING_{name}", name)
        assert f"{painting}.jpg" == _painting(name)

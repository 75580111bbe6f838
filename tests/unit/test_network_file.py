"""Model files: safetensors with impasto's metadata; load_network refuses anything else in one
line; the loaded network stylizes a Pillow image, a path, a tensor and a batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from impasto.errors import NetworkFileError, OutputError
from impasto.network.config import NetworkConfig
from impasto.network.info import NetworkInfo
from impasto.network.model import build_network
from impasto.network.modelfile import StyleNetwork, load_network, save_network

SMALL = NetworkConfig(width=0.125, blocks=1)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    info = NetworkInfo(SMALL, "painting.png", "ab" * 32, {"steps": 3, "lr": 0.001})
    return save_network(build_network(SMALL, seed=4), tmp_path / "style.safetensors", info)


def test_save_and_load_round_trip(model_file: Path) -> None:
    from safetensors import safe_open

    net = load_network(model_file)
    original = build_network(SMALL, seed=4)
    for k, v in original.state_dict().items():
        assert torch.equal(net.model.state_dict()[k], v), k
    assert net.info.network == SMALL
    assert net.info.style_name == "painting.png" and net.info.style_sha256 == "ab" * 32
    assert net.info.training == {"steps": 3, "lr": 0.001}
    with safe_open(str(model_file), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "impasto-style-network"
    assert json.loads(meta["network"]) == {"width": 0.125, "blocks": 1, "upsample": "nearest"}
    assert meta["impasto_version"]


def test_it_stylizes_pillow_paths_tensors_and_batches(model_file: Path, tmp_path: Path) -> None:
    net = load_network(model_file)
    x = torch.rand(2, 3, 24, 36, generator=torch.Generator().manual_seed(0))
    kept = x.clone()
    batch = net.stylize(x)
    assert batch.shape == x.shape and torch.equal(x, kept)
    single = net.stylize(x[1])
    assert single.shape == (3, 24, 36)
    assert torch.allclose(single, batch[1], atol=1e-5)
    pil = Image.fromarray((x[0].permute(1, 2, 0).numpy() * 255).astype("uint8"))
    out = net.stylize(pil)
    assert isinstance(out, Image.Image) and out.size == (36, 24)
    path = tmp_path / "photo.png"
    pil.save(path)
    from_path = net.stylize(path, size=18)
    assert isinstance(from_path, Image.Image) and from_path.size == (18, 12)
    both = net.stylize([path, x[0]])
    assert isinstance(both[0], Image.Image) and isinstance(both[1], torch.Tensor)


def test_trained_result_saves_a_loadable_file(
    tmp_path: Path, tiny_weights: object, content_path: Path, style_path: Path
) -> None:
    from impasto.network.config import TrainConfig
    from impasto.network.train import train_network

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(content_path).save(photos / "a.png")
    cfg = TrainConfig(steps=2, batch_size=1, crop_size=32, precision="fp32", validation=0)
    result = train_network(style_path, photos, cfg, SMALL, weights=tiny_weights)  # type: ignore[arg-type]
    saved = result.save(tmp_path / "trained.safetensors")
    net = load_network(saved)
    assert net.info.style_name == "style.png"
    assert net.info.training["steps_run"] == 2 and net.info.training["precision"] == "fp32"
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(net.stylize(x), result.network.stylize(x))


@pytest.mark.parametrize("kind", ["missing", "text", "png", "plain_safetensors", "truncated"])
def test_load_refuses_what_is_not_an_impasto_network(
    kind: str, tmp_path: Path, model_file: Path
) -> None:
    from safetensors.torch import save_file

    p = tmp_path / f"{kind}.safetensors"
    if kind == "text":
        p.write_text("hello")
    elif kind == "png":
        Image.new("RGB", (8, 8)).save(p, format="PNG")
    elif kind == "plain_safetensors":
        save_file({"w": torch.zeros(2)}, str(p), metadata={"format": "pt"})
    elif kind == "truncated":
        p.write_bytes(model_file.read_bytes()[:200])
    with pytest.raises(NetworkFileError) as info:
        load_network(p)
    message = str(info.value)
    assert "\n" not in message and str(p) in message


def test_weights_that_do_not_fit_the_metadata_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "odd.safetensors"
    save_network(build_network(SMALL), p, NetworkInfo(NetworkConfig(width=0.25, blocks=1)))
    with pytest.raises(NetworkFileError, match="do not fit"):
        load_network(p)


def test_save_refuses_a_bad_path(tmp_path: Path) -> None:
    net = StyleNetwork(build_network(SMALL), NetworkInfo(SMALL))
    with pytest.raises(OutputError, match="extension"):
        net.save(tmp_path / "x.pt")
    with pytest.raises(OutputError, match="does not exist"):
        net.save(tmp_path / "nope" / "x.safetensors")


def test_half_storage_halves_the_file_and_loads_as_float32(tmp_path: Path) -> None:
    """The bundled models are stored as float16: half the bytes, loaded back as a float32
    network whose output moves by far less than one 8-bit level."""
    from safetensors import safe_open

    model = build_network(SMALL, seed=4)
    info = NetworkInfo(SMALL, "painting.png", "ab" * 32)
    full = save_network(model, tmp_path / "full.safetensors", info)
    half = save_network(model, tmp_path / "half.safetensors", info, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    with safe_open(str(half), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    a, b = load_network(full), load_network(half)
    assert {p.dtype for p in b.model.parameters()} == {torch.float32}
    x = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    assert float((a.stylize(x) - b.stylize(x)).abs().max()) < 1 / 255

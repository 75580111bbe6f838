"""The transformation network (Johnson et al. 2016 with instance norm, reflection padding and
resize-convolutions): shapes, range, and no checkerboard by construction."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from impasto.errors import ConfigError
from impasto.network.config import NetworkConfig, Upsample
from impasto.network.info import NetworkInfo
from impasto.network.model import TransformNet, build_network
from impasto.network.modelfile import load_network, save_network


@pytest.mark.parametrize("upsample", list(Upsample))
@pytest.mark.parametrize("hw", [(32, 32), (33, 47), (40, 21), (64, 50)])
def test_any_size_comes_out_the_same_size_in_range(hw: tuple[int, int], upsample: str) -> None:
    net = build_network(NetworkConfig(width=0.125, blocks=1, upsample=upsample), seed=0).eval()
    x = torch.rand(2, 3, *hw, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape
    assert y.dtype == torch.float32
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


@pytest.mark.parametrize("upsample", list(Upsample))
def test_a_constant_image_maps_to_a_near_constant_image(upsample: str) -> None:
    """Resize-convolutions replicate pixels before convolving, so a flat input gives no
    periodic pattern (transposed convolutions would: Odena et al. 2016). The weights are
    perturbed first so that no layer is at its initial values (instance norm's unit scale)."""
    net = build_network(NetworkConfig(width=0.25, blocks=2, upsample=upsample), seed=3)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.1)
    x = torch.full((1, 3, 48, 48), 0.4, dtype=torch.float64)
    x[:, 1] = 0.7
    with torch.no_grad():  # float64: instance norm of a flat map divides by sqrt(eps), which
        y = net.double()(x)  # would lift float32's rounding of a bilinear blend to 1e-3
    inner = y[..., 8:-8, 8:-8]
    spread = inner.amax(dim=(-2, -1)) - inner.amin(dim=(-2, -1))
    assert float(spread.max()) < 1e-4


def test_the_same_seed_gives_the_same_weights_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_network(NetworkConfig(width=0.125, blocks=1), seed=7)
    after = torch.rand(1)
    b = build_network(NetworkConfig(width=0.125, blocks=1), seed=7)
    assert torch.equal(before, after)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


def test_width_and_blocks_shape_the_network() -> None:
    small = TransformNet(NetworkConfig(width=0.25, blocks=1))
    full = TransformNet(NetworkConfig(width=1.0, blocks=5))
    assert small.config.channels == (8, 16, 32)
    assert full.config.channels == (32, 64, 128)
    assert len(small.res) == 1 and len(full.res) == 5
    count = sum(p.numel() for p in full.parameters())
    assert 1_500_000 < count < 1_800_000  # Johnson et al.'s network: about 1.7M parameters


def _textured() -> tuple[TransformNet, torch.Tensor]:
    net = build_network(NetworkConfig(width=0.125, blocks=1), seed=2)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.2)
    return net, torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(4))


def test_bilinear_changes_only_the_decoders_resize() -> None:
    """The same weights paint a different picture with the other resize; the parameters
    (and so a model file's tensors) are the same."""
    nearest, x = _textured()
    bilinear = TransformNet(NetworkConfig(width=0.125, blocks=1, upsample="bilinear"))
    bilinear.load_state_dict(nearest.state_dict(), strict=True)
    with torch.no_grad():
        a, b = nearest.eval()(x), bilinear.eval()(x)
    assert float((a - b).abs().mean()) > 1e-3


def test_a_model_file_keeps_its_upsample_and_old_files_read_as_nearest(tmp_path: Path) -> None:
    _, x = _textured()
    net = TransformNet(NetworkConfig(width=0.125, blocks=1, upsample="bilinear"))
    path = save_network(net, tmp_path / "b.safetensors", NetworkInfo(net.config))
    loaded = load_network(path)
    assert loaded.info.network.upsample is Upsample.BILINEAR
    with torch.no_grad():
        assert torch.equal(loaded.model.eval()(x), net.eval()(x))
    old = NetworkConfig.from_dict({"width": 0.125, "blocks": 1})  # written before the field
    assert old.upsample is Upsample.NEAREST


@pytest.mark.parametrize(
    "changes",
    [
        {"width": 0},
        {"width": -1.0},
        {"width": 8.0},
        {"blocks": -1},
        {"blocks": 1.5},
        {"upsample": "cubic"},
    ],
)
def test_bad_shapes_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(changes))):
        NetworkConfig(**changes)  # type: ignore[arg-type]

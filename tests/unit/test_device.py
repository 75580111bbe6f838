"""Devices (issue 18), tested without a GPU: the device choice, the arithmetic per device and
the memory threshold with the device's properties faked; bad devices refused before any work.
Tests marked ``gpu`` need a CUDA GPU and are skipped, saying so, where there is none."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from impasto import ConfigError, DeviceError, StyleConfig, stylize
from impasto.config import Precision
from impasto.features import device as dev
from impasto.losses.memory import AUTO_TILE, TILE_ABOVE, tile_for
from impasto.optim.pyramid import plan_scales

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine, as torch would see it with two CUDA GPUs."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Fake GPU")


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)


def test_auto_prefers_cuda_then_mps_then_the_cpu(monkeypatch, no_gpu) -> None:
    assert dev.resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert dev.resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert dev.resolve_device("auto") == torch.device("cuda", 0)


def test_named_devices_must_exist(two_gpus) -> None:
    assert dev.resolve_device("cuda:1") == torch.device("cuda", 1)
    assert dev.resolve_device("cuda") == torch.device("cuda", 0)
    with pytest.raises(ConfigError, match=r"no GPU 2; this machine has 2 \(cuda:0 to cuda:1\)"):
        dev.resolve_device("cuda:2")
    assert dev.describe(torch.device("cuda", 1)) == "cuda:1 (Fake GPU)"


@pytest.mark.usefixtures("no_gpu")
@pytest.mark.parametrize(
    ("spec", "message"),
    [("cuda", "has no CUDA GPU"), ("cuda:0", "has no CUDA GPU"), ("mps", "Metal")],
)
def test_absent_devices_are_refused_up_front(spec: str, message: str, tmp_path: Path) -> None:
    from impasto.api import check_settings

    with pytest.raises(ConfigError, match=message):
        check_settings(StyleConfig(device=spec))
    with pytest.raises(ConfigError, match=message):  # before the missing files are opened
        stylize(tmp_path / "missing.png", tmp_path / "missing.png", device=spec)


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cuda:-1", "", "CPU1", 3])
def test_malformed_devices_are_refused_naming_the_choices(spec: object) -> None:
    with pytest.raises(ConfigError, match=r"device .* choose auto, cpu, cuda, cuda:N or mps"):
        StyleConfig(device=spec)  # type: ignore[arg-type]
    assert StyleConfig(device="CUDA:1").device == "cuda:1"


def test_arithmetic_per_device(monkeypatch) -> None:
    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert dev.arithmetic(Precision.AUTO, cuda).name == "bf16"
    assert dev.arithmetic(Precision.FP32, cuda).name == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert dev.arithmetic(Precision.AUTO, cuda).name == "fp16"  # older GPUs: fp16 autocast
    assert dev.arithmetic(Precision.BF16, cuda).name == "fp32"  # not supported: fp32
    assert dev.arithmetic(Precision.AUTO, torch.device("mps")).name == "fp32"
    assert dev.arithmetic(Precision.BF16, torch.device("cpu")).name == "bf16"
    assert dev.arithmetic(Precision.FP32, torch.device("cpu")).name == "fp32"
    named = dev.Arithmetic.named(torch.device("cuda", 1), "fp16")
    assert named.device == torch.device("cuda", 1) and named.dtype is torch.float16


def test_the_tile_threshold_follows_the_devices_free_memory() -> None:
    big = (2048, 2048)  # 4.2 MP: whole on a machine with room, tiled on a small GPU
    assert tile_for(0, big, device_free=80 * 2**30) == 0
    assert tile_for(0, big, device_free=4 * 2**30) == AUTO_TILE
    assert tile_for(0, (512, 512), device_free=4 * 2**30) == 0
    assert tile_for(128, (64, 64), device_free=80 * 2**30) == 128  # forced tiles stay
    cfg = StyleConfig(size=4096, scales=1)
    assert plan_scales(cfg, (3072, 4096), device_free=2**40)[0].tile == AUTO_TILE  # > TILE_ABOVE
    assert 3072 * 4096 > TILE_ABOVE


@pytest.mark.precision
def test_out_of_memory_is_one_line_with_the_size_that_fits(
    tiny_weights, content_tensor, style_tensor, monkeypatch
) -> None:
    import impasto.api as api

    def oom(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(api, "run_pyramid", oom)
    monkeypatch.setattr(api, "free_memory", lambda device: 4 * 2**30)
    with pytest.raises(DeviceError, match=r"out of memory on cpu at 32x32 px \(about \d+ px"):
        stylize(content_tensor, style_tensor, weights=tiny_weights, size=32, scales=1, steps=2)


@pytest.mark.precision
def test_the_device_is_recorded_and_printed(
    run_cli, content_path, style_path, weights_file, tmp_path: Path
) -> None:
    import json

    from impasto.io.images import read_metadata

    out = tmp_path / "out.png"
    argv = ["stylize", content_path, style_path, "-o", out, "--weights", weights_file]
    code, _, err = run_cli([*argv, "--size", "32", "--steps", "2", "--device", "cpu"])
    assert code == 0, err
    assert " on cpu, " in err  # printed once, when the output is written
    info = json.loads(read_metadata(out)["impasto"])
    assert info["device"] == "cpu" and info["config"]["device"] == "cpu"


@pytest.mark.usefixtures("no_gpu")
def test_cli_refuses_a_missing_gpu_before_any_work(
    run_cli, content_path, style_path, tmp_path: Path, monkeypatch
) -> None:
    import impasto.api

    monkeypatch.setattr(impasto.api, "load_image", lambda *a: pytest.fail("work started"))
    out = tmp_path / "out.png"
    code, _, err = run_cli(["stylize", content_path, style_path, "-o", out, "--device", "cuda"])
    assert code == 2 and not out.exists()
    want = "impasto: error: --device cuda: this machine has no CUDA GPU; use cpu or auto"
    assert err.strip() == want


def test_noise_is_drawn_on_the_cpu_whatever_the_device() -> None:
    """The same seed gives the same start on every device: drawn on the CPU, then moved."""
    from impasto.api import _start
    from impasto.losses.targets import TargetSources
    from impasto.optim.checkpoint import RunInputs

    cfg = StyleConfig(init="noise", seed=7)
    inputs = RunInputs(cfg, None, (16, 16), TargetSources([]))
    a, b = _start(cfg, inputs, (16, 16), False), _start(cfg, inputs, (16, 16), False)
    assert a.device.type == "cpu" and torch.equal(a, b)


@needs_gpu
def test_a_run_on_the_gpu_matches_the_cpu(tiny_weights, content_tensor, style_tensor) -> None:
    run = {"size": 32, "scales": 1, "steps": 4, "precision": "fp32", "tol": 0.0}
    cpu = stylize(content_tensor, style_tensor, weights=tiny_weights, device="cpu", **run)
    gpu = stylize(content_tensor, style_tensor, weights=tiny_weights, device="cuda", **run)
    assert gpu.sources["device"].startswith("cuda") and gpu.tensor.device.type == "cpu"
    assert float((gpu.tensor - cpu.tensor).abs().max()) < 2e-2


def test_resume_and_grid_take_a_device(
    tiny_weights, content_tensor, style_tensor, tmp_path: Path, no_gpu, run_cli, content_path,
    style_path,
) -> None:  # fmt: skip
    from impasto import Cancelled, Checkpointing, resume

    def stop(event) -> None:
        if event.step == 2:
            raise Cancelled("test stop")

    run = {"size": 32, "scales": 1, "steps": 4, "precision": "fp32", "tol": 0.0}
    with pytest.raises(Cancelled):
        stylize(
            content_tensor, style_tensor, weights=tiny_weights, callback=stop,
            checkpoint=Checkpointing(tmp_path / "ckpt"), **run,
        )  # fmt: skip
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resume(tmp_path / "ckpt", weights=tiny_weights, device="cuda")
    done = resume(tmp_path / "ckpt", weights=tiny_weights, device="cpu")
    assert done.config.device == "cpu" and done.sources["device"] == "cpu"
    argv = ["grid", content_path, style_path, "-o", tmp_path / "g.png", "--vary", "init"]
    argv += ["--device", "cuda:1"]
    code, _, err = run_cli(argv)
    assert code == 2 and "--device cuda:1: this machine has no CUDA GPU" in err


@pytest.mark.usefixtures("no_gpu")
def test_audio_takes_a_device_too(tmp_path: Path) -> None:
    import numpy as np

    from impasto.audio import transfer as audio
    from impasto.audio.config import AudioConfig

    with pytest.raises(ConfigError, match="device"):
        AudioConfig(device="gpu")
    tone = np.sin(np.linspace(0, 400 * np.pi, 8000)).astype(np.float32) * 0.3
    cfg = AudioConfig(sample_rate=8000, n_fft=256, filters=16, steps=2, griffin_lim_iters=2)
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        audio.texture(tone, 0.5, cfg.replace(device="cuda"))
    result = audio.texture(tone, 0.5, cfg.replace(device="cpu"))
    assert result.sources["device"] == "cpu" and np.isfinite(result.samples).all()


@pytest.mark.usefixtures("no_gpu")
def test_style_networks_train_and_apply_on_a_device(
    tiny_weights, style_path, tmp_path: Path, run_cli
) -> None:
    """train and apply take --device: refused before any work where the machine lacks it;
    onnxruntime (its CPU build) is not sent to a GPU."""
    from impasto.network.apply import ApplyConfig, open_network
    from impasto.network.config import TrainConfig
    from impasto.network.train import train_network

    with pytest.raises(ConfigError, match="device"):
        TrainConfig(device="gpu")
    with pytest.raises(ConfigError, match="no CUDA GPU"):  # the folder is never read
        train_network(style_path, tmp_path / "missing", TrainConfig(device="cuda"))
    assert ApplyConfig(device="CPU").device == "cpu"
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        open_network(tmp_path / "missing.safetensors", device="cuda")
    code, _, err = run_cli(["apply", tmp_path / "m.safetensors", style_path, "-o",
                            tmp_path / "o.png", "--device", "cuda:0"])  # fmt: skip
    assert code == 2 and "no CUDA GPU" in err and not (tmp_path / "o.png").exists()


def test_onnxruntime_stays_on_the_cpu(monkeypatch, tmp_path: Path, two_gpus) -> None:
    from impasto.network.apply import open_network

    with pytest.raises(ConfigError, match="onnxruntime runs on the CPU here"):
        open_network(tmp_path / "m.onnx", device="cuda")


def test_training_and_applying_out_of_memory_is_one_line(monkeypatch, tmp_path: Path) -> None:
    import impasto.network.apply as apply_module
    import impasto.network.train as train_module
    from impasto.network.apply import ApplyConfig

    def oom(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(apply_module, "stylize_image", oom)
    with pytest.raises(DeviceError, match="out of memory on cpu at 8x6 px: lower size"):
        apply_module._one(None, ApplyConfig(device="cpu"), torch.zeros(1, 3, 6, 8),  # type: ignore[arg-type]
                          tmp_path / "o.png", {}, apply_module.Applied())  # fmt: skip

    class Trainer:
        inputs = type("I", (), {"config": type("C", (), {"batch_size": 4, "crop_size": 256})})

        def train_step(self) -> None:
            oom()

    with pytest.raises(DeviceError, match="4 crops of 256 px: lower batch_size or crop_size"):
        train_module._step(Trainer(), torch.device("cpu"))  # type: ignore[arg-type]

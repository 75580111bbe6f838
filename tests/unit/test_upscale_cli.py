"""``impasto upscale`` and ``impasto train-upscaler`` in process: outputs of the right size,
refusals in one line with exit status 2 and nothing written, a folder, and a training run
that resumes from its checkpoint."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import impasto.superres.apply as apply_module
from impasto.superres.config import UpscalerConfig
from impasto.superres.model import build_upscaler
from impasto.superres.modelfile import UpscalerInfo, load_upscaler, save_upscaler

CliRunner = Callable[[Sequence[object]], tuple[int, str, str]]
TINY = UpscalerConfig(features=8, shrink=4, mapping=1)


def header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (valid CRCs), with no real pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    model = build_upscaler(TINY, 1)
    with torch.no_grad():
        for p in model.heads.parameters():
            p.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))
    return save_upscaler(model, tmp_path / "tiny.safetensors", UpscalerInfo(TINY))


@pytest.mark.parametrize("scale", [2, 4])
def test_upscale_writes_scale_times_the_input(
    run_cli: CliRunner, content_path: Path, model_file: Path, tmp_path: Path, scale: int
) -> None:
    out = tmp_path / "big.png"
    code, _, err = run_cli(
        ["upscale", content_path, "-o", out, "--scale", scale, "--model", model_file, "--tile", 48]
    )
    assert code == 0, err
    with Image.open(out) as img:
        assert img.size == (40 * scale, 40 * scale)
        assert "impasto" in img.info


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--scale", "3"], "scale must be 2 or 4"),
        (["--backend", "onnxruntime", "--precision", "bf16"], "onnxruntime"),
        (["--tile", "8"], "--tile must be at least"),
    ],
)
def test_bad_settings_are_one_line_and_nothing_is_written(
    run_cli: CliRunner, content_path: Path, model_file: Path, tmp_path: Path,
    flags: list[str], words: str,
) -> None:  # fmt: skip
    out = tmp_path / "big.png"
    code, _, err = run_cli(["upscale", content_path, "-o", out, "--model", model_file, *flags])
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_non_image_is_refused(run_cli: CliRunner, model_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    out = tmp_path / "big.png"
    code, _, err = run_cli(["upscale", bad, "-o", out, "--model", model_file])
    assert code == 2 and err.startswith("impasto: error:") and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_an_output_larger_than_memory_is_refused_before_decoding(
    run_cli: CliRunner, model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apply_module, "memory_limit", lambda: 2**30)
    big = tmp_path / "big_header.png"
    big.write_bytes(header_only_png(3000, 3000))  # the header claims it; the pixels are not there
    out = tmp_path / "out.png"
    code, _, err = run_cli(["upscale", big, "-o", out, "--scale", "4", "--model", model_file])
    assert code == 2 and "more than this machine allows" in err, err
    assert not out.exists()


def test_a_folder_goes_to_a_folder(run_cli: CliRunner, model_file: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "sub/b.jpg"):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3)).astype(np.uint8)).save(src / name)
    code, _, err = run_cli(
        ["upscale", src, "-o", tmp_path / "out", "--scale", 2, "--model", model_file]
    )
    assert code == 0, err
    with Image.open(tmp_path / "out" / "sub" / "b.png") as img:
        assert img.size == (48, 40)


def test_train_upscaler_writes_a_model_and_resumes(
    run_cli: CliRunner, weights_file: Path, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3)).astype(np.uint8)).save(
            photos / f"{i}.png"
        )
    out = tmp_path / "up.safetensors"
    common = ["--weights", weights_file, "-q"]
    net = ["--features", 8, "--shrink", 4, "--mapping", 1]
    code, _, err = run_cli(
        ["train-upscaler", "--photos", photos, "-o", out, "--steps", 2, "--batch-size", 2,
         "--crop-size", 32, "--photo-side", 40, "--precision", "fp32", *net, *common]
    )  # fmt: skip
    assert code == 0, err
    _, info = load_upscaler(out)
    assert info.training["steps_run"] == 2 and info.network == TINY
    code, _, err = run_cli(
        ["train-upscaler", "--resume", tmp_path / "up.ckpt", "--steps", 4, *common]
    )
    assert code == 0, err
    assert load_upscaler(out)[1].training["steps_run"] == 4
    code, _, err = run_cli(
        ["train-upscaler", "--resume", tmp_path / "up.ckpt", "--lr", "0.1", *common]
    )
    assert code == 2 and "only --steps" in err


def test_train_upscaler_refuses_an_empty_folder(run_cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = tmp_path / "up.safetensors"
    code, _, err = run_cli(["train-upscaler", "--photos", tmp_path / "empty", "-o", out])
    assert code == 2 and "no photos" in err
    assert not out.exists()

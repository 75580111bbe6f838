"""Shared fixtures: a seeded tiny random VGG, tiny image files, bad files, and an in-process CLI.

Everything here is small on purpose (32-64 px images, nets 1/16 of VGG19's width): the unit and
integration suites run on a shared 2-core CPU.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from PIL import Image

import impasto.data
from impasto.features.weights import TORCHVISION_INDEX, VGGWeights, random_weights
from pictures import gradient_array, painting_array

TINY_WIDTH = 1 / 16
AUTO_PRECISIONS = ("cpu", "fp32", "bf16")


# -- what `--precision auto` picks ---------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--auto-precision",
        choices=AUTO_PRECISIONS,
        default="cpu",
        help="what `precision=auto` picks in this session: cpu (default) lets this CPU's "
        "measurement decide (impasto.features.extractor.bf16_is_faster); fp32 or bf16 force "
        "that choice, so both paths of `auto` run on any machine (`make test` runs both)",
    )


class _AutoConsulted:
    """How often ``precision=auto`` asked for the forced choice on the tests' own thread, and
    the fixtures wider than one test that asked while being set up (their value then depends
    on the choice too). Asks from other threads are not counted: a studio job's worker may or
    may not have started its run when the test stops the studio, so the studio tests that run
    jobs are marked by hand (those seen asking), not by this check."""

    calls = 0
    fixtures: ClassVar[set[str]] = set()


@pytest.fixture(scope="session", autouse=True)
def _forced_auto_precision(request: pytest.FixtureRequest) -> Iterator[None]:
    """With ``--auto-precision fp32`` or ``bf16``, ``auto`` picks that in this whole session
    (this process only: a test that runs impasto in a subprocess and compares numbers pins
    ``--precision`` itself)."""
    forced = request.config.getoption("--auto-precision")
    if forced == "cpu":
        yield
        return
    import impasto.features.extractor as extractor

    def choice() -> bool:
        if threading.current_thread() is threading.main_thread():
            _AutoConsulted.calls += 1
        return forced == "bf16"

    with pytest.MonkeyPatch.context() as m:
        m.setattr(extractor, "bf16_is_faster", choice)
        yield


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[object]) -> Iterator[object]:
    before = _AutoConsulted.calls
    result = yield
    if fixturedef.scope != "function" and _AutoConsulted.calls > before:
        _AutoConsulted.fixtures.add(fixturedef.argname)
    return result


@pytest.fixture(autouse=True)
def _precision_marked(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test whose path asks what ``auto`` picks must carry ``@pytest.mark.precision``: the
    second pass of `make test` (``-m precision --auto-precision=bf16``) runs only those, so an
    unmarked one would never run the other way. Checked whenever the choice is forced."""
    before = _AutoConsulted.calls
    yield
    if request.config.getoption("--auto-precision") == "cpu":
        return
    asked = _AutoConsulted.calls > before or bool(
        _AutoConsulted.fixtures & set(request.fixturenames)
    )
    if asked and request.node.get_closest_marker("precision") is None:
        pytest.fail(
            "this test's outcome depends on what precision=auto picks: mark it "
            "@pytest.mark.precision so that make test's bf16 pass runs it",
            pytrace=False,
        )


# Where the CPU has no bf16 instructions (AVX2 only), bf16 is emulated: a test of the tiny nets
# took 173 s with bf16 forced against 7 s in fp32 on such a machine (an AMD EPYC VM, loaded).
EMULATED_BF16_SLOWER = 20


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With bf16 forced on a CPU that emulates it, each test's time limit (pytest-timeout's
    ini value or its own mark) is EMULATED_BF16_SLOWER times longer."""
    if config.getoption("--auto-precision") != "bf16":
        return
    from impasto.features.extractor import cpu_has_native_bf16

    if cpu_has_native_bf16():
        return
    base = float(config.getini("timeout") or 0)
    for item in items:
        mark = item.get_closest_marker("timeout")
        seconds = float(mark.args[0]) if mark is not None and mark.args else base
        if seconds > 0:
            item.add_marker(pytest.mark.timeout(seconds * EMULATED_BF16_SLOWER), append=False)


@pytest.fixture(scope="session")
def auto_precision(_forced_auto_precision: None) -> str:
    """What ``auto`` picks in this session: "fp32" or "bf16", forced or measured here."""
    from impasto.config import Precision
    from impasto.features.extractor import use_bf16

    return "bf16" if use_bf16(Precision.AUTO) else "fp32"


# -- networks ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The bundled sample photos and paintings (src/impasto/data/samples)."""
    return Path(impasto.data.__file__).parent / "samples"


@pytest.fixture(scope="session")
def tiny_weights() -> VGGWeights:
    """A seeded, randomly initialised VGG19-shaped net, 1/16 of the real width."""
    return random_weights(seed=0, width=TINY_WIDTH)


def torchvision_state(weights: VGGWeights) -> dict[str, torch.Tensor]:
    """``weights`` as a torchvision ``vgg19().state_dict()`` (``features.{k}.weight`` keys)."""
    state: dict[str, torch.Tensor] = {}
    for name, (w, b) in weights.convs.items():
        k = TORCHVISION_INDEX[name]
        state[f"features.{k}.weight"] = w.clone()
        state[f"features.{k}.bias"] = b.clone()
    return state


@pytest.fixture
def tv_state(tiny_weights: VGGWeights) -> dict[str, torch.Tensor]:
    """A fresh torchvision-format state dict of the tiny net (safe to modify)."""
    return torchvision_state(tiny_weights)


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory: pytest.TempPathFactory, tiny_weights: VGGWeights) -> Path:
    """A torch.save'd torchvision-format state dict of the tiny net, for ``--weights``."""
    path = tmp_path_factory.mktemp("weights") / "tiny_vgg19.pth"
    torch.save(torchvision_state(tiny_weights), path)
    return path


# -- images --------------------------------------------------------------------------------------
@pytest.fixture
def content_path(tmp_path: Path) -> Path:
    """A 40x40 gradient 'photo' saved as PNG (square, so every VGG level stays >= 2 px)."""
    p = tmp_path / "content.png"
    Image.fromarray(gradient_array(40, 40)).save(p)
    return p


@pytest.fixture
def style_path(tmp_path: Path) -> Path:
    """A 48x48 striped/checkered 'painting' saved as PNG."""
    p = tmp_path / "style.png"
    Image.fromarray(painting_array(48, 48)).save(p)
    return p


@pytest.fixture
def content_tensor() -> torch.Tensor:
    x = torch.from_numpy(gradient_array(32, 32)).permute(2, 0, 1)[None].float() / 255.0
    return x.contiguous()


@pytest.fixture
def style_tensor() -> torch.Tensor:
    x = torch.from_numpy(painting_array(32, 32)).permute(2, 0, 1)[None].float() / 255.0
    return x.contiguous()


# -- bad files -----------------------------------------------------------------------------------
def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def crafted_png(width: int, height: int) -> bytes:
    """A PNG with valid CRCs whose IHDR claims ``width`` x ``height`` and a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + png_chunk(b"IEND", b"")
    )


def _noise_image(seed: int, size: int = 32) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


@pytest.fixture
def bad_images(tmp_path: Path) -> dict[str, Path]:
    """Inputs no run may accept, by name: each must give a clean InvalidImageError."""
    d = tmp_path / "bad"
    d.mkdir()
    out: dict[str, Path] = {}

    out["missing"] = d / "does_not_exist.png"

    out["directory"] = d / "a_folder.png"
    out["directory"].mkdir()

    out["text"] = d / "notes.png"
    out["text"].write_text("this is not an image\n")

    good_jpeg = d / "good.jpg"
    _noise_image(1).save(good_jpeg, quality=90)
    data = good_jpeg.read_bytes()
    out["truncated_jpeg"] = d / "truncated.jpg"
    out["truncated_jpeg"].write_bytes(data[: len(data) // 2])

    good_png = d / "good.png"
    _noise_image(2).save(good_png)
    data = good_png.read_bytes()
    out["truncated_png"] = d / "truncated.png"
    out["truncated_png"].write_bytes(data[: len(data) // 2])

    # Flip bytes in the middle of the (compressed) pixel data: zlib or the CRC check trips.
    i = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[i - 4 : i])
    mid = i + 4 + length // 2
    corrupt = bytearray(data)
    for k in range(mid, mid + 8):
        corrupt[k] ^= 0xFF
    out["corrupt_png"] = d / "corrupt.png"
    out["corrupt_png"].write_bytes(bytes(corrupt))

    out["zero_side"] = d / "zero_width.png"
    out["zero_side"].write_bytes(crafted_png(0, 32))

    out["bomb"] = d / "bomb.png"
    out["bomb"].write_bytes(crafted_png(100_000, 100_000))
    return out


# -- the command line, in-process ----------------------------------------------------------------
CliRunner = Callable[[Sequence[str]], tuple[int, str, str]]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run ``impasto.cli.main(argv)`` in this process: returns (exit code, stdout, stderr).

    argparse errors leave through SystemExit; its code is returned like main()'s. Any other
    exception (a crash) propagates and fails the test.
    """
    from impasto.cli import main

    def run(argv: Sequence[str]) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run

"""The command line, in-process, on good inputs: it writes what it says it writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import impasto
from impasto.io.images import load_image, read_metadata
from impasto.layers import LAYER_NAMES

QUICK = ["--size", "32", "--steps", "3", "-q"]


def _argv(content: Path, style: Path, out: Path, weights: Path) -> list[str]:
    return ["stylize", str(content), str(style), "-o", str(out), "--weights", str(weights), *QUICK]


@pytest.mark.precision
def test_run_writes_output(run_cli, content_path, style_path, weights_file, tmp_path) -> None:
    out = tmp_path / "result.png"
    code, stdout, stderr = run_cli(_argv(content_path, style_path, out, weights_file))
    assert code == 0, stderr
    assert stdout == ""
    assert stderr == ""  # -q: no progress bar, no "wrote" line
    assert out.is_file()
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (32, 32)
    info = json.loads(read_metadata(out)["impasto"])
    assert info["config"]["size"] == 32
    assert info["config"]["steps"] == 3
    assert info["content"] == str(content_path)
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []


@pytest.mark.precision
def test_flags_reach_the_config(run_cli, content_path, style_path, weights_file, tmp_path) -> None:
    out = tmp_path / "flags.png"
    code, _, stderr = run_cli(
        [
            *_argv(content_path, style_path, out, weights_file),
            "--optimizer",
            "adam",
            "--lr",
            "0.05",
            "--seed",
            "9",
            "--init",
            "noise",
            "--style-layers",
            "upto3",
            "--style-layer-weights",
            "1,2,3",
            "--content-layers",
            "relu2_2",
            "--style-weight",
            "100",
            "--tv-weight",
            "0",
            "--pooling",
            "max",
            "--padding",
            "replicate",
        ]
    )
    assert code == 0, stderr
    cfg = json.loads(read_metadata(out)["impasto"])["config"]
    assert cfg["optimizer"] == "adam" and cfg["lr"] == 0.05 and cfg["seed"] == 9
    assert cfg["init"] == "noise"
    assert cfg["style_layers"] == ["relu1_1", "relu2_1", "relu3_1"]
    assert cfg["style_layer_weights"] == [1.0, 2.0, 3.0]
    assert cfg["content_layers"] == ["relu2_2"]
    assert cfg["style_weight"] == 100.0 and cfg["tv_weight"] == 0.0
    assert cfg["pooling"] == "max" and cfg["padding"] == "replicate"
    # flags not given keep the StyleConfig defaults
    assert cfg["content_weight"] == impasto.StyleConfig().content_weight


@pytest.mark.precision
def test_same_seed_same_picture(run_cli, content_path, style_path, weights_file, tmp_path) -> None:
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        code, _, stderr = run_cli(
            [*_argv(content_path, style_path, out, weights_file), "--init", "noise"]
        )
        assert code == 0, stderr
    arrays = []
    for p in outs:
        with Image.open(p) as img:
            arrays.append(np.asarray(img.convert("RGB")))
    assert np.array_equal(arrays[0], arrays[1])


@pytest.mark.precision
@pytest.mark.parametrize("ext", ["jpg", "webp"])
def test_output_format_by_extension(
    run_cli, content_path, style_path, weights_file, tmp_path, ext: str
) -> None:
    out = tmp_path / f"result.{ext}"
    code, _, stderr = run_cli(_argv(content_path, style_path, out, weights_file))
    assert code == 0, stderr
    with Image.open(out) as img:
        assert img.format == {"jpg": "JPEG", "webp": "WEBP"}[ext]


@pytest.mark.precision
def test_progress_and_wrote_line_without_quiet(
    run_cli, content_path, style_path, weights_file, tmp_path
) -> None:
    out = tmp_path / "loud.png"
    argv = [a for a in _argv(content_path, style_path, out, weights_file) if a != "-q"]
    code, stdout, stderr = run_cli(argv)
    assert code == 0
    assert stdout == ""
    assert "total=" in stderr  # the progress bar's loss readout
    assert f"wrote {out}" in stderr


@pytest.mark.precision
def test_save_every_writes_snapshots(
    run_cli, content_path, style_path, weights_file, tmp_path
) -> None:
    out = tmp_path / "run.png"
    code, _, stderr = run_cli(
        [*_argv(content_path, style_path, out, weights_file), "--save-every", "1"]
    )
    assert code == 0, stderr
    snaps = tmp_path / "run_steps"  # OUTPUT's stem + "_steps", next to OUTPUT
    assert snaps.is_dir()
    names = sorted(p.name for p in snaps.iterdir())
    assert names, "no snapshot written"
    assert all(re.fullmatch(r"step_000\d\d\.png", n) for n in names), names
    assert names[-1] == "step_00003.png"  # every reported step, up to the last of 3
    assert load_image(snaps / names[-1]).shape == (1, 3, 32, 32)
    assert out.is_file()


@pytest.mark.precision
def test_save_every_two_with_snapshot_dir(
    run_cli, content_path, style_path, weights_file, tmp_path
) -> None:
    out = tmp_path / "run.png"
    snaps = tmp_path / "my_snaps"
    code, _, stderr = run_cli(
        [
            *_argv(content_path, style_path, out, weights_file),
            "--steps",
            "4",
            "--save-every",
            "2",
            "--snapshot-dir",
            str(snaps),
        ]
    )
    assert code == 0, stderr
    assert sorted(p.name for p in snaps.iterdir()) == ["step_00002.png", "step_00004.png"]
    assert not (tmp_path / "run_steps").exists()


def _save_mode(path: Path, mode: str) -> None:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    if mode == "L":
        rgb.convert("L").save(path)
    elif mode == "RGBA":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize((40, 40)))
        rgba.save(path)
    elif mode == "P":
        rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(path)
    elif mode == "CMYK":
        rgb.convert("CMYK").save(path, quality=95)
    elif mode == "I;16":
        Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257).save(path)


@pytest.mark.precision
@pytest.mark.parametrize(
    ("mode", "name"),
    [
        ("L", "gray.png"),
        ("RGBA", "alpha.png"),
        ("P", "palette.png"),
        ("CMYK", "cmyk.jpg"),
        ("I;16", "gray16.png"),
    ],
)
def test_any_image_mode_runs(
    run_cli, style_path, weights_file, tmp_path, mode: str, name: str
) -> None:
    content = tmp_path / name
    _save_mode(content, mode)
    with Image.open(content) as check:
        assert check.mode == mode
    out = tmp_path / f"out_{mode.replace(';', '')}.png"
    code, _, stderr = run_cli(_argv(content, style_path, out, weights_file))
    assert code == 0, stderr
    with Image.open(out) as img:
        assert img.mode == "RGB" and img.size == (32, 32)


@pytest.mark.precision
def test_multi_scale_run(run_cli, content_path, style_path, weights_file, tmp_path) -> None:
    out = tmp_path / "ms.png"
    code, _, stderr = run_cli(
        [
            *_argv(content_path, style_path, out, weights_file),
            "--size",
            "64",
            "--scales",
            "2",
            "--min-size",
            "32",
            "--steps",
            "4",
        ]
    )
    assert code == 0, stderr
    assert json.loads(read_metadata(out)["impasto"])["config"]["scales"] == 2
    with Image.open(out) as img:
        assert img.size == (64, 64)


def test_layers_command(run_cli) -> None:
    code, stdout, stderr = run_cli(["layers"])
    assert code == 0 and stderr == ""
    assert stdout.split() == list(LAYER_NAMES)


def test_version(run_cli) -> None:
    code, stdout, _ = run_cli(["--version"])
    assert code == 0
    assert stdout.strip() == f"impasto {impasto.__version__}"


def test_help_lists_stylize_flags(run_cli) -> None:
    code, stdout, _ = run_cli(["stylize", "--help"])
    assert code == 0
    for flag in ("--size", "--style-weight", "--optimizer", "--weights", "--save-every"):
        assert flag in stdout


def test_photo_help_shows_photo_modes_own_defaults(run_cli) -> None:
    from impasto.api import PHOTO_DEFAULTS
    from impasto.config import flag_of, value_text

    code, stdout, _ = run_cli(["photo", "--help"])
    assert code == 0
    entries: dict[str, str] = {}  # each option's entry: its first line and the indented rest
    flag = ""
    for line in stdout.splitlines():
        if line.startswith("  -"):
            flag = line.split()[0]
            entries[flag] = line
        elif flag and line.startswith("     "):
            entries[flag] += " " + line
        else:
            flag = ""
    for name, value in PHOTO_DEFAULTS.items():
        text = " ".join(entries[flag_of(name)].split())
        assert text.endswith(f"(default {value_text(value)})"), (name, text)


# BUG (src/impasto/features/vgg.py + config.py): a non-square content image at --size 32 with
# the default layers (up to relu5_1) and reflect padding reaches conv5_1 as a 2x1 map and
# torch's reflect padding raises a RuntimeError, so the CLI dies with a traceback instead of
# running or printing one "impasto: error:" line (same root cause as
# tests/unit/test_api.py::test_multi_scale_with_default_layers_at_min_size_16).
@pytest.mark.precision
def test_wide_image_at_small_size_does_not_crash(
    run_cli, style_path, weights_file, tmp_path
) -> None:
    content = tmp_path / "wide.png"
    Image.new("RGB", (64, 40), (120, 80, 40)).save(content)
    out = tmp_path / "wide_out.png"
    code, _, stderr = run_cli(_argv(content, style_path, out, weights_file))
    if code == 0:
        assert out.is_file()
    else:
        assert code == 2
        assert stderr.startswith("impasto: error:") and stderr.count("\n") == 1

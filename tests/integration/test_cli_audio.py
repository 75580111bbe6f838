"""``impasto audio``: transfer, texture and --plot end to end with tiny settings, and the bad
inputs (one line, exit 2, nothing written)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from impasto.audio.io import read_metadata

RATE = 8000
QUICK = [
    "--sample-rate",
    "8000",
    "--n-fft",
    "256",
    "--filters",
    "32",
    "--width",
    "5",
    "--steps",
    "3",
    "--griffin-lim-iters",
    "2",
    "--precision",
    "fp32",
    "-q",
]


def _wav(path: Path, seconds: float, freq: float, rate: int = 16000, channels: int = 1) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    x = 0.4 * np.sin(2 * np.pi * freq * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    sf.write(path, np.stack([x] * channels, axis=1).astype(np.float32), rate)
    return path


@pytest.fixture
def sounds(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "in"
    d.mkdir()
    notes = d / "notes.wav"
    notes.write_text("not a sound\n")
    silent = d / "silent.flac"
    sf.write(silent, np.zeros(RATE, dtype=np.float32), RATE)
    empty = d / "empty.wav"
    sf.write(empty, np.zeros((0, 1), dtype=np.float32), RATE)
    return {
        "content": _wav(d / "speech.wav", 0.6, 220.0, channels=2),
        "style": _wav(d / "cello.flac", 0.5, 660.0, rate=22050),
        "notes": notes,
        "silent": silent,
        "empty": empty,
        "long": _wav(d / "long.wav", 3.0, 300.0),
    }


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


def test_transfer_writes_the_sound_and_the_plot(run_cli, sounds, out_dir: Path) -> None:
    out, plot = out_dir / "out.wav", out_dir / "spec.png"
    code, _, err = run_cli(
        [
            "audio",
            sounds["content"],
            sounds["style"],
            "-o",
            out,
            "--plot",
            plot,
            "--style-weight",
            "3",
            *QUICK,
        ]
    )
    assert code == 0, err
    info = sf.info(out)
    assert info.samplerate == RATE and info.channels == 1
    assert info.frames == round(0.6 * RATE)
    meta = json.loads(read_metadata(out)["comment"])
    assert meta["config"]["style_weight"] == 3.0 and meta["content"] == "speech.wav"
    with Image.open(plot) as im:
        assert im.width > 2 * im.height  # three spectrograms side by side
    assert sorted(os.listdir(out_dir)) == ["out.wav", "spec.png"]


def test_texture_of_any_length(run_cli, sounds, out_dir: Path) -> None:
    out = out_dir / "more.flac"
    code, _, err = run_cli(
        ["audio", "--texture", sounds["style"], "-o", out, "--seconds", "1.5", *QUICK]
    )
    assert code == 0, err
    assert sf.info(out).frames == round(1.5 * RATE)


def _assert_clean_error(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("impasto: error: "), err
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["{notes}", "{style}"], "not a sound file"),
        (["{empty}", "{style}"], "empty"),
        (["{content}", "{silent}"], "silent"),
        (["{long}", "{style}", "--max-seconds", "2"], "limit of 2 s"),
        (["{content}", "{style}", "--filters", "0"], "--filters must be a positive integer"),
        (["--texture", "{style}", "--seconds", "0"], "--seconds must be more than 0"),
        (["{content}"], "give CONTENT and STYLE"),
        (["{content}", "{style}", "--precision", "fp8"], "choose one of: fp32, bf16"),
        (["{content}", "{style}", "--plot", "{out}/x.gif"], "unknown --plot extension"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(
    run_cli, sounds, out_dir: Path, args: list[str], needle: str
) -> None:
    argv = [a.format(out=out_dir, **sounds) for a in args]
    code, _, err = run_cli(["audio", *QUICK, "-o", out_dir / "out.wav", *argv])
    _assert_clean_error(code, err, needle)
    assert os.listdir(out_dir) == []


def test_unknown_output_extension(run_cli, sounds, out_dir: Path) -> None:
    code, _, err = run_cli(
        ["audio", sounds["content"], sounds["style"], "-o", out_dir / "out.mp4", *QUICK]
    )
    _assert_clean_error(code, err, "unknown output extension '.mp4'")
    assert os.listdir(out_dir) == []


def test_progress_bar_and_summary_on_stderr(run_cli, sounds, out_dir: Path) -> None:
    quick = [a for a in QUICK if a != "-q"]
    code, _, err = run_cli(
        ["audio", sounds["content"], sounds["style"], "-o", out_dir / "o.ogg", *quick]
    )
    assert code == 0, err
    assert "3/3" in err and "style=" in err and "wrote" in err

"""Reading, resampling and writing sounds (impasto.audio.io)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from impasto.audio.io import read_audio, read_metadata, resample, write_audio
from impasto.errors import InvalidAudioError, OutputError

RATE = 8000


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg"])
def test_read_any_format_mixes_to_mono_and_resamples(tmp_path: Path, ext: str) -> None:
    left = tone(440, 0.5, 16000)
    stereo = np.stack([left, left], axis=1)  # two channels: their mean is the same tone
    path = tmp_path / f"a{ext}"
    sf.write(path, stereo, 16000)
    x = read_audio(path, RATE, max_seconds=10)
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) == pytest.approx(0.5 * RATE, abs=2)
    assert peak_hz(x, RATE) == pytest.approx(440, abs=3)
    assert float(np.abs(x).max()) == pytest.approx(0.5, abs=0.05)


def test_resample_keeps_pitch_and_length() -> None:
    x = tone(300, 1.0, 44100)
    y = resample(x, 44100, 22050)
    assert len(y) == 22050
    assert peak_hz(y, 22050) == pytest.approx(300, abs=1.5)
    assert resample(y, 22050, 22050) is not y  # a copy: the caller's array is never shared


def test_write_is_atomic_and_carries_metadata(tmp_path: Path) -> None:
    out = tmp_path / "out.flac"
    write_audio(tone(200, 0.2, RATE), out, RATE, {"comment": json.dumps({"seed": 3})})
    assert json.loads(read_metadata(out)["comment"]) == {"seed": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.flac"]  # no temp file left
    assert sf.info(out).samplerate == RATE and sf.info(out).channels == 1


def test_write_refuses_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"\.mp4.*\.wav"):
        write_audio(tone(200, 0.2, RATE), tmp_path / "x.mp4", RATE)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def bad_sounds(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.wav"
    text.write_text("this is not a sound\n")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), dtype=np.float32), RATE)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(RATE, dtype=np.float32), RATE)
    long = tmp_path / "long.wav"
    sf.write(long, tone(100, 3.0, RATE), RATE)
    return {
        "text": text,
        "empty": empty,
        "silent": silent,
        "long": long,
        "missing": tmp_path / "nope.wav",
    }


@pytest.mark.parametrize(
    "kind, needle",
    [
        ("text", "not a sound file"),
        ("empty", "empty"),
        ("silent", "silent"),
        ("long", "limit of 2 s"),
        ("missing", "no such sound file"),
    ],
)
def test_bad_input_is_one_line_error(bad_sounds: dict[str, Path], kind: str, needle: str) -> None:
    with pytest.raises(InvalidAudioError, match=needle) as info:
        read_audio(bad_sounds[kind], RATE, max_seconds=2)
    assert "\n" not in str(info.value)
    assert str(bad_sounds[kind].name) in str(info.value)


def test_bundled_sounds_are_short_readable_and_documented() -> None:
    folder = Path(__file__).resolve().parents[2] / "src" / "impasto" / "data" / "sounds"
    sounds = sorted(folder.glob("*.ogg"))
    assert [p.stem for p in sounds] == ["cello", "rain", "speech"]
    assert sum(p.stat().st_size for p in sounds) < 1_000_000
    sources = (folder / "SOURCES.md").read_text()
    for p in sounds:
        assert f"`{p.name}`" in sources
        x = read_audio(p, 22050, max_seconds=10)
        assert 4 * 22050 <= len(x) <= 8 * 22050


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="this libsndfile has no MP3")
def test_reads_mp3_where_libsndfile_does(tmp_path: Path) -> None:
    path = tmp_path / "a.mp3"
    sf.write(path, np.stack([tone(440, 1.0, 44100)] * 2, axis=1), 44100, format="MP3")
    x = read_audio(path, RATE, max_seconds=10)
    assert peak_hz(x, RATE) == pytest.approx(440, abs=3)

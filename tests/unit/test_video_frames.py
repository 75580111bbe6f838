"""Reading and writing clips: round trips, the audio copy, atomic writes, and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch

from impasto.errors import ConfigError, InvalidVideoError, OutputError
from impasto.video.frames import (
    VideoWriter,
    _to_rgb24,
    bundled_clip,
    check_range,
    frame_size,
    probe,
    read_frames,
)

H, W = 32, 48


def _frames(n: int, h: int = H, w: int = W) -> list[torch.Tensor]:
    """Smooth frames (codecs keep them well) whose brightness encodes their index."""
    ramp = torch.linspace(0.2, 0.8, w).view(1, 1, 1, w).expand(1, 3, h, w)
    tint = torch.tensor([1.0, 0.8, 0.6]).view(1, 3, 1, 1)
    return [(ramp * tint + 0.03 * i).clamp(0, 1) for i in range(n)]


def _write(path: Path, frames: list[torch.Tensor], fps: float = 10.0, **kw: object) -> Path:
    with VideoWriter(path, fps, **kw) as out:  # type: ignore[arg-type]
        for f in frames:
            out.write(f)
    return path


def _tone(path: Path, seconds: float = 3.0, hz: float = 440.0, rate: int = 44100) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    tone = 0.5 * np.sin(2 * np.pi * hz * t)
    sf.write(path, np.stack([tone, tone], 1), rate)
    return path


def _audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        samples = np.concatenate([f.to_ndarray() for f in c.decode(stream)], axis=1)
        return samples, stream.codec_context.sample_rate


@pytest.mark.parametrize(
    ("suffix", "codec", "tol"),
    [(".mp4", "h264", 0.02), (".webm", "vp9", 0.02), (".gif", "gif", 0.03)],
)
def test_round_trip_keeps_count_rate_size_and_colour(
    tmp_path: Path, suffix: str, codec: str, tol: float
) -> None:
    frames = _frames(8)
    path = _write(tmp_path / f"clip{suffix}", frames, fps=12.5)
    info = probe(path)
    assert (info.width, info.height, info.frames, info.codec) == (W, H, 8, codec)
    assert info.fps == pytest.approx(12.5, rel=1e-3)
    assert not info.has_audio
    back = list(read_frames(path))
    assert len(back) == 8
    for got, want in zip(back, frames, strict=True):
        assert got.shape == (1, 3, H, W) and got.dtype == torch.float32
        assert (got - want).abs().mean() < tol


def test_read_frames_takes_a_range_at_a_size_with_even_sides(tmp_path: Path) -> None:
    path = _write(tmp_path / "clip.mp4", _frames(10))
    whole = list(read_frames(path))
    part = list(read_frames(path, range(3, 9, 2)))
    assert len(part) == 3
    for got, index in zip(part, (3, 5, 7), strict=True):
        assert torch.equal(got, whole[index])
    small = next(read_frames(path, range(0, 1), size=23))
    assert small.shape[-1] == 22 and small.shape[-2] % 2 == 0  # 23 x 15.3 → 22 x 14
    assert frame_size(15, 23, None) == (14, 22)
    assert frame_size(576, 768, 384) == (288, 384)


def test_clip_range_outside_the_clip_is_refused_naming_both(tmp_path: Path) -> None:
    info = probe(_write(tmp_path / "clip.mp4", _frames(6)))
    assert check_range(info, 0, None) == range(0, 6)
    assert check_range(info, 2, 5) == range(2, 5)
    for start, stop in ((4, 10), (-1, 3), (5, 5), (6, None)):
        with pytest.raises(ConfigError, match=r"frame range .* 6 frames"):
            check_range(info, start, stop)


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_audio_is_copied_for_the_range_written(tmp_path: Path, suffix: str) -> None:
    wav = _tone(tmp_path / "tone.wav")
    path = _write(tmp_path / f"out{suffix}", _frames(10), audio_from=wav, audio_range=(0.5, 1.5))
    assert probe(path).has_audio
    samples, rate = _audio(path)
    assert samples.shape[1] / rate == pytest.approx(1.0, abs=0.05)  # + AAC's priming samples
    spectrum = np.abs(np.fft.rfft(samples[0]))
    assert spectrum.argmax() * rate / samples.shape[1] == pytest.approx(440, abs=3)


def test_audio_comes_from_a_video_file_and_defaults_to_the_frames_written(tmp_path: Path) -> None:
    wav = _tone(tmp_path / "tone.wav", hz=660)
    source = _write(tmp_path / "source.mp4", _frames(20), audio_from=wav, audio_range=(0, 2))
    silent = _write(
        tmp_path / "silent.mp4", _frames(4), audio_from=_write(tmp_path / "a.mp4", _frames(2))
    )
    assert not probe(silent).has_audio  # a source without audio gives a clip without
    path = _write(tmp_path / "out.mp4", _frames(5), audio_from=source)
    samples, rate = _audio(path)
    assert samples.shape[1] / rate == pytest.approx(0.5, abs=0.05)
    spectrum = np.abs(np.fft.rfft(samples[0]))
    assert spectrum.argmax() * rate / samples.shape[1] == pytest.approx(660, abs=5)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_an_error_inside_the_writer_leaves_nothing_behind(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"out{suffix}"
    with pytest.raises(RuntimeError), VideoWriter(target, 10) as out:
        out.write(_frames(1)[0])
        raise RuntimeError("stopped")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"old")  # an earlier file stays as it was
    with pytest.raises(RuntimeError), VideoWriter(target, 10) as out:
        out.write(_frames(1)[0])
        raise RuntimeError("stopped")
    assert target.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_bad_outputs_are_refused_before_any_frame(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'\.avi'.*\.mp4, \.webm, \.gif"):
        VideoWriter(tmp_path / "out.avi", 10)
    with pytest.raises(OutputError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "out.mp4", 10)
    with pytest.raises(ConfigError, match="frame rate"):
        VideoWriter(tmp_path / "out.mp4", 0)
    with pytest.raises(ConfigError, match="even sides"), VideoWriter(tmp_path / "o.mp4", 10) as out:
        out.write(torch.rand(1, 3, 31, 48))
    with pytest.raises(ConfigError, match="32x32"), VideoWriter(tmp_path / "o.mp4", 10) as out:
        out.write(torch.rand(1, 3, 32, 48))
        out.write(torch.rand(1, 3, 32, 32))
    with pytest.raises(OutputError, match="no frames"), VideoWriter(tmp_path / "o.mp4", 10):
        pass
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_are_one_line_errors_naming_the_file(tmp_path: Path, content_path: Path) -> None:
    picture = tmp_path / "picture.mp4"
    shutil.copy(content_path, picture)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video " * 50)
    cases = {
        tmp_path / "missing.mp4": "no such video file",
        picture: "still picture",
        _tone(tmp_path / "tone.wav", seconds=0.2): "no video stream",
        junk: "not a video",
        tmp_path: "folder",
    }
    for path, words in cases.items():
        with pytest.raises(InvalidVideoError, match=words) as e:
            probe(path)
        assert str(path) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InvalidVideoError, match="no video stream"):
        next(read_frames(tmp_path / "tone.wav"))


def test_the_bundled_clip_is_a_short_small_street_scene() -> None:
    info = probe(bundled_clip())
    assert (info.width, info.height, info.frames, info.fps) == (384, 288, 30, 10.0)
    assert info.path.stat().st_size < 500_000
    first = next(read_frames(info.path, range(0, 1), size=64))
    assert first.shape == (1, 3, 48, 64)
    with pytest.raises(ConfigError, match=r"'nope'.*street"):
        bundled_clip("nope")


def test_a_bad_audio_source_is_refused_before_any_frame(tmp_path: Path) -> None:
    with pytest.raises(InvalidVideoError, match="no such video file"):
        VideoWriter(tmp_path / "out.mp4", 10, audio_from=tmp_path / "missing.wav")
    with pytest.raises(ConfigError, match="audio range"):
        VideoWriter(tmp_path / "out.mp4", 10, audio_range=(2.0, 1.0))
    assert list(tmp_path.iterdir()) == []


def test_a_bad_size_is_refused_at_the_call(tmp_path: Path) -> None:
    for size in (0, 1, -5, 2.5, True):
        with pytest.raises(ConfigError, match="size must be"):
            read_frames(tmp_path / "missing.mp4", size=size)  # type: ignore[arg-type]


@pytest.mark.parametrize(("rotation", "corner"), [(-90, (0, -1)), (90, (-1, 0)), (180, (-1, -1))])
def test_a_clip_with_a_display_rotation_is_read_as_it_is_shown(
    tmp_path: Path, rotation: int, corner: tuple[int, int]
) -> None:
    """A phone stores a portrait clip sideways with a display matrix; FFmpeg's players turn
    it. -90 (counter-clockwise, as PyAV writes it) is the usual "rotate 90" of a phone."""
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:8, :8] = 255  # a white square in the stored frame's top-left corner
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(rotation)
        for _ in range(2):
            for packet in stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    info = probe(path)
    sideways = rotation % 180 != 0
    assert (info.width, info.height) == ((32, 64) if sideways else (64, 32))
    assert info.rotation == rotation % 360
    frames = list(read_frames(path))
    assert len(frames) == 2 and frames[0].shape[-2:] == (info.height, info.width)
    # The square is in the corner where the display puts it (clockwise for -90), and the
    # opposite corner is dark.
    y, x = corner
    h, w = info.height, info.width
    ys = slice(0, 6) if y == 0 else slice(h - 6, h)
    xs = slice(0, 6) if x == 0 else slice(w - 6, w)
    oy = slice(h - 6, h) if y == 0 else slice(0, 6)
    ox = slice(w - 6, w) if x == 0 else slice(0, 6)
    assert frames[0][0, :, ys, xs].mean() > 0.9 and frames[0][0, :, oy, ox].mean() < 0.1


def _textured(n: int = 6) -> list[torch.Tensor]:
    """A photo with fine texture panned under a moving square: what x264 finds hard."""
    from impasto.video.synthetic import Motion, synthetic_clip

    g = torch.Generator().manual_seed(0)
    photo = torch.nn.functional.interpolate(torch.rand(1, 3, 24, 32, generator=g), (72, 96))
    return synthetic_clip(photo, n, (48, 64), Motion(pan=(1.5, 0.0), square=8)).frames


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_crf_0_is_lossless_and_the_default_is_smaller(tmp_path: Path, suffix: str) -> None:
    frames = _textured()
    exact = _write(tmp_path / f"exact{suffix}", frames, crf=0)
    lossy = _write(tmp_path / f"lossy{suffix}", frames)
    # yuv420p keeps colour at half resolution, so RGB comes back near, not equal: what a
    # lossless encode keeps is the yuv420p picture, the same as FFmpeg's own conversion gives.
    yuv = [av.VideoFrame.from_ndarray(_to_rgb24(f), format="rgb24").reformat(format="yuv420p")
           for f in frames]  # fmt: skip
    stored = [torch.from_numpy(y.to_ndarray(format="rgb24")) for y in yuv]
    back = [(f[0].permute(1, 2, 0) * 255).round() for f in read_frames(exact)]
    assert all(torch.equal(a.float(), b) for a, b in zip(stored, back, strict=True))
    assert lossy.stat().st_size < exact.stat().st_size / 2


@pytest.mark.parametrize("crf", [-1, 52, 1.5, True, "18"])
def test_a_bad_crf_is_refused_naming_it(tmp_path: Path, crf: object) -> None:
    from impasto.video.config import VideoConfig

    with pytest.raises(ConfigError, match=f"crf must be a whole number from 0 to 51, got {crf!r}"):
        VideoConfig(crf=crf)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="crf"):
        VideoWriter(tmp_path / "a.mp4", 10.0, crf=crf)  # type: ignore[arg-type]


def test_a_crf_for_a_gif_is_refused_before_any_frame(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"a crf does not apply to .gif \(a.gif\)"):
        VideoWriter(tmp_path / "a.gif", 10.0, crf=0)
    assert list(tmp_path.iterdir()) == []

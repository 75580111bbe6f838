"""The pictures on the command line, good and bad inputs: `impasto grid`, and `--animate` /
`--plot` on `impasto stylize` and `impasto texture`, all through the shipped CLI (`run_cli`
calls impasto.cli.main in this process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from impasto.io.images import read_metadata

QUICK = ["--size", "32", "--steps", "2", "--scales", "1"]


def _grid(content: Path, style: Path, out: Path, weights: Path, *extra: object) -> list[object]:
    return ["grid", content, style, "-o", out, "--weights", weights, *QUICK, *extra]


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.startswith("impasto: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


# -- impasto grid --------------------------------------------------------------------------------
@pytest.mark.precision
def test_grid_writes_a_labelled_sheet_and_a_plot(
    run_cli, content_path, style_path, weights_file, tmp_path
) -> None:
    out, plot = tmp_path / "grid.png", tmp_path / "losses.png"
    code, _, err = run_cli(
        _grid(content_path, style_path, out, weights_file, "--vary", "ratio", "--values",
              "0.1,10", "--plot", plot, "--seed", "4", "-q")
    )  # fmt: skip
    assert code == 0, err
    assert err == ""  # -q
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert im.width == 2 * 32 + 3 * 8
        assert im.height > 2 * 32  # header with content and style, then the labelled cells
    info = json.loads(read_metadata(out)["impasto"])
    assert info["grid"] == {"vary": "ratio", "values": ["0.1", "10"]}
    assert info["config"]["seed"] == 4 and info["config"]["size"] == 32
    with Image.open(plot) as im:
        im.verify()
    assert plot.stat().st_size > 5000


@pytest.mark.precision
def test_grid_progress_and_summary(run_cli, content_path, style_path, weights_file, tmp_path):
    out = tmp_path / "grid.png"
    code, _, err = run_cli(_grid(content_path, style_path, out, weights_file, "--vary", "pooling"))
    assert code == 0, err
    assert f"wrote {out} (2 cells" in err
    assert "cell 2/2 pooling avg" in err  # the progress bar names the cell


@pytest.mark.precision
def test_grid_varying_the_optimizer(run_cli, content_path, style_path, weights_file, tmp_path):
    out = tmp_path / "g.png"
    argv = _grid(content_path, style_path, out, weights_file, "--vary", "optimizer", "-q")
    code, _, err = run_cli(argv)
    assert code == 0, err
    info = json.loads(read_metadata(out)["impasto"])
    assert info["grid"]["vary"] == "optimizer" and len(info["grid"]["values"]) == 2


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--vary", "colour"], ["unknown --vary 'colour'", "ratio, layers, init"]),
        (["--vary", "nope"], ["unknown --vary 'nope'"]),
        (["--vary", "ratio", "--values", "1,x"], ["'x'"]),
        (["--vary", "layers", "--values", "upto7"], ["'upto7'", "upto1"]),
        (["--vary", "init", "--values", "content,"], ["empty entry"]),
        (["--vary", "init", "--size", "8"], ["--size must be at least 16"]),
        (["--vary", "init", "--steps", "0"], ["--steps must be a positive integer"]),
        (["--vary", "init", "--columns", "0"], ["--columns"]),
        (["--vary", "init", "--plot", "losses.gif"], ["unknown --plot extension '.gif'"]),
    ],
)
def test_grid_bad_input_is_one_line_exit_2(
    run_cli, content_path, style_path, weights_file, tmp_path, extra, needles
) -> None:
    out = tmp_path / "grid.png"
    code, _, err = run_cli(_grid(content_path, style_path, out, weights_file, *extra))
    _one_line_error(code, err, *needles)
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "needle"),
    [("missing/grid.png", "does not exist"), ("grid.gif", "unknown output extension")],
)
def test_grid_unwritable_output(
    run_cli, content_path, style_path, weights_file, tmp_path, name, needle
) -> None:
    out = tmp_path / name
    code, _, err = run_cli(_grid(content_path, style_path, out, weights_file, "--vary", "init"))
    _one_line_error(code, err, needle)


def test_grid_missing_input(run_cli, style_path, weights_file, tmp_path) -> None:
    missing = tmp_path / "nope.png"
    out = tmp_path / "g.png"
    code, _, err = run_cli(_grid(missing, style_path, out, weights_file, "--vary", "init"))
    _one_line_error(code, err, str(missing))
    assert not out.exists()


def test_grid_plot_over_the_sheet_is_refused(
    run_cli, content_path, style_path, weights_file, tmp_path
) -> None:
    out = tmp_path / "g.png"
    argv = _grid(content_path, style_path, out, weights_file, "--vary", "init", "--plot", out)
    code, _, err = run_cli(argv)
    _one_line_error(code, err, "--plot and -o name the same file")
    assert not out.exists()


# -- stylize / texture --animate / --plot --------------------------------------------------------
def _stylize(
    content: Path, style: Path, out: Path, weights: Path, snaps: Path, *extra: object
) -> list[object]:
    """A stylize command that also saves a snapshot at every step into ``snaps``: evidence of
    which steps ran through the command's own progress callback."""
    return [
        "stylize", content, style, "-o", out, "--weights", weights, "--tol", "0", "-q",
        "--save-every", "1", "--snapshot-dir", snaps, *extra,
    ]  # fmt: skip


def _snapshots(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.precision
def test_animate_and_plot(run_cli, content_path, style_path, weights_file, tmp_path) -> None:
    out, gif, plot = tmp_path / "r.png", tmp_path / "run.gif", tmp_path / "losses.png"
    snaps = tmp_path / "snaps"
    code, _, err = run_cli(
        _stylize(content_path, style_path, out, weights_file, snaps, "--size", "32", "--scales",
                 "2", "--min-size", "24", "--steps", "6", "--animate", gif, "--animate-every",
                 "2", "--plot", plot)
    )  # fmt: skip
    assert code == 0, err
    assert out.is_file()
    with Image.open(gif) as im:
        assert im.n_frames == 4  # steps 1, 2, 4, 6
        assert im.size[0] == 32 and im.size[1] > 32  # the caption band under the image
    assert plot.stat().st_size > 5000
    # The recorder passes every step on: the command's own callback still saw all six.
    assert _snapshots(snaps) == [f"step_{s:05d}.png" for s in range(1, 7)]


@pytest.mark.precision
def test_animate_side_by_side_webp(
    run_cli, content_path, style_path, weights_file, tmp_path
) -> None:
    out, webp = tmp_path / "r.png", tmp_path / "run.webp"
    code, _, err = run_cli(
        _stylize(content_path, style_path, out, weights_file, tmp_path / "snaps", "--size", "32",
                 "--scales", "1", "--steps", "3", "--animate", webp, "--animate-side-by-side",
                 "--animate-fps", "5")
    )  # fmt: skip
    assert code == 0, err
    with Image.open(webp) as im:
        assert im.format == "WEBP" and im.n_frames == 3
        assert im.size[0] == 3 * 32 + 2 * 4  # content | image | style


@pytest.mark.precision
def test_no_picture_flags_no_pictures(
    run_cli, content_path, style_path, weights_file, tmp_path
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    out = folder / "r.png"
    code, _, err = run_cli(
        ["stylize", content_path, style_path, "-o", out, "--weights", weights_file, *QUICK, "-q"]
    )
    assert code == 0, err
    assert [p.name for p in folder.iterdir()] == ["r.png"]  # no animation, no plot


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--animate", "run.avi"], "unknown --animate extension '.avi'"),
        (["--animate", "missing/run.gif"], "--animate folder does not exist"),
        (["--plot", "losses.txt"], "unknown --plot extension '.txt'"),
        (["--plot", "missing/losses.png"], "--plot folder does not exist"),
        (["--plot", "x.png"], "--plot and -o name the same file"),  # -o x.png
        (["--animate", "a.gif", "--animate-every", "0"], "--animate-every must be a positive"),
        (["--animate", "a.gif", "--animate-fps", "-1"], "--animate-fps"),
        (["--animate-every", "5"], "--animate-every needs --animate"),
        (["--animate-side-by-side"], "--animate-side-by-side needs --animate"),
    ],
)
def test_bad_picture_flags_fail_before_the_run(
    run_cli, content_path, style_path, weights_file, tmp_path, monkeypatch, extra, needle
) -> None:
    monkeypatch.chdir(tmp_path)
    snaps = tmp_path / "snaps"
    out = Path("x.png")
    argv = _stylize(content_path, style_path, out, weights_file, snaps, *QUICK, *extra)
    code, _, err = run_cli(argv)
    _one_line_error(code, err, needle)
    assert not snaps.exists()  # not one step ran
    assert not (tmp_path / out).exists()


@pytest.mark.precision
def test_texture_side_by_side_shows_the_style_and_no_content(
    run_cli, style_path, weights_file, tmp_path
) -> None:
    out, gif = tmp_path / "t.png", tmp_path / "t.gif"
    code, _, err = run_cli(
        ["texture", "--style", f"{style_path}:0.5", "--style", f"{style_path}:0.5", "-o", out,
         "--weights", weights_file, *QUICK, "-q", "--animate", gif, "--animate-side-by-side"]
    )  # fmt: skip
    assert code == 0, err
    with Image.open(gif) as im:
        assert im.n_frames == 2
        assert im.size[0] == 2 * 32 + 4  # image | style


@pytest.mark.precision
def test_stylize_animate_and_plot_then_a_bad_flag(
    run_cli, content_path, style_path, weights_file, tmp_path
) -> None:
    out, gif, plot = tmp_path / "r.png", tmp_path / "r.gif", tmp_path / "l.png"
    code, _, err = run_cli(
        ["stylize", content_path, style_path, "-o", out, "--weights", weights_file, *QUICK, "-q",
         "--animate", gif, "--plot", plot]
    )  # fmt: skip
    assert code == 0, err
    assert out.is_file() and gif.is_file() and plot.is_file()
    code, _, err = run_cli(
        ["stylize", content_path, style_path, "-o", out, "--animate", tmp_path / "r.avi"]
    )
    _one_line_error(code, err, "unknown --animate extension '.avi'")

"""The pictures' command-line glue on good and bad inputs: `impasto grid`, and `--animate` /
`--plot` on a stylize run.

impasto.cli wires these in; until then the tests drive the glue through a parser of their own
(argparse Namespaces exactly as the CLI builds them). The `run_cli` tests at the end run once
the wiring is there.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from PIL import Image

from impasto.api import stylize
from impasto.errors import OutputError
from impasto.io.images import read_metadata
from impasto.viz.cli import (
    add_grid_parser,
    add_stylize_arguments,
    check,
    make_recorder,
    run_grid_command,
)

QUICK = ["--size", "32", "--steps", "2", "--scales", "1", "-q"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="impasto")
    sub = parser.add_subparsers(dest="command", required=True)
    add_grid_parser(sub)
    s = sub.add_parser("stylize")
    s.add_argument("content")
    s.add_argument("style")
    s.add_argument("-o", "--output")
    add_stylize_arguments(s)
    return parser


def _grid_args(content: Path, style: Path, out: Path, weights: Path, *extra: str):
    argv = ["grid", str(content), str(style), "-o", str(out), "--weights", str(weights)]
    return _parser().parse_args([*argv, *QUICK, *extra])


# -- impasto grid --------------------------------------------------------------------------------
def test_grid_writes_a_labelled_sheet_and_a_plot(
    content_path, style_path, weights_file, tmp_path, capsys
) -> None:
    out, plot = tmp_path / "grid.png", tmp_path / "losses.png"
    args = _grid_args(
        content_path, style_path, out, weights_file, "--vary", "ratio", "--values", "0.1,10",
        "--plot", str(plot), "--seed", "4",
    )  # fmt: skip
    assert run_grid_command(args) == 0
    assert capsys.readouterr().err == ""  # -q
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


def test_grid_progress_and_summary(content_path, style_path, weights_file, tmp_path, capsys):
    out = tmp_path / "grid.png"
    args = _grid_args(content_path, style_path, out, weights_file, "--vary", "pooling")
    args.quiet = False
    assert run_grid_command(args) == 0
    err = capsys.readouterr().err
    assert f"wrote {out} (2 cells" in err
    assert "cell 2/2 pooling avg" in err  # the progress bar names the cell


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--vary", "colour"], ["unknown --vary 'colour'", "ratio, layers, init"]),
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
    content_path, style_path, weights_file, tmp_path, capsys, extra, needles
) -> None:
    out = tmp_path / "grid.png"
    args = _grid_args(content_path, style_path, out, weights_file, *extra)
    assert run_grid_command(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("impasto: error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "needle"),
    [("missing/grid.png", "does not exist"), ("grid.gif", "unknown output extension")],
)
def test_grid_unwritable_output(
    content_path, style_path, weights_file, tmp_path, capsys, name, needle
) -> None:
    args = _grid_args(content_path, style_path, tmp_path / name, weights_file, "--vary", "init")
    assert run_grid_command(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("impasto: error: ") and needle in err and err.count("\n") == 1


def test_grid_missing_input(style_path, weights_file, tmp_path, capsys) -> None:
    missing = tmp_path / "nope.png"
    args = _grid_args(missing, style_path, tmp_path / "g.png", weights_file, "--vary", "init")
    assert run_grid_command(args) == 2
    assert str(missing) in capsys.readouterr().err


# -- stylize --animate / --plot ------------------------------------------------------------------
def _stylize_args(content: Path, style: Path, *extra: str) -> argparse.Namespace:
    return _parser().parse_args(["stylize", str(content), str(style), "-o", "x.png", *extra])


def _run(args: argparse.Namespace, weights: Path, **settings):
    """What impasto.cli does: the recorder is made (and checks its paths) before the run."""
    recorder = make_recorder(args, args.content, args.style)
    assert recorder is not None
    seen: list[int] = []
    result = stylize(
        args.content,
        args.style,
        weights=weights,
        callback=recorder.wrap(lambda e: seen.append(e.step)),
        **settings,
    )
    assert seen == list(range(1, len(result.history) + 1))  # the progress bar still sees all
    return recorder.finish(result), result


def test_animate_and_plot(content_path, style_path, weights_file, tmp_path) -> None:
    gif, plot = tmp_path / "run.gif", tmp_path / "losses.png"
    args = _stylize_args(
        content_path, style_path, "--animate", str(gif), "--animate-every", "2", "--plot", str(plot)
    )
    written, _ = _run(args, weights_file, size=32, scales=2, min_size=24, steps=6, tol=0)
    assert written == [gif, plot]
    with Image.open(gif) as im:
        assert im.n_frames == 4  # steps 1, 2, 4, 6
        assert im.size[0] == 32 and im.size[1] > 32  # the caption band under the image
    assert plot.stat().st_size > 5000


def test_animate_side_by_side_webp(content_path, style_path, weights_file, tmp_path) -> None:
    out = tmp_path / "run.webp"
    args = _stylize_args(
        content_path, style_path, "--animate", str(out), "--animate-side-by-side",
        "--animate-fps", "5",
    )  # fmt: skip
    _run(args, weights_file, size=32, scales=1, steps=3, tol=0)
    with Image.open(out) as im:
        assert im.format == "WEBP" and im.n_frames == 3
        assert im.size[0] == 3 * 32 + 2 * 4


def test_no_pictures_no_recorder(content_path, style_path) -> None:
    assert make_recorder(_stylize_args(content_path, style_path), "c", "s") is None


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--animate", "run.avi"], "unknown --animate extension '.avi'"),
        (["--animate", "missing/run.gif"], "--animate folder does not exist"),
        (["--plot", "losses.txt"], "unknown --plot extension '.txt'"),
        (["--plot", "missing/losses.png"], "--plot folder does not exist"),
        (["--animate", "a.gif", "--animate-every", "0"], "--animate-every must be a positive"),
        (["--animate", "a.gif", "--animate-fps", "-1"], "--animate-fps"),
        (["--animate-every", "5"], "--animate-every needs --animate"),
        (["--animate-side-by-side"], "--animate-side-by-side needs --animate"),
    ],
)
def test_bad_picture_flags_fail_before_the_run(
    content_path, style_path, tmp_path, monkeypatch, extra, needle
) -> None:
    monkeypatch.chdir(tmp_path)
    args = _stylize_args(content_path, style_path, *extra)
    with pytest.raises(OutputError, match=needle.replace("(", r"\(")):
        check(args)
    with pytest.raises(OutputError):
        make_recorder(args, args.content, args.style)


def test_plot_over_the_output_is_refused(content_path, style_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = _stylize_args(content_path, style_path, "--plot", "x.png")  # -o x.png
    with pytest.raises(OutputError, match="--plot and -o name the same file"):
        check(args)


def test_grid_plot_over_the_sheet_is_refused(
    content_path, style_path, weights_file, tmp_path, capsys
) -> None:
    out = tmp_path / "g.png"
    args = _grid_args(
        content_path, style_path, out, weights_file, "--vary", "init", "--plot", str(out)
    )
    assert run_grid_command(args) == 2
    assert "--plot and -o name the same file" in capsys.readouterr().err


def test_side_by_side_with_style_objects_and_no_content(style_path, weights_file, tmp_path):
    from impasto.api import Style

    out = tmp_path / "t.gif"
    args = _stylize_args(style_path, style_path, "--animate", str(out), "--animate-side-by-side")
    recorder = make_recorder(args, None, [Style(style_path, 0.5), Style(style_path, 0.5)])
    assert recorder is not None
    result = stylize(
        style_path, style_path, weights=weights_file, size=32, scales=1, steps=2,
        callback=recorder.callback,
    )  # fmt: skip
    recorder.finish(result)
    with Image.open(out) as im:
        assert im.size[0] == 2 * 32 + 4  # image | style


# -- once impasto.cli is wired -------------------------------------------------------------------
def _wired() -> bool:
    from impasto.cli import build_parser

    text = build_parser().format_help()
    return "grid" in text


wired = pytest.mark.skipif(not _wired(), reason="impasto.cli does not wire the pictures yet")


@wired
def test_cli_grid(run_cli, content_path, style_path, weights_file, tmp_path) -> None:
    out = tmp_path / "g.png"
    code, _, err = run_cli(
        ["grid", content_path, style_path, "-o", out, "--weights", weights_file, *QUICK,
         "--vary", "optimizer"]
    )  # fmt: skip
    assert code == 0, err
    assert out.is_file()
    code, _, err = run_cli(["grid", content_path, style_path, "-o", out, "--vary", "nope"])
    assert code == 2 and err.count("\n") == 1 and "unknown --vary 'nope'" in err


@wired
def test_cli_stylize_animate(run_cli, content_path, style_path, weights_file, tmp_path) -> None:
    out, gif = tmp_path / "r.png", tmp_path / "r.gif"
    code, _, err = run_cli(
        ["stylize", content_path, style_path, "-o", out, "--weights", weights_file, *QUICK,
         "--animate", gif, "--plot", tmp_path / "l.png"]
    )  # fmt: skip
    assert code == 0, err
    assert out.is_file() and gif.is_file() and (tmp_path / "l.png").is_file()
    code, _, err = run_cli(
        ["stylize", content_path, style_path, "-o", out, "--animate", tmp_path / "r.avi"]
    )
    assert code == 2 and "unknown --animate extension '.avi'" in err

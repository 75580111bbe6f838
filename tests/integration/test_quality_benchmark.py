"""benchmarks/quality.py end to end on the tiny random net: runs, table, plot, sheet, --redraw."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from impasto.features.weights import VGGWeights

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def quality(monkeypatch: pytest.MonkeyPatch, tiny_weights: VGGWeights) -> Any:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import quality as module

    monkeypatch.setattr(module, "load_weights", lambda: tiny_weights)
    yield module
    sys.modules.pop("quality", None)


@pytest.mark.precision
def test_quality_benchmark_writes_table_plot_and_sheet(quality: Any, tmp_path: Path) -> None:
    plot, sheet = tmp_path / "tradeoff.png", tmp_path / "sheet.jpg"
    argv = ["--size", "48", "--plain-steps", "2", "--pairs", "tubingen:starry_night"]
    argv += ["--weights", "1,10", "--projections", "8", "--out-dir", str(tmp_path)]
    argv += ["--candidate", "one-scale:scales=1,steps=3,tol=0"]
    argv += ["--plot", str(plot), "--sheet", str(sheet)]
    quality.main(argv)

    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [(r["method"], r["style_weight"]) for r in rows] == [
        ("default", 1.0),
        ("one-scale", 1.0),
        ("plain", 1.0),
        ("plain", 10.0),
    ]
    assert [r["steps"] for r in rows][1:] == [3, 2, 2]
    assert all(r["content_distance"] > 0 and r["style_distance"] > 0 for r in rows)
    table = (tmp_path / "table.md").read_text()
    pair = f"tubingen {quality.TIMES} starry_night"
    assert f"| {pair} | photo (the start) |" in table
    assert table.count(f"| {pair} | plain |") == 2
    assert f"| {pair} | one-scale | {quality.TIMES}1 |" in table
    for path, fmt in ((plot, "PNG"), (sheet, "JPEG")):
        with Image.open(path) as im:
            assert im.format == fmt

    # --redraw: the same table from rows.json, without running anything.
    (tmp_path / "table.md").unlink()
    quality.main([*argv, "--redraw"])
    assert (tmp_path / "table.md").read_text() == table


def test_a_bad_candidate_is_refused_before_any_run(
    quality: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad, says in (
        ("x:brush=3", "'brush' is not a StyleConfig setting"),
        ("x:steps=-4", "steps"),
        ("x", "use NAME:KEY=VALUE"),
    ):
        with pytest.raises(SystemExit) as exit_:
            quality.parse_args(["--candidate", bad])
        assert exit_.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.precision
def test_reuse_takes_finished_runs_and_runs_changed_settings_again(
    quality: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["--size", "40", "--plain-steps", "2", "--pairs", "tubingen:starry_night"]
    argv += ["--weights", "1", "--projections", "8", "--out-dir", str(tmp_path)]
    argv += ["--plot", str(tmp_path / "p.png"), "--sheet", str(tmp_path / "s.jpg")]
    quality.main(argv)
    first = json.loads((tmp_path / "rows.json").read_text())

    ran: list[dict[str, Any]] = []
    real = quality.impasto.stylize

    def counting(*args: Any, **overrides: Any) -> Any:
        ran.append(overrides)
        return real(*args, **overrides)

    monkeypatch.setattr(quality.impasto, "stylize", counting)
    # Same settings: nothing runs, and the rows are the same runs (scores, seconds, images).
    quality.main([*argv, "--reuse"])
    assert ran == []
    assert json.loads((tmp_path / "rows.json").read_text()) == first
    # A candidate (with commas in a value) and another plain weight are new runs.
    quality.main(
        [
            *argv,
            "--reuse",
            "--weights",
            "1,3",
            "--candidate",
            "c:style_layers=relu1_1,relu2_1,steps=3",
        ]
    )
    assert [o.get("style_layers") for o in ran] == ["relu1_1,relu2_1", None]
    assert [o["style_weight"] for o in ran[1:]] == [3.0]
    # A run is its settings: the same candidate under another name is taken, not run again.
    ran.clear()
    quality.main(
        [*argv, "--reuse", "--candidate", "other-name:style_layers=relu1_1,relu2_1,steps=3"]
    )
    assert ran == []
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [r["method"] for r in rows] == ["default", "other-name", "plain"]
    # Without --reuse everything runs again.
    ran.clear()
    quality.main(argv)
    assert len(ran) == 2


def test_the_targets_line_reads_domination_and_the_curve(quality: Any) -> None:
    def row(method: str, w: float, content: float, style: float, seconds: float) -> Any:
        return quality.Row("p", method, w, content, style, seconds, 1, "fp32", "x.png")

    plain = [row("plain", 1, 1.8, 0.008, 400), row("plain", 3, 2.0, 0.004, 400)]
    assert quality.plain_content_at(plain, 0.006) == pytest.approx(1.9)
    assert quality.plain_content_at(plain, 0.002) is None
    below = quality.verdict([row("default", 1, 1.7, 0.006, 80), *plain], "p")
    assert f"dominated by no plain point; dominates {quality.TIMES}1;" in below
    assert "content 1.9000, below it" in below and "time 0.20 of a plain run" in below
    above = quality.verdict([row("default", 1, 1.95, 0.009, 40), *plain], "p")
    assert f"dominated by {quality.TIMES}1;" in above
    assert "farther from the painting than every plain point" in above
    beyond = quality.verdict([row("default", 1, 1.9, 0.003, 40), *plain], "p")
    assert f"dominates {quality.TIMES}3;" in beyond and "nearer the painting than every" in beyond
    on_curve_above = quality.verdict([row("default", 1, 1.95, 0.006, 40), *plain], "p")
    assert "not below it" in on_curve_above

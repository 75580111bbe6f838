"""Loss plots: files written and readable, scale boundaries tracked, bad paths refused."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from impasto.errors import OutputError
from impasto.optim.events import StepEvent
from impasto.viz.plot import ScaleTracker, plot_losses


def _history(n: int, k: float = 1.0) -> list[dict[str, float]]:
    return [
        {"content": k * (1 + i), "style": k * 100 / (1 + i), "tv": 0.0, "total": k * 200 / (1 + i)}
        for i in range(n)
    ]


def test_scale_tracker_marks_first_step_of_each_new_scale() -> None:
    tracker = ScaleTracker()
    image = torch.zeros(1, 3, 4, 4)
    for step, scale in enumerate([0, 0, 0, 1, 1, 2, 2], start=1):
        tracker(StepEvent(step, 7, scale, 3, (4, 4), {}, 0.0, image))
    assert tracker.boundaries == [4, 6]


def test_png_of_one_run(tmp_path: Path) -> None:
    out = plot_losses(_history(30), tmp_path / "losses.png", [10, 20], title="a run")
    assert out == tmp_path / "losses.png"
    assert out.stat().st_size > 5000
    with Image.open(out) as im:
        im.verify()
        assert im.format == "PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["losses.png"]  # no temp file left


def test_grid_cells_share_one_plot(tmp_path: Path) -> None:
    histories = {"style/content 0.1": _history(12), "style/content 10": _history(9, 3.0)}
    bounds = {"style/content 0.1": [6], "style/content 10": [5]}
    out = plot_losses(histories, tmp_path / "grid.png", bounds)
    with Image.open(out) as im:
        assert im.size[0] > im.size[1] > 400  # the 2x2 layout is larger than one panel


@pytest.mark.parametrize(("ext", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_vector_formats(tmp_path: Path, ext: str, magic: bytes) -> None:
    out = plot_losses(_history(5), tmp_path / f"losses{ext}")
    assert out.read_bytes().startswith(magic)


def test_same_input_same_bytes(tmp_path: Path) -> None:
    a = plot_losses(_history(8), tmp_path / "a.png", [4])
    b = plot_losses(_history(8), tmp_path / "b.png", [4])
    assert a.read_bytes() == b.read_bytes()  # no dates in the file: a stable gallery


def test_pyplot_untouched(tmp_path: Path) -> None:
    """Plotting uses matplotlib's object API, never pyplot (global state, a GUI backend).
    Checked in a fresh interpreter: in this one, any earlier test may have imported pyplot."""
    out = tmp_path / "x.png"
    script = (
        "import sys\n"
        "from impasto.viz.plot import plot_losses\n"
        f"plot_losses({_history(3)!r}, {str(out)!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert "matplotlib.figure" in loaded  # it did plot with matplotlib...
    assert "matplotlib.pyplot" not in loaded  # ...without pyplot
    assert out.is_file()


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("losses.jpg", "unknown plot extension '.jpg'"),
        ("missing/losses.png", "plot folder does not exist"),
    ],
)
def test_bad_plot_path(tmp_path: Path, name: str, words: str) -> None:
    with pytest.raises(OutputError, match=words):
        plot_losses(_history(3), tmp_path / name)


def test_empty_history(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="no losses"):
        plot_losses([], tmp_path / "x.png")

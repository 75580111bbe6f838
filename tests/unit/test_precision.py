"""`precision`: fp32, bf16, or `auto`, which measures on this CPU whether bf16 is faster.

Whatever this machine would pick, both paths of `auto` run here: the choice is forced with a
monkeypatch (and `make test` forces it both ways for the whole suite with --auto-precision).
"""

from __future__ import annotations

import math

import pytest
import torch

import impasto.features.extractor as extractor
from impasto.api import stylize

# Single scale, no early stop: every run takes all its steps.
TINY = {"size": 32, "steps": 8, "scales": 1, "tol": 0.0, "style_layers": "upto2", "seed": 1}


def _run(weights, content, style, precision: str = "auto"):
    return stylize(content, style, weights=weights, precision=precision, **TINY)


@pytest.mark.parametrize("picked", ["fp32", "bf16"])
def test_auto_runs_what_it_picked(
    tiny_weights, content_tensor, style_tensor, monkeypatch: pytest.MonkeyPatch, picked: str
) -> None:
    monkeypatch.setattr(extractor, "bf16_is_faster", lambda: picked == "bf16")
    result = _run(tiny_weights, content_tensor, style_tensor)
    assert result.sources["precision"] == picked
    assert len(result.history) == TINY["steps"]
    totals = [h["total"] for h in result.history]
    assert all(math.isfinite(t) for t in totals), totals
    assert totals[-1] < 0.8 * totals[0], totals  # 8 steps: about 0.6 in either precision
    out = result.tensor
    assert out.dtype == torch.float32 and out.shape == (1, 3, 32, 32)  # bf16 inside only
    assert bool(torch.isfinite(out).all())
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_auto_is_the_same_run_as_the_precision_it_picked(
    tiny_weights, content_tensor, style_tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forced choice changes the arithmetic, not only the label: `auto` that picked bf16
    is the bf16 run, bit for bit, and differs from the fp32 run."""
    runs = {}
    for picked in ("fp32", "bf16"):
        monkeypatch.setattr(extractor, "bf16_is_faster", lambda p=picked: p == "bf16")
        runs[picked] = _run(tiny_weights, content_tensor, style_tensor).tensor
    explicit = {p: _run(tiny_weights, content_tensor, style_tensor, p).tensor for p in runs}
    assert torch.equal(runs["fp32"], explicit["fp32"])
    assert torch.equal(runs["bf16"], explicit["bf16"])
    assert not torch.equal(runs["fp32"], runs["bf16"])


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_an_explicit_precision_does_not_measure(
    tiny_weights, content_tensor, style_tensor, monkeypatch: pytest.MonkeyPatch, precision: str
) -> None:
    def measured() -> bool:
        raise AssertionError("an explicit precision must not consult the measurement")

    monkeypatch.setattr(extractor, "bf16_is_faster", measured)
    result = _run(tiny_weights, content_tensor, style_tensor, precision)
    assert result.sources["precision"] == precision


@pytest.mark.precision
def test_the_session_forces_autos_choice(
    tiny_weights, content_tensor, style_tensor, auto_precision: str, request: pytest.FixtureRequest
) -> None:
    """--auto-precision (tests/conftest.py) reaches the runs: `auto` picks what it says."""
    forced = request.config.getoption("--auto-precision")
    if forced != "cpu":  # forced; with "cpu" the fixture is this CPU's measurement
        assert auto_precision == forced
    assert _run(tiny_weights, content_tensor, style_tensor).sources["precision"] == auto_precision

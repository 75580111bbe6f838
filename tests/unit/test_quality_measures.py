"""The quality benchmark's measures (benchmarks/_quality_measures.py) on the tiny random net."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from impasto.features.weights import VGGWeights


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "_quality_measures.py"
    spec = importlib.util.spec_from_file_location("_quality_measures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_quality_measures", module)
    spec.loader.exec_module(module)
    return module


qm = _load()


@pytest.fixture(scope="module")
def measures(tiny_weights: VGGWeights) -> Any:
    return qm.Measures(tiny_weights, projections=32, seed=0)


def _image(seed: int, h: int = 48, w: int = 64) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _sample(seed: int, n: int = 500, c: int = 8) -> torch.Tensor:
    return torch.randn(n, c, generator=torch.Generator().manual_seed(seed))


def test_swd_of_a_sample_with_itself_is_zero() -> None:
    a = _sample(0)
    dirs = qm.directions(8, 16, seed=1)
    assert qm.sliced_wasserstein(a, a, dirs) == pytest.approx(0.0, abs=1e-10)
    # A permutation of the same vectors is the same distribution.
    perm = torch.randperm(500, generator=torch.Generator().manual_seed(2))
    assert qm.sliced_wasserstein(a, a[perm], dirs) == pytest.approx(0.0, abs=1e-10)


def test_swd_grows_with_a_shift_and_is_symmetric() -> None:
    a, b = _sample(0), _sample(1)
    dirs = qm.directions(8, 16, seed=1)
    d = [qm.sliced_wasserstein(a, b + s, dirs) for s in (0.0, 0.5, 1.0, 2.0)]
    assert d == sorted(d) and d[-1] > 10 * d[0]
    assert qm.sliced_wasserstein(b, a, dirs) == pytest.approx(qm.sliced_wasserstein(a, b, dirs))
    # Samples of different sizes are compared at common quantiles.
    c = _sample(3, n=321)
    assert qm.sliced_wasserstein(a, c, dirs) == pytest.approx(qm.sliced_wasserstein(c, a, dirs))
    assert qm.sliced_wasserstein(a, c, dirs) < qm.sliced_wasserstein(a, c + 1.0, dirs)


def test_directions_are_unit_and_seeded() -> None:
    d = qm.directions(8, 16, seed=5)
    assert d.shape == (8, 16)
    torch.testing.assert_close(d.norm(dim=0), torch.ones(16))
    torch.testing.assert_close(d, qm.directions(8, 16, seed=5))
    assert not torch.equal(d, qm.directions(8, 16, seed=6))


def test_style_distance_is_zero_for_the_painting_and_deterministic(measures: Any) -> None:
    painting = _image(0)
    assert measures.style_distance(painting, painting) == pytest.approx(0.0, abs=1e-9)
    other = _image(1)
    d = measures.style_distance(other, painting)
    assert d > 0
    assert measures.style_distance(other, painting) == d


def test_style_distance_takes_the_painting_at_the_outputs_scale(measures: Any) -> None:
    # A flat grey painting at 2x the size: resized to the output's scale it is still flat grey.
    grey = torch.full((1, 3, 96, 128), 0.5)
    out = torch.full((1, 3, 48, 64), 0.5)
    assert measures.style_distance(out, grey) == pytest.approx(0.0, abs=1e-6)
    assert measures.style_distance(_image(2), grey) > 0


def test_style_distance_grows_as_the_output_moves_away(measures: Any) -> None:
    # Less and less contrast: the output's features narrow away from the painting's.
    painting = _image(0)
    d = [measures.style_distance(painting * (1 - t) + 0.5 * t, painting) for t in (0.0, 0.3, 0.8)]
    assert d[0] < d[1] < d[2]


def _smooth(seed: int) -> torch.Tensor:
    """A 48x64 image without pixel-level detail, so that resizing it loses little."""
    small = torch.rand(1, 3, 6, 8, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(small, size=(48, 64), mode="bilinear")


def test_content_distance(measures: Any) -> None:
    photo = _smooth(0)
    assert measures.content_distance(photo, photo) == pytest.approx(0.0, abs=1e-9)
    near = (photo + 0.05 * (_image(1) - 0.5)).clamp(0, 1)
    far = _smooth(1)
    d_near = measures.content_distance(near, photo)
    d_far = measures.content_distance(far, photo)
    assert 0 < d_near < d_far
    # The photo is resized to the output's size: a 2x copy compares with a 1x output.
    big = torch.nn.functional.interpolate(photo, scale_factor=2, mode="bilinear")
    assert measures.content_distance(photo, big) < d_far


def test_gram_distances_per_layer_are_zero_for_the_painting_and_grow_as_it_fades(
    measures: Any,
) -> None:
    painting = _image(0)
    same = measures.gram_distances(painting, painting)
    assert list(same) == list(measures.style_layers)
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in same.values())
    faded = [measures.gram_distances(painting * (1 - t) + 0.5 * t, painting) for t in (0.3, 0.8)]
    assert all(0 < faded[0][layer] < faded[1][layer] for layer in measures.style_layers)


def test_kept_activations_give_the_same_scores_and_follow_the_pixels(tiny_weights) -> None:
    kept = qm.Measures(tiny_weights, projections=32, seed=0)
    photo, painting = _image(10), _image(11)
    out = photo.clone()
    first = kept.style_distance(out, painting)
    out[..., :24, :] = painting[..., :24, :]  # the same tensor, changed in place
    changed = kept.style_distance(out, painting)
    fresh = qm.Measures(tiny_weights, projections=32, seed=0)
    assert changed == pytest.approx(fresh.style_distance(out, painting), rel=1e-6)
    assert changed != pytest.approx(first, rel=1e-3)
    assert kept.content_distance(out, photo) == pytest.approx(
        fresh.content_distance(out, photo), rel=1e-6
    )
    for k in range(qm.MEMO + 3):  # the memo stays bounded
        kept.content_distance(_image(100 + k), photo)
    assert len(kept._memo) <= qm.MEMO

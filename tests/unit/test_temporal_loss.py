"""The temporal loss (Ruder et al. 2016, eq. 7) and its place in the objective."""

from __future__ import annotations

import pytest
import torch

from impasto.config import StyleConfig
from impasto.features.extractor import FeatureExtractor
from impasto.losses.objective import LossWeights, make_objective
from impasto.losses.targets import ScaleTargets, content_targets, style_targets
from impasto.losses.temporal import TemporalTarget, temporal_loss


def test_value_by_hand() -> None:
    x = torch.zeros(1, 3, 2, 2)
    warped = torch.zeros(1, 3, 2, 2)
    warped[..., 0, 0] = 1.0  # error 1 in every channel at one pixel
    warped[..., 1, 1] = 2.0  # error 2 at another, masked out
    mask = torch.ones(1, 1, 2, 2)
    mask[..., 1, 1] = 0.0
    # D = 3 * 2 * 2 = 12; sum of c (x - w)^2 = 3 * 1 (the masked pixel adds nothing).
    assert float(temporal_loss(x, warped, mask)) == pytest.approx(3 / 12)
    assert float(temporal_loss(x, warped, torch.zeros(1, 1, 2, 2))) == 0.0


def test_gradient_is_the_masked_difference() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 5, 6, generator=g, requires_grad=True)
    warped = torch.rand(1, 3, 5, 6, generator=g)
    mask = (torch.rand(1, 1, 5, 6, generator=g) > 0.5).float()
    (grad,) = torch.autograd.grad(temporal_loss(x, warped, mask), x)
    expected = 2 * mask * (x.detach() - warped) / x.numel()
    assert torch.allclose(grad, expected, atol=1e-7)


def test_gradcheck_in_float64() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    warped = torch.rand(1, 3, 4, 4, generator=g, dtype=torch.float64)
    mask = torch.rand(1, 1, 4, 4, generator=g, dtype=torch.float64)

    def f(v: torch.Tensor) -> torch.Tensor:
        diff = v - warped
        return (mask * diff * diff).mean()  # temporal_loss in float64: same formula

    assert torch.autograd.gradcheck(f, (x,))
    with torch.no_grad():
        assert float(temporal_loss(x, warped, mask)) == pytest.approx(float(f(x)), rel=1e-6)


def test_target_resizes_to_a_coarser_scale() -> None:
    target = TemporalTarget(torch.rand(1, 3, 32, 48), torch.ones(1, 1, 32, 48))
    small = target.at((16, 24))
    assert small.warped.shape == (1, 3, 16, 24)
    assert small.mask.shape == (1, 1, 16, 24)
    assert torch.allclose(small.mask, torch.ones(1, 1, 16, 24))
    assert target.at((32, 48)).warped is target.warped


def _targets(tiny_weights, cfg: StyleConfig) -> tuple[FeatureExtractor, ScaleTargets]:
    g = torch.Generator().manual_seed(2)
    extractor = FeatureExtractor(
        tiny_weights, cfg.content_layers + cfg.style_layers, cfg.pooling, cfg.padding
    )
    content = torch.rand(1, 3, 48, 48, generator=g)
    style = torch.rand(1, 3, 48, 48, generator=g)
    warped = torch.rand(1, 3, 48, 48, generator=g)
    mask = (torch.rand(1, 1, 48, 48, generator=g) > 0.3).float()
    targets = ScaleTargets(
        content=content_targets(extractor, content, cfg.content_layers),
        style=style_targets(extractor, style, cfg.style_layers),
        temporal=TemporalTarget(warped, mask),
    )
    return extractor, targets


def test_objective_names_the_temporal_term_and_adds_it(tiny_weights) -> None:
    cfg = StyleConfig(style_layers=("relu1_1", "relu2_1"), content_layers=("relu2_1",))
    extractor, targets = _targets(tiny_weights, cfg)
    weights = LossWeights.of(cfg)
    x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(3))
    with_term = make_objective(
        extractor, targets, LossWeights(**{**vars(weights), "temporal": 50.0})
    )
    total, _, terms = with_term.value_and_grad(x)
    assert set(terms) == {"content", "style", "tv", "temporal", "total"}
    assert targets.temporal is not None
    expected = 50.0 * temporal_loss(x, targets.temporal.warped, targets.temporal.mask)
    assert float(terms["temporal"]) == pytest.approx(float(expected), rel=1e-6)
    parts = terms["content"] + terms["style"] + terms["tv"] + terms["temporal"]
    assert float(total) == pytest.approx(float(parts), rel=1e-6)
    still = ScaleTargets(targets.content, targets.style)
    _, _, plain = make_objective(extractor, still, weights).value_and_grad(x)
    assert "temporal" not in plain  # a still image's terms are unchanged


def test_tiled_objective_agrees_with_the_whole(tiny_weights) -> None:
    cfg = StyleConfig(style_layers=("relu1_1", "relu2_1"), content_layers=("relu2_1",))
    extractor, targets = _targets(tiny_weights, cfg)
    weights = LossWeights(**{**vars(LossWeights.of(cfg)), "temporal": 20.0})
    x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(4))
    whole = make_objective(extractor, targets, weights).value_and_grad(x)
    tiled = make_objective(extractor, targets, weights, tile=16).value_and_grad(x)
    assert float(tiled[2]["temporal"]) == pytest.approx(float(whole[2]["temporal"]), rel=1e-6)
    assert float(tiled[0]) == pytest.approx(float(whole[0]), rel=1e-3)
    # The temporal gradient is pixel-wise, so tiling changes only the network terms' share.
    assert torch.allclose(tiled[1], whole[1], rtol=1e-2, atol=1e-2 * float(whole[1].abs().max()))

"""Guided Gram matrices and style blending (Gatys et al. 2017, section 3)."""

from __future__ import annotations

import pytest
import torch

from impasto.errors import ConfigError
from impasto.features.extractor import FeatureExtractor
from impasto.features.weights import random_weights
from impasto.losses.functional import gram_matrix, style_layer_loss
from impasto.losses.guided import blend_grams, guided_gram_matrices, guided_style_loss
from impasto.preprocess.masks import downsample_masks


def _feats(seed: int, n: int = 5, h: int = 4, w: int = 6) -> torch.Tensor:
    return torch.randn(1, n, h, w, generator=torch.Generator().manual_seed(seed))


def test_all_ones_mask_equals_gram_matrix() -> None:
    f = _feats(0, 8, 6, 7)
    got = guided_gram_matrices(f, torch.ones(1, 6, 7))
    assert got.shape == (1, 8, 8) and got.dtype == torch.float32
    torch.testing.assert_close(got, gram_matrix(f), atol=1e-6, rtol=1e-6)


def test_half_masks_give_each_halfs_gram() -> None:
    f = _feats(1, 5, 4, 6)
    masks = torch.zeros(2, 4, 6)
    masks[0, :, :3] = 1
    masks[1, :, 3:] = 1
    got = guided_gram_matrices(f, masks)
    assert got.shape == (2, 5, 5)
    torch.testing.assert_close(got[0], gram_matrix(f[..., :3])[0])
    torch.testing.assert_close(got[1], gram_matrix(f[..., 3:])[0])


def test_soft_mask_convention_and_empty_region() -> None:
    f = _feats(2, 3, 2, 2)
    m = torch.tensor([[[0.5, 1.0], [0.0, 0.25]], [[0.0, 0.0], [0.0, 0.0]]])
    got = guided_gram_matrices(f, m)
    fk = (f[0] * m[0]).reshape(3, -1)
    torch.testing.assert_close(got[0], fk @ fk.T / (m[0] ** 2).sum())
    assert torch.equal(got[1], torch.zeros(3, 3))  # absent region: zeros, not NaN


def test_guided_gram_does_not_modify_inputs_and_checks_sizes() -> None:
    f, m = _feats(3), torch.rand(2, 4, 6)
    f0, m0 = f.clone(), m.clone()
    guided_gram_matrices(f, m)
    assert torch.equal(f, f0) and torch.equal(m, m0)
    with pytest.raises(ValueError, match=r"\(2, 3, 3\).*\(4, 6\)"):
        guided_gram_matrices(f, torch.ones(2, 3, 3))


def test_guided_gram_gradcheck_float64() -> None:
    f = _feats(4, 3, 3, 3).double().requires_grad_(True)
    m = torch.rand(2, 3, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    m.requires_grad_(True)
    assert guided_gram_matrices(f, m).dtype == torch.float64
    assert torch.autograd.gradcheck(guided_gram_matrices, (f, m))


def test_guided_style_loss_sums_region_losses() -> None:
    g = torch.rand(3, 4, 4, generator=torch.Generator().manual_seed(6))
    t = torch.rand(3, 4, 4, generator=torch.Generator().manual_seed(7))
    per = [style_layer_loss(g[k : k + 1], t[k : k + 1]) for k in range(3)]
    torch.testing.assert_close(guided_style_loss(g, t), sum(per))
    torch.testing.assert_close(guided_style_loss(g, t, [1.0, 0.0, 2.0]), per[0] + 2 * per[2])
    with pytest.raises(ConfigError, match=r"1, -1, 2"):
        guided_style_loss(g, t, [1.0, -1.0, 2.0])
    with pytest.raises(ConfigError, match=r"2 region weights \(1, 2\) for 3"):
        guided_style_loss(g, t, [1.0, 2.0])


def test_one_region_guided_loss_equals_plain_style_loss() -> None:
    # Built here rather than from conftest's fixture, so this file runs on its own.
    ext = FeatureExtractor(random_weights(seed=0, width=1 / 16), ["relu1_1", "relu2_1"])
    g = torch.Generator().manual_seed(8)
    image, style = torch.rand(1, 3, 32, 32, generator=g), torch.rand(1, 3, 32, 32, generator=g)
    fi, fs = ext(image), ext(style)
    full = torch.ones(1, 32, 32)
    for name in ("relu1_1", "relu2_1"):
        m = downsample_masks(full, tuple(fi[name].shape[-2:]))
        plain = style_layer_loss(gram_matrix(fi[name]), gram_matrix(fs[name]))
        guided = guided_style_loss(
            guided_gram_matrices(fi[name], m), guided_gram_matrices(fs[name], m)
        )
        torch.testing.assert_close(guided, plain, rtol=1e-5, atol=1e-8)


def test_blend_grams_normalises_weights() -> None:
    a, b = torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), 3.0)
    torch.testing.assert_close(blend_grams([a, b], [1, 1]), torch.full((1, 2, 2), 2.0))
    torch.testing.assert_close(blend_grams([a, b], [3, 1]), torch.full((1, 2, 2), 1.5))
    torch.testing.assert_close(blend_grams([a, b], [0, 5]), b)
    torch.testing.assert_close(blend_grams([a], [0.2]), a)
    assert blend_grams([a], [1]) is not a


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0, -0.5], r"finite and >= 0, got 1, -0.5"),
        ([0.0, 0.0], r"must not all be zero, got 0, 0"),
        ([1.0], r"1 style blend weights \(1\) for 2"),
        ([1.0, float("nan")], r"finite and >= 0, got 1, nan"),
    ],
)
def test_blend_grams_errors_name_the_weights(weights: list[float], message: str) -> None:
    a = torch.ones(1, 2, 2)
    with pytest.raises(ConfigError, match=message):
        blend_grams([a, a], weights)

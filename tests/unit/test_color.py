"""Colour controls of Gatys et al. 2017 (section 5): YIQ, luminance-only transfer, colour
statistics and histogram matching."""

from __future__ import annotations

import pytest
import torch

from impasto.errors import ConfigError, InvalidImageError
from impasto.preprocess.color import (
    chroma_stats,
    color_stats,
    luminance,
    luminance_only,
    match_color_stats,
    match_luminance,
    recombine_luminance,
    rgb_to_yiq,
    yiq_to_rgb,
)


def _rand(seed: int, h: int = 32, w: int = 32) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _photo(seed: int, h: int, w: int) -> torch.Tensor:
    """Correlated colours well inside the RGB cube (so recolouring rarely clamps)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 1, h, w, generator=g)
    noise = torch.rand(1, 3, h, w, generator=g)
    mix = torch.tensor([0.5, 0.3, 0.2]).view(1, 3, 1, 1)
    return (0.25 + 0.3 * base + 0.2 * mix * noise).clamp(0, 1)


# -- YIQ -----------------------------------------------------------------------------------------


def test_yiq_round_trip_and_known_values() -> None:
    x = _rand(0)
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(x)), x, atol=1e-6, rtol=0)
    x64 = x.double()
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(x64)), x64, atol=1e-12, rtol=0)
    prim = torch.eye(3).view(3, 3, 1, 1)  # red, green, blue pixels as a batch of 3
    yiq = rgb_to_yiq(prim)[:, :, 0, 0]
    torch.testing.assert_close(yiq[:, 0], torch.tensor([0.299, 0.587, 0.114]))
    white = rgb_to_yiq(torch.ones(1, 3, 1, 1))[0, :, 0, 0]
    torch.testing.assert_close(white, torch.tensor([1.0, 0.0, 0.0]), atol=1e-6, rtol=0)


def test_yiq_is_differentiable_and_leaves_input_alone() -> None:
    x = _rand(1, 4, 4).requires_grad_(True)
    before = x.detach().clone()
    rgb_to_yiq(x)[:, 0].sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad[0, :, 0, 0], torch.tensor([0.299, 0.587, 0.114]))
    assert torch.equal(x.detach(), before)


def test_yiq_rejects_wrong_shape() -> None:
    with pytest.raises(InvalidImageError, match=r"\(1, 4, 8, 8\)"):
        rgb_to_yiq(torch.zeros(1, 4, 8, 8))


# -- luminance -----------------------------------------------------------------------------------


def test_match_luminance_gives_content_mean_and_std() -> None:
    style_y = luminance(_rand(2, 32, 32))
    content_y = luminance(_photo(3, 24, 40))
    out = match_luminance(style_y, content_y)
    assert out.shape == style_y.shape
    torch.testing.assert_close(out.mean(), content_y.mean(), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        out.std(correction=0), content_y.std(correction=0), atol=1e-6, rtol=0
    )
    # affine and increasing: the order of the pixels is kept
    assert torch.equal(out.flatten().argsort(), style_y.flatten().argsort())


def test_match_luminance_flat_style_gives_content_mean() -> None:
    out = match_luminance(torch.full((1, 1, 8, 8), 0.3), luminance(_photo(4, 8, 8)))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.full_like(out, float(luminance(_photo(4, 8, 8)).mean())))


def test_luminance_only_is_grey_and_matchable() -> None:
    x = _rand(5)
    before = x.clone()
    g = luminance_only(x)
    assert g.shape == (1, 3, 32, 32)
    assert torch.equal(g[:, 0], g[:, 1]) and torch.equal(g[:, 1], g[:, 2])
    torch.testing.assert_close(g[:, :1], luminance(x), atol=1e-6, rtol=0)
    chroma = rgb_to_yiq(g)[:, 1:]
    assert chroma.abs().max() < 1e-5  # grey: no I, Q
    assert torch.equal(x, before)
    content = _photo(6, 16, 16)
    m = luminance_only(x, match_to=content)
    assert m.min() >= 0 and m.max() <= 1
    torch.testing.assert_close(m[:, 0].mean(), luminance(content).mean(), atol=2e-3, rtol=0)


def test_recombine_luminance_keeps_content_chroma() -> None:
    content = _photo(7, 32, 32)
    stylized = luminance_only(_photo(8, 32, 32))  # the network's grey output
    out = recombine_luminance(stylized, content)
    assert out.shape == content.shape
    assert out.min() >= 0 and out.max() <= 1
    yiq_out, yiq_c = rgb_to_yiq(out), rgb_to_yiq(content)
    unclamped = yiq_to_rgb(torch.cat([luminance(stylized), yiq_c[:, 1:]], 1))
    inside = ((unclamped > 0) & (unclamped < 1)).all(1)
    assert inside.float().mean() > 0.9  # the test images rarely clamp
    for ch in (1, 2):
        torch.testing.assert_close(yiq_out[:, ch][inside], yiq_c[:, ch][inside], atol=1e-5, rtol=0)
    torch.testing.assert_close(
        yiq_out[:, 0][inside], luminance(stylized)[:, 0][inside], atol=1e-5, rtol=0
    )


def test_recombine_luminance_rejects_size_mismatch() -> None:
    with pytest.raises(InvalidImageError, match=r"\(1, 3, 16, 16\).*\(1, 3, 32, 32\)"):
        recombine_luminance(_rand(0, 32, 32), _rand(1, 16, 16))


# -- colour statistics ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["mean_cov", "mk"])
def test_match_color_stats_equals_content_mean_and_cov(mode: str) -> None:
    style = _rand(9, 32, 32)
    content = _photo(10, 24, 40)
    before = style.clone()
    out = match_color_stats(style, content, mode=mode, clamp=False)
    assert out.shape == style.shape and out.dtype == torch.float32
    mu_o, cov_o = color_stats(out)
    mu_c, cov_c = color_stats(content)
    torch.testing.assert_close(mu_o, mu_c, atol=1e-5, rtol=0)
    torch.testing.assert_close(cov_o, cov_c, atol=5e-5, rtol=1e-3)
    torch.testing.assert_close(chroma_stats(out)[1], chroma_stats(content)[1], atol=5e-5, rtol=1e-3)
    assert torch.equal(style, before)
    clamped = match_color_stats(style, content, mode=mode)
    assert clamped.min() >= 0 and clamped.max() <= 1


def test_mk_map_moves_colours_less_than_image_analogies() -> None:
    style, content = _rand(11), _photo(12, 32, 32)
    d_mk = (match_color_stats(style, content, "mk", clamp=False) - style).pow(2).mean()
    d_ia = (match_color_stats(style, content, "mean_cov", clamp=False) - style).pow(2).mean()
    assert d_mk <= d_ia + 1e-7


@pytest.mark.parametrize("mode", ["mean_cov", "mk", "histogram"])
def test_match_color_stats_survives_singular_covariance(mode: str) -> None:
    grey = luminance_only(_rand(13))  # rank-1 covariance
    flat = torch.full((1, 3, 8, 8), 0.4)  # zero covariance
    content = _photo(14, 16, 16)
    for style in (grey, flat):
        out = match_color_stats(style, content, mode=mode)
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    flat_out = match_color_stats(flat, content, mode="mean_cov")
    torch.testing.assert_close(flat_out[0, :, 0, 0], color_stats(content)[0][0].float())


def test_histogram_mode_matches_per_channel_quantiles() -> None:
    style = _rand(15, 32, 32) ** 2  # skewed
    content = _photo(16, 24, 40)
    out = match_color_stats(style, content, mode="histogram")
    q = torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95])
    for ch in range(3):
        got = torch.quantile(out[0, ch].flatten(), q)
        want = torch.quantile(content[0, ch].flatten(), q)
        torch.testing.assert_close(got, want, atol=5e-3, rtol=0)
    # monotone per channel: brighter style pixels stay brighter
    for ch in range(3):
        s, o = style[0, ch].flatten(), out[0, ch].flatten()
        order = s.argsort()
        assert (o[order].diff() >= -1e-7).all()


def test_histogram_mode_keeps_flat_areas_flat() -> None:
    style = torch.zeros(1, 3, 8, 8)
    style[..., 4:] = 1.0  # two flat halves
    out = match_color_stats(style, _photo(17, 8, 8), mode="histogram")
    assert out[..., :4].flatten(2).std(dim=2).max() == 0
    assert out[..., 4:].flatten(2).std(dim=2).max() == 0


def test_match_color_stats_rejects_unknown_mode() -> None:
    with pytest.raises(ConfigError, match=r"'cholesky'.*mean_cov"):
        match_color_stats(_rand(0), _rand(1), mode="cholesky")


def test_chroma_stats_shapes_and_grey_is_zero() -> None:
    mu, cov = chroma_stats(torch.cat([_rand(0), luminance_only(_rand(1))]))
    assert mu.shape == (2, 2) and cov.shape == (2, 2, 2)
    assert mu[1].abs().max() < 1e-6 and cov[1].abs().max() < 1e-10
    assert cov[0].det() > 0

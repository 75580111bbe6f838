"""Colour maths for the colour controls of Gatys et al. 2017, "Controlling Perceptual Factors in
Neural Style Transfer" (CVPR 2017), section 5.

Two ways to keep the content photo's colours while taking the style's brush strokes:

* Luminance-only transfer (section 5.2): the network sees only luminance images, the style's
  luminance first affinely matched to the content's (:func:`match_luminance`,
  :func:`luminance_only`); the result's luminance is then recombined with the content's
  chroma (:func:`recombine_luminance`).
* Colour histogram matching (section 5.1): the style image is recoloured before the run so
  that its colour statistics equal the content's (:func:`match_color_stats`).

Every function is pure: inputs are (N, 3, H, W) float sRGB in [0, 1] and are never modified.
Colour spaces act on the sRGB values directly (no linearisation), as in the paper.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from impasto.errors import ConfigError, InvalidImageError
from impasto.preprocess.resize import gaussian_blur

# NTSC YIQ (FCC 1953, the coefficients rounded as in most references, e.g. Wikipedia / Matlab's
# rgb2ntsc). The inverse is computed from this matrix in float64 rather than copied from a
# table, so yiq_to_rgb(rgb_to_yiq(x)) == x up to float rounding, not up to table rounding.
_YIQ_FROM_RGB = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ],
    dtype=torch.float64,
)
_RGB_FROM_YIQ = torch.linalg.inv(_YIQ_FROM_RGB)

ColorMode = Literal["mean_cov", "mk", "histogram"]
COLOR_MODES: tuple[str, ...] = ("mean_cov", "mk", "histogram")

# Added to covariance diagonals (pixel values in [0, 1], so variances are ~1e-3..1e-1) and to
# standard deviations, so flat or grey images do not divide by zero.
DEFAULT_EPS = 1e-5


def _check_rgb(x: torch.Tensor, what: str) -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise InvalidImageError(f"{what} must be an (N, 3, H, W) tensor, got {tuple(x.shape)}")
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise InvalidImageError(f"{what} has a zero side {tuple(x.shape)}")


def _apply_matrix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(3, 3) matrix applied to every pixel of (N, 3, H, W); differentiable in ``x``."""
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    return torch.einsum("ij,njhw->nihw", m.to(device=x.device, dtype=dtype), x.to(dtype))


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    """sRGB → NTSC YIQ.

    Args:
        x: (N, 3, H, W) sRGB in [0, 1].
    Returns:
        (N, 3, H, W): Y in [0, 1] (luminance), I in about [-0.6, 0.6], Q in about
        [-0.52, 0.52] (chroma). float64 stays float64; other dtypes give float32.
    """
    _check_rgb(x, "image")
    return _apply_matrix(_YIQ_FROM_RGB, x)


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """NTSC YIQ → sRGB, the exact inverse of :func:`rgb_to_yiq` (no clamping).

    Args:
        x: (N, 3, H, W) YIQ.
    Returns:
        (N, 3, H, W) sRGB; values may leave [0, 1] for YIQ triples outside the RGB cube.
    """
    _check_rgb(x, "YIQ image")
    return _apply_matrix(_RGB_FROM_YIQ, x)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """The Y channel of :func:`rgb_to_yiq`: (N, 3, H, W) sRGB → (N, 1, H, W) in [0, 1]."""
    return rgb_to_yiq(x)[:, :1]


def match_luminance(
    style_y: torch.Tensor, content_y: torch.Tensor, eps: float = DEFAULT_EPS
) -> torch.Tensor:
    """Affinely match the style luminance's mean and standard deviation to the content's.

    Gatys et al. 2017, section 5.2: L_s' = sigma_c / sigma_s * (L_s - mu_s) + mu_c, so that the
    style's luminance histogram sits where the content's does before the transfer.

    Args:
        style_y: (N, 1, H, W) (or any (N, ...)) luminance of the style image(s).
        content_y: (N or 1, 1, H', W') luminance of the content image(s); sizes may differ.
        eps: floor of sigma_s, so a flat style luminance maps to the flat content mean.
    Returns:
        a new tensor shaped like ``style_y``, in its dtype; statistics are per batch item
        (population standard deviation, computed in float64). Not clamped: the output is an
        exact affine map of the input.
    """
    if style_y.dim() < 2 or content_y.dim() < 2:
        raise ValueError(
            f"expected batched luminance (N, 1, H, W), got {tuple(style_y.shape)} and "
            f"{tuple(content_y.shape)}"
        )
    if content_y.shape[0] not in (1, style_y.shape[0]):
        raise ValueError(
            f"content batch {content_y.shape[0]} does not broadcast to style batch "
            f"{style_y.shape[0]}"
        )
    # float64 statistics: a flat float32 image's mean is not exactly its value, and the
    # rounding error would be divided by eps.
    s = style_y.reshape(style_y.shape[0], -1).to(torch.float64)
    c = content_y.reshape(content_y.shape[0], -1).to(device=s.device, dtype=torch.float64)
    mu_s, sd_s = s.mean(dim=1, keepdim=True), s.std(dim=1, correction=0, keepdim=True)
    mu_c, sd_c = c.mean(dim=1, keepdim=True), c.std(dim=1, correction=0, keepdim=True)
    out = (s - mu_s) * (sd_c / sd_s.clamp_min(eps)) + mu_c
    dtype = style_y.dtype if style_y.is_floating_point() else torch.float32
    return out.reshape(style_y.shape).to(dtype)


def luminance_only(image: torch.Tensor, match_to: torch.Tensor | None = None) -> torch.Tensor:
    """A grey sRGB image whose three channels are ``image``'s luminance, for the network.

    VGG takes three channels, so luminance-only transfer (Gatys et al. 2017, section 5.2)
    feeds it Y repeated three times. With ``match_to`` (the content image), the luminance is
    first matched to ``match_to``'s mean and standard deviation (:func:`match_luminance`);
    that is what the paper does to the style image.

    Args:
        image: (N, 3, H, W) sRGB in [0, 1].
        match_to: optional (N or 1, 3, H', W') sRGB image whose luminance statistics to take.
    Returns:
        (N, 3, H, W) with three equal channels, clamped to [0, 1].
    """
    y = luminance(image)
    if match_to is not None:
        y = match_luminance(y, luminance(match_to))
    return y.clamp(0.0, 1.0).expand(-1, 3, -1, -1).contiguous()


def recombine_luminance(stylized_rgb: torch.Tensor, content_rgb: torch.Tensor) -> torch.Tensor:
    """Luminance of the stylised result, chroma (I, Q) of the content, back to sRGB.

    The last step of luminance-only transfer (Gatys et al. 2017, section 5.2). Where the
    clamp to [0, 1] does not bite, the output's I and Q equal the content's exactly (up to
    float rounding).

    Args:
        stylized_rgb: (N, 3, H, W) sRGB; any colour it has is ignored, only its Y is used.
        content_rgb: (N or 1, 3, H, W) sRGB at the same size.
    Returns:
        (N, 3, H, W) sRGB in [0, 1].
    """
    _check_rgb(stylized_rgb, "stylised image")
    _check_rgb(content_rgb, "content image")
    if content_rgb.shape[-2:] != stylized_rgb.shape[-2:] or content_rgb.shape[0] not in (
        1,
        stylized_rgb.shape[0],
    ):
        raise InvalidImageError(
            f"content image {tuple(content_rgb.shape)} does not match the stylised image "
            f"{tuple(stylized_rgb.shape)}; resize the content to the result first"
        )
    y = luminance(stylized_rgb)
    iq = rgb_to_yiq(content_rgb)[:, 1:].to(y.dtype).expand(y.shape[0], -1, -1, -1)
    return yiq_to_rgb(torch.cat([y, iq], dim=1)).clamp(0.0, 1.0)


def _pixels(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) → (N, C, H*W) in float64."""
    return x.detach().to(torch.float64).reshape(x.shape[0], x.shape[1], -1)


def _mean_cov(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, M) → mean (N, C), population covariance (N, C, C)."""
    mu = p.mean(dim=2)
    d = p - mu.unsqueeze(2)
    return mu, d @ d.transpose(1, 2) / p.shape[2]


def color_stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel RGB mean and covariance of each image.

    Args:
        image: (N, 3, H, W).
    Returns:
        mean (N, 3) and population covariance (N, 3, 3), both float64.
    """
    _check_rgb(image, "image")
    return _mean_cov(_pixels(image))


def chroma_stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of the chroma (I, Q) channels of each image.

    Args:
        image: (N, 3, H, W) sRGB.
    Returns:
        mean (N, 2) and population covariance (N, 2, 2), both float64.
    """
    _check_rgb(image, "image")
    return _mean_cov(_pixels(rgb_to_yiq(image.detach().to(torch.float64))[:, 1:]))


def _sym_power(cov: torch.Tensor, power: float, eps: float) -> torch.Tensor:
    """(C, C) symmetric positive semi-definite matrix → (cov + eps I)^power, via eigh."""
    vals, vecs = torch.linalg.eigh(
        cov + eps * torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    )
    vals = vals.clamp_min(eps) ** power
    return (vecs * vals.unsqueeze(-2)) @ vecs.transpose(-2, -1)


def _linear_map(cov_s: torch.Tensor, cov_c: torch.Tensor, mode: str, eps: float) -> torch.Tensor:
    """The matrix A with A cov_s A^T = cov_c (up to eps) for one image pair."""
    s_inv_half = _sym_power(cov_s, -0.5, eps)
    if mode == "mean_cov":
        # "Image analogies" variant of Gatys et al. 2017, section 5.1 (Hertzmann et al. 2001):
        # A = Sigma_c^(1/2) Sigma_s^(-1/2), both symmetric square roots from eigendecompositions.
        return _sym_power(cov_c, 0.5, eps) @ s_inv_half
    # Monge-Kantorovich: the optimal transport map between the two Gaussians (Pitie &
    # Kokaram 2007), A = S^(-1/2) (S^(1/2) C S^(1/2))^(1/2) S^(-1/2). A is symmetric, and of
    # all maps with A S A^T = C it moves colours the least, so hues shift less.
    s_half = _sym_power(cov_s, 0.5, eps)
    middle = s_half @ (cov_c + eps * torch.eye(3, dtype=cov_c.dtype, device=cov_c.device)) @ s_half
    middle = 0.5 * (middle + middle.transpose(-2, -1))
    return s_inv_half @ _sym_power(middle, 0.5, 0.0) @ s_inv_half


def _match_histogram_1d(source: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Map ``source`` values so that their distribution is ``template``'s (1-D arrays).

    Equal source values map to one output value (their mid-rank quantile), so flat areas stay
    flat; quantiles between template samples are linearly interpolated.
    """
    _, inverse, counts = np.unique(source, return_inverse=True, return_counts=True)
    quantiles = (np.cumsum(counts) - 0.5 * counts) / source.size
    t_values, t_counts = np.unique(template, return_counts=True)
    t_quantiles = (np.cumsum(t_counts) - 0.5 * t_counts) / template.size
    mapped = np.interp(quantiles, t_quantiles, t_values)
    return np.asarray(mapped[inverse.reshape(-1)], dtype=np.float64)


def match_color_stats(
    style: torch.Tensor,
    content: torch.Tensor,
    mode: ColorMode | str = "mean_cov",
    eps: float = DEFAULT_EPS,
    clamp: bool = True,
) -> torch.Tensor:
    """Recolour ``style`` so that its colour distribution matches ``content``'s.

    Colour histogram matching of Gatys et al. 2017, section 5.1: the style is recoloured
    before the run, so the transfer takes its strokes but the content's palette.

    Modes:
        ``"mean_cov"`` (the paper's "image analogies" variant): x' = A (x - mu_s) + mu_c with
            A = Sigma_c^(1/2) Sigma_s^(-1/2), symmetric matrix square roots. The output's
            per-pixel RGB mean and 3x3 covariance equal the content's.
        ``"mk"``: the same affine form with the Monge-Kantorovich map (the optimal transport
            map between Gaussians), which matches the same statistics with the least change
            of colour.
        ``"histogram"``: each of R, G, B separately mapped through the style's CDF and the
            content's inverse CDF, so the per-channel histograms (quantiles) match; the
            correlations between channels are not matched.

    Args:
        style: (N, 3, H, W) sRGB in [0, 1].
        content: (N or 1, 3, H', W') sRGB in [0, 1]; sizes may differ.
        mode: one of ``"mean_cov"``, ``"mk"``, ``"histogram"``.
        eps: added to the covariance diagonals, so flat, grey or two-colour images (singular
            covariance) give a finite map.
        clamp: clamp the result to [0, 1] (on by default: the output is an image). The
            statistics are exact only where the clamp does not bite.
    Returns:
        a new (N, 3, H, W) tensor in ``style``'s dtype (float32 for non-float inputs).
    """
    if mode not in COLOR_MODES:
        raise ConfigError(
            f"unknown colour matching mode {mode!r}; choose one of: mean_cov, mk, histogram"
        )
    _check_rgb(style, "style image")
    _check_rgb(content, "content image")
    if content.shape[0] not in (1, style.shape[0]):
        raise InvalidImageError(
            f"content batch of {content.shape[0]} does not match style batch of {style.shape[0]}"
        )
    out_dtype = style.dtype if style.is_floating_point() else torch.float32
    s, c = _pixels(style), _pixels(content)
    outs = []
    for i in range(s.shape[0]):
        si, ci = s[i], c[i if c.shape[0] > 1 else 0]
        if mode == "histogram":
            sn, cn = si.cpu().numpy(), ci.cpu().numpy()
            mapped = np.stack([_match_histogram_1d(sn[k], cn[k]) for k in range(3)])
            outs.append(torch.from_numpy(mapped).to(si.device))
            continue
        (mu_s,), (cov_s,) = _mean_cov(si.unsqueeze(0))
        (mu_c,), (cov_c,) = _mean_cov(ci.unsqueeze(0))
        a = _linear_map(cov_s, cov_c, mode, eps)
        outs.append(a @ (si - mu_s.unsqueeze(1)) + mu_c.unsqueeze(1))
    out = torch.stack(outs).reshape(style.shape)
    if clamp:
        out = out.clamp(0.0, 1.0)
    return out.to(out_dtype)


def match_region_colors(
    image: torch.Tensor,
    reference: torch.Tensor,
    image_masks: torch.Tensor,
    reference_masks: torch.Tensor,
    mode: ColorMode | str = "mk",
    feather: float = 0.0,
    eps: float = DEFAULT_EPS,
) -> torch.Tensor:
    """Region-wise colour transfer: each region of ``image`` takes the colour mean and
    covariance of the same region of ``reference`` (Reinhard et al. 2001's statistics
    transfer, with the full RGB covariance, one affine map per region).

    Luan et al. 2017's cheap baseline, and the start of ``impasto photo``: each region's map
    is affine, so inside a region the result is what the photorealism term asks for.

    Args:
        image: (1, 3, H, W) sRGB in [0, 1].
        reference: (1, 3, H', W').
        image_masks: (K, H, W) one-hot regions of ``image``.
        reference_masks: (K, H', W'), region k paired with region k of ``image_masks``.
        mode: ``"mk"`` (the Monge-Kantorovich map, the least colour change) or
            ``"mean_cov"``, as in :func:`match_color_stats`.
        feather: the Gaussian sigma (px) over which neighbouring regions' maps blend (0: a
            hard switch at the region edge).
        eps: as in :func:`match_color_stats`.
    Returns:
        a new (1, 3, H, W) float32 tensor in [0, 1]. A region empty in either map keeps the
        image's colours.
    """
    if mode not in ("mk", "mean_cov"):
        raise ConfigError(f"unknown region colour mode {mode!r}; choose one of: mk, mean_cov")
    _check_rgb(image, "image")
    _check_rgb(reference, "reference")
    if image_masks.shape[0] != reference_masks.shape[0]:
        raise ValueError(
            f"{image_masks.shape[0]} image regions, {reference_masks.shape[0]} in the reference"
        )
    x, r = _pixels(image)[0], _pixels(reference)[0]  # (3, M), (3, M')
    mi = image_masks.reshape(image_masks.shape[0], -1).to(torch.float64)
    mr = reference_masks.reshape(reference_masks.shape[0], -1).to(torch.float64)
    weights = image_masks.to(torch.float64).unsqueeze(0)
    if feather > 0:
        weights = gaussian_blur(weights, feather)
    weights = weights[0].reshape(mi.shape[0], -1)
    weights = weights / weights.sum(dim=0, keepdim=True).clamp_min(1e-12)
    out = torch.zeros_like(x)
    for k in range(mi.shape[0]):
        src, dst = x[:, mi[k] > 0.5], r[:, mr[k] > 0.5]
        if src.shape[1] < 2 or dst.shape[1] < 2:
            out += weights[k] * x
            continue
        (mu_s,), (cov_s,) = _mean_cov(src.unsqueeze(0))
        (mu_c,), (cov_c,) = _mean_cov(dst.unsqueeze(0))
        a = _linear_map(cov_s, cov_c, mode, eps)
        out += weights[k] * (a @ (x - mu_s.unsqueeze(1)) + mu_c.unsqueeze(1))
    return out.reshape(image.shape).clamp(0.0, 1.0).to(torch.float32)

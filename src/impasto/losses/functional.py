"""The loss terms of Gatys, Ecker & Bethge (CVPR 2016) as pure functions.

Notation follows the paper: a layer l has N_l feature maps of M_l = H_l * W_l positions;
F^l (N_l x M_l) is the generated image's activation, P^l the content's, and the Gram matrix
G^l = F^l F^l^T holds the feature correlations that define style.
"""

from __future__ import annotations

import torch


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Upcast half and bfloat16 (mixed precision features); keep float32 and float64."""
    return x.to(torch.float32) if x.dtype in (torch.float16, torch.bfloat16) else x


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrices normalised by the number of positions: G / M.

    Args:
        features: (B, N, H, W) activations.
    Returns:
        (B, N, N) matrices ``F F^T / (H W)``, at least float32: bfloat16 features from mixed
        precision are upcast first, so the statistics keep their precision.

    Dividing by M makes the statistic independent of the image size (the paper's E_l divides
    the squared Gram error by M^2 for the same reason, see :func:`style_layer_loss`).
    """
    b, n, h, w = features.shape
    f = _at_least_fp32(features.reshape(b, n, h * w))
    return torch.bmm(f, f.transpose(1, 2)) / (h * w)


def style_layer_loss(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The paper's per-layer style error (eq. 4) from M-normalised Gram matrices.

    E_l = 1 / (4 N^2 M^2) * sum_ij (G_ij - A_ij)^2 with unnormalised G, A; with G/M and A/M
    (what :func:`gram_matrix` returns) this is sum_ij (G_ij - A_ij)^2 / (4 N^2).

    Args:
        gram, target: (B, N, N); ``target`` broadcasts over the batch.
    Returns:
        scalar: the mean over the batch of E_l.
    """
    n = gram.shape[-1]
    return ((gram - target) ** 2).sum(dim=(-2, -1)).mean() / (4.0 * n * n)


def content_layer_loss(
    features: torch.Tensor, target: torch.Tensor, positions: int | None = None
) -> torch.Tensor:
    """The paper's content error (eq. 1), 1/2 * sum (F - P)^2, divided by M = H * W.

    Dividing by the number of positions departs from the paper so that the content/style
    balance (alpha/beta) does not change with the image size, as the style term's does not
    (eq. 4 divides by M^2 for the same reason).

    Args:
        features, target: (B, N, H, W).
        positions: M when ``features`` are one part (a tile) of a larger map whose error
            this is a share of; by default H * W.
    Returns:
        scalar: the mean over the batch.
    """
    b, _, h, w = features.shape
    diff = _at_least_fp32(features) - _at_least_fp32(target)
    return 0.5 * (diff**2).sum() / (b * (h * w if positions is None else positions))


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: the mean squared difference of neighbouring pixels.

    Penalises the high-frequency noise that gradient-based synthesis leaves (Mahendran &
    Vedaldi 2015, used by Johnson et al. 2016 and neural-style).

    Args:
        image: (B, C, H, W) in [0, 1].
    Returns:
        scalar.
    """
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return (dy**2).mean() + (dx**2).mean()

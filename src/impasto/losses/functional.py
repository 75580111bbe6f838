"""The loss terms of Gatys, Ecker & Bethge (CVPR 2016) as pure functions.

Notation follows the paper: a layer l has N_l feature maps of M_l = H_l * W_l positions;
F^l (N_l x M_l) is the generated image's activation, P^l the content's, and the Gram matrix
G^l = F^l F^l^T holds the feature correlations that define style.
"""

from __future__ import annotations

from typing import Any

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


def pixel_loss(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean squared difference of two pictures' pixels: distillation's pixel term (a
    network learning the optimiser's outputs, beside the feature terms above).

    Args:
        image, target: (B, C, H, W) in [0, 1].
    Returns:
        scalar, at least float32.
    """
    return ((_at_least_fp32(image) - _at_least_fp32(target)) ** 2).mean()


class _Realism(torch.autograd.Function):
    """sum_c V_c^T M V_c / P for a symmetric sparse M, with the gradient 2 M V / P written out:
    one sparse product per evaluation (autograd through a sparse product would need M^T)."""

    @staticmethod
    def forward(ctx: Any, v: torch.Tensor, laplacian: torch.Tensor) -> torch.Tensor:
        mv = laplacian @ v
        ctx.save_for_backward(mv)
        return (v * mv).sum() / v.shape[0]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (mv,) = ctx.saved_tensors
        return grad * 2.0 * mv / mv.shape[0], None


def realism_loss(image: torch.Tensor, laplacian: torch.Tensor) -> torch.Tensor:
    """Luan et al. 2017's photorealism term (eq. 2): sum over channels c of V_c^T M V_c, with
    M the photo's matting Laplacian (:func:`impasto.preprocess.matting.matting_laplacian`) and
    V_c channel c of the output, flattened. ~0 when the output is, in every 3x3 window, an
    affine function of the photo's colours (Levin et al. 2008).

    Departs from the paper in dividing by the number of pixels P, so that the weight does not
    change with the size (as :func:`content_layer_loss` divides by M).

    Args:
        image: (1, 3, H, W), the output.
        laplacian: (P, P) sparse, P = H * W, for the photo at this size.
    Returns:
        scalar, float32 (float64 for float64 inputs, for gradcheck).
    """
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"image must be (1, C, H, W), got {tuple(image.shape)}")
    p = image.shape[-2] * image.shape[-1]
    if laplacian.shape != (p, p):
        raise ValueError(
            f"the Laplacian is {tuple(laplacian.shape)} but the image has {p} pixels: build "
            "it for the image's size"
        )
    v = _at_least_fp32(image[0].reshape(image.shape[1], p).T.contiguous())
    result: torch.Tensor = _Realism.apply(v, laplacian.to(v.dtype))
    return result

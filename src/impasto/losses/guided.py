"""Guided Gram matrices (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style
Transfer", section 3) and Gram blending, as pure functions.

Spatial control: with R regions given by masks T_r (one per region, at layer l's resolution),
the paper's guided feature maps are F_r = T_r * F (eq. 5) and their Gram matrices
G_r = F_r F_r^T (eq. 6); the style loss sums the region errors, E_l = sum_r lambda_r E_l^r.

Normalisation chosen here: G_r = F_r F_r^T / sum(T_r^2), the mask applied once to each factor
(so the weight of a position is T_r^2, as in eq. 5-6) and the sum divided by the total of those
weights. G_r is then a weighted mean of the per-position outer products f f^T: independent of
the region's area (as :func:`~impasto.losses.functional.gram_matrix`'s division by M makes the
plain Gram independent of the image size), and equal to ``gram_matrix`` exactly when the mask is
all ones. Hard one-hot masks give T^2 = T, so only the fractional boundary cells left by
:func:`~impasto.preprocess.masks.downsample_masks` see the difference.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from impasto.errors import ConfigError

# Floor of a region's total weight: a region absent at this layer gets an all-zero Gram
# matrix instead of a division by zero.
EMPTY_REGION = 1e-12


def _weights_text(weights: Sequence[float]) -> str:
    return ", ".join(f"{float(w):g}" for w in weights)


def guided_gram_matrices(features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Gram matrices of ``features`` restricted to each mask's region.

    Args:
        features: (1, N, H, W) activations of one image.
        masks: (K, H, W) region weights in [0, 1] at the layer's resolution.
    Returns:
        (K, N, N): G_k = (F * m_k)(F * m_k)^T / sum(m_k^2). Computed in float32 like
        ``gram_matrix`` (float64 inputs stay float64, for gradcheck). A region with no weight
        at this layer gives zeros.
    """
    if features.dim() != 4 or features.shape[0] != 1:
        raise ValueError(f"features must be (1, N, H, W), got {tuple(features.shape)}")
    if masks.dim() != 3 or masks.shape[-2:] != features.shape[-2:]:
        raise ValueError(
            f"masks {tuple(masks.shape)} must be (K, H, W) at the features' resolution "
            f"{tuple(features.shape[-2:])}; use downsample_masks"
        )
    _, n, h, w = features.shape
    dtype = torch.float64 if features.dtype == torch.float64 else torch.float32
    f = features.reshape(n, h * w).to(dtype)
    m = masks.reshape(masks.shape[0], h * w).to(device=f.device, dtype=dtype)
    grams = []
    # One region at a time keeps the peak memory at one (N, M) copy of the features.
    for k in range(m.shape[0]):
        fk = f * m[k]
        # Where a region is absent fk is ~0 too, so the clamp gives ~zeros, with no host sync.
        grams.append((fk @ fk.T) / (m[k] * m[k]).sum().clamp_min(EMPTY_REGION))
    return torch.stack(grams)


def guided_style_loss(
    grams: torch.Tensor,
    targets: torch.Tensor,
    weights: Sequence[float] | torch.Tensor | None = None,
) -> torch.Tensor:
    """Sum over regions of :func:`~impasto.losses.functional.style_layer_loss` (eq. 7 of
    Gatys et al. 2017): E_l = sum_k w_k * sum_ij (G_k - A_k)_ij^2 / (4 N^2).

    Each region's Gram matrix is area-normalised, so by default every region counts equally
    whatever its size; pass the regions' area fractions as ``weights`` to weigh by area.

    Args:
        grams: (K, N, N) guided Gram matrices of the generated image.
        targets: (K, N, N) the style's, region k of ``targets`` paired with region k of
            ``grams`` (reorder with :func:`~impasto.preprocess.masks.match_mask_palettes`).
        weights: K non-negative region weights; None means all 1.
    Returns:
        scalar.
    """
    if grams.dim() != 3 or grams.shape != targets.shape:
        raise ValueError(
            f"grams {tuple(grams.shape)} and targets {tuple(targets.shape)} must both be (K, N, N)"
        )
    k, n = grams.shape[0], grams.shape[-1]
    per_region = ((grams - targets.to(grams.dtype)) ** 2).sum(dim=(-2, -1)) / (4.0 * n * n)
    if weights is None:
        return per_region.sum()
    w = torch.as_tensor(weights, dtype=per_region.dtype, device=per_region.device).reshape(-1)
    if w.numel() != k:
        raise ConfigError(
            f"got {w.numel()} region weights ({_weights_text(w.tolist())}) for {k} regions"
        )
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ConfigError(
            f"region weights must be finite and >= 0, got {_weights_text(w.tolist())}"
        )
    return (w * per_region).sum()


def blend_grams(grams_list: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """Weighted mean of several styles' Gram matrices, to mix styles.

    Matching a convex combination of Gram matrices mixes the styles' textures (the style
    interpolation of Gatys et al. 2017 and neural-style's ``-style_blend_weights``).

    Args:
        grams_list: S tensors of one shape, e.g. (1, N, N) each.
        weights: S non-negative weights, not all zero; normalised to sum to 1.
    Returns:
        a new tensor of that shape (float32 unless the inputs are float64).
    Raises:
        ConfigError: a weight is negative or not finite, they are all zero, or their number
            differs from the number of Gram matrices; the message names the weights.
    """
    ws = [float(w) for w in weights]
    if len(ws) != len(grams_list) or not ws:
        raise ConfigError(
            f"got {len(ws)} style blend weights ({_weights_text(ws)}) for "
            f"{len(grams_list)} style images"
        )
    if any(not (w >= 0 and w < float("inf")) for w in ws):
        raise ConfigError(f"style blend weights must be finite and >= 0, got {_weights_text(ws)}")
    total = sum(ws)
    if total <= 0:
        raise ConfigError(f"style blend weights must not all be zero, got {_weights_text(ws)}")
    shape = grams_list[0].shape
    for g in grams_list:
        if g.shape != shape:
            raise ValueError(
                f"Gram matrices to blend differ in shape: {tuple(shape)} and {tuple(g.shape)}"
            )
    dtype = torch.float64 if any(g.dtype == torch.float64 for g in grams_list) else torch.float32
    out = torch.zeros(shape, dtype=dtype, device=grams_list[0].device)
    for g, w in zip(grams_list, ws, strict=True):
        out = out + (w / total) * g.to(dtype)
    return out

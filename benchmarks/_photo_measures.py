"""Measures of a photo-to-photo transfer for benchmarks/photo.py (Luan et al. 2017's two
demands, a photograph that keeps the photo's structure and takes the reference's look).

* **edge SSIM**: SSIM (Wang et al. 2004; 11 px Gaussian window, sigma 1.5) between the Sobel
  gradient magnitudes of the photo's and the output's luminance. 1 when the output has the
  photo's edges where the photo has them; painted strokes and lost edges lower it.
* **affine residual**: in every 5x5 window, the least-squares affine fit of the output's colour
  on the photo's colour (4 coefficients per channel, a 1e-6 ridge); the mean squared residual
  over windows and channels, in (0-1 units)^2, times 1e4. 0 for any locally affine recolouring
  (what the matting Laplacian asks, in 3x3 windows; 5x5 here, a measure the objective does not
  optimise directly).
* **region colour distance**: per region pair (the same colour in the two maps), the
  2-Wasserstein distance between Gaussians fitted to the output region's and the reference
  region's RGB pixels (mean and covariance); the area-weighted mean over the photo's regions,
  in 0-255 units.

All take (1, 3, H, W) float images in [0, 1] at the same size (the reference at its own).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from impasto.preprocess.color import luminance

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5
WINDOW = 5
RIDGE = 1e-6


def sobel_magnitude(image: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) → (1, 1, H, W): |grad| of the luminance (Sobel, replicated borders)."""
    y = luminance(image.to(torch.float64))
    kx = torch.tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=torch.float64) / 8
    k = torch.stack([kx, kx.T]).unsqueeze(1)
    g = F.conv2d(F.pad(y, (1, 1, 1, 1), mode="replicate"), k)
    return g.pow(2).sum(dim=1, keepdim=True).sqrt()


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of two (1, 1, H, W) maps, the constants for a data range of max(a, b)."""
    t = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float64)
    g = torch.exp(-(t**2) / (2 * SSIM_SIGMA**2))
    g = g / g.sum()
    win = (g[:, None] * g[None, :]).reshape(1, 1, *([2 * SSIM_RADIUS + 1] * 2))

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, win)

    rng = float(torch.maximum(a.max(), b.max()).clamp_min(1e-12))
    c1, c2 = (0.01 * rng) ** 2, (0.03 * rng) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(s.mean())


def edge_ssim(output: torch.Tensor, photo: torch.Tensor) -> float:
    return ssim(sobel_magnitude(output), sobel_magnitude(photo))


def affine_residual(output: torch.Tensor, photo: torch.Tensor) -> float:
    """Mean squared residual (x 1e4) of the per-window affine fit of output on photo."""
    p = F.unfold(photo.to(torch.float64), WINDOW)  # (1, 3*25, L)
    o = F.unfold(output.to(torch.float64), WINDOW)
    n = WINDOW * WINDOW
    x = p[0].reshape(3, n, -1).permute(2, 1, 0)  # (L, 25, 3)
    y = o[0].reshape(3, n, -1).permute(2, 1, 0)
    x = torch.cat([x, torch.ones_like(x[..., :1])], dim=2)  # (L, 25, 4)
    xtx = x.transpose(1, 2) @ x + RIDGE * torch.eye(4, dtype=torch.float64)
    coef = torch.linalg.solve(xtx, x.transpose(1, 2) @ y)  # (L, 4, 3)
    residual = y - x @ coef
    return float(residual.pow(2).mean()) * 1e4


def _gaussian_w2(a: torch.Tensor, b: torch.Tensor) -> float:
    """2-Wasserstein distance between Gaussians fitted to (3, M) and (3, M') pixels."""
    mu_a, mu_b = a.mean(dim=1), b.mean(dim=1)
    ca, cb = torch.cov(a), torch.cov(b)
    vals, vecs = torch.linalg.eigh(cb)
    root_b = (vecs * vals.clamp_min(0).sqrt()) @ vecs.T
    middle = root_b @ ca @ root_b
    mv = torch.linalg.eigvalsh(0.5 * (middle + middle.T)).clamp_min(0).sqrt().sum()
    d2 = (mu_a - mu_b).pow(2).sum() + torch.trace(ca) + torch.trace(cb) - 2 * mv
    return float(d2.clamp_min(0).sqrt())


def region_color_distance(
    output: torch.Tensor,
    reference: torch.Tensor,
    output_masks: torch.Tensor,
    reference_masks: torch.Tensor,
) -> float:
    """Area-weighted mean over paired regions of the Gaussian W2 colour distance (0-255)."""
    o = output[0].reshape(3, -1).to(torch.float64) * 255
    r = reference[0].reshape(3, -1).to(torch.float64) * 255
    total, weight = 0.0, 0.0
    for k in range(output_masks.shape[0]):
        mo = output_masks[k].reshape(-1) > 0.5
        mr = reference_masks[k].reshape(-1) > 0.5
        if int(mo.sum()) < 2 or int(mr.sum()) < 2:
            continue
        area = float(mo.sum())
        total += area * _gaussian_w2(o[:, mo], r[:, mr])
        weight += area
    return total / max(weight, 1.0)

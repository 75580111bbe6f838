"""The matting Laplacian of Levin, Lischinski & Weiss (2008), "A Closed-Form Solution to
Natural Image Matting", as Luan et al. 2017 ("Deep Photo Style Transfer") use it for their
photorealism term.

For every 3x3 window w_k of the photo I, with mean colour mu_k and colour covariance Sigma_k
(3x3, divided by |w_k| = 9), pixels i, j of the window add

    delta_ij - (1 + (I_i - mu_k)^T (Sigma_k + eps / 9 * Id)^-1 (I_j - mu_k)) / 9

to M_ij (Levin et al., eq. 12). M is symmetric, positive semi-definite, its rows sum to 0,
and V^T M V is (up to eps) the least-squares error of explaining V, in every window, as an
affine function of the photo's colours: ~0 for any affine recolouring of the photo.

Built once per photo size as an N x N torch sparse CSR matrix (N = H * W pixels; ~25 non-zeros
a row: two pixels share a window when they are at most 2 apart in x and y). scipy is not a
dependency: the 25 diagonals are accumulated as dense (25, H, W) arrays, then indexed.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from impasto.errors import InvalidImageError

# Luan et al. 2017's value (their gen_laplacian/getLaplacian1.m), smaller than Levin's 1e-5:
# the output may then follow the photo's faintest edges.
EPSILON = 1e-7
RADIUS = 1  # 3x3 windows
_WIN = 2 * RADIUS + 1
_SPAN = range(-2 * RADIUS, 2 * RADIUS + 1)  # two pixels share a window within 2 px
_OFFSETS = [(dy, dx) for dy in _SPAN for dx in _SPAN]


def _windows(image: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) → (9, 3, H-2, W-2) float64: the colour of each window's 9 pixels, windows
    indexed by their top-left pixel."""
    x = image[0].to(torch.float64)
    h, w = x.shape[-2:]
    return torch.stack(
        [
            x[:, dy : h - _WIN + 1 + dy, dx : w - _WIN + 1 + dx]
            for dy in range(_WIN)
            for dx in range(_WIN)
        ]
    )


def _window_terms(image: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(d, s): d (9, P, 3) each window pixel's colour minus the window mean, s (9, P, 3) that
    times (Sigma + eps / 9 Id)^-1, for the P windows."""
    win = _windows(image)  # (9, 3, h', w')
    n = win.shape[0]
    p = win.shape[-2] * win.shape[-1]
    colours = win.reshape(n, 3, p).permute(0, 2, 1)  # (9, P, 3)
    d = colours - colours.mean(dim=0, keepdim=True)
    cov = torch.einsum("npi,npj->pij", d, d) / n
    reg = cov + (eps / n) * torch.eye(3, dtype=torch.float64)
    s = torch.einsum("pij,npj->npi", torch.linalg.inv(reg), d)
    return d, s


def matting_diagonals(image: torch.Tensor, eps: float = EPSILON) -> torch.Tensor:
    """The Laplacian as 25 diagonals: (25, H, W) float64, entry [o, y, x] = M[(y, x),
    (y + dy_o, x + dx_o)] for the offsets (dy, dx) in [-2, 2]^2 (row-major), 0 where the other
    pixel is outside the image.

    Args:
        image: (1, 3, H, W) in [0, 1], H and W at least 3.
        eps: Levin et al.'s regulariser.
    """
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise InvalidImageError(f"the photo must be (1, 3, H, W), got {tuple(image.shape)}")
    h, w = int(image.shape[-2]), int(image.shape[-1])
    if h < _WIN or w < _WIN:
        raise InvalidImageError(f"the photo is {w}x{h} px: the matting Laplacian needs 3x3")
    d, s = _window_terms(image, eps)
    hh, ww = h - _WIN + 1, w - _WIN + 1
    n = _WIN * _WIN
    # gram[a, b] = (I_a - mu)^T (Sigma + eps/9 Id)^-1 (I_b - mu), per window.
    gram = torch.einsum("api,bpi->abp", d, s).reshape(n, n, hh, ww)
    values = torch.eye(n, dtype=torch.float64).reshape(n, n, 1, 1) - (1.0 + gram) / n
    diag = torch.zeros(len(_OFFSETS), h, w, dtype=torch.float64)
    for a in range(n):
        ay, ax = divmod(a, _WIN)
        for b in range(n):
            by, bx = divmod(b, _WIN)
            o = (by - ay + 2 * RADIUS) * len(_SPAN) + (bx - ax + 2 * RADIUS)
            diag[o, ay : ay + hh, ax : ax + ww] += values[a, b]
    return diag


def matting_laplacian(image: torch.Tensor, eps: float = EPSILON) -> torch.Tensor:
    """Levin et al.'s matting Laplacian of ``image``, (N, N) float32 sparse CSR with N = H * W
    (pixels in row-major order, as ``image[0, c].reshape(-1)``).

    Args:
        image: (1, 3, H, W) in [0, 1]; H and W at least 3.
        eps: the regulariser (Luan et al.'s 1e-7 by default).
    """
    diag = matting_diagonals(image, eps)
    h, w = diag.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    dy = torch.tensor([o[0] for o in _OFFSETS]).reshape(-1, 1, 1)
    dx = torch.tensor([o[1] for o in _OFFSETS]).reshape(-1, 1, 1)
    y2, x2 = ys + dy, xs + dx  # (25, H, W): the other pixel of each entry
    keep = ((y2 >= 0) & (y2 < h) & (x2 >= 0) & (x2 < w)).reshape(len(_OFFSETS), -1).T
    # Row-major offsets give each row's columns in increasing order: CSR without a sort.
    cols = (y2 * w + x2).reshape(len(_OFFSETS), -1).T[keep]
    vals = diag.reshape(len(_OFFSETS), -1).T[keep].to(torch.float32)
    crow = torch.zeros(h * w + 1, dtype=torch.int64)
    crow[1:] = keep.sum(dim=1).cumsum(0)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product is not
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, cols, vals, (h * w, h * w))


def affine_smooth(
    image: torch.Tensor, laplacian: torch.Tensor, strength: float, iterations: int = 60
) -> torch.Tensor:
    """The locally affine image closest to ``image``: argmin_X |X - Y|^2 + strength * sum_c
    X_c^T M X_c, i.e. (Id + strength M) X = Y, solved by conjugate gradients from X = Y.

    This is the photorealistic smoothing of Li et al. 2018 ("A Closed-form Solution to
    Photorealistic Image Stylization", eq. 5) with the photo's matting Laplacian in place of
    their affinity Laplacian, and the role of Luan et al.'s post-processing step: colour
    seams and blotches that do not follow the photo's edges are spread out, edges that the
    photo has are kept.

    Args:
        image: (1, 3, H, W) Y, e.g. a region-wise recoloured photo.
        laplacian: (P, P) the photo's matting Laplacian at this size (P = H * W).
        strength: lambda; 0 returns a copy.
        iterations: conjugate gradient steps (each one sparse product).
    Returns:
        a new (1, 3, H, W) float32 tensor, clamped to [0, 1].
    """
    if strength <= 0:
        return image.clone()
    h, w = image.shape[-2:]
    y = image[0].reshape(3, -1).T.to(torch.float32).contiguous()  # (P, 3)
    lap = laplacian.to(device=y.device, dtype=y.dtype)

    def apply(v: torch.Tensor) -> torch.Tensor:
        return v + strength * (lap @ v)

    x = y.clone()
    r = y - apply(x)
    p = r.clone()
    rr = (r * r).sum(dim=0)
    for _ in range(iterations):
        ap = apply(p)
        alpha = rr / (p * ap).sum(dim=0).clamp_min(1e-30)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = (r * r).sum(dim=0)
        p = r + (rr_new / rr.clamp_min(1e-30)) * p
        rr = rr_new
    return x.T.reshape(1, 3, h, w).clamp(0.0, 1.0)


def _box(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over (2r+1)^2 windows, the windows cut at the borders (N, C, H, W)."""
    k = 2 * radius + 1
    return F.avg_pool2d(x, k, stride=1, padding=radius, count_include_pad=False)


def guided_enlarge(
    output: torch.Tensor,
    photo_small: torch.Tensor,
    photo_large: torch.Tensor,
    radius: int = 2,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Carry a recolouring of a small photo to the photo at a larger size: the fast guided
    filter (He & Sun 2015) with the photo's colours as the guide.

    In every (2r+1)^2 window of the small pair, ``output`` is fitted as an affine function of
    the photo's colours (a 3x3 matrix and an offset, ridge ``eps``, He et al. 2010's colour
    guided filter); the coefficients, averaged over the windows that cover each pixel, are
    enlarged bilinearly and applied to the large photo. A locally affine recolouring stays
    one, and the large photo's detail is kept, where bilinear enlarging of ``output`` would
    blur it (photo mode's coarse-to-fine pyramid).

    Args:
        output: (1, 3, h, w) the recoloured small photo.
        photo_small: (1, 3, h, w) the photo at that size.
        photo_large: (1, 3, H, W) the photo at the size wanted.
    Returns:
        a new (1, 3, H, W) float32 tensor, clamped to [0, 1].
    """
    p = photo_small.to(torch.float64)
    q = output.to(device=p.device, dtype=torch.float64)
    n, _, h, w = p.shape
    mean_p, mean_q = _box(p, radius), _box(q, radius)
    # Per pixel: cov_pp (3x3) and cov_pq (3x3), from box means of products.
    prod_pp = torch.stack([p[:, i] * p[:, j] for i in range(3) for j in range(3)], 1)
    prod_pq = torch.stack([p[:, i] * q[:, j] for i in range(3) for j in range(3)], 1)
    cov_pp = _box(prod_pp, radius) - torch.stack(
        [mean_p[:, i] * mean_p[:, j] for i in range(3) for j in range(3)], 1
    )
    cov_pq = _box(prod_pq, radius) - torch.stack(
        [mean_p[:, i] * mean_q[:, j] for i in range(3) for j in range(3)], 1
    )
    cpp = cov_pp.permute(0, 2, 3, 1).reshape(-1, 3, 3) + eps * torch.eye(3, dtype=p.dtype)
    cpq = cov_pq.permute(0, 2, 3, 1).reshape(-1, 3, 3)
    a = torch.linalg.solve(cpp, cpq)  # (hw, 3, 3): q_j = sum_i a_ij p_i + b_j
    mp = mean_p.permute(0, 2, 3, 1).reshape(-1, 3)
    mq = mean_q.permute(0, 2, 3, 1).reshape(-1, 3)
    b = mq - torch.einsum("ki,kij->kj", mp, a)
    coef = torch.cat([a.reshape(-1, 9), b], 1).reshape(n, h, w, 12).permute(0, 3, 1, 2)
    coef = _box(coef, radius)
    big = F.interpolate(coef, size=photo_large.shape[-2:], mode="bilinear", align_corners=False)
    pl = photo_large.to(device=p.device, dtype=torch.float64)
    a_big = big[:, :9].reshape(n, 3, 3, *pl.shape[-2:])
    out = torch.einsum("nihw,nijhw->njhw", pl, a_big) + big[:, 9:]
    return out.clamp(0.0, 1.0).to(torch.float32)

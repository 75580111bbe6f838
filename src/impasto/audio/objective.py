"""The audio objective: content and Gram style losses on the random features.

The loss functions are the image engine's (:mod:`impasto.losses.functional`): a 1-D feature
map (1, N, T) is viewed as a (1, N, 1, T) image. Both terms are divided by their target's own
size (the style Gram's squared norm, the content features' squared norm), so they are relative
distances: 1.0 is "as far as silence", and the weights mean the same for every pair of sounds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from impasto.losses.functional import content_layer_loss, gram_matrix, style_layer_loss


def as_image(features: torch.Tensor) -> torch.Tensor:
    """(B, N, T) → (B, N, 1, T), the layout of the image losses."""
    return features.unsqueeze(2)


def gram_distance(features: torch.Tensor, style: torch.Tensor) -> float:
    """Relative Gram distance |G(a) - G(s)|^2 / |G(s)|^2 of (1, N, T) and (1, N, Ts) features."""
    target = gram_matrix(as_image(style))
    own = style_layer_loss(torch.zeros_like(target), target)
    return float(style_layer_loss(gram_matrix(as_image(features)), target) / own)


class StyleTerm:
    """|G(a) - G(s)|^2 / |G(s)|^2 against fixed style features s (1, N, Ts).

    With N = 4096 filters and a few hundred frames, the Gram matrices (N x N) cost more than
    the convolution. Where T (T + Ts) < N^2 the same value comes from frame-by-frame products
    (the "kernel trick"): |A A^T/T - B B^T/Ts|^2 = |A^T A|^2/T^2 - 2 |A^T B|^2/(T Ts) +
    |B^T B|^2/Ts^2, with T x T and T x Ts matrices only. Those sums are taken in float64, so
    the difference of large near-equal terms keeps its precision.
    """

    def __init__(self, style: torch.Tensor) -> None:
        self.style = style.detach().to(torch.float32)
        b = self.style[0]
        self.frames = b.shape[1]
        self.target = gram_matrix(as_image(self.style))
        self.own = float(style_layer_loss(torch.zeros_like(self.target), self.target))
        bb = (b.T @ b).double() / self.frames
        self.style_sq = float((bb**2).sum())

    def use_kernel(self, frames: int) -> bool:
        n = self.style.shape[1]
        return frames * (frames + self.frames) < n * n

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        n, t = features.shape[1], features.shape[2]
        if not self.use_kernel(t):
            return style_layer_loss(gram_matrix(as_image(features)), self.target) / self.own
        a, b = features[0], self.style[0]
        aa = ((a.T @ a).double() ** 2).sum() / (t * t)
        ab = ((a.T @ b).double() ** 2).sum() / (t * self.frames)
        sq = (aa - 2 * ab + self.style_sq) / (4.0 * n * n)
        return (sq / self.own).to(torch.float32)


class AudioObjective:
    """total = content_weight * content + style_weight * style on ``net``'s features of a
    (1, bins, frames) log spectrogram; the terms are named as the image objective's."""

    def __init__(
        self,
        net: Callable[[torch.Tensor], torch.Tensor],
        style: torch.Tensor,
        content: torch.Tensor | None,
        content_weight: float,
        style_weight: float,
    ) -> None:
        self.net = net
        self.style = StyleTerm(style)
        self.content = None if content is None else content.detach()
        self.content_own = 1.0
        if self.content is not None:
            zero = torch.zeros_like(self.content)
            self.content_own = float(content_layer_loss(as_image(zero), as_image(self.content)))
        self.content_weight = content_weight if content is not None else 0.0
        self.style_weight = style_weight

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        features = self.net(x)
        style = self.style_weight * self.style(features)
        if self.content is not None and self.content_weight > 0:
            raw = content_layer_loss(as_image(features), as_image(self.content))
            content = self.content_weight * raw / self.content_own
        else:
            content = torch.zeros((), dtype=style.dtype)
        total = content + style
        zero = torch.zeros((), dtype=style.dtype)
        return total, {"content": content, "style": style, "tv": zero, "total": total}

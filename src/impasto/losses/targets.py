"""Target statistics computed once per run (and per scale) without autograd."""

from __future__ import annotations

import torch

from impasto.features.extractor import FeatureExtractor
from impasto.losses.functional import gram_matrix


@torch.no_grad()
def content_targets(
    extractor: FeatureExtractor, content: torch.Tensor, layers: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """Activations P^l of the content image at ``layers``."""
    feats = extractor(content)
    return {name: feats[name].detach().to(torch.float32) for name in layers}


@torch.no_grad()
def style_targets(
    extractor: FeatureExtractor, style: torch.Tensor, layers: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """M-normalised Gram matrices A^l of the style image at ``layers``: (1, N_l, N_l) each."""
    feats = extractor(style)
    return {name: gram_matrix(feats[name]) for name in layers}

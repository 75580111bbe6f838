"""The weighted objective: total = alpha * content + beta * style + tv (Gatys 2016, eq. 7)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from impasto.config import StyleConfig
from impasto.features.extractor import FeatureExtractor
from impasto.losses.functional import content_layer_loss, gram_matrix, style_layer_loss, tv_loss
from impasto.losses.guided import guided_gram_matrices, guided_style_loss


@dataclass
class Objective:
    """Callable: image (1, 3, H, W) → (total, {"content", "style", "tv", "total"}).

    The named terms are already weighted, so they add up to the total.
    """

    extractor: FeatureExtractor
    content_targets: dict[str, torch.Tensor]
    style_targets: dict[str, torch.Tensor]
    style_layer_weights: dict[str, float]
    content_weight: float
    style_weight: float
    tv_weight: float
    autocast: bool = False  # bfloat16 convolutions; Gram matrices and losses stay float32
    # Guided transfer: per style layer, the output's region masks (K, h, w); the targets of
    # those layers are then (K, N, N), one per region.
    region_masks: dict[str, torch.Tensor] | None = None

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
            feats = self.extractor(image)
        zero = image.new_zeros((), dtype=torch.float32)
        content = zero
        if self.content_weight > 0:
            for name, target in self.content_targets.items():
                content = content + content_layer_loss(feats[name], target)
        style = zero
        if self.style_weight > 0:
            for name, target in self.style_targets.items():
                w = self.style_layer_weights[name]
                if w <= 0:
                    continue
                if self.region_masks is not None:
                    grams = guided_gram_matrices(feats[name], self.region_masks[name])
                    style = style + w * guided_style_loss(grams, target)
                else:
                    style = style + w * style_layer_loss(gram_matrix(feats[name]), target)
        tv = tv_loss(image) if self.tv_weight > 0 else zero
        terms = {
            "content": self.content_weight * content,
            "style": self.style_weight * style,
            "tv": self.tv_weight * tv,
        }
        total = terms["content"] + terms["style"] + terms["tv"]
        terms["total"] = total
        return total, terms

    def value_and_grad(
        self, image: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """(total, d total / d image, weighted terms) for an image (1, 3, H, W)."""
        x = image.detach().requires_grad_(True)
        total, terms = self(x)
        (grad,) = torch.autograd.grad(total, x)
        return total.detach(), grad, {k: v.detach() for k, v in terms.items()}


def objective_for(
    extractor: FeatureExtractor,
    content: torch.Tensor,
    style: torch.Tensor,
    cfg: StyleConfig,
    *,
    autocast: bool = False,
) -> Objective:
    """The plain single-style objective of ``cfg`` for a content and a style image already at
    the size the run uses (benchmarks and tests score images with it)."""
    from impasto.losses.targets import content_targets, style_targets

    return Objective(
        extractor=extractor,
        content_targets=content_targets(extractor, content, cfg.content_layers),
        style_targets=style_targets(extractor, style, cfg.style_layers),
        style_layer_weights=dict(zip(cfg.style_layers, cfg.layer_weights, strict=True)),
        content_weight=cfg.content_weight,
        style_weight=cfg.style_weight,
        tv_weight=cfg.tv_weight,
        autocast=autocast,
    )

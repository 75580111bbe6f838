"""The weighted objective: total = alpha * content + beta * style + tv (Gatys 2016, eq. 7),
plus gamma * temporal for a video frame (Ruder et al. 2016, eq. 8) and lambda * photo, the
photorealism term of a photo-to-photo transfer (Luan et al. 2017, eq. 4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from impasto.config import StyleConfig
from impasto.features.device import Arithmetic
from impasto.features.extractor import FeatureExtractor
from impasto.losses.functional import (
    content_layer_loss,
    gram_matrix,
    realism_loss,
    style_layer_loss,
    tv_loss,
)
from impasto.losses.guided import guided_gram_matrices, guided_style_loss
from impasto.losses.targets import ScaleTargets
from impasto.losses.temporal import TemporalTarget, temporal_loss
from impasto.losses.tiled import TiledObjective


@dataclass
class Objective:
    """Callable: image (1, 3, H, W) → (total, {"content", "style", "tv", "total"}), and
    "temporal" when the objective has a temporal target (a video frame), "photo" when it has
    the photo's matting Laplacian (photo-to-photo transfer).

    The named terms are already weighted, so they add up to the total.
    """

    extractor: FeatureExtractor
    content_targets: dict[str, torch.Tensor]
    style_targets: dict[str, torch.Tensor]
    style_layer_weights: dict[str, float]
    content_weight: float
    style_weight: float
    tv_weight: float
    autocast: bool = False  # low-precision convolutions; Gram matrices and losses stay float32
    autocast_dtype: torch.dtype = torch.bfloat16
    device_type: str = "cpu"
    # Guided transfer: per style layer, the output's region masks (K, h, w); the targets of
    # those layers are then (K, N, N), one per region.
    region_masks: dict[str, torch.Tensor] | None = None
    temporal: TemporalTarget | None = None  # a video frame's warped previous output and mask
    temporal_weight: float = 0.0
    laplacian: torch.Tensor | None = None  # the photo's matting Laplacian at this size
    photo_weight: float = 0.0

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with torch.autocast(self.device_type, dtype=self.autocast_dtype, enabled=self.autocast):
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
        if self.temporal is not None:
            t = self.temporal
            terms["temporal"] = self.temporal_weight * temporal_loss(image, t.warped, t.mask)
            total = total + terms["temporal"]
        if self.laplacian is not None:
            terms["photo"] = self.photo_weight * realism_loss(image, self.laplacian)
            total = total + terms["photo"]
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


@dataclass(frozen=True)
class LossWeights:
    """alpha, beta, the TV weight and the per-style-layer weights w_l of an objective;
    gamma, the temporal term's weight (used where the targets have a temporal target) and
    lambda, the photorealism term's (where they have the photo's matting Laplacian)."""

    content: float
    style: float
    tv: float
    layers: dict[str, float]
    temporal: float = 0.0
    photo: float = 0.0

    @classmethod
    def of(cls, cfg: StyleConfig, *, content: bool = True) -> LossWeights:
        """``cfg``'s weights; ``content=False`` (a texture) drops the content term."""
        return cls(
            content=cfg.content_weight if content else 0.0,
            style=cfg.style_weight,
            tv=cfg.tv_weight,
            layers=dict(zip(cfg.style_layers, cfg.layer_weights, strict=True)),
            photo=cfg.photo_weight if content else 0.0,
        )


def make_objective(
    extractor: FeatureExtractor,
    targets: ScaleTargets,
    weights: LossWeights,
    *,
    tile: int = 0,
    autocast: bool = False,
    arithmetic: Arithmetic | None = None,
) -> Objective | TiledObjective:
    """The one objective factory: the whole-image objective, or with ``tile`` the same loss
    computed tile by tile (same value and gradient contract, ``value_and_grad``).
    ``arithmetic`` (a device's autocast) overrides ``autocast`` (bfloat16 on the CPU)."""
    parts = (extractor, targets.content, targets.style, weights.layers)
    terms = (weights.content, weights.style, weights.tv)
    arith = arithmetic or Arithmetic("cpu", torch.bfloat16 if autocast else None)
    on, dtype, kind = arith.dtype is not None, arith.dtype or torch.bfloat16, arith.device_type
    masks, temporal, gamma = targets.region_masks, targets.temporal, weights.temporal
    laplacian = targets.laplacian if weights.photo > 0 else None
    if tile:
        return TiledObjective(
            *parts, *terms, tile=tile, autocast=on, autocast_dtype=dtype, device_type=kind,
            region_masks=masks, temporal=temporal, temporal_weight=gamma, laplacian=laplacian,
            photo_weight=weights.photo,
        )  # fmt: skip
    return Objective(
        *parts, *terms, autocast=on, autocast_dtype=dtype, device_type=kind, region_masks=masks,
        temporal=temporal, temporal_weight=gamma, laplacian=laplacian, photo_weight=weights.photo,
    )  # fmt: skip


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

    targets = ScaleTargets(
        content=content_targets(extractor, content, cfg.content_layers),
        style=style_targets(extractor, style, cfg.style_layers),
    )
    objective = make_objective(extractor, targets, LossWeights.of(cfg), autocast=autocast)
    assert isinstance(objective, Objective)
    return objective

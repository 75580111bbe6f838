"""The temporal loss of video style transfer (Ruder, Dosovitskiy & Brox 2016, "Artistic style
transfer for videos", eq. 7): keep frame t's output close to frame t-1's output warped into
frame t, wherever the optical flow is reliable (the mask), so that consecutive frames do not
land in different local optima and the video does not flicker."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from impasto.preprocess.resize import resize


def temporal_loss(x: torch.Tensor, warped: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Ruder et al. eq. 7: (1 / D) * sum_k c_k (x_k - ω_k)², D = C·H·W.

    Args:
        x: the output being optimised, (1, C, H, W).
        warped: the previous output warped into this frame, ω, (1, C, H, W).
        mask: the per-pixel weights c, (1, 1, H, W) in [0, 1] (1 where the flow is reliable;
            0 at disocclusions and motion boundaries), broadcast over the channels.
    Returns:
        A float32 scalar. The mean is over every element, so the loss of a half-masked frame
        is half that of an unmasked one with the same errors (the paper's normalisation).
    """
    diff = x.to(torch.float32) - warped.to(torch.float32)
    return (mask.to(torch.float32) * diff * diff).mean()


@dataclass(frozen=True)
class TemporalTarget:
    """What a frame's temporal term matches: the previous output warped into this frame,
    (1, 3, H, W), and the consistency mask, (1, 1, H, W) in [0, 1]."""

    warped: torch.Tensor
    mask: torch.Tensor

    def at(self, hw: tuple[int, int], device: torch.device | None = None) -> TemporalTarget:
        """The target at another size (a coarser scale) and on ``device``: the image resized
        as images are, the mask by area averages or bilinear (weights stay in [0, 1])."""
        warped, mask = self.warped, self.mask
        if tuple(warped.shape[-2:]) != hw:
            warped = resize(warped, hw)
            shrinking = hw[0] < mask.shape[-2]
            mode = "area" if shrinking else "bilinear"
            align = None if shrinking else False
            mask = F.interpolate(mask, size=hw, mode=mode, align_corners=align)
        device = device or warped.device
        return TemporalTarget(warped.to(device), mask.to(device))

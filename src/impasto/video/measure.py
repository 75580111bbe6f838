"""The temporal error of a stylised clip: how much each output frame differs from the previous
output frame carried along the input's motion, where that motion is reliable.

E = mean over t >= 1 of  sum_p M_t(p) |O_t(p) - W(O_{t-1})(p)|  /  sum_p M_t(p),

with W the backward warp by the flow of the *input* frames t -> t-1 and M_t its
forward-backward consistency mask (Ruder, Dosovitskiy & Brox 2016; the warping error of Lai et
al. 2018, "Learning Blind Video Temporal Consistency", sec. 5, who square the difference: the
mean absolute difference here reads in the images' own units, 0 to 1 per channel). A clip that
only moves scores near 0; flicker raises it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from impasto.errors import InvalidImageError
from impasto.video.flow import consistency, flows_both_ways, warp


@dataclass(frozen=True)
class InputMotion:
    """The input clip's motion, computed once and shared by every output measured against it:
    ``flows[t - 1]`` frame t → t-1 (1, 2, H, W) and ``masks[t - 1]`` its reliability."""

    flows: list[torch.Tensor]
    masks: list[torch.Tensor]


def input_motion(inputs: Sequence[torch.Tensor]) -> InputMotion:
    """Flows and masks of consecutive input frames (1, 3, H, W)."""
    flows, masks = [], []
    for before, frame in itertools.pairwise(inputs):
        forward, backward = flows_both_ways(frame, before)
        flows.append(forward)
        masks.append(consistency(forward, backward))
    return InputMotion(flows, masks)


def temporal_errors(
    outputs: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor] | InputMotion
) -> list[float]:
    """The error of each frame t >= 1 (see the module docstring); NaN for a frame whose mask
    is empty."""
    motion = inputs if isinstance(inputs, InputMotion) else input_motion(inputs)
    if len(motion.flows) != len(outputs) - 1:
        raise InvalidImageError(
            f"{len(outputs)} output frames for {len(motion.flows) + 1} input frames"
        )
    errors = []
    for t, (flow, mask) in enumerate(zip(motion.flows, motion.masks, strict=True), start=1):
        if outputs[t].shape[-2:] != flow.shape[-2:]:
            raise InvalidImageError(
                f"output frame {t} is {tuple(outputs[t].shape)}; the inputs are "
                f"{tuple(flow.shape[-2:])} (measure at the working size)"
            )
        carried = warp(outputs[t - 1].to(torch.float32), flow)
        diff = (outputs[t].to(torch.float32) - carried).abs().mean(dim=1, keepdim=True)
        total = mask.sum()
        errors.append(float((diff * mask).sum() / total) if total > 0 else float("nan"))
    return errors


def temporal_error(
    outputs: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor] | InputMotion
) -> float:
    """The clip's temporal error: the mean of :func:`temporal_errors` over the frames whose
    mask is not empty (0 for a clip of one frame)."""
    errors = [e for e in temporal_errors(outputs, inputs) if e == e]
    return sum(errors) / len(errors) if errors else 0.0

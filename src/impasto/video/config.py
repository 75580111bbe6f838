"""Settings of ``impasto video``: which frames, at what size, and how the optimisation route
keeps consecutive frames consistent (Ruder, Dosovitskiy & Brox 2016); the still-image settings
of each frame's optimisation are a :class:`~impasto.config.StyleConfig` inside.

Each field carries :func:`impasto.config.setting` metadata, so the command line's flags are
generated from it, as ``impasto stylize``'s are from StyleConfig.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import impasto.validate as validate
from impasto.config import Settings, StyleConfig, setting
from impasto.errors import ConfigError
from impasto.jsontypes import JSONObject
from impasto.network.apply import STRENGTH
from impasto.network.apply import check_strength as check_share
from impasto.preprocess.resize import plan_steps, pyramid_sizes
from impasto.video.frames import check_crf
from impasto.video.network_route import DEFAULT_STRENGTH, check_strength

_RANGE = re.compile(r"\s*(\d*)\s*:\s*(\d*)\s*")


class Fill(str, Enum):
    """What a later frame starts from where the flow is unreliable (the consistency mask is 0:
    disocclusions, motion boundaries, pixels that came in from outside the frame)."""

    CONTENT = "content"  # the content frame itself: what the first frame starts from
    PREVIOUS = "previous"  # the previous output at the same place, not warped
    WARPED = "warped"  # the warped previous output everywhere (Ruder et al.'s prevWarped)


LATER_SHARE = 0.3  # of the first frame's work a later frame may take (issue target: 1/3)
LATER_OVERHEAD = 2.0  # full-size evaluations a later frame costs besides its steps


def first_frame_work(first: StyleConfig) -> float:
    """The first frame's pyramid run in full-size evaluations: each scale's steps times its
    pixels over the full size's (a step costs a forward and a backward pass, in proportion to
    the pixels). The default at 384 px is 96.3, at 512 px 91.2, at 1024 px 28.2."""
    sizes = pyramid_sizes(first.size, first.scales, first.min_size)
    steps = plan_steps(first.steps, sizes, first.final_steps, first.final_share)
    return sum(n * (s / first.size) ** 2 for n, s in zip(steps, sizes, strict=True))


def later_steps_for(first: StyleConfig) -> int:
    """Steps for a later frame so that it costs at most LATER_SHARE of the first frame: its
    steps plus LATER_OVERHEAD (L-BFGS evaluates the start once more than it steps, and the
    frame's content targets, flow and warm start cost about another evaluation; measured at
    512 px in docs/video.md). At least 1: at 2048 px the first frame's pyramid is itself
    only ~8 full-size evaluations."""
    return max(1, math.floor(LATER_SHARE * first_frame_work(first) - LATER_OVERHEAD))


@dataclass(frozen=True)
class VideoConfig(Settings):
    """Every setting of a video run. ``style_config`` holds the optimisation's settings (its
    ``size`` is replaced by this one's; its ``steps`` are the first frame's)."""

    frames: str = field(
        default="0:",
        metadata=setting(
            "the frames to stylise, START:STOP as a Python slice (STOP excluded; either may be "
            "left out)",
            group="size",
            metavar="START:STOP",
            default_text="the whole clip",
        ),
    )
    size: int = field(
        default=384,
        metadata=setting("long side of the output frames, in pixels", group="size"),
    )
    crf: int | None = field(
        default=None,  # the format's own: CRF 18 for .mp4, 30 for .webm (video.frames)
        metadata=setting(
            "the encoder's constant rate factor, 0-51: lower keeps more and writes more bytes; "
            "0 is lossless (.mp4 then needs a player that reads H.264's lossless profile); "
            "not for .gif",
            group="size",
            metavar="N",
            default_text="18 for .mp4, 30 for .webm",
        ),
    )
    later_steps: int | None = field(
        default=None,  # derived from the first frame's plan: later_step_count (docs/video.md)
        metadata=setting(
            "optimisation steps of every frame after the first, at the full size only; the "
            "first frame gets --steps over all the scales",
            group="optimisation",
            metavar="N",
            default_text="derived from the first frame's plan, under 1/3 of its time",
        ),
    )
    temporal_weight: float = field(
        default=1e10,  # in the units of content_weight and style_weight (docs/video.md)
        metadata=setting(
            "weight of the temporal loss that keeps each frame close to the previous output "
            "warped by the optical flow; 0 lets frames flicker",
            group="losses",
        ),
    )
    fill: Fill = field(
        default=Fill.WARPED,  # measured lowest loss and temporal error (docs/video.md)
        metadata=setting(
            "what a later frame starts from where the flow is unreliable (occlusions, motion "
            "boundaries)",
            group="optimisation",
            choices=Fill,
        ),
    )
    deflicker: float = field(
        default=DEFAULT_STRENGTH,  # measured in network_route
        metadata=setting(
            "network route: how much of the warped previous output is blended into each frame "
            "where the flow is reliable, below 1; 0 is the raw per-frame network",
            group="network",
        ),
    )
    # The network route's painting blended with each frame after the de-flicker; the setting
    # is ApplyConfig's (impasto apply --strength), written once.
    strength: float = field(default=1.0, metadata=STRENGTH)
    style_config: StyleConfig = field(default_factory=StyleConfig)

    def __post_init__(self) -> None:
        self.span()
        size = self.size
        if not isinstance(size, int) or isinstance(size, bool) or size < 16 or size % 2:
            # H.264 and VP9 store colour at half resolution (yuv420p): even sides only.
            raise ConfigError(f"size must be an even number of pixels, at least 16, got {size!r}")
        check_crf(self.crf)
        steps = self.later_steps
        bad = not isinstance(steps, int) or isinstance(steps, bool) or steps < 1
        if steps is not None and bad:
            raise ConfigError(f"later_steps must be a positive integer, got {steps!r}")
        validate.number("temporal_weight", self.temporal_weight, allow_zero=True)
        check_strength(self.deflicker)
        object.__setattr__(self, "strength", check_share(self.strength))
        object.__setattr__(self, "fill", validate.choice(Fill, self.fill, "fill"))
        if not isinstance(self.style_config, StyleConfig):
            raise ConfigError("style_config must be a StyleConfig")

    def span(self) -> tuple[int, int | None]:
        """(start, stop) of ``frames``; stop None: to the clip's end."""
        m = _RANGE.fullmatch(self.frames) if isinstance(self.frames, str) else None
        if m is None:
            raise ConfigError(
                f"frames must be START:STOP with whole numbers (e.g. 0:48 or 10:), "
                f"got {self.frames!r}"
            )
        start = int(m.group(1)) if m.group(1) else 0
        stop = int(m.group(2)) if m.group(2) else None
        if stop is not None and stop <= start:
            raise ConfigError(f"frames {self.frames!r} is empty: STOP must be above START")
        return start, stop

    @property
    def first(self) -> StyleConfig:
        """The first frame's settings: a whole coarse-to-fine run at this size."""
        return self.style_config.replace(size=self.size)

    @property
    def later_step_count(self) -> int:
        """``later_steps``, or where it is None the count derived from the first frame's plan
        (:func:`later_steps_for`)."""
        return self.later_steps if self.later_steps is not None else later_steps_for(self.first)

    @property
    def later(self) -> StyleConfig:
        """A later frame's settings: ``later_step_count`` steps at the full size only, from a
        warm start."""
        return self.first.replace(scales=1, steps=self.later_step_count, final_steps=None)

    def to_dict(self) -> JSONObject:
        out = super().to_dict()
        out["style_config"] = self.style_config.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoConfig:
        data = dict(data)
        style = StyleConfig.from_dict(dict(data.pop("style_config", {})))
        names = {f.name for f in dataclasses.fields(cls)} - {"style_config"}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**data, style_config=style)

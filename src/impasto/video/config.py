"""Settings of ``impasto video``: which frames, at what size, and how the optimisation route
keeps consecutive frames consistent (Ruder, Dosovitskiy & Brox 2016); the still-image settings
of each frame's optimisation are a :class:`~impasto.config.StyleConfig` inside.

Each field carries :func:`impasto.config.setting` metadata, so the command line's flags are
generated from it, as ``impasto stylize``'s are from StyleConfig.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from impasto.config import Settings, StyleConfig, _choice, _positive, setting
from impasto.errors import ConfigError
from impasto.video.network_route import DEFAULT_STRENGTH, check_strength

_RANGE = re.compile(r"\s*(\d*)\s*:\s*(\d*)\s*")


class Fill(str, Enum):
    """What a later frame starts from where the flow is unreliable (the consistency mask is 0:
    disocclusions, motion boundaries, pixels that came in from outside the frame)."""

    CONTENT = "content"  # the content frame itself: what the first frame starts from
    PREVIOUS = "previous"  # the previous output at the same place, not warped
    WARPED = "warped"  # the warped previous output everywhere (Ruder et al.'s prevWarped)


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
    later_steps: int = field(
        default=12,  # about 1/3 of the first frame's time at the default pyramid (docs/video.md)
        metadata=setting(
            "optimisation steps of every frame after the first, at the full size only; the "
            "first frame gets --steps over all the scales",
            group="optimisation",
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
    style_config: StyleConfig = field(default_factory=StyleConfig)

    def __post_init__(self) -> None:
        self.span()
        size = self.size
        if not isinstance(size, int) or isinstance(size, bool) or size < 16 or size % 2:
            # H.264 and VP9 store colour at half resolution (yuv420p): even sides only.
            raise ConfigError(f"size must be an even number of pixels, at least 16, got {size!r}")
        steps = self.later_steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ConfigError(f"later_steps must be a positive integer, got {steps!r}")
        _positive("temporal_weight", self.temporal_weight, allow_zero=True)
        check_strength(self.deflicker)
        object.__setattr__(self, "fill", _choice(Fill, self.fill, "fill"))
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
    def later(self) -> StyleConfig:
        """A later frame's settings: ``later_steps`` at the full size only, from a warm start."""
        return self.first.replace(scales=1, steps=self.later_steps, final_steps=None)

    def to_dict(self) -> dict[str, Any]:
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

"""A video run's checkpoint: a folder with every finished frame as a PNG and one state file.

The state (``video.pt``, written with :func:`impasto.optim.checkpoint.write_state`, read back
with ``weights_only``) holds what the run started from (the clip's path and shape, the output
path, the settings with their precision resolved, the style images, the weight file) and how
far it got: the number of finished frames, their times, and the last output in float32, which
the next frame starts from. The PNGs are 8-bit, as the video is; the float output is kept so
that a resumed run continues from exactly what an uninterrupted one would have, and so writes
the same frames.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import torch

from impasto.config import saved_style_settings
from impasto.errors import CheckpointError, ConfigError
from impasto.io.images import load_image, save_image
from impasto.jsontypes import JSONObject
from impasto.optim.checkpoint import read_state, write_state
from impasto.video.config import VideoConfig

FILE = "video.pt"
FORMAT = 1
FRAMES = "frames"


def is_video_checkpoint(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds a video run's checkpoint (``impasto resume`` asks)."""
    p = Path(folder)
    return (p / FILE).is_file() or (p.is_file() and p.name == FILE)


@dataclass(frozen=True)
class StyleImage:
    """A style image as the checkpoint keeps it: loaded, with its blend weight and name."""

    image: torch.Tensor
    weight: float = 1.0
    name: str = ""


@dataclass(frozen=True)
class VideoInputs:
    """What a video run starts from: enough to run it again, or to continue it."""

    clip: str
    out: str
    config: VideoConfig  # precision resolved ("fp32" or "bf16"), never "auto"
    styles: list[StyleImage]
    shape: tuple[int, int, int]  # the clip's (frames, height, width) when the run began
    weights_path: str | None = None


@dataclass
class VideoProgress:
    """How far a video run got: ``done`` frames finished (counted from the range's start),
    their seconds, and the last one's float32 output (None before the first)."""

    done: int = 0
    seconds: list[float] = field(default_factory=list)
    last_output: torch.Tensor | None = None


class StyleState(TypedDict):
    """A style image as to_dict keeps it (StyleImage's fields)."""

    image: torch.Tensor
    weight: float
    name: str


class VideoCheckpointState(TypedDict):
    """The layout on disk, written once: what ``to_dict`` writes and ``from_dict`` reads."""

    format: int
    kind: str  # "video"
    clip: str
    out: str
    config: JSONObject  # VideoConfig.to_dict()
    styles: list[StyleState]
    shape: list[int]  # (frames, height, width)
    weights_path: str | None
    done: int
    seconds: list[float]
    last_output: torch.Tensor | None


@dataclass(frozen=True)
class VideoCheckpoint:
    inputs: VideoInputs
    progress: VideoProgress

    def to_dict(self) -> VideoCheckpointState:
        i, p = self.inputs, self.progress
        return {
            "format": FORMAT,
            "kind": "video",
            "clip": i.clip,
            "out": i.out,
            "config": i.config.to_dict(),
            "styles": [{"image": s.image, "weight": s.weight, "name": s.name} for s in i.styles],
            "shape": list(i.shape),
            "weights_path": i.weights_path,
            "done": p.done,
            "seconds": list(p.seconds),
            "last_output": p.last_output,
        }

    @classmethod
    def from_dict(cls, data: Any) -> VideoCheckpoint:
        """The checkpoint ``to_dict`` wrote; CheckpointError names what is missing or wrong."""
        if not isinstance(data, dict) or data.get("kind") != "video":
            raise CheckpointError("not an impasto video checkpoint")
        if data.get("format") != FORMAT:
            raise CheckpointError(
                f"a video checkpoint of format {data.get('format')!r}, not {FORMAT}"
            )
        try:
            styles = [
                StyleImage(s["image"], float(s["weight"]), str(s["name"])) for s in data["styles"]
            ]
            frames, h, w = (int(v) for v in data["shape"])
            inputs = VideoInputs(
                clip=str(data["clip"]),
                out=str(data["out"]),
                config=_video_config(data["config"]),
                styles=styles,
                shape=(frames, h, w),
                weights_path=data["weights_path"],
            )
            progress = VideoProgress(
                int(data["done"]), [float(s) for s in data["seconds"]], data["last_output"]
            )
        except KeyError as e:
            raise CheckpointError(f"the video checkpoint lacks {e.args[0]!r}") from None
        except (ConfigError, TypeError, ValueError) as e:
            raise CheckpointError(f"the video checkpoint is damaged: {e}") from None
        return cls(inputs, progress)


def frame_path(folder: str | os.PathLike[str], index: int) -> Path:
    """Where finished frame ``index`` (counted from the range's start) is kept."""
    return Path(folder) / FRAMES / f"{index:06d}.png"


def save_frame(folder: str | os.PathLike[str], index: int, output: torch.Tensor) -> Path:
    """Keep a finished frame as an 8-bit PNG (written atomically)."""
    path = frame_path(folder, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_image(output, path)


def load_frame(folder: str | os.PathLike[str], index: int) -> torch.Tensor:
    """A kept frame, (1, 3, H, W) float32 in [0, 1]; CheckpointError if it is missing."""
    path = frame_path(folder, index)
    if not path.is_file():
        raise CheckpointError(f"the video checkpoint lacks frame {index} ({path})")
    return load_image(path)


def save_video_checkpoint(folder: str | os.PathLike[str], checkpoint: VideoCheckpoint) -> Path:
    """Write the state atomically to folder/video.pt (after the frame's PNG, so the state
    never counts a frame that is not on disk)."""
    return write_state(folder, checkpoint.to_dict(), FILE)


def load_video_checkpoint(folder: str | os.PathLike[str]) -> VideoCheckpoint:
    """The video checkpoint in ``folder``; CheckpointError if there is none or it is damaged,
    or if a frame it counts as finished is missing."""
    target, state = read_state(folder, FILE, "video checkpoint")
    try:
        checkpoint = VideoCheckpoint.from_dict(state)
    except CheckpointError as e:
        raise CheckpointError(f"{target}: {e}") from None
    for index in range(checkpoint.progress.done):
        if not frame_path(target.parent, index).is_file():
            raise CheckpointError(
                f"{target}: frame {index} is missing from {target.parent / FRAMES}"
            )
    return checkpoint


def _video_config(data: dict[str, Any]) -> VideoConfig:
    """The run's settings as the checkpoint kept them (its first frame's plan included:
    :func:`impasto.config.saved_style_settings`)."""
    style = saved_style_settings(dict(data.get("style_config", {})))
    return VideoConfig.from_dict({**data, "style_config": style})

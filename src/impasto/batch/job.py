"""What every runner of a batch shares: finding the inputs, planning the items, recording one
item's outcome, and the report at the end. The runners (``local``, ``ray_runner``,
``ray_data``) differ only in where the work runs (:func:`impasto.api.stylize`, or a style
network's forward pass); the output is always written here, by the process that holds the
manifest, and an item is marked done only after its file is written atomically.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from impasto.batch.manifest import (
    CLIP_SUFFIXES,
    DEFAULT_MAX_ATTEMPTS,
    Item,
    Keyed,
    Manifest,
    NetworkSettings,
    Plan,
    Settings,
    is_clip,
)
from impasto.batch.painting import MAX_BATCH
from impasto.errors import ConfigError, ImpastoError, InvalidImageError, OutputError

if TYPE_CHECKING:
    from impasto.api import Result
    from impasto.features.weights import VGGWeights
    from impasto.losses.targets import PreparedStyle
    from impasto.optim.events import StepEvent
    from impasto.video.config import VideoConfig

# The photo files a folder is searched for (Pillow reads them all); a file named on the command
# line is taken whatever its extension.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


@dataclass(frozen=True)
class Job:
    """One batch command: the settings every item runs with, the attempt limit, and torch's
    thread count for each item (None: torch's default here, the worker's CPUs on Ray)."""

    settings: Settings
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    threads: int | None = None
    video: VideoConfig | None = None  # the clips' settings (None: the defaults)

    @property
    def clip_settings(self) -> Settings:
        """The settings a clip's items are keyed by: the photos' and the video's."""
        return Settings(self.settings.config, self.settings.weights, self.video_config)

    @property
    def video_config(self) -> VideoConfig:
        """The clips' :class:`VideoConfig`, with the photos' StyleConfig inside."""
        from impasto.video.config import VideoConfig

        video = self.video or VideoConfig()
        return video.replace(style_config=self.settings.config)


@dataclass(frozen=True)
class NetworkJob:
    """One batch command of the network route (``--network``): every photo through every
    model with the apply settings. ``threads`` is torch's thread count for the forward passes
    (None: torch's default here, the worker's CPUs on Ray); ``max_batch`` the most photos of
    one size painted in one pass."""

    settings: NetworkSettings
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    threads: int | None = None
    max_batch: int = MAX_BATCH
    video: VideoConfig | None = None  # the clips' frames, size and de-flicker

    @property
    def clip_settings(self) -> NetworkSettings:
        return NetworkSettings(self.settings.apply, self.video_config)

    @property
    def video_config(self) -> VideoConfig:
        """The clips' :class:`VideoConfig`: the network's colour and device inside, and its
        strength (blended in after the de-flicker, as ``impasto video --network`` does)."""
        from impasto.config import StyleConfig
        from impasto.video.config import VideoConfig

        apply = self.settings.apply
        inner = StyleConfig(preserve_color=apply.preserve_color, device=apply.device)
        video = self.video or VideoConfig()
        return video.replace(style_config=inner, strength=apply.strength)


@dataclass(frozen=True)
class Report:
    """How a batch ended: the plan it started from, and the items it finished or failed (its
    own and the ones given up before it started)."""

    plan: Plan
    done: tuple[Item, ...]
    failed: tuple[Item, ...]

    @property
    def ok(self) -> bool:
        return not self.failed


class Listener(Protocol):
    """What a runner tells the shell, for its progress display (library code prints nothing).
    ``step`` receives the current item's :class:`StepEvent` where the item runs in this
    process; raising :class:`impasto.Cancelled` in it stops the batch."""

    def item_started(self, item: Item, index: int, total: int) -> None: ...

    def step(self, event: StepEvent) -> None: ...

    def item_finished(self, item: Item) -> None: ...

    def poll(self) -> None:
        """Between items: raise :class:`impasto.Cancelled` if the user asked to stop."""


class Quiet:
    """A listener that shows nothing."""

    def item_started(self, item: Item, index: int, total: int) -> None:
        pass

    def step(self, event: StepEvent) -> None:
        pass

    def item_finished(self, item: Item) -> None:
        pass

    def poll(self) -> None:
        pass


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to ``threads`` for the block (None: left alone)."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def this_worker() -> str:
    """``host:pid``, the ``worker`` recorded for items run in this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def collect_photos(inputs: Sequence[str | os.PathLike[str]], output: Path) -> list[Path]:
    """The photos and clips of ``inputs``: each folder's photo and clip files (not its
    subfolders or hidden files), sorted by name, and each file as given. The output folder is
    none of them (its results would become inputs of the next run)."""
    out: list[Path] = []
    for given in inputs:
        p = Path(given)
        if p.is_dir() and p.resolve() == output.resolve():
            raise OutputError(f"the output folder {output} is a photo folder; write elsewhere")
        if p.is_dir():
            found = sorted(
                f
                for f in p.iterdir()
                if f.suffix.lower() in PHOTO_SUFFIXES + CLIP_SUFFIXES and not f.name.startswith(".")
            )
            out += [f for f in found if f.is_file()]
        elif p.exists():
            out.append(p)
        else:
            raise InvalidImageError(f"no such photo or folder: {p}")
    if not out:
        shown = ", ".join(str(i) for i in inputs)
        looked = ", ".join(PHOTO_SUFFIXES + CLIP_SUFFIXES)
        raise ConfigError(f"no photos in {shown} (looked for {looked})")
    return out


def check_styles(styles: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The style images, each decoded once to refuse a bad one before any work (a bad style
    would fail every item)."""
    from impasto.io.images import open_image

    if not styles:
        raise ConfigError("give at least one style image with --style PATH")
    for s in styles:
        open_image(s)
    return [Path(s) for s in styles]


def check_models(models: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The model files of ``--network``, each a path or a model's name as ``impasto apply``
    takes it, each opened once to refuse a bad one before any work."""
    from impasto.network.apply import open_network
    from impasto.network.registry import find_model

    found = []
    for name in models:
        path = find_model(name)
        open_network(path, device="cpu")  # a file that is not a network: refused here
        found.append(path.resolve())
    return found


def plan_batch(
    manifest: Manifest, photos: Sequence[Path], styles: Sequence[Path], job: Job | NetworkJob
) -> Plan:
    """Hash the inputs and record every photo x style item of ``job`` in ``manifest`` (on the
    network route, the models are the styles); the clips' items under the clip settings."""
    style_sources = [manifest.source(s) for s in styles]
    plan = Plan((), 0, 0, 0, ())
    stills = [p for p in photos if not is_clip(p)]
    clips = [p for p in photos if is_clip(p)]
    keyed: list[tuple[list[Path], Keyed]] = [(stills, job.settings), (clips, job.clip_settings)]
    for inputs, settings in keyed:
        if inputs:
            sources = [manifest.source(p) for p in inputs]
            plan = plan + manifest.plan(sources, style_sources, settings, job.max_attempts)
    return plan


def prepare(job: Job, style: str, weights: VGGWeights) -> PreparedStyle | None:
    """The style targets of ``style`` under ``job``'s settings, computed once for every item
    of that style (:func:`impasto.api.prepare_style`); None where they depend on each photo
    (colour preservation), so each item computes its own."""
    from impasto.api import prepare_style
    from impasto.config import ColorPreservation

    cfg = job.settings.config
    if cfg.preserve_color is not ColorPreservation.NONE:
        return None
    return prepare_style(style, cfg, weights=weights)


def write_result(manifest: Manifest, item: Item, result: Result, worker: str) -> Item:
    """Write an item's output atomically (with its settings in the PNG), then mark it done."""
    result.save(manifest.folder / item.output)
    manifest.finish(item.id, result.seconds, worker)
    return manifest.get(item.id)


def record_failure(
    manifest: Manifest, item: Item, error: BaseException | str, seconds: float | None
) -> Item:
    """Mark an item failed with a one-line reason: an impasto error's own message, the type
    and message of anything else (a bug or out of memory in one item does not stop the
    batch)."""
    if isinstance(error, str):
        text = error
    elif isinstance(error, ImpastoError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    manifest.fail(item.id, text, seconds)
    return manifest.get(item.id)


def report(manifest: Manifest, plan: Plan) -> Report:
    """The outcome of ``plan``'s items as the manifest has them now."""
    items = [manifest.get(i) for i in plan.run + plan.given_up]
    done = tuple(i for i in items if i.status == "done")
    failed = tuple(i for i in items if i.status == "failed")
    return Report(plan, done, failed)

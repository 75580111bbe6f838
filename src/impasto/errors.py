"""Typed errors raised at impasto's boundaries.

Every message names the bad value and, where there is a fixed set, the allowed choices, so a
shell can print it as one line. :func:`exit_for` is the one boundary every shell (``impasto``'s
commands, ``impasto grid``, ``impasto serve``) goes through: an error in, the line to print and
the exit status out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXIT_USAGE = 2  # a bad file, setting, weight file or output path
EXIT_INTERRUPTED = 130  # Ctrl-C or a cancelled run, as a shell reports SIGINT (128 + 2)
RESUME_HINT = " (add --checkpoint DIR to make it resumable)"


class ImpastoError(Exception):
    """Base class of every error impasto raises on purpose."""


class InvalidImageError(ImpastoError):
    """An input image is missing, unreadable, corrupt, empty or too large."""


class InvalidAudioError(ImpastoError):
    """An input sound is missing, not audio, empty, silent, too short or too long."""


class InvalidVideoError(ImpastoError):
    """An input video is missing, not a video, has no video stream or an unreadable codec."""


class WeightsError(ImpastoError):
    """The network weights are missing or are not a VGG19 weight file impasto understands."""


class ConfigError(ImpastoError, ValueError):
    """A setting is out of range or names something that does not exist."""


class OutputError(ImpastoError):
    """The output path cannot be written (missing folder, unknown extension, ...)."""


class Cancelled(ImpastoError):
    """A run was stopped by its callback or by the user.

    ``step`` is the last step that finished (None where unknown) and ``checkpoint`` the folder
    the run's state was saved in (None where it was not saved), so a shell can say how to go on
    without reading the message.
    """

    def __init__(
        self, message: str, *, step: int | None = None, checkpoint: Path | None = None
    ) -> None:
        super().__init__(message)
        self.step = step
        self.checkpoint = checkpoint


class DeviceError(ImpastoError):
    """The device a run computes on failed it: out of memory, or gone."""


class CheckpointError(ImpastoError):
    """A checkpoint folder is missing, incomplete or from an incompatible version."""


class DivergedError(ImpastoError):
    """A run's loss became NaN or infinite: the output would be meaningless, so the run stops
    and nothing is written. ``step`` is the step at which it was seen (0: before the first);
    ``terms`` names the loss terms that overflowed ("content", "style", "tv")."""

    def __init__(self, message: str, *, step: int = 0, terms: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.step = step
        self.terms = terms


class CollapsedError(ImpastoError):
    """Training a style network collapsed: its output went constant or black while the loss
    stopped falling. The message names the likely cause; ``step`` is where it was seen."""

    def __init__(self, message: str, *, step: int = 0) -> None:
        super().__init__(message)
        self.step = step


class NetworkFileError(ImpastoError):
    """A file is not an impasto style network (model file or ONNX export) or is damaged."""


@dataclass(frozen=True)
class Exit:
    """What a shell prints (one line, on stderr) and the status it exits with."""

    message: str
    status: int


def exit_for(error: ImpastoError | KeyboardInterrupt, *, resumable: bool = True) -> Exit:
    """The one-line message and exit status for ``error``: 130 for :class:`Cancelled` and
    Ctrl-C, 2 for every other :class:`ImpastoError`.

    A cancelled run that saved no checkpoint gets a hint on how to make it resumable, unless
    ``resumable`` is False (a command that has no ``--checkpoint``).
    """
    if isinstance(error, KeyboardInterrupt):
        return Exit("impasto: interrupted", EXIT_INTERRUPTED)
    if isinstance(error, Cancelled):
        hint = RESUME_HINT if resumable and error.checkpoint is None else ""
        return Exit(f"impasto: {error}{hint}", EXIT_INTERRUPTED)
    return Exit(f"impasto: error: {error}", EXIT_USAGE)


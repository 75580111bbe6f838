"""The studio's limits and their defaults, written once.

``create_app`` takes them (:class:`Limits`), ``impasto serve``'s flags take their defaults
from :data:`DEFAULTS`, ``GET /api/config`` and the routes read them from the app, and the
figures of docs/studio.md's option table are checked against them (tests/web/test_web_cli.py).
Standard library only: ``impasto serve --help`` imports this without the web extra.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one studio allows, and how much it runs at once."""

    max_upload_bytes: int = 20 * 2**20  # a photo or a sound upload (413 beyond it)
    max_pixels: int = 25_000_000  # an image upload: a 6000x4000 camera photo (413 beyond)
    max_size: int = 2048  # the longest output side a job may ask for
    max_steps: int = 5000  # the steps a job may ask for, in all
    queue_size: int = 8  # jobs that may wait for a worker; one more is refused (429)
    workers: int = 1  # jobs run at once (impasto serve refuses 0; create_app takes it, for tests)
    max_audio_seconds: float = 60.0  # the longest sound upload, input or texture (Audio mode)
    device: str = "auto"  # where every job computes (impasto serve --device)
    max_video_seconds: float = 10.0  # the longest clip upload, or frame range of a video job
    max_video_size: int = 512  # a video job's long side, in pixels
    keep_uploads: float | None = 24 * 3600.0  # seconds an upload no job uses is kept (None: ever)


DEFAULTS = Limits()

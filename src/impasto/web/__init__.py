"""impasto studio: a local web page over :mod:`impasto.api` (``impasto serve``).

Needs the ``web`` extra (FastAPI, uvicorn, python-multipart). Importing this package does not
import them: :func:`create_app` loads the app module when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from impasto.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from impasto.web.app import create_app

        return create_app
    raise AttributeError(f"module 'impasto.web' has no attribute {name!r}")

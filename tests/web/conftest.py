"""Fixtures of the studio's tests: an app factory on a temp data folder with the tiny random net,
and a client (helpers are in web_helpers.py). Runs are 32-48 px and a few steps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from impasto.features.weights import VGGWeights
from impasto.web import create_app

AppFactory = Callable[..., FastAPI]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "studio"


@pytest.fixture
def make_app(data_dir: Path, tiny_weights: VGGWeights) -> AppFactory:
    """create_app on the test's data folder with the tiny net; keyword arguments override."""

    def make(**kwargs: Any) -> FastAPI:
        opts: dict[str, Any] = {"weights": tiny_weights, "preview_interval": 0.0}
        opts.update(kwargs)
        return create_app(opts.pop("data_dir", data_dir), **opts)

    return make


@pytest.fixture
def client(make_app: AppFactory) -> Iterator[TestClient]:
    """A client of a studio with one worker, started (lifespan) and stopped around the test."""
    with TestClient(make_app()) as c:
        yield c

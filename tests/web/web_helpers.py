"""Helpers of the studio's tests (imported by the test modules beside this file)."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

# A few steps at 32 px on the tiny net; tol 0 so no run stops early.
TINY = {"size": 32, "steps": 4, "tol": 0}


def save_tiny_network(path: Path, seed: int = 5) -> Path:
    """A small style network (1/8 width, one block) with weights moved off their initial
    values (so its output varies), saved with a style name as `impasto train` saves one."""
    import torch

    from impasto.network.config import NetworkConfig
    from impasto.network.info import NetworkInfo
    from impasto.network.model import build_network
    from impasto.network.modelfile import save_network

    small = NetworkConfig(width=0.125, blocks=1)
    model = build_network(small, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)
    return save_network(model, path, NetworkInfo(small, "painting.png", "cd" * 32, {"steps": 1}))


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def upload(client: TestClient, data: bytes, name: str = "image.png") -> Any:
    return client.post("/api/uploads", files={"file": (name, data, "application/octet-stream")})


def start_job(client: TestClient, content: str, style: str, **config: Any) -> dict[str, Any]:
    r = client.post("/api/jobs", json={"content": content, "style": style, "config": config})
    assert r.status_code == 202, r.text
    job: dict[str, Any] = r.json()
    return job


def wait_for(
    client: TestClient, job_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 120
) -> dict[str, Any]:
    """Poll the job until ``until(job)``. ``timeout`` only guards against a hang (the machine
    may be shared and slow): it is not a claim about speed."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if until(job):
            return job
        assert time.monotonic() < deadline, f"timed out waiting on job: {job}"
        time.sleep(0.01)


def finished(job: dict[str, Any]) -> bool:
    return job["status"] in ("done", "failed", "cancelled")


def read_events(client: TestClient, job_id: str) -> list[dict[str, Any]]:
    """Every server-sent event of a job until its stream ends (it ends when the job does)."""
    out = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line[len("data: ") :]))
    return out


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under uvicorn in a thread, on a free port of 127.0.0.1; yields its URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1, ws="none"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # against a hang only: the machine may be busy
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()

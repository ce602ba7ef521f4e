"""Benchmark: managedFields bookkeeping for a ~4 KB pod (not collected by pytest).

Run: .venv/bin/python tests/machinery/apply/bench_managedfields.py
Prints microseconds per call and the ratio to an orjson round trip of the same object measured in the
same run (the cheapest deep copy, DESIGN.md's yardstick).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from kijabi.machinery.apply import apply, update_managed_fields
from kijabi.machinery.schema import builtin

POD = builtin().for_kind("", "v1", "Pod")


def container(i: int) -> dict[str, Any]:
    return {
        "name": f"app-{i}",
        "image": f"registry.example.com/team/app-{i}:v1.2.3",
        "imagePullPolicy": "IfNotPresent",
        "args": ["--port=8080", "--verbose"],
        "env": [{"name": f"ENV_{j}", "value": f"value-{j}"} for j in range(4)],
        "ports": [{"containerPort": 8080 + i, "name": "http", "protocol": "TCP"}],
        "resources": {
            "limits": {"cpu": "500m", "memory": "128Mi"},
            "requests": {"cpu": "250m", "memory": "64Mi"},
        },
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-7d9f8b6c5-abcde",
            "namespace": "default",
            "uid": "0b5c3e1a-1111-2222-3333-444455556666",
            "resourceVersion": "12345",
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "labels": {"app": "web", "tier": "frontend", "pod-template-hash": "7d9f8b6c5"},
        },
        "spec": {
            "containers": [container(0), container(1)],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
            "nodeName": "node-1",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
        },
        "status": {"phase": "Pending", "qosClass": "Burstable"},
    }


def per_call(fn: Callable[[], object], n: int = 400) -> float:
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def main() -> None:
    created = update_managed_fields(
        None, pod(), manager="kubectl-create", schema=POD, api_version="v1", now="2024-01-01T00:00:00Z"
    )
    print(
        f"pod: {len(orjson.dumps(created))} bytes, of which managedFields {len(orjson.dumps(created['metadata']['managedFields']))}"
    )
    baseline = per_call(lambda: orjson.loads(orjson.dumps(created)))
    relabeled = orjson.loads(orjson.dumps(created))
    relabeled["metadata"]["labels"]["tier"] = "backend"
    same = orjson.loads(orjson.dumps(created))
    status = orjson.loads(orjson.dumps(created))
    status["status"]["phase"] = "Running"
    config = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-7d9f8b6c5-abcde", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [container(0)]},
    }
    applied = apply(None, config, manager="ctl", schema=POD, force=False, api_version="v1", now="t0")
    cases: list[tuple[str, Callable[[], object]]] = [
        (
            "update: label changed by another manager",
            lambda: update_managed_fields(
                created, relabeled, manager="kubectl-label", schema=POD, api_version="v1", now="t1"
            ),
        ),
        (
            "update: nothing changed",
            lambda: update_managed_fields(
                created, same, manager="kubectl-create", schema=POD, api_version="v1", now="t1"
            ),
        ),
        (
            "update: status subresource",
            lambda: update_managed_fields(
                created,
                status,
                manager="kubelet",
                schema=POD,
                api_version="v1",
                now="t1",
                subresource="status",
                reset_paths=("spec", "metadata"),
            ),
        ),
        (
            "create",
            lambda: update_managed_fields(
                None, pod(), manager="kubectl-create", schema=POD, api_version="v1", now="t1"
            ),
        ),
        (
            "apply: same config again",
            lambda: apply(
                applied, config, manager="ctl", schema=POD, force=False, api_version="v1", now="t1"
            ),
        ),
    ]
    print(f"{'orjson round trip (baseline)':45s} {baseline:8.1f} us  1.0x")
    for name, fn in cases:
        us = per_call(fn)
        print(f"{name:45s} {us:8.1f} us  {us / baseline:.1f}x")


if __name__ == "__main__":
    main()

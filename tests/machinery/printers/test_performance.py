"""Printing is on the hot path of `kubectl get`: a 10k-pod Table must take well under a second."""

from __future__ import annotations

import time
from typing import Any

from kijabi.machinery.printers import printer_for, table

from ._support import NOW, ago


def _pod(i: int) -> dict[str, Any]:
    restarted = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(120)}} if i % 3 else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"web-{i}",
            "namespace": "default",
            "uid": f"uid-{i}",
            "resourceVersion": str(i),
            "creationTimestamp": ago(3600),
            "labels": {"app": "web", "pod-template-hash": "5d8f"},
        },
        "spec": {
            "nodeName": f"node-{i % 50}",
            "containers": [{"name": "web", "image": "nginx"}, {"name": "log", "image": "busybox"}],
        },
        "status": {
            "phase": "Running",
            "podIP": f"10.42.{i // 250}.{i % 250}",
            "podIPs": [{"ip": f"10.42.{i // 250}.{i % 250}"}],
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True"},
                {"type": "ContainersReady", "status": "True"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [
                {
                    "name": n,
                    "ready": True,
                    "started": True,
                    "restartCount": i % 3,
                    "state": {"running": {"startedAt": ago(60)}},
                    "lastState": restarted,
                }
                for n in ("web", "log")
            ],
        },
    }


def test_ten_thousand_pods_under_a_second() -> None:
    """Best of three runs building the Table for 10,000 pods stays below one second."""
    pods = [_pod(i) for i in range(10_000)]
    printer = printer_for("", "pods")
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        body = table(printer, pods, now=NOW)
        best = min(best, time.perf_counter() - start)
    assert len(body["rows"]) == 10_000
    assert body["rows"][1]["cells"][:4] == ["web-1", "2/2", "Running", "2 (2m ago)"]
    assert best < 1.0, f"10k pods took {best:.3f}s"

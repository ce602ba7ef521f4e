"""managedFields pinned byte for byte: create, update, status update, apply and patch.

The expected entries (`managed_fields_pinned.json`) were recorded before the create/update paths were
optimized (the sorted field-set walks and the per-item node cache); any change in the entries, their
order, or the order of keys inside `fieldsV1` shows up here. Regenerate only for an intended change:
`.venv/bin/python -m tests.machinery.apply.test_managed_fields_pinned --write`.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from kijabi.machinery.apply import apply, update_managed_fields
from kijabi.machinery.patch import merge_patch
from kijabi.machinery.schema import builtin

GOLDEN = Path(__file__).with_name("managed_fields_pinned.json")
POD = builtin().for_kind("", "v1", "Pod")
DEPLOYMENT = builtin().for_kind("apps", "v1", "Deployment")
T0, T1, T2, T3 = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z", "2024-05-01T13:00:00Z"


def _container(name: str, image: str, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "args": ["--port", str(port)],
        "ports": [{"name": "http", "containerPort": port}, {"containerPort": port + 1, "protocol": "UDP"}],
        "env": [
            {"name": "MODE", "value": "prod"},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
            {"name": "EMPTY", "value": ""},
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 5},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True}],
        "securityContext": {"capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True},
        "terminationMessagePath": "/dev/termination-log",
        "imagePullPolicy": "IfNotPresent",
    }


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-0",
            "namespace": "default",
            "uid": "6f1c1c1e-0000-4000-8000-000000000001",
            "creationTimestamp": T0,
            "labels": {"app": "web", "tier": "frontend", "z-last": "1", "a-first": ""},
            "annotations": {"note": "x", "empty": ""},
            "finalizers": ["example.com/keep"],
        },
        "spec": {
            "containers": [_container("app", "registry.local/web:1.0", 8080), _container("sidecar", "registry.local/proxy:2", 9000)],
            "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "web-config", "defaultMode": 420}}],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "securityContext": {},
            "hostNetwork": False,
            "priority": 0,
            "imagePullSecrets": [],
        },
        "status": {"phase": "Pending", "qosClass": "Burstable"},
    }


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "generation": 1},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [_container("app", "registry.local/web:1.0", 8080)]},
            },
        },
    }


def _update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str, *, schema: Any = POD,
            api_version: str = "v1", subresource: str = "", reset: tuple[str, ...] = ("status",)) -> dict[str, Any]:
    return update_managed_fields(old, new, manager=manager, schema=schema, api_version=api_version, now=now,
                                 subresource=subresource, reset_paths=reset)


def _roundtrip(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    return out


def _created() -> dict[str, Any]:
    return _roundtrip(_update(None, pod(), "kubectl-create", T0))


def s_create() -> dict[str, Any]:
    return _created()


def s_create_again() -> dict[str, Any]:
    """A second create of the same object answers exactly as the first (the node cache is shared)."""
    _created()
    return _created()


def s_create_deployment() -> dict[str, Any]:
    return _update(None, deployment(), "kube-controller-manager", T0, schema=DEPLOYMENT, api_version="apps/v1",
                   reset=("status",))


def s_create_without_schema() -> dict[str, Any]:
    return _update(None, pod(), "crd-writer", T0, schema=None, reset=())


def s_create_duplicate_keys() -> dict[str, Any]:
    obj = pod()
    env = obj["spec"]["containers"][0]["env"]
    env.append(copy.deepcopy(env[0]))
    obj["spec"]["containers"][0]["ports"].append({"containerPort": 8080, "name": "again"})
    return _update(None, obj, "dup-writer", T0)


def s_update() -> dict[str, Any]:
    live = _created()
    new = _roundtrip(live)
    c = new["spec"]["containers"][0]
    c["image"] = "registry.local/web:1.1"
    del c["env"][1]
    c["env"].append({"name": "ADDED", "value": "1"})
    new["metadata"]["labels"]["version"] = "1.1"
    del new["metadata"]["labels"]["tier"]
    new["spec"]["volumes"].append({"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}})
    return _update(live, new, "kubectl-edit", T1)


def s_update_unchanged() -> dict[str, Any]:
    live = _created()
    return _update(live, _roundtrip(live), "someone-else", T1)


def s_update_status() -> dict[str, Any]:
    live = _created()
    new = _roundtrip(live)
    new["status"] = {"phase": "Running", "qosClass": "Burstable", "podIP": "10.42.0.7",
                     "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}
    first = _update(live, new, "kubelet", T1, subresource="status", reset=("spec", "metadata.labels"))
    again = _roundtrip(first)
    again["status"]["conditions"][0]["status"] = "False"
    return _update(_roundtrip(first), again, "kubelet", T2, subresource="status", reset=("spec", "metadata.labels"))


def _config() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web", "owner": "team-a"}},
        "spec": {"containers": [{"name": "app", "image": "registry.local/web:2.0", "ports": [{"containerPort": 8080}]}]},
    }


def s_apply_create() -> dict[str, Any]:
    return apply(None, _config(), manager="kubectl", schema=POD, force=False, api_version="v1", now=T1,
                 reset_paths=("status",))


def s_apply_over_update() -> dict[str, Any]:
    live = _created()
    with pytest.raises(Exception, match="conflict"):
        apply(live, _config(), manager="team-a", schema=POD, force=False, api_version="v1", now=T1, reset_paths=("status",))
    applied = apply(live, _config(), manager="team-a", schema=POD, force=True, api_version="v1", now=T1,
                    reset_paths=("status",))
    config = _config()
    del config["metadata"]["labels"]["owner"]
    return apply(applied, config, manager="team-a", schema=POD, force=False, api_version="v1", now=T2,
                 reset_paths=("status",))


def s_update_after_apply() -> dict[str, Any]:
    applied = s_apply_create()
    new = _roundtrip(applied)
    new["spec"]["containers"][0]["image"] = "registry.local/web:2.1"
    new["spec"]["containers"][0]["env"] = [{"name": "X", "value": "y"}]
    return _update(applied, new, "kubectl-set", T3)


def s_merge_patch() -> dict[str, Any]:
    live = _created()
    patched = merge_patch(_roundtrip(live), {"metadata": {"labels": {"app": None, "patched": "yes"}},
                                             "spec": {"activeDeadlineSeconds": 60, "nodeSelector": None}})
    return _update(live, patched, "kubectl-patch", T2)


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "create": s_create,
    "create-again": s_create_again,
    "create-deployment": s_create_deployment,
    "create-without-schema": s_create_without_schema,
    "create-duplicate-keys": s_create_duplicate_keys,
    "update": s_update,
    "update-unchanged": s_update_unchanged,
    "update-status": s_update_status,
    "apply-create": s_apply_create,
    "apply-over-update": s_apply_over_update,
    "update-after-apply": s_update_after_apply,
    "merge-patch": s_merge_patch,
}


def _managed(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj.get("metadata", {}).get("managedFields"))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_managed_fields_are_byte_identical(name: str) -> None:
    """The managedFields a write records equal, byte for byte, those recorded before the optimizations."""
    golden = orjson.loads(GOLDEN.read_bytes())
    assert _managed(SCENARIOS[name]()) == orjson.dumps(golden[name])


def test_results_do_not_share_state_with_later_writes() -> None:
    """Serializing a result, then writing more objects, leaves that result's managedFields unchanged."""
    first = _update(None, pod(), "kubectl-create", T0)
    before = _managed(first)
    for i in range(3):
        other = pod()
        other["spec"]["containers"][0]["env"].append({"name": f"E{i}", "value": "v"})
        _update(None, other, "kubectl-create", T0)
    assert _managed(first) == before


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        GOLDEN.write_bytes(orjson.dumps({name: orjson.loads(_managed(fn())) for name, fn in SCENARIOS.items()},
                                        option=orjson.OPT_INDENT_2) + b"\n")
        print(f"wrote {GOLDEN}")

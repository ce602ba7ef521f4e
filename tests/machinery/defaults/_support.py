"""Helpers for the defaulting tables: build objects, default them, read a value at a path."""

from __future__ import annotations

import copy
import re
from typing import Any, NamedTuple

from kijabi.machinery.defaults import default

MISSING = object()
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([^\]]+)\]")


class Row(NamedTuple):
    """One defaulting fact: after defaulting `obj` of this kind, `path` holds `expected`."""

    id: str
    gvk: tuple[str, str, str]
    obj: dict[str, Any]
    path: str
    expected: Any


def at(obj: Any, path: str) -> Any:
    """The value at a path such as `spec.containers[0].ports[1].protocol` or `labels[app]`; MISSING."""
    cur = obj
    for name, index, key in _STEP.findall(path):
        if index:
            if not isinstance(cur, list) or int(index) >= len(cur):
                return MISSING
            cur = cur[int(index)]
        else:
            field = name or key
            if not isinstance(cur, dict) or field not in cur:
                return MISSING
            cur = cur[field]
    return cur


def defaulted(gvk: tuple[str, str, str], obj: dict[str, Any]) -> dict[str, Any]:
    """A defaulted deep copy of `obj`."""
    out = copy.deepcopy(obj)
    default(*gvk, out)
    return out


def check(row: Row) -> None:
    assert at(defaulted(row.gvk, row.obj), row.path) == row.expected


POD = ("", "v1", "Pod")
POD_TEMPLATE = ("", "v1", "PodTemplate")
RC = ("", "v1", "ReplicationController")
DEPLOYMENT = ("apps", "v1", "Deployment")
REPLICA_SET = ("apps", "v1", "ReplicaSet")
STATEFUL_SET = ("apps", "v1", "StatefulSet")
DAEMON_SET = ("apps", "v1", "DaemonSet")
JOB = ("batch", "v1", "Job")
CRON_JOB = ("batch", "v1", "CronJob")


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "nginx:1.27", **fields}


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": list(containers) or [container()], **spec},
    }


def template(
    *containers: dict[str, Any], labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"} if labels is None else labels},
        "spec": {"containers": list(containers) or [container()], **spec},
    }


def workload(gvk: tuple[str, str, str], tmpl: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A workload of kind `gvk` whose pod template is `tmpl` (CronJobs nest it in jobTemplate)."""
    group, version, kind = gvk
    body: dict[str, Any] = {
        "apiVersion": f"{group}/{version}" if group else version,
        "kind": kind,
        "metadata": {"name": "w", "namespace": "default"},
    }
    if kind == "CronJob":
        body["spec"] = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": tmpl}}, **spec}
    elif kind == "PodTemplate":
        body["template"] = tmpl
    else:
        body["spec"] = {"selector": {"matchLabels": {"app": "web"}}, "template": tmpl, **spec}
    return body


TEMPLATE_PATHS = {
    RC: "spec.template.spec",
    DEPLOYMENT: "spec.template.spec",
    REPLICA_SET: "spec.template.spec",
    STATEFUL_SET: "spec.template.spec",
    DAEMON_SET: "spec.template.spec",
    JOB: "spec.template.spec",
    CRON_JOB: "spec.jobTemplate.spec.template.spec",
    POD_TEMPLATE: "template.spec",
}

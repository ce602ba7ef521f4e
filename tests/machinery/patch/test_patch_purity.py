"""All three patch functions are pure: inputs are never modified and results share nothing with them.

Objects handed out by informers and caches are shared, so a patch must never write into its inputs, and
the caller must be free to modify the result.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kijabi.machinery.patch import json_patch, merge_patch, strategic_merge_patch
from kijabi.machinery.schema import Schema

LIVE = {
    "metadata": {"name": "web", "labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"]},
    "spec": {
        "containers": [
            {"name": "a", "image": "x", "env": [{"name": "E", "value": "1"}]},
            {"name": "b", "image": "y"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
    },
}

SMP = {
    "metadata": {
        "labels": {"b": None, "c": "3"},
        "$deleteFromPrimitiveList/finalizers": ["y"],
        "finalizers": ["z"],
    },
    "spec": {
        "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
        "containers": [
            {"name": "c", "image": "z", "ports": [{"containerPort": 1}]},
            {"name": "a", "env": [{"name": "F", "value": "2"}]},
            {"name": "b", "$patch": "delete"},
        ],
        "volumes": [{"$retainKeys": ["name", "configMap"], "name": "data", "configMap": {"name": "cm"}}],
    },
}

MERGE = {
    "metadata": {"labels": {"b": None, "new": {"deep": {"x": None, "y": [1]}}}},
    "spec": {"containers": [{"name": "only"}]},
}

JSON_PATCH = [
    {"op": "add", "path": "/metadata/labels/c", "value": {"nested": [1, 2]}},
    {"op": "copy", "from": "/spec/containers/0", "path": "/spec/containers/-"},
    {"op": "move", "from": "/metadata/finalizers", "path": "/metadata/moved"},
    {"op": "replace", "path": "/spec/volumes/0/emptyDir", "value": {"medium": "Memory"}},
    {"op": "remove", "path": "/spec/containers/1"},
]


CALLS: list[Any] = [
    pytest.param("smp", SMP, id="strategic-merge-patch"),
    pytest.param("merge", MERGE, id="merge-patch"),
    pytest.param("json", JSON_PATCH, id="json-patch"),
]


def _run(kind: str, patch: Any, pod_schema: Schema) -> dict[str, Any]:
    if kind == "smp":
        return strategic_merge_patch(LIVE, patch, pod_schema)
    if kind == "merge":
        return merge_patch(LIVE, patch)
    return json_patch(LIVE, patch)


def _all_containers(value: Any) -> list[int]:
    """The ids of every dict and list inside `value`."""
    found = [id(value)] if isinstance(value, dict | list) else []
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        found.extend(_all_containers(child))
    return found


@pytest.mark.parametrize(("kind", "patch"), CALLS)
def test_inputs_are_not_modified(kind: str, patch: Any, pod_schema: Schema) -> None:
    live_before, patch_before = copy.deepcopy(LIVE), copy.deepcopy(patch)
    result = _run(kind, patch, pod_schema)
    assert result != live_before
    assert LIVE == live_before
    assert patch == patch_before


@pytest.mark.parametrize(("kind", "patch"), CALLS)
def test_result_shares_no_containers_with_inputs(kind: str, patch: Any, pod_schema: Schema) -> None:
    result = _run(kind, patch, pod_schema)
    shared = set(_all_containers(result)) & (set(_all_containers(LIVE)) | set(_all_containers(patch)))
    assert not shared


@pytest.mark.parametrize(("kind", "patch"), CALLS)
def test_repeatable(kind: str, patch: Any, pod_schema: Schema) -> None:
    """Applying the same patch twice to the same input gives the same answer (nothing was consumed)."""
    assert _run(kind, patch, pod_schema) == _run(kind, patch, pod_schema)


def test_smp_result_of_the_shared_example(pod_schema: Schema) -> None:
    """The strategic patch used above does what it says (so the purity checks test real work)."""
    got = strategic_merge_patch(LIVE, SMP, pod_schema)
    assert got["metadata"]["labels"] == {"a": "1", "c": "3"}
    assert got["metadata"]["finalizers"] == ["z", "x"]
    assert got["spec"]["containers"] == [
        {"name": "c", "image": "z", "ports": [{"containerPort": 1}]},
        {"name": "a", "image": "x", "env": [{"name": "F", "value": "2"}, {"name": "E", "value": "1"}]},
    ]
    assert got["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cm"}}]

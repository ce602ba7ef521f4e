"""Decoding checks of list items that repeat from object to object (the clean-item memo of `TypedWalk`).

Items whose JSON text already decoded cleanly are not walked again; these tests check that the memo
never hides a type error or an unknown field, whatever was decoded before.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kijabi.machinery import structural
from kijabi.machinery.schema import builtin

POD = builtin().for_kind("", "v1", "Pod")


def container(name: str = "app") -> dict[str, Any]:
    return {
        "name": name,
        "image": "registry.local/app:1",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m"}},
    }


def pod(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": list(containers)}}


def _warm() -> None:
    for _ in range(2):
        assert structural.check(pod(container(), container("b")), POD) == ([], [])


def _with(path: tuple[Any, ...], value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = copy.deepcopy(base or pod(container(), container("b")))
    target: Any = obj
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        pytest.param(("spec", "containers", 0, "bogus"), 1, ([], ['unknown field "spec.containers[0].bogus"']),
                     id="unknown-field-in-item"),
        pytest.param(("spec", "containers", 1, "env", 0, "extra"), "x",
                     ([], ['unknown field "spec.containers[1].env[0].extra"']), id="unknown-field-in-nested-item"),
        pytest.param(("spec", "containers", 0, "ports", 0, "containerPort"), "8080",
                     (["json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort"
                       " of type int32"], []), id="type-error-in-item"),
    ],
)
def test_a_changed_item_is_checked_again(path: tuple[Any, ...], value: Any, expected: tuple[list[str], list[str]]) -> None:
    """After clean items were seen, an item that differs from them reports its own problems."""
    _warm()
    obj = _with(path, value)
    assert structural.check(obj, POD) == expected
    assert structural.check(obj, POD) == expected  # and again, once it is the one seen before


def test_an_item_with_unknown_fields_is_reported_every_time() -> None:
    """An item with an unknown field is never remembered as clean, whatever its position."""
    bad = container()
    bad["bogus"] = True
    for position in range(3):
        items = [container(f"c{i}") for i in range(3)]
        items[position] = bad
        assert structural.check(pod(*items), POD)[1] == [f'unknown field "spec.containers[{position}].bogus"']


def test_pruning_still_removes_unknown_fields_of_repeated_items() -> None:
    """prune() removes an unknown field from an item equal to one that was reported before."""
    bad = container()
    bad["bogus"] = True
    obj = pod(copy.deepcopy(bad), copy.deepcopy(bad))
    assert structural.check(obj, POD)[1] == ['unknown field "spec.containers[0].bogus"',
                                             'unknown field "spec.containers[1].bogus"']
    assert structural.prune(obj, POD) == ["spec.containers[0].bogus", "spec.containers[1].bogus"]
    assert "bogus" not in obj["spec"]["containers"][0] and "bogus" not in obj["spec"]["containers"][1]


def test_the_same_item_under_another_type_is_checked_for_that_type() -> None:
    """An item clean as a container is checked again where another schema holds it (a toleration)."""
    _warm()
    obj = pod(container())
    obj["spec"]["tolerations"] = [container()]
    fields = ("name", "image", "env", "ports", "resources")
    assert structural.check(obj, POD) == ([], [f'unknown field "spec.tolerations[0].{k}"' for k in fields])

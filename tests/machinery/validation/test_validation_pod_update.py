"""Pod update rules: only images, activeDeadlineSeconds, added tolerations, removed scheduling
gates (and, while gated, added node constraints) may change; everything else is forbidden with
upstream's message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.machinery.validation.validation_objects import (
    DELETE,
    container,
    edit,
    errors_of,
    field_errors,
    pod,
    stored,
)

INVALID, REQUIRED, FORBIDDEN = "FieldValueInvalid", "FieldValueRequired", "FieldValueForbidden"
UPDATABLE = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def base() -> dict[str, Any]:
    obj = stored(pod())
    obj["spec"]["tolerations"] = [
        {"key": "a", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    ]
    obj["spec"]["activeDeadlineSeconds"] = 100
    return obj


def updated(*pairs: tuple[str, Any]) -> dict[str, Any]:
    obj = base()
    for path, value in pairs:
        edit(obj, path, value)
    return obj


ALLOWED = [
    pytest.param(updated(("spec.containers[0].image", "nginx:1.28")), id="image"),
    pytest.param(updated(("spec.activeDeadlineSeconds", 50)), id="deadline-decreased"),
    pytest.param(
        updated(("spec.tolerations[1]", {"key": "b", "operator": "Exists", "effect": "NoSchedule"})),
        id="toleration-added",
    ),
    pytest.param(updated(("spec.tolerations[0].tolerationSeconds", 10)), id="toleration-seconds-changed"),
    pytest.param(updated(("metadata.labels", {"app": "web", "extra": "yes"})), id="labels"),
]


@pytest.mark.parametrize("new", ALLOWED)
def test_allowed_pod_updates(new: dict[str, Any]) -> None:
    assert errors_of("Pod", new, base()) == []


REJECTED = [
    pytest.param(
        updated(("spec.activeDeadlineSeconds", 200)),
        [(INVALID, "spec.activeDeadlineSeconds", "must be less than or equal to previous value")],
        id="deadline-increased",
    ),
    pytest.param(
        updated(("spec.activeDeadlineSeconds", DELETE)),
        [(INVALID, "spec.activeDeadlineSeconds", "must not update from a positive integer to nil value")],
        id="deadline-removed",
    ),
    pytest.param(
        updated(("spec.tolerations", [])),
        [
            (
                FORBIDDEN,
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            )
        ],
        id="toleration-removed",
    ),
    pytest.param(
        updated(("spec.containers[1]", container("side"))),
        [(FORBIDDEN, "spec.containers", "pod updates may not add or remove containers")],
        id="container-added",
    ),
    pytest.param(
        updated(("spec.containers[0].image", "")),
        [(REQUIRED, "spec.containers[0].image", "")],
        id="image-cleared",
    ),
    pytest.param(
        updated(("spec.schedulingGates", [{"name": "example.com/new"}])),
        [
            (
                FORBIDDEN,
                "spec.schedulingGates[0].name",
                "only deletion is allowed, but found new scheduling gate 'example.com/new'",
            )
        ],
        id="gate-added",
    ),
]


@pytest.mark.parametrize(("new", "expected"), REJECTED)
def test_rejected_pod_updates(new: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    assert errors_of("Pod", new, base()) == expected


@pytest.mark.parametrize(
    ("change", "diff_line"),
    [
        pytest.param(
            lambda p: edit(p, "spec.restartPolicy", "Never"),
            '+ spec.restartPolicy: "Never"',
            id="restart-policy",
        ),
        pytest.param(
            lambda p: edit(p, "spec.containers[0].name", "other"),
            '+ spec.containers[0].name: "other"',
            id="container-name",
        ),
        pytest.param(
            lambda p: edit(p, "spec.nodeSelector", {"disk": "ssd"}),
            '+ spec.nodeSelector: {"disk":"ssd"}',
            id="node-selector",
        ),
    ],
)
def test_other_spec_changes_are_forbidden(change: Callable[[dict[str, Any]], Any], diff_line: str) -> None:
    new = base()
    change(new)
    errs = [e for e in field_errors("Pod", new, base()) if e.field == "spec"]
    assert len(errs) == 1
    assert errs[0].type == FORBIDDEN
    head, _, diff = errs[0].detail.partition("\n")
    assert head == UPDATABLE
    assert diff_line in diff.splitlines()


def test_qos_class_may_not_change() -> None:
    new = updated(("spec.containers[0].resources", {"requests": {"cpu": "100m"}}))
    errs = errors_of("Pod", new, base())
    assert (INVALID, "metadata", "Pod QoS is immutable") in errs


def test_negative_grace_period_may_become_one() -> None:
    old = updated(("spec.terminationGracePeriodSeconds", -1))
    new = updated(("spec.terminationGracePeriodSeconds", 1))
    assert errors_of("Pod", new, old) == []


def test_gated_pod_may_gain_node_selector_but_not_change_it() -> None:
    gated = updated(
        ("spec.schedulingGates", [{"name": "example.com/wait"}]), ("spec.nodeSelector", {"zone": "a"})
    )
    added = updated(
        ("spec.schedulingGates", [{"name": "example.com/wait"}]),
        ("spec.nodeSelector", {"zone": "a", "disk": "ssd"}),
    )
    changed = updated(
        ("spec.schedulingGates", [{"name": "example.com/wait"}]), ("spec.nodeSelector", {"zone": "b"})
    )
    assert errors_of("Pod", added, gated) == []
    assert errors_of("Pod", changed, gated) == [
        (
            INVALID,
            "spec.nodeSelector",
            "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
        )
    ]


def test_gates_may_be_removed() -> None:
    gated = updated(("spec.schedulingGates", [{"name": "example.com/a"}, {"name": "example.com/b"}]))
    fewer = updated(("spec.schedulingGates", [{"name": "example.com/b"}]))
    assert errors_of("Pod", fewer, gated) == []

"""Replicas ownership across a resource and its scale subresource (ported from scalehandler_test.go)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kijabi.machinery.apply.scale import to_parent, to_subresource

MAPPINGS: dict[str, str | None] = {"apps/v1": "spec.replicas"}


def entry(
    manager: str, operation: str, api_version: str, fields: str, subresource: str = "", time: str = ""
) -> dict[str, Any]:
    e: dict[str, Any] = {"manager": manager, "operation": operation, "apiVersion": api_version}
    if time:
        e["time"] = time
    e.update(fieldsType="FieldsV1", fieldsV1=json.loads(fields))
    if subresource:
        e["subresource"] = subresource
    return e


REPLICAS = '{"f:spec":{"f:replicas":{}}}'
BOTH = '{"f:spec":{"f:replicas":{},"f:selector":{}}}'
SELECTOR = '{"f:spec":{"f:selector":{}}}'


@pytest.mark.parametrize(
    ("parent", "want"),
    [
        pytest.param(
            [
                entry("manager-1", "Apply", "apps/v1", '{"f:spec":{"f:another-field":{}}}'),
                entry("manager-2", "Apply", "apps/v1", REPLICAS, time="2013-02-03T00:00:00Z"),
            ],
            [entry("manager-2", "Apply", "autoscaling/v1", REPLICAS, time="2013-02-03T00:00:00Z")],
            id="filter-and-transform",
        ),
        pytest.param(
            [
                entry("manager-1", "Apply", "apps/v1", REPLICAS),
                entry("manager-3", "Apply", "apps/v1", REPLICAS, "scale"),
            ],
            [
                entry("manager-1", "Apply", "autoscaling/v1", REPLICAS),
                entry("manager-3", "Apply", "autoscaling/v1", REPLICAS, "scale"),
            ],
            id="transform-all",
        ),
        pytest.param([entry("manager-1", "Apply", "apps/v5", REPLICAS)], [], id="unknown-version-skipped"),
    ],
)
def test_to_subresource(parent: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    """Owners of the parent's replicas own the Scale's .spec.replicas in autoscaling/v1."""
    assert to_subresource(parent, MAPPINGS) == want


@pytest.mark.parametrize(
    ("parent", "scale", "want"),
    [
        pytest.param(
            [entry("test", "Update", "apps/v1", BOTH)],
            [entry("scale", "Update", "autoscaling/v1", REPLICAS, "scale")],
            [
                entry("scale", "Update", "apps/v1", REPLICAS, "scale"),
                entry("test", "Update", "apps/v1", SELECTOR),
            ],
            id="different-managers-steal",
        ),
        pytest.param(
            [entry("test", "Update", "apps/v1", BOTH)],
            [entry("test", "Update", "autoscaling/v1", REPLICAS, "scale")],
            [
                entry("test", "Update", "apps/v1", SELECTOR),
                entry("test", "Update", "apps/v1", REPLICAS, "scale"),
            ],
            id="same-manager-update",
        ),
        pytest.param(
            [entry("test", "Apply", "apps/v1", SELECTOR)],
            [entry("scale", "Update", "autoscaling/v1", '{"f:status":{"f:replicas":{}}}', "scale")],
            [entry("test", "Apply", "apps/v1", SELECTOR)],
            id="scale-no-longer-owns-replicas",
        ),
        pytest.param(
            [entry("test", "Apply", "apps/v1", REPLICAS)],
            [entry("scale", "Update", "autoscaling/v1", REPLICAS, "scale")],
            [entry("scale", "Update", "apps/v1", REPLICAS, "scale")],
            id="steals-everything",
        ),
        pytest.param(
            [entry("test", "Apply", "apps/v1", BOTH)],
            [
                entry("test", "Apply", "autoscaling/v1", REPLICAS),
                entry("test", "Apply", "autoscaling/v1", REPLICAS, "scale"),
            ],
            [entry("test", "Apply", "apps/v1", BOTH), entry("test", "Apply", "apps/v1", REPLICAS, "scale")],
            id="apply-without-stealing",
        ),
        pytest.param(
            [
                entry("test", "Apply", "apps/v1", REPLICAS),
                entry("another-manager", "Apply", "apps/v10", SELECTOR),
            ],
            [entry("scale", "Update", "autoscaling/v1", REPLICAS)],
            [entry("scale", "Update", "apps/v1", REPLICAS)],
            id="unknown-version-dropped",
        ),
    ],
)
def test_to_parent(
    parent: list[dict[str, Any]], scale: list[dict[str, Any]], want: list[dict[str, Any]]
) -> None:
    """Scale entries fold back into the parent; owners lose replicas the Scale took from them."""
    assert to_parent(parent, scale, api_version="apps/v1", mappings=MAPPINGS) == want


def test_to_parent_multi_version_and_versions_without_scale() -> None:
    """Each parent version has its own replicas path; a version mapped to None has no scale."""
    mappings: dict[str, str | None] = {"mygroup/v1": "spec.the-replicas", "mygroup/v2": None}
    parent = [
        entry("test", "Apply", "mygroup/v1", '{"f:spec":{"f:selector":{},"f:the-replicas":{}}}'),
        entry("test-other", "Apply", "mygroup/v2", '{"f:spec":{"f:test-other":{}}}'),
    ]
    scale = [entry("scale", "Update", "autoscaling/v1", REPLICAS, "scale")]
    assert to_parent(parent, scale, api_version="mygroup/v1", mappings=mappings) == [
        entry("test", "Apply", "mygroup/v1", SELECTOR),
        entry("test-other", "Apply", "mygroup/v2", '{"f:spec":{"f:test-other":{}}}'),
        entry("scale", "Update", "mygroup/v1", '{"f:spec":{"f:the-replicas":{}}}', "scale"),
    ]

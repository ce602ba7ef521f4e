"""Schemas and objects shared by the structural tests."""

from __future__ import annotations

from typing import Any

from kijabi.machinery import schema


def builtin(group: str, version: str, kind: str) -> schema.Schema:
    s = schema.builtin().for_kind(group, version, kind)
    assert s is not None, (group, version, kind)
    return s


def crd(props: dict[str, Any], **extra: Any) -> schema.Schema:
    """A CRD schema whose root declares `props` (plus apiVersion/kind/metadata like generated CRDs)."""
    raw: dict[str, Any] = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            **props,
        },
    }
    raw.update(extra)
    return schema.from_openapi_v3(raw)


def pod(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "c", "image": "nginx"}
    containers = spec.pop("containers", [body])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": containers, **spec},
    }

"""Helpers for server-side apply tests: one object driven through a sequence of writes."""

from __future__ import annotations

import copy
from typing import Any

from kijabi.machinery.apply import apply, path_string, update_managed_fields
from kijabi.machinery.apply.fieldpath import FieldSet
from kijabi.machinery.schema import Schema, builtin, from_openapi_v3

# The example of the reference (section 2.3), byte for byte.
EXAMPLE_FIELDSV1 = (
    '{"f:metadata":{"f:finalizers":{"v:\\"x/y\\"":{}},"f:labels":{"f:app":{}}},'
    '"f:spec":{"f:containers":{"k:{\\"name\\":\\"c\\"}":{".":{},"f:args":{},"f:image":{},"f:name":{},'
    '"f:ports":{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:containerPort":{}}}}}}}'
)


def crd_schema(properties: dict[str, Any]) -> Schema:
    """A custom-resource style schema whose top level has `properties`."""
    return from_openapi_v3({"type": "object", "properties": properties})


def kind_schema(group: str, version: str, kind: str) -> Schema:
    s = builtin().for_kind(group, version, kind)
    assert s is not None
    return s


def owned(obj: dict[str, Any]) -> dict[str, list[str]]:
    """manager -> the paths it owns, as upstream prints them (entries of one manager merged)."""
    out: dict[str, list[str]] = {}
    for entry in obj.get("metadata", {}).get("managedFields", []):
        name = entry["manager"]
        if entry.get("subresource"):
            name += "/" + entry["subresource"]
        paths = [path_string(p) for p in FieldSet.from_fieldsv1(entry["fieldsV1"])]
        out.setdefault(name, []).extend(paths)
    return out


def entries(obj: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(manager, operation, apiVersion, subresource) of each managedFields entry, in order."""
    return [
        (e["manager"], e["operation"], e["apiVersion"], e.get("subresource", ""))
        for e in obj.get("metadata", {}).get("managedFields", [])
    ]


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out.get("metadata", {}).pop("managedFields", None)
    if out.get("metadata") == {}:
        del out["metadata"]
    return out


class History:
    """One object written by a sequence of managers, with a clock that ticks a second per write."""

    def __init__(
        self,
        schema: Schema,
        *,
        api_version: str = "example.com/v1",
        kind: str = "Thing",
        name: str = "thing",
        namespace: str = "",
    ) -> None:
        self.schema = schema
        self.api_version = api_version
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.obj: dict[str, Any] | None = None
        self.tick = 0

    def now(self) -> str:
        self.tick += 1
        return f"2024-01-01T00:{self.tick // 60:02d}:{self.tick % 60:02d}Z"

    def body(self, fields: dict[str, Any]) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name}
        if self.namespace:
            meta["namespace"] = self.namespace
        body = {"apiVersion": self.api_version, "kind": self.kind, "metadata": meta}
        for k, v in copy.deepcopy(fields).items():
            if k == "metadata":
                meta.update(v)
            else:
                body[k] = v
        return body

    def apply(
        self, manager: str, fields: dict[str, Any], *, force: bool = False, **kw: Any
    ) -> dict[str, Any]:
        self.obj = apply(
            self.obj,
            self.body(fields),
            manager=manager,
            schema=self.schema,
            force=force,
            api_version=self.api_version,
            now=self.now(),
            **kw,
        )
        return self.obj

    def update(self, manager: str, fields: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """A PUT of `fields` (the whole object but metadata.managedFields, which stay as stored)."""
        new = self.body(fields)
        stored = (self.obj or {}).get("metadata", {}).get("managedFields")
        if stored is not None and "managedFields" not in new["metadata"]:
            new["metadata"]["managedFields"] = copy.deepcopy(stored)
        self.obj = update_managed_fields(
            self.obj,
            new,
            manager=manager,
            schema=self.schema,
            api_version=kw.pop("api_version", self.api_version),
            now=self.now(),
            **kw,
        )
        return self.obj

    def content(self) -> dict[str, Any]:
        """The object without apiVersion, kind, metadata.name and managedFields."""
        assert self.obj is not None
        out = without_managed_fields(self.obj)
        out.pop("apiVersion", None)
        out.pop("kind", None)
        meta = out.get("metadata", {})
        meta.pop("name", None)
        meta.pop("namespace", None)
        if not meta:
            out.pop("metadata", None)
        return out

    def owned(self) -> dict[str, list[str]]:
        assert self.obj is not None
        return owned(self.obj)

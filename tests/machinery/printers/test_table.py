"""The meta.k8s.io Table body: shape, includeObject, list metadata, watch events."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kijabi.machinery.errors import StatusError
from kijabi.machinery.printers import printer_for, table

from ._support import NOW, ago

CONFIGMAPS = printer_for("", "configmaps")


def configmap(name: str, rv: str = "7") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "resourceVersion": rv,
            "creationTimestamp": ago(30),
            "labels": {"app": "x"},
            "annotations": {"note": "kept"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
        },
        "data": {"k": "v"},
    }


def test_list_table_shape() -> None:
    """A list Table: kind/apiVersion, ListMeta, all column definitions, one row per object."""
    body = table(
        CONFIGMAPS,
        [configmap("a"), configmap("b")],
        now=NOW,
        resource_version="42",
        continue_="tok",
        remaining=5,
    )
    assert body["kind"] == "Table"
    assert body["apiVersion"] == "meta.k8s.io/v1"
    assert body["metadata"] == {"resourceVersion": "42", "continue": "tok", "remainingItemCount": 5}
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert all(
        set(c) == {"name", "type", "format", "description", "priority"} for c in body["columnDefinitions"]
    )
    assert [r["cells"] for r in body["rows"]] == [["a", 1, "30s"], ["b", 1, "30s"]]


def test_row_order_is_input_order() -> None:
    """Rows keep the list order (storage key order); printers do not sort."""
    names = ["z", "a", "m"]
    body = table(CONFIGMAPS, [configmap(n) for n in names], now=NOW)
    assert [r["cells"][0] for r in body["rows"]] == names


def test_empty_metadata_and_empty_rows() -> None:
    """Unset list fields are omitted (remainingItemCount 0 is kept); an empty list has `rows: []`."""
    body = table(CONFIGMAPS, [], now=NOW, remaining=0)
    assert body["metadata"] == {"remainingItemCount": 0}
    assert body["rows"] == []


@pytest.mark.parametrize("include", ["Metadata", ""])
def test_include_metadata(include: str) -> None:
    """Default rows carry a PartialObjectMetadata with the object's whole metadata."""
    obj = configmap("a")
    row = table(CONFIGMAPS, [obj], now=NOW, include_object=include)["rows"][0]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }
    assert "conditions" not in row


def test_include_object_and_none() -> None:
    """`Object` embeds the object as given; `None` sends a null object."""
    obj = configmap("a")
    assert table(CONFIGMAPS, [obj], now=NOW, include_object="Object")["rows"][0]["object"] is obj
    assert table(CONFIGMAPS, [obj], now=NOW, include_object="None")["rows"][0]["object"] is None


def test_include_object_invalid() -> None:
    """Any other includeObject value is a 400 with upstream's message."""
    with pytest.raises(StatusError) as info:
        table(CONFIGMAPS, [configmap("a")], now=NOW, include_object="Everything")
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    assert info.value.message == (
        'Unable to convert to Table as requested: includeObject: Invalid value: "Everything": '
        "must be 'Metadata', 'Object', 'None', or empty"
    )


def test_v1beta1_table() -> None:
    """A meta.k8s.io/v1beta1 request gets the same shape with v1beta1 everywhere."""
    body = table(CONFIGMAPS, [configmap("a")], now=NOW, api_version="meta.k8s.io/v1beta1")
    assert body["apiVersion"] == "meta.k8s.io/v1beta1"
    assert body["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


def test_watch_events() -> None:
    """Watch: one-row Tables, the object's resourceVersion, column definitions only on the first event."""
    first = table(CONFIGMAPS, [configmap("a", rv="10")], now=NOW, resource_version="10")
    later = table(CONFIGMAPS, [configmap("a", rv="11")], now=NOW, resource_version="11", with_columns=False)
    assert first["columnDefinitions"] == CONFIGMAPS.columns
    assert later["columnDefinitions"] is None
    assert len(later["rows"]) == 1
    assert later["metadata"] == {"resourceVersion": "11"}
    encoded = orjson.loads(orjson.dumps({"type": "MODIFIED", "object": later}))
    assert encoded["object"]["columnDefinitions"] is None


def test_list_and_watch_columns_identical() -> None:
    """kubectl reprints headers when definitions differ: list and watch must send equal ones."""
    assert (
        table(CONFIGMAPS, [], now=NOW)["columnDefinitions"]
        == table(CONFIGMAPS, [configmap("a")], now=NOW)["columnDefinitions"]
    )


def test_table_serializes_with_orjson() -> None:
    """The body is plain JSON data (integers stay integers, nulls stay null)."""
    pods = printer_for("", "pods")
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Succeeded"},
    }
    data = orjson.loads(orjson.dumps(table(pods, [obj], now=NOW)))
    assert data["rows"][0]["cells"] == [
        "p",
        "0/1",
        "Succeeded",
        "0",
        "<unknown>",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
    ]
    assert data["rows"][0]["conditions"][0]["reason"] == "Succeeded"

"""Custom resources (additionalPrinterColumns) and the default Name / Created At table."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.printers import crd_printer, default_printer, printer_for, table

from ._support import NOW, ago, column_names

WIDGET: dict[str, Any] = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w1", "creationTimestamp": ago(minutes=90)},
    "spec": {
        "replicas": 3,
        "ratio": 2.5,
        "whole": 4.0,
        "big": 12345678.9,
        "enabled": True,
        "tags": ["a", "b"],
        "config": {"z": 1, "a": "<x>"},
        "nothing": None,
        "empty": "",
        "when": ago(hours=5),
        "bad": "yesterday",
        "future": ago(-60),
        "zero": "0001-01-01T00:00:00Z",
        "text": "hello",
        "items": [{"name": "first"}, {"name": "second"}],
    },
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]},
}


def column(name: str, type_: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "jsonPath": path, **extra}


@pytest.mark.parametrize(
    ("type_", "path", "cell"),
    [
        pytest.param("integer", ".spec.replicas", 3, id="integer"),
        pytest.param("integer", ".spec.ratio", 2, id="integer-truncates-float"),
        pytest.param("integer", ".spec.text", None, id="integer-from-string-null"),
        pytest.param("integer", ".spec.enabled", None, id="integer-from-bool-null"),
        pytest.param("number", ".spec.ratio", 2.5, id="number"),
        pytest.param("number", ".spec.replicas", 3, id="number-from-int"),
        pytest.param("number", ".spec.text", None, id="number-from-string-null"),
        pytest.param("boolean", ".spec.enabled", True, id="boolean"),
        pytest.param("boolean", ".spec.text", None, id="boolean-from-string-null"),
        pytest.param("string", ".spec.text", "hello", id="string"),
        pytest.param("string", ".spec.replicas", "3", id="string-from-int"),
        pytest.param("string", ".spec.whole", "4", id="string-from-integral-float"),
        pytest.param("string", ".spec.big", "1.23456789e+07", id="string-from-large-float"),
        pytest.param("string", ".spec.enabled", "true", id="string-from-bool"),
        pytest.param("string", ".spec.tags", '["a","b"]', id="string-from-list"),
        pytest.param("string", ".spec.config", '{"a":"\\u003cx\\u003e","z":1}', id="string-from-map"),
        pytest.param("string", ".spec.nothing", "<no value>", id="string-from-null"),
        pytest.param("string", ".spec.missing", None, id="missing-is-null"),
        pytest.param("string", ".spec.items[*].name", "first", id="first-match-only"),
        pytest.param("string", ".spec.items[5].name", None, id="eval-error-is-null"),
        pytest.param("string", '.status.conditions[?(@.type=="Ready")].status', "True", id="filter"),
        pytest.param("date", ".spec.when", "5h", id="date-age"),
        pytest.param("date", ".spec.empty", "<unknown>", id="date-empty"),
        pytest.param("date", ".spec.zero", "<unknown>", id="date-zero"),
        pytest.param("date", ".spec.bad", "<invalid>", id="date-unparsable"),
        pytest.param("date", ".spec.future", "<invalid>", id="date-future"),
        pytest.param("date", ".spec.replicas", None, id="date-from-int-null"),
        pytest.param("date", ".spec.nothing", None, id="date-from-null"),
        pytest.param("object", ".spec.config", None, id="unknown-type-null"),
    ],
)
def test_cell_by_type(type_: str, path: str, cell: Any) -> None:
    """The first JSONPath match converted by the column type; misfits and misses are null."""
    printer = crd_printer([column("C", type_, path)])
    assert printer.cells(WIDGET, NOW) == ["w1", cell]


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        pytest.param("2024-05-01T05:00:00Z", True, id="utc"),
        pytest.param("2024-05-01T07:00:00+02:00", True, id="offset"),
        pytest.param("2024-05-01T04:59:59.123456789Z", True, id="nanoseconds"),
        pytest.param("2024-05-01 05:00:00Z", False, id="space-separator"),
        pytest.param("2024-05-01T05:00:00", False, id="no-zone"),
        pytest.param("2024-05-01", False, id="date-only"),
        pytest.param("2024-13-01T05:00:00Z", False, id="month-13"),
        pytest.param("2024-05-01t05:00:00z", False, id="lowercase"),
    ],
)
def test_date_parsing_is_rfc3339(text: str, valid: bool) -> None:
    """`date` columns accept exactly what Go's RFC 3339 parser accepts."""
    printer = crd_printer([column("When", "date", ".spec.at")])
    obj = {"metadata": {"name": "w"}, "spec": {"at": text}}
    assert printer.cells(obj, NOW)[1] == ("5h" if valid else "<invalid>")


def test_columns_definitions() -> None:
    """Name first; name/type/format/priority copied; description defaults to the JSONPath text."""
    printer = crd_printer(
        [
            column("Replicas", "integer", ".spec.replicas", description="How many."),
            column(
                "Ready", "string", '.status.conditions[?(@.type=="Ready")].status', priority=1, format="byte"
            ),
        ]
    )
    assert printer.columns == [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": printer.columns[0]["description"],
            "priority": 0,
        },
        {"name": "Replicas", "type": "integer", "format": "", "description": "How many.", "priority": 0},
        {
            "name": "Ready",
            "type": "string",
            "format": "byte",
            "description": 'Custom resource definition column (in JSONPath format): .status.conditions[?(@.type=="Ready")].status',
            "priority": 1,
        },
    ]
    assert printer.columns[0]["description"].startswith("Name must be unique within a namespace")


def test_default_age_column() -> None:
    """A version without columns gets `Age`, typed `date`, rendered as an age."""
    printer = crd_printer([])
    assert column_names(printer) == ["Name", "Age"]
    assert printer.columns[1]["type"] == "date"
    assert printer.columns[1]["description"].startswith("CreationTimestamp is a timestamp")
    assert printer.cells(WIDGET, NOW) == ["w1", "90m"]


def test_age_not_added_when_columns_exist() -> None:
    """With any additionalPrinterColumns, no Age column is added."""
    assert column_names(crd_printer([column("R", "integer", ".spec.replicas")])) == ["Name", "R"]


def test_bad_json_path_truncates_columns() -> None:
    """A column whose jsonPath does not parse ends the table (upstream keeps the ones before it)."""
    printer = crd_printer(
        [
            column("A", "integer", ".spec.replicas"),
            column("B", "string", ".spec[bad"),
            column("C", "string", ".spec.text"),
        ]
    )
    assert column_names(printer) == ["Name", "A"]
    assert printer.cells(WIDGET, NOW) == ["w1", 3]


def test_crd_table_empty_rows_is_list() -> None:
    """Custom resource tables send `rows: []` for an empty list."""
    assert table(crd_printer([]), [], now=NOW)["rows"] == []


# --- default table -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "resource"),
    [
        pytest.param("rbac.authorization.k8s.io", "roles", id="roles"),
        pytest.param("rbac.authorization.k8s.io", "clusterroles", id="clusterroles"),
        pytest.param("apiextensions.k8s.io", "customresourcedefinitions", id="crds"),
        pytest.param("", "limitranges", id="limitranges"),
        pytest.param("storage.k8s.io", "csistoragecapacities", id="csistoragecapacities"),
        pytest.param("example.com", "widgets", id="unknown"),
    ],
)
def test_default_table_resources(group: str, resource: str) -> None:
    """Types without a printer use the generic Name / Created At table."""
    printer = printer_for(group, resource)
    assert printer is default_printer()
    assert [(c["name"], c["type"], c["format"]) for c in printer.columns] == [
        ("Name", "string", "name"),
        ("Created At", "date", ""),
    ]


@pytest.mark.parametrize(
    ("created", "cell"),
    [
        pytest.param("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", id="utc-verbatim"),
        pytest.param("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z", id="converted-to-utc"),
        pytest.param("2024-05-01T10:00:00.750000Z", "2024-05-01T10:00:00Z", id="fraction-dropped"),
        pytest.param(None, "0001-01-01T00:00:00Z", id="unset-is-go-zero"),
    ],
)
def test_default_table_created_at(created: str | None, cell: str) -> None:
    """Created At is the UTC RFC 3339 timestamp, never an age."""
    obj = {"metadata": {"name": "r", **({"creationTimestamp": created} if created else {})}}
    assert default_printer().cells(obj, NOW) == ["r", cell]


def test_default_table_empty_rows_is_null() -> None:
    """The generic table serializes an empty list as `rows: null`."""
    assert table(default_printer(), [], now=NOW)["rows"] is None

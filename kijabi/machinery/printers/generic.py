"""The default table (types without a printer) and custom resources' `additionalPrinterColumns`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kijabi.machinery import jsonpath
from kijabi.machinery.printers._base import Printer, col, created_doc, doc
from kijabi.machinery.printers._format import GO_ZERO_TIME, human_duration, parse_rfc3339, parse_time

Obj = dict[str, Any]
_EMPTY: dict[str, Any] = {}


def _name_doc() -> str:
    return doc("meta.v1.ObjectMeta", "name")


def _created_at(value: Any) -> str:
    """creationTimestamp in UTC RFC 3339 with whole seconds; unset -> Go's zero time."""
    if isinstance(value, str) and len(value) == 20 and value.endswith("Z") and value[10] == "T":
        return value
    ts = parse_time(value)
    if ts is None:
        ts = GO_ZERO_TIME
    t = datetime.fromtimestamp(ts // 1, UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def default_printer() -> Printer:
    """apiserver `rest.NewDefaultTableConvertor`: Name and Created At (a `date` column, not an age)."""

    def cells(obj: Obj, now: float) -> list[Any]:
        meta = obj.get("metadata") or _EMPTY
        return [meta.get("name") or "", _created_at(meta.get("creationTimestamp"))]

    return Printer(
        [col("Name", "string", _name_doc(), fmt="name"), col("Created At", "date", created_doc())],
        cells,
        null_empty_rows=True,
    )


# --- custom resources ------------------------------------------------------------------------------------


def _typed_cell(kind: str, value: Any, now: float) -> Any:
    """`cellForJSONValue`: a JSONPath result converted by the column type; None when it does not fit."""
    if value is None:
        return None
    if kind == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if value == value and abs(value) != float("inf") else None
        return None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 1e21 else number
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "string":
        return value if isinstance(value, str) else None
    if kind == "date":
        if not isinstance(value, str):
            return None
        if value in ("", "null"):
            return "<unknown>"
        try:
            ts = parse_rfc3339(value)
        except ValueError:
            return "<invalid>"
        return "<unknown>" if ts is None else human_duration(now - ts)
    return None


def crd_printer(columns: list[dict[str, Any]]) -> Printer:
    """The table of a custom resource version from its `additionalPrinterColumns`.

    Name comes first; a version without columns gets one `Age` column (type `date`, from
    `.metadata.creationTimestamp`), as the apiextensions-apiserver serves it. Each cell is the first
    JSONPath match converted by the column type; no match or an evaluation error gives an empty (null)
    cell. A column whose jsonPath does not parse ends the table there, like upstream, which keeps the
    columns before it.
    """
    if not columns:
        columns = [
            {
                "name": "Age",
                "type": "date",
                "description": created_doc(),
                "jsonPath": ".metadata.creationTimestamp",
            }
        ]
    defs = [col("Name", "string", _name_doc(), fmt="name")]
    paths: list[tuple[str, jsonpath.JSONPath]] = []
    for column in columns:
        json_path = str(column.get("jsonPath") or "")
        try:
            path = jsonpath.parse_column(json_path)
        except jsonpath.JSONPathError:
            break
        kind = str(column.get("type") or "")
        description = (
            column.get("description")
            or f"Custom resource definition column (in JSONPath format): {json_path}"
        )
        defs.append(
            col(
                str(column.get("name") or ""),
                kind,
                str(description),
                priority=int(column.get("priority") or 0),
                fmt=str(column.get("format") or ""),
            )
        )
        paths.append((kind, path))

    def cells(obj: Obj, now: float) -> list[Any]:
        row: list[Any] = [(obj.get("metadata") or _EMPTY).get("name") or ""]
        for kind, path in paths:
            try:
                results = path.find_results(obj)
            except jsonpath.JSONPathError:
                row.append(None)
                continue
            if not results or not results[0]:
                row.append(None)
                continue
            value = results[0][0]
            if kind == "string":
                row.append(jsonpath.go_text(value))
            else:
                row.append(_typed_cell(kind, value, now))
        return row

    return Printer(defs, cells)

"""Building the meta.k8s.io Table body from a printer and objects (apiserver `asTable`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kijabi.machinery import errors
from kijabi.machinery.printers._base import Printer

INCLUDE_OBJECT_VALUES = ("Metadata", "Object", "None", "")
TABLE_API_VERSIONS = ("meta.k8s.io/v1", "meta.k8s.io/v1beta1")


def check_include_object(value: str) -> None:
    """Reject an `includeObject` value other than Metadata, Object, None or empty (400 BadRequest)."""
    if value not in INCLUDE_OBJECT_VALUES:
        err = errors.invalid_value("includeObject", value, "must be 'Metadata', 'Object', 'None', or empty")
        raise errors.bad_request(f"Unable to convert to Table as requested: {err}")


def table(
    printer: Printer,
    objects: Iterable[dict[str, Any]],
    *,
    now: float,
    include_object: str = "Metadata",
    resource_version: str = "",
    continue_: str = "",
    remaining: int | None = None,
    with_columns: bool = True,
    api_version: str = "meta.k8s.io/v1",
    row_objects: Iterable[Any] | None = None,
) -> dict[str, Any]:
    """The Table of `objects` (a list, or one object for a GET / watch event) as a JSON-ready dict.

    * `include_object`: `Metadata`/"" puts a PartialObjectMetadata (`api_version`, whole metadata) in
      each row, `Object` the object as given (the caller converts it to the requested version first),
      `None` a null. Anything else raises a 400 StatusError.
    * `resource_version`, `continue_`, `remaining` fill `metadata` like the list's ListMeta; for a
      single GET or a watch event pass the object's resourceVersion.
    * `with_columns=False` is a watch event after the first one: `"columnDefinitions": null`.
    * `api_version` is the Table's group-version, `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`.
    * `row_objects`, one per object in the order of `objects`, replaces what a row embeds: the
      object's metadata for `Metadata`, the object for `Object` (ignored for `None`). A caller that has
      them already serialized passes them as `orjson.Fragment`s, and `objects` then only feed the
      cells: they may be a generator of slimmed dicts, decoded one at a time (only for printers that
      keep the list order, `printer.ordered` false).

    Rows keep the order of `objects` (FlowSchemas are sorted, as upstream does). The column list and
    its dicts are shared with the printer: serialize the result, do not mutate it.
    """
    check_include_object(include_object)
    if row_objects is not None and printer.ordered:
        raise ValueError("row_objects need a printer that keeps the list order")
    embedded = iter(row_objects) if row_objects is not None else None
    rows: list[dict[str, Any]] = []
    ordered = printer.order(objects if isinstance(objects, Sequence) else list(objects)) if printer.ordered else objects
    for obj in ordered:
        row: dict[str, Any] = {"cells": printer.cells(obj, now)}
        conditions = printer.row_conditions(obj)
        if conditions:
            row["conditions"] = conditions
        given = next(embedded) if embedded is not None else None
        if include_object == "Object":
            row["object"] = obj if embedded is None else given
        elif include_object == "None":
            row["object"] = None
        else:
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": api_version,
                "metadata": (obj.get("metadata") or {}) if embedded is None else given,
            }
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_:
        metadata["continue"] = continue_
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": list(printer.columns) if with_columns else None,
        "rows": rows if rows or not printer.null_empty_rows else None,
    }

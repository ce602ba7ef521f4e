"""The Printer type and the column definitions every printer module builds on.

Column descriptions follow upstream: most are the API documentation of the field a column shows
(upstream reads Go `SwaggerDoc()`, we read the same text from the v1.32 OpenAPI definitions that
`schema.builtin()` loads); some are fixed sentences written in the printers themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from kijabi.machinery import schema

Cells = Callable[[dict[str, Any], float], list[Any]]
RowConditions = Callable[[dict[str, Any]], list[dict[str, Any]] | None]
Order = Callable[[Sequence[dict[str, Any]]], Sequence[dict[str, Any]]]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class Printer:
    """How one resource renders as Table rows.

    `columns` are the column definitions exactly as they go on the wire (five keys each, the wide set:
    the server always prints `-o wide` columns and kubectl hides priority > 0 ones). `cells(obj, now)`
    is one row for `obj` with ages computed against the Unix time `now`. `row_conditions` gives the
    optional `conditions` of a row (only Pods have them), `order` the row order for a list (identity
    except for FlowSchemas). `null_empty_rows` marks the generic default table, whose empty list
    serializes `"rows": null` where printers send `[]`.

    Printers are shared and immutable; callers must not mutate `columns`.
    """

    __slots__ = ("_cells", "_conditions", "_order", "columns", "null_empty_rows")

    def __init__(
        self,
        columns: list[dict[str, Any]],
        cells: Cells,
        *,
        row_conditions: RowConditions | None = None,
        order: Order | None = None,
        null_empty_rows: bool = False,
    ) -> None:
        self.columns = columns
        self._cells = cells
        self._conditions = row_conditions
        self._order = order
        self.null_empty_rows = null_empty_rows

    def cells(self, obj: dict[str, Any], now: float) -> list[Any]:
        """One row's cells for `obj`, one per column definition."""
        return self._cells(obj, now)

    def row_conditions(self, obj: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The row's `conditions` (Pods that finished), or None."""
        return self._conditions(obj) if self._conditions is not None else None

    @property
    def ordered(self) -> bool:
        """Whether the printer sorts a list's rows (`order` is not the identity)."""
        return self._order is not None

    def order(self, objects: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
        """The objects in row order (list order, except where upstream sorts)."""
        return self._order(objects) if self._order is not None else objects

    def __repr__(self) -> str:
        return f"Printer({[c['name'] for c in self.columns]})"


@functools.cache
def doc(definition: str, field: str) -> str:
    """The API documentation of `field` of a built-in type (`core.v1.PodStatus`, `podIP`); "" if none.

    Short names are under `io.k8s.api.`; `meta.v1.X` means apimachinery's meta/v1.
    """
    if definition.startswith("meta.v1."):
        name = "io.k8s.apimachinery.pkg.apis." + definition
    elif definition.startswith("io."):
        name = definition
    else:
        name = "io.k8s.api." + definition
    raw = schema.builtin().names.get(name)
    if raw is None:
        return ""
    prop = (raw.get("properties") or {}).get(field)
    return str(prop.get("description", "")) if prop else ""


def col(
    name: str, type_: str = "string", description: str = "", *, priority: int = 0, fmt: str = ""
) -> dict[str, Any]:
    """One column definition in wire form."""
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


def name_col() -> dict[str, Any]:
    return col("Name", "string", doc(_META, "name"), fmt="name")


def age_col() -> dict[str, Any]:
    return col("Age", "string", doc(_META, "creationTimestamp"))


def created_doc() -> str:
    return doc(_META, "creationTimestamp")


CONTAINERS_DOC = "Names of each container in the template."
IMAGES_DOC = "Images referenced by each container in the template."


def containers_cols(*, priority: int = 1) -> list[dict[str, Any]]:
    return [
        col("Containers", "string", CONTAINERS_DOC, priority=priority),
        col("Images", "string", IMAGES_DOC, priority=priority),
    ]

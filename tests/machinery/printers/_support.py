"""Shared time helpers for the printer tests: a fixed `NOW` and timestamps relative to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kijabi.machinery.printers import Printer

# 2024-05-01T10:00:00Z
NOW = 1714557600.0
_NOW_DT = datetime.fromtimestamp(NOW, UTC)


def ago(seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0) -> str:
    """An RFC 3339 timestamp that far before NOW (negative values are in the future)."""
    delta = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)
    return (_NOW_DT - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_ago(seconds: float) -> str:
    """A MicroTime (six fractional digits) that far before NOW."""
    return (_NOW_DT - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def column_names(printer: Printer) -> list[str]:
    return [c["name"] for c in printer.columns]


def cells_by_name(printer: Printer, obj: dict[str, Any], now: float = NOW) -> dict[str, object]:
    """One row as {column name: cell}, for asserting a few columns at a time."""
    cells = printer.cells(obj, now)
    assert len(cells) == len(printer.columns)
    return dict(zip(column_names(printer), cells, strict=True))

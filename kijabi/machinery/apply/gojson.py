"""Go-compatible text for JSON values, as upstream's field sets and messages print them.

Field paths and the last-applied annotation are compared byte for byte by clients, so the text must be
what Go's `encoding/json` writes and, in conflict messages, what Go's `%q` and `%v` verbs print. The
Go rules themselves live in `kijabi.machinery.gotext`; this module adds the one text that is
structured-merge-diff's own, `value.ToString`, and re-exports the rest under the names apply uses.
"""

from __future__ import annotations

from typing import Any

from kijabi.machinery.gotext import go_float, go_json, go_quote
from kijabi.machinery.gotext import go_json_string as go_string

__all__ = ["go_json", "go_quote", "go_string", "go_value_string"]


def go_value_string(value: Any) -> str:
    """A value as SMD's `value.ToString` prints it inside field paths (`%q` strings, `%v` numbers)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, list):
        return "[" + ",".join(go_value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={go_value_string(v)}" for k, v in sorted(value.items()))
    return str(value)

"""What a robustness run records: the operations clients issued and the watch streams they received.

Everything here is plain data, filled by the workload (`tests.robustness.workload`) or written by hand
in unit tests, and judged afterwards by `tests.robustness.checker`. Revisions are Kubernetes
resourceVersions of one store (the global revision), as integers.

Each create/update carries a unique `token` in its data (`data["token"]`), so that the checker can tell
which request produced a stored version, whatever the request's outcome was as seen by the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
WriteKind = Literal["create", "update", "delete"]
Outcome = Literal["ok", "failed", "unknown"]
"""ok: acknowledged (2xx); failed: a definite refusal (409, 404, 422...); unknown: no answer (connection
lost, timeout, 5xx), the write may or may not have happened."""


@dataclass(frozen=True)
class Event:
    """One watch event. `token` is the object's data token (None for DELETED and BOOKMARK)."""

    type: EventType
    revision: int
    key: str = ""
    token: str | None = None


@dataclass
class WatchStream:
    """One watch request: the events it delivered, in order. Events must have revision > start."""

    client: str
    start: int
    events: list[Event] = field(default_factory=list)


@dataclass
class Write:
    kind: WriteKind
    key: str
    token: str | None
    precondition: int | None
    """resourceVersion the write was conditioned on (None for create)."""
    begin: float
    end: float
    outcome: Outcome
    revision: int | None = None
    """resourceVersion returned by an acknowledged create/update."""


@dataclass
class Get:
    """A read of one key: `revision`/`token` of the object returned, both None on 404."""

    key: str
    begin: float
    end: float
    revision: int | None
    token: str | None


@dataclass
class List:
    """A list at `revision` (the list's resourceVersion): key -> (mod revision, token)."""

    revision: int
    items: Mapping[str, tuple[int, str | None]]
    begin: float = 0.0
    end: float = 0.0


@dataclass
class Report:
    """A whole run: every stream, write and read, plus the final list taken after the writers stopped."""

    streams: list[WatchStream] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    gets: list[Get] = field(default_factory=list)
    lists: list[List] = field(default_factory=list)
    final: List | None = None
    base: int = 0
    """Revision at which the watched prefix was known empty (before the first write)."""

"""What a plugin answers: a `Status`, and how the framework sums up a failed scheduling attempt.

A plugin returns `None` (or a `Status` with code SUCCESS) when it has nothing against the pod. An
expected refusal (the pod does not fit this node) is a Status with code UNSCHEDULABLE or
UNSCHEDULABLE_AND_UNRESOLVABLE and the human-readable reasons, never an exception; ERROR is kept for
things that went wrong (a missing cycle-state entry, a failed API call).

`FitError` carries the per-node statuses of an attempt that found no node (`Diagnosis`), and renders
upstream's message: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint
{k: v}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kijabi.scheduler.framework.types import NodeInfo


class Code(IntEnum):
    """Upstream's status codes, same numbers."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5
    PENDING = 6


_CODE_NAMES = {
    Code.SUCCESS: "Success",
    Code.ERROR: "Error",
    Code.UNSCHEDULABLE: "Unschedulable",
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE: "UnschedulableAndUnresolvable",
    Code.WAIT: "Wait",
    Code.SKIP: "Skip",
    Code.PENDING: "Pending",
}

_REJECTED = frozenset({Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.PENDING})


class Status:
    """A plugin's verdict: a code, reasons (shown to users), the plugin that gave it, and for ERROR the
    exception behind it. `None` stands for success wherever a `Status | None` is expected."""

    __slots__ = ("code", "error", "plugin", "reasons")

    def __init__(self, code: Code = Code.SUCCESS, *reasons: str, error: BaseException | None = None,
                 plugin: str = "") -> None:
        self.code = code
        self.reasons: list[str] = list(reasons)
        self.error = error
        self.plugin = plugin
        if error is not None and not self.reasons:
            self.reasons.append(str(error))

    @classmethod
    def from_error(cls, error: BaseException, plugin: str = "") -> Status:
        """An ERROR status wrapping `error` (upstream `AsStatus`)."""
        return cls(Code.ERROR, error=error, plugin=plugin)

    def with_plugin(self, plugin: str) -> Status:
        self.plugin = plugin
        return self

    def with_error(self, error: BaseException) -> Status:
        self.error = error
        if not self.reasons:
            self.reasons.append(str(error))
        return self

    def append_reason(self, reason: str) -> None:
        self.reasons.append(reason)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def is_wait(self) -> bool:
        return self.code == Code.WAIT

    def is_skip(self) -> bool:
        return self.code == Code.SKIP

    def is_rejected(self) -> bool:
        """Unschedulable, UnschedulableAndUnresolvable or Pending: the pod was refused, nothing broke."""
        return self.code in _REJECTED

    def as_error(self) -> BaseException | None:
        """None for success; the wrapped exception, or one built from the message."""
        if self.code == Code.SUCCESS:
            return None
        if self.error is not None:
            return self.error
        return SchedulingError(self.message())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Status):
            return NotImplemented
        return self.code == other.code and self.reasons == other.reasons and self.plugin == other.plugin

    def __hash__(self) -> int:
        return hash((self.code, tuple(self.reasons), self.plugin))

    def __repr__(self) -> str:
        extra = f", plugin={self.plugin!r}" if self.plugin else ""
        return f"Status({_CODE_NAMES[self.code]}, {self.reasons!r}{extra})"


def code_of(status: Status | None) -> Code:
    return Code.SUCCESS if status is None else status.code


def is_success(status: Status | None) -> bool:
    return status is None or status.code == Code.SUCCESS


def is_rejected(status: Status | None) -> bool:
    return status is not None and status.code in _REJECTED


def code_name(code: Code) -> str:
    return _CODE_NAMES[code]


class SchedulingError(Exception):
    """An ERROR status turned into an exception (its message is the status message)."""


NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"


class NodeToStatus:
    """The status of every node of one attempt: explicit entries plus one status for all nodes not
    listed ("absent", e.g. filtered out by a PreFilterResult). Upstream `framework.NodeToStatus`."""

    __slots__ = ("absent", "statuses")

    def __init__(self, statuses: dict[str, Status] | None = None, absent: Status | None = None) -> None:
        self.statuses: dict[str, Status] = statuses if statuses is not None else {}
        self.absent = absent if absent is not None else Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def get(self, name: str) -> Status:
        return self.statuses.get(name) or self.absent

    def set(self, name: str, status: Status) -> None:
        self.statuses[name] = status

    def __len__(self) -> int:
        return len(self.statuses)

    def items(self) -> Iterator[tuple[str, Status]]:
        return iter(self.statuses.items())

    def nodes_for_code(self, nodes: Iterable[NodeInfo], code: Code) -> list[NodeInfo]:
        """The nodes (in `nodes` order) whose status has `code`, absent nodes included."""
        out: list[NodeInfo] = []
        statuses, absent_code = self.statuses, self.absent.code
        for ni in nodes:
            st = statuses.get(ni.name)
            if (st.code if st is not None else absent_code) == code:
                out.append(ni)
        return out


@dataclass
class Diagnosis:
    """Why an attempt found no node (upstream `framework.Diagnosis`)."""

    node_to_status: NodeToStatus = field(default_factory=NodeToStatus)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def add_plugin_status(self, status: Status) -> None:
        if not status.plugin:
            return
        if status.is_rejected():
            self.unschedulable_plugins.add(status.plugin)
        if status.code == Code.PENDING:
            self.pending_plugins.add(status.plugin)


class FitError(Exception):
    """No node fits the pod; `str()` is upstream's FailedScheduling message."""

    def __init__(self, pod: dict[str, object], num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        msg = NO_NODE_AVAILABLE_MSG.format(self.num_all_nodes) + ":"
        d = self.diagnosis
        if d.pre_filter_msg:
            msg += f" {d.pre_filter_msg}."
        else:
            counts: dict[str, int] = {}
            for _, st in d.node_to_status.items():
                for reason in st.reasons:
                    counts[reason] = counts.get(reason, 0) + 1
            missing = self.num_all_nodes - len(d.node_to_status)
            if missing > 0:
                for reason in d.node_to_status.absent.reasons:
                    counts[reason] = counts.get(reason, 0) + missing
            if counts:
                msg += " " + ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items())) + "."
        if d.post_filter_msg:
            msg += " " + d.post_filter_msg
        return msg


class NoNodesAvailable(Exception):
    """The cluster has no nodes at all (upstream `ErrNoNodesAvailable`)."""

    def __init__(self) -> None:
        super().__init__("no nodes available to schedule pods")

"""Errors of the CRI client. gRPC errors never leave this package: every failed call raises one of these.

    CRIError                     any failed CRI call; .code (gRPC status name), .method, .details
    ├── RuntimeUnavailable       socket missing, runtime not answering, channel closed (UNAVAILABLE), or
    │                            still starting (containerd: UNKNOWN "server is not initialized yet")
    ├── NotFound                 unknown sandbox, container or image (NOT_FOUND)
    ├── NameReserved             a sandbox or container of that name and attempt exists already
    │                            (containerd answers UNKNOWN "failed to reserve ... name"; ALREADY_EXISTS)
    ├── DeadlineExceeded         the call, or the command of an ExecSync, ran out of time
    ├── InvalidArgument          the runtime refused the request as malformed (INVALID_ARGUMENT)
    ├── Unimplemented            the runtime does not serve that RPC (UNIMPLEMENTED)
    └── RuntimeFailure           anything else the runtime reported (UNKNOWN, INTERNAL, ...)

What a kubelet typically does with them: RuntimeUnavailable -> mark the runtime not ready and retry later;
NotFound on status/stop -> the object is gone (treat as removed); NameReserved -> bump `attempt` or remove
the old object first; everything else -> record the message on the pod and back off.

Mind that containerd reports some refusals as UNKNOWN with a descriptive message (an unknown executable in
ExecSync, a failed runc create); those arrive as RuntimeFailure with the runtime's message in `details`.
"""

from __future__ import annotations

import grpc


class CRIError(Exception):
    """A CRI call failed. `code` is the gRPC status name (e.g. "NOT_FOUND"), `method` the RPC name."""

    def __init__(self, details: str, *, code: str = "UNKNOWN", method: str = "") -> None:
        self.details = details
        self.code = code
        self.method = method
        prefix = f"{method}: " if method else ""
        super().__init__(f"{prefix}{details}")


class RuntimeUnavailable(CRIError):
    """The runtime's socket is missing, refused the connection or is shutting down."""


class NotFound(CRIError):
    """The sandbox, container or image does not exist."""


class NameReserved(CRIError):
    """A sandbox or container with the same name and attempt already exists."""


class DeadlineExceeded(CRIError):
    """The call (or an ExecSync command) did not finish in time."""


class InvalidArgument(CRIError):
    """The runtime refused the request as invalid."""


class Unimplemented(CRIError):
    """The runtime does not implement this RPC."""


class RuntimeFailure(CRIError):
    """Any other runtime-side failure; `details` carries the runtime's message."""


_BY_CODE: dict[grpc.StatusCode, type[CRIError]] = {
    grpc.StatusCode.UNAVAILABLE: RuntimeUnavailable,
    grpc.StatusCode.CANCELLED: RuntimeUnavailable,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: NameReserved,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
}


def from_status(code: grpc.StatusCode, details: str, method: str) -> CRIError:
    """The exception for a gRPC status returned by `method` (an RPC name such as "RunPodSandbox")."""
    cls = _BY_CODE.get(code, RuntimeFailure)
    if cls is RuntimeFailure and "failed to reserve" in details and "name" in details:
        cls = NameReserved
    elif cls is RuntimeFailure and "server is not initialized yet" in details:
        cls = RuntimeUnavailable  # containerd's CRI plugin still recovering its state after a restart
    return cls(details, code=code.name, method=method)

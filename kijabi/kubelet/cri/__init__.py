"""CRI v1 client: the kubelet's gRPC connection to a container runtime (containerd).

    kijabi.kubelet.cri
    ├── runtime_v1.proto        the wire contract (package runtime.v1), kijabi's own rendering
    ├── runtime_v1_pb2(.pyi)    generated messages, re-exported here as `api`
    ├── runtime_v1_pb2_grpc     generated stubs (regenerate with kijabi/kubelet/cri/regen.py)
    ├── client                  connect(), CRIConnection, RuntimeClient, ImageClient, ExecResult
    └── errors                  CRIError and its subclasses (gRPC errors never escape)

Build requests with `api` messages, e.g. `api.PodSandboxConfig(metadata=api.PodSandboxMetadata(...))`.
"""

from kijabi.kubelet.cri import runtime_v1_pb2 as api
from kijabi.kubelet.cri.client import (
    CRI_API_VERSION,
    DEFAULT_REQUEST_TIMEOUT,
    CRIConnection,
    ExecResult,
    ImageClient,
    RuntimeClient,
    connect,
    decode_info,
    open_channel,
)
from kijabi.kubelet.cri.errors import (
    CRIError,
    DeadlineExceeded,
    InvalidArgument,
    NameReserved,
    NotFound,
    RuntimeFailure,
    RuntimeUnavailable,
    Unimplemented,
)

__all__ = [
    "CRI_API_VERSION",
    "DEFAULT_REQUEST_TIMEOUT",
    "CRIConnection",
    "CRIError",
    "DeadlineExceeded",
    "ExecResult",
    "ImageClient",
    "InvalidArgument",
    "NameReserved",
    "NotFound",
    "RuntimeClient",
    "RuntimeFailure",
    "RuntimeUnavailable",
    "Unimplemented",
    "api",
    "connect",
    "decode_info",
    "open_channel",
]

"""The CRI v1 wire contract: our proto has the services, RPCs and field numbers containerd 1.6 speaks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kijabi.kubelet.cri import api

PROTO = Path(__file__).resolve().parents[2] / "kijabi" / "kubelet" / "cri" / "runtime_v1.proto"

RUNTIME_RPCS = [
    "Version", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus", "ListPodSandbox",
    "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "ListContainers", "ContainerStatus",
    "UpdateContainerResources", "ReopenContainerLog", "ExecSync", "Exec", "Attach", "PortForward", "ContainerStats",
    "ListContainerStats", "PodSandboxStats", "ListPodSandboxStats", "UpdateRuntimeConfig", "Status",
    "CheckpointContainer", "GetContainerEvents",
]
IMAGE_RPCS = ["ListImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo"]

# (message, field, number): a sample of wire facts, including the out-of-order ones.
FIELDS = [
    ("PodSandboxConfig", "metadata", 1), ("PodSandboxConfig", "log_directory", 3), ("PodSandboxConfig", "linux", 8),
    ("PodSandboxConfig", "windows", 9), ("LinuxSandboxSecurityContext", "run_as_group", 8),
    ("LinuxSandboxSecurityContext", "seccomp_profile_path", 7), ("LinuxSandboxSecurityContext", "apparmor", 10),
    ("LinuxContainerSecurityContext", "run_as_group", 12), ("LinuxContainerSecurityContext", "no_new_privs", 11),
    ("LinuxContainerSecurityContext", "masked_paths", 13), ("LinuxContainerResources", "memory_swap_limit_in_bytes", 10),
    ("LinuxContainerResources", "unified", 9), ("ContainerConfig", "log_path", 11), ("ContainerConfig", "linux", 15),
    ("ContainerStatus", "resources", 16), ("ContainerStatus", "log_path", 15), ("ExecSyncRequest", "timeout", 3),
    ("StopContainerRequest", "timeout", 2), ("Image", "pinned", 8), ("Image", "spec", 7),
    ("PullImageRequest", "sandbox_config", 3), ("PodSandboxStatus", "runtime_handler", 9),
    ("ContainerEventResponse", "pod_sandbox_metadata", 4), ("MemoryUsage", "major_page_faults", 7),
    ("NamespaceOption", "userns_options", 5), ("PortMapping", "host_ip", 4), ("Mount", "propagation", 5),
]

ENUMS = [
    ("PodSandboxState", {"SANDBOX_READY": 0, "SANDBOX_NOTREADY": 1}),
    ("ContainerState", {"CONTAINER_CREATED": 0, "CONTAINER_RUNNING": 1, "CONTAINER_EXITED": 2, "CONTAINER_UNKNOWN": 3}),
    ("NamespaceMode", {"POD": 0, "CONTAINER": 1, "NODE": 2, "TARGET": 3}),
    ("Protocol", {"TCP": 0, "UDP": 1, "SCTP": 2}),
    ("MountPropagation", {"PROPAGATION_PRIVATE": 0, "PROPAGATION_HOST_TO_CONTAINER": 1, "PROPAGATION_BIDIRECTIONAL": 2}),
]


def test_package_and_services_match_the_cri_v1_api() -> None:
    """Package runtime.v1 with RuntimeService and ImageService and their RPCs in order."""
    desc = api.DESCRIPTOR
    assert desc.package == "runtime.v1"
    assert [m.name for m in desc.services_by_name["RuntimeService"].methods] == RUNTIME_RPCS
    assert [m.name for m in desc.services_by_name["ImageService"].methods] == IMAGE_RPCS
    assert desc.services_by_name["RuntimeService"].methods_by_name["GetContainerEvents"].server_streaming
    assert len(desc.message_types_by_name) == 126


@pytest.mark.parametrize(("message", "field", "number"), FIELDS, ids=[f"{m}.{f}" for m, f, _ in FIELDS])
def test_field_numbers(message: str, field: str, number: int) -> None:
    assert api.DESCRIPTOR.message_types_by_name[message].fields_by_name[field].number == number


@pytest.mark.parametrize(("enum", "values"), ENUMS, ids=[e for e, _ in ENUMS])
def test_enum_values(enum: str, values: dict[str, int]) -> None:
    assert {v.name: v.number for v in api.DESCRIPTOR.enum_types_by_name[enum].values} == values


def test_proto_source_has_no_upstream_comments_and_documents_regeneration() -> None:
    """Our rendering carries only our own header comment; the regeneration command is stated."""
    text = PROTO.read_text()
    header, _, body = text.partition('syntax = "proto3";')
    assert "kijabi/kubelet/cri/regen.py" in header
    assert not re.search(r"//|/\*", body)


def test_generated_modules_are_marked_for_mypy_and_ruff() -> None:
    for name in ("runtime_v1_pb2.py", "runtime_v1_pb2.pyi", "runtime_v1_pb2_grpc.py"):
        head = (PROTO.parent / name).read_text().splitlines()[:2]
        assert head == ["# mypy: ignore-errors", "# ruff: noqa"], name

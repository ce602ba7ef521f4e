"""The generated message table agrees with upstream's OpenAPI definitions and covers the brief's groups."""

from __future__ import annotations

import pytest

from kijabi.machinery import protobuf, schema
from kijabi.machinery.protobuf._table import K_MESSAGE, S_PLAIN, Message, table

GROUP_VERSIONS = [
    "v1",
    "apps/v1",
    "batch/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "policy/v1",
    "rbac.authorization.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "events.k8s.io/v1",
    "networking.k8s.io/v1",
    "storage.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "node.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "authorization.k8s.io/v1",
    "authentication.k8s.io/v1",
    "certificates.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1",
    "apiextensions.k8s.io/v1",
]


def _openapi_name(message: str) -> str:
    rest = message.removeprefix("k8s.io.").replace("apiextensions_apiserver", "apiextensions-apiserver")
    return "io.k8s." + rest


def _json_names(msg: Message) -> set[str]:
    names: set[str] = set()
    for f in msg.fields:
        if f.inline:
            assert f.message is not None
            names |= _json_names(f.message)
        else:
            names.add(f.name)
    return names


def test_json_names_match_openapi_properties() -> None:
    """Every message with an OpenAPI definition has exactly its properties (inlined structs flattened)."""
    defs = schema.builtin().names
    compared = 0
    mismatches = []
    for name, msg in table().messages.items():
        openapi = defs.get(_openapi_name(name))
        if openapi is None or msg.special != S_PLAIN:
            continue
        compared += 1
        properties = set(openapi.get("properties", {}))
        ours = _json_names(msg)
        # apiVersion/kind of an object come from the envelope (TypeMeta has no proto field)
        difference = (ours - properties) | (properties - ours - {"apiVersion", "kind"})
        if difference:
            mismatches.append((name, sorted(difference)))
    assert mismatches == []
    assert compared > 450


@pytest.mark.parametrize("api_version", GROUP_VERSIONS)
def test_every_openapi_kind_has_a_message(api_version: str) -> None:
    """All kinds upstream serves in these group versions can be decoded."""
    group, _, version = api_version.rpartition("/")
    kinds = [k for (g, v, k) in schema.builtin().by_gvk if g == group and v == version]
    assert kinds
    assert [k for k in kinds if not protobuf.supports(api_version, k)] == []


@pytest.mark.parametrize(
    ("message", "field", "json_name"),
    [
        ("k8s.io.api.authentication.v1.BoundObjectReference", 4, "uid"),  # proto name uID
        ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", 3, "$ref"),
        ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", 2, "$schema"),
        (
            "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
            38,
            "x-kubernetes-preserve-unknown-fields",
        ),
    ],
)
def test_json_name_differs_from_proto_name(message: str, field: int, json_name: str) -> None:
    """Where the proto field name is not the JSON name, the table has the JSON one."""
    assert table().messages[message].by_number[field].name == json_name


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("k8s.io.api.core.v1.Probe", 1),
        ("k8s.io.api.core.v1.Volume", 2),
        ("k8s.io.api.core.v1.EphemeralContainer", 1),
        ("k8s.io.api.core.v1.PersistentVolumeSpec", 2),
    ],
)
def test_inlined_structs(message: str, field: int) -> None:
    """Embedded structs with `json:",inline"` are marked inline."""
    f = table().messages[message].by_number[field]
    assert f.kind == K_MESSAGE and f.inline


@pytest.mark.parametrize(
    ("message", "field", "keep_zero", "null_if_absent"),
    [
        ("k8s.io.api.apps.v1.DeploymentSpec", 1, True, False),  # *int32 replicas, omitempty
        ("k8s.io.api.apps.v1.DeploymentSpec", 2, True, True),  # *LabelSelector selector, no omitempty
        ("k8s.io.api.apps.v1.DeploymentSpec", 5, False, False),  # int32 minReadySeconds, omitempty
        ("k8s.io.api.core.v1.Container", 1, True, False),  # string name, no omitempty
        ("k8s.io.api.core.v1.PodSpec", 2, True, True),  # []Container containers, no omitempty
        ("k8s.io.api.authorization.v1.SubjectAccessReviewStatus", 1, True, False),  # bool allowed
        ("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", 8, True, False),  # Time creationTimestamp
    ],
)
def test_zero_and_null_rules(message: str, field: int, keep_zero: bool, null_if_absent: bool) -> None:
    """Go pointer / omitempty facts become the decoder's keep-zero and null rules."""
    f = table().messages[message].by_number[field]
    assert (f.keep_zero, f.null_if_absent) == (keep_zero, null_if_absent)

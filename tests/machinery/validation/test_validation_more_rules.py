"""Less common rules, one failing input each: quantity syntax, ephemeral volume claims, webhook
service paths, CRD deprecation warnings, docker config secrets, ingress class parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.machinery.validation.validation_objects import edit, run

INVALID, REQUIRED, FORBIDDEN = "FieldValueInvalid", "FieldValueRequired", "FieldValueForbidden"
QUANTITY = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
C0 = "spec.containers[0]"


def e(*pairs: tuple[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(obj: dict[str, Any]) -> None:
        for path, value in pairs:
            edit(obj, path, value)

    return apply


CASES = [
    pytest.param(
        "Pod",
        e((f"{C0}.resources", {"limits": {"cpu": "lots"}})),
        [(INVALID, f"{C0}.resources.limits[cpu]", QUANTITY)],
        id="quantity-syntax",
    ),
    pytest.param(
        "Pod",
        e(
            ("metadata.name", "w" * 250),
            (
                "spec.volumes",
                [
                    {
                        "name": "scratch",
                        "ephemeral": {
                            "volumeClaimTemplate": {
                                "spec": {
                                    "accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": "1Gi"}},
                                }
                            }
                        },
                    }
                ],
            ),
        ),
        [
            (
                INVALID,
                "spec.volumes[0].name",
                f'PVC name "{"w" * 250}-scratch": must be no more than 253 characters',
            )
        ],
        id="ephemeral-claim-name-too-long",
    ),
    pytest.param(
        "Pod",
        e(
            (
                "spec.volumes",
                [
                    {
                        "name": "scratch",
                        "ephemeral": {"volumeClaimTemplate": {"metadata": {"name": "x"}, "spec": {}}},
                    }
                ],
            )
        ),
        [
            (FORBIDDEN, "spec.volumes[0].ephemeral.volumeClaimTemplate.metadata.name", "cannot be set"),
            (
                REQUIRED,
                "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.accessModes",
                "at least 1 access mode is required",
            ),
            (REQUIRED, "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.resources[storage]", ""),
        ],
        id="ephemeral-claim-template",
    ),
    pytest.param(
        "ValidatingWebhookConfiguration",
        e(("webhooks[0].clientConfig.service.path", "/Validate//x")),
        [
            (
                INVALID,
                "webhooks[0].clientConfig.service.path",
                "segment[0]: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ),
            (INVALID, "webhooks[0].clientConfig.service.path", "segment[1] may not be empty"),
        ],
        id="webhook-service-path",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.versions[0].deprecationWarning", "old")),
        [(INVALID, "spec.versions[0].deprecationWarning", "can only be set for deprecated versions")],
        id="crd-deprecation-warning",
    ),
    pytest.param(
        "Secret",
        e(
            ("type", "kubernetes.io/dockercfg"),
            ("data", {".dockercfg": "e30="}),
            ("stringData", {".dockercfg": "{bad"}),
        ),
        [(INVALID, "data[.dockercfg]", "invalid character 'b' looking for beginning of value")],
        id="secret-dockercfg-syntax",
    ),
    pytest.param(
        "IngressClass",
        e(("spec.parameters", {"kind": "Config", "name": "c", "scope": "Cluster", "namespace": "default"})),
        [(FORBIDDEN, "spec.parameters.namespace", "`parameters.scope` is set to 'Cluster'")],
        id="ingress-class-cluster-scope-namespace",
    ),
    pytest.param(
        "NetworkPolicy",
        e(("spec.ingress[0].ports[0]", {"protocol": "TCP", "port": "postgres", "endPort": 6000})),
        [(INVALID, "spec.ingress[0].ports[0].endPort", "may not be specified when `port` is non-numeric")],
        id="netpol-named-port-range",
    ),
    pytest.param(
        "Deployment",
        e(
            (
                "spec.template.spec.containers[0].env",
                [
                    {
                        "name": "A",
                        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels['x']"}},
                    }
                ],
            )
        ),
        [],
        id="env-subscripted-label-ok",
    ),
    pytest.param(
        "Pod",
        e(
            (
                "spec.volumes",
                [
                    {
                        "name": "d",
                        "downwardAPI": {
                            "items": [
                                {
                                    "path": "l",
                                    "fieldRef": {
                                        "apiVersion": "v1",
                                        "fieldPath": "metadata.labels['bad key']",
                                    },
                                }
                            ]
                        },
                    }
                ],
            )
        ),
        [
            (
                INVALID,
                "spec.volumes[0].downwardAPI.fieldRef",
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            )
        ],
        id="downward-api-bad-label-subscript",
    ),
]


@pytest.mark.parametrize(("kind", "mutate", "expected"), CASES)
def test_rule(
    kind: str, mutate: Callable[[dict[str, Any]], None], expected: list[tuple[str, str, str]]
) -> None:
    assert run(kind, mutate) == expected

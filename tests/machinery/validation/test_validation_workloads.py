"""Workload controllers: Deployment, ReplicaSet, StatefulSet, DaemonSet, ReplicationController,
ControllerRevision and PodTemplate — selectors, template matching, strategies, immutable fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.machinery.validation.validation_messages import DNS1123_SUBDOMAIN, NEGATIVE
from tests.machinery.validation.validation_objects import BUILDERS, DELETE, edit, errors_of, run, stored

INVALID, REQUIRED, FORBIDDEN, UNSUPPORTED = (
    "FieldValueInvalid",
    "FieldValueRequired",
    "FieldValueForbidden",
    "FieldValueNotSupported",
)
NO_MATCH = "`selector` does not match template `labels`"


def e(*pairs: tuple[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(obj: dict[str, Any]) -> None:
        for path, value in pairs:
            edit(obj, path, value)

    return apply


CREATE_CASES = [
    # Deployment
    pytest.param(
        "Deployment",
        e(("spec.replicas", -1)),
        [(INVALID, "spec.replicas", NEGATIVE)],
        id="deployment-replicas",
    ),
    pytest.param(
        "Deployment",
        e(("spec.selector", DELETE)),
        [(REQUIRED, "spec.selector", ""), (INVALID, "spec.template.metadata.labels", NO_MATCH)],
        id="deployment-selector-required",
    ),
    pytest.param(
        "Deployment",
        e(("spec.selector", {})),
        [(INVALID, "spec.selector", "empty selector is invalid for deployment")],
        id="deployment-selector-empty",
    ),
    pytest.param(
        "Deployment",
        e(("spec.selector.matchLabels", {"app": "api"})),
        [(INVALID, "spec.template.metadata.labels", NO_MATCH)],
        id="deployment-selector-mismatch",
    ),
    pytest.param(
        "Deployment",
        e(
            (
                "spec.selector",
                {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
            )
        ),
        [],
        id="deployment-match-expressions-ok",
    ),
    pytest.param(
        "Deployment",
        e(("spec.selector", {"matchExpressions": [{"key": "app", "operator": "Bogus"}]})),
        [
            (INVALID, "spec.selector.matchExpressions[0].operator", "not a valid selector operator"),
            (INVALID, "spec.selector", "invalid label selector"),
        ],
        id="deployment-selector-unconvertible",
    ),
    pytest.param(
        "Deployment",
        e(("spec.template.spec.restartPolicy", "OnFailure")),
        [(UNSUPPORTED, "spec.template.spec.restartPolicy", 'supported values: "Always"')],
        id="deployment-restart-policy",
    ),
    pytest.param(
        "Deployment",
        e(("spec.template.spec.activeDeadlineSeconds", 10)),
        [
            (
                FORBIDDEN,
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in ReplicaSet is not Supported",
            )
        ],
        id="deployment-active-deadline",
    ),
    pytest.param(
        "Deployment",
        e(("spec.template.spec.containers[0].image", "")),
        [(REQUIRED, "spec.template.spec.containers[0].image", "")],
        id="deployment-template-pod-spec",
    ),
    pytest.param(
        "Deployment",
        e(("spec.template.metadata.labels", {"app": "web", "bad": "-x"})),
        [
            (
                INVALID,
                "spec.template.labels",
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            )
        ],
        id="deployment-template-labels-path-quirk",
    ),
    pytest.param(
        "Deployment",
        e(("spec.strategy.rollingUpdate", {"maxUnavailable": 0, "maxSurge": 0})),
        [(INVALID, "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0")],
        id="deployment-rolling-zero",
    ),
    pytest.param(
        "Deployment",
        e(("spec.strategy.rollingUpdate", {"maxUnavailable": "150%", "maxSurge": "x"})),
        [
            (
                INVALID,
                "spec.strategy.rollingUpdate.maxSurge",
                "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            ),
            (INVALID, "spec.strategy.rollingUpdate.maxUnavailable", "must not be greater than 100%"),
        ],
        id="deployment-rolling-percentages",
    ),
    pytest.param(
        "Deployment",
        e(("spec.strategy", {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}})),
        [
            (
                FORBIDDEN,
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            )
        ],
        id="deployment-recreate-with-rolling",
    ),
    pytest.param(
        "Deployment",
        e(("spec.strategy", {"type": "BlueGreen"})),
        [(UNSUPPORTED, "spec.strategy", 'supported values: "Recreate", "RollingUpdate"')],
        id="deployment-strategy-type",
    ),
    pytest.param(
        "Deployment",
        e(("spec.minReadySeconds", 700)),
        [(INVALID, "spec.progressDeadlineSeconds", "must be greater than minReadySeconds")],
        id="deployment-progress-deadline",
    ),
    # ReplicaSet
    pytest.param(
        "ReplicaSet",
        e(("spec.selector", {})),
        [(INVALID, "spec.selector", "empty selector is invalid for deployment")],
        id="replicaset-empty-selector-says-deployment",
    ),
    pytest.param(
        "ReplicaSet",
        e(("spec.minReadySeconds", -5)),
        [(INVALID, "spec.minReadySeconds", NEGATIVE)],
        id="replicaset-min-ready",
    ),
    # StatefulSet
    pytest.param(
        "StatefulSet",
        e(("spec.podManagementPolicy", "Random")),
        [(INVALID, "spec.podManagementPolicy", "must be 'OrderedReady' or 'Parallel'")],
        id="statefulset-pod-management",
    ),
    pytest.param(
        "StatefulSet",
        e(("spec.updateStrategy", {"type": "OnDelete", "rollingUpdate": {"partition": 1}})),
        [(INVALID, "spec.updateStrategy.rollingUpdate", "only allowed for updateStrategy 'RollingUpdate'")],
        id="statefulset-on-delete-rolling",
    ),
    pytest.param(
        "StatefulSet",
        e(("spec.updateStrategy.rollingUpdate.partition", -1)),
        [(INVALID, "spec.updateStrategy.rollingUpdate.partition", NEGATIVE)],
        id="statefulset-partition",
    ),
    pytest.param(
        "StatefulSet",
        e(("spec.persistentVolumeClaimRetentionPolicy.whenDeleted", "Keep")),
        [
            (
                UNSUPPORTED,
                "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
                'supported values: "Retain", "Delete"',
            )
        ],
        id="statefulset-retention",
    ),
    pytest.param(
        "StatefulSet",
        e(("spec.ordinals", {"start": -1})),
        [(INVALID, "spec.ordinals.start", NEGATIVE)],
        id="statefulset-ordinals",
    ),
    pytest.param(
        "StatefulSet",
        e(("spec.selector", {})),
        [(INVALID, "spec.selector", "empty selector is invalid for statefulset")],
        id="statefulset-empty-selector",
    ),
    pytest.param(
        "StatefulSet",
        e(("spec.template.spec.activeDeadlineSeconds", 5)),
        [
            (
                FORBIDDEN,
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in StatefulSet is not Supported",
            )
        ],
        id="statefulset-active-deadline",
    ),
    # DaemonSet
    pytest.param(
        "DaemonSet",
        e(("spec.updateStrategy.rollingUpdate", {"maxUnavailable": 1, "maxSurge": 1})),
        [
            (
                INVALID,
                "spec.updateStrategy.rollingUpdate.maxSurge",
                "may not be set when maxUnavailable is non-zero",
            )
        ],
        id="daemonset-both-nonzero",
    ),
    pytest.param(
        "DaemonSet",
        e(("spec.updateStrategy.rollingUpdate", {"maxUnavailable": 0, "maxSurge": 0})),
        [(REQUIRED, "spec.updateStrategy.rollingUpdate.maxUnavailable", "cannot be 0 when maxSurge is 0")],
        id="daemonset-both-zero",
    ),
    pytest.param(
        "DaemonSet",
        e(("spec.updateStrategy", {"type": "RollingUpdate"})),
        [(REQUIRED, "spec.updateStrategy.rollingUpdate", "")],
        id="daemonset-rolling-missing",
    ),
    pytest.param(
        "DaemonSet",
        e(("spec.selector", {})),
        [(INVALID, "spec.selector", "empty selector is invalid for daemonset")],
        id="daemonset-empty-selector",
    ),
    pytest.param(
        "DaemonSet",
        e(("spec.template.metadata.labels", {"app": "other"})),
        [(INVALID, "spec.template.metadata.labels", NO_MATCH)],
        id="daemonset-mismatch",
    ),
    # ReplicationController and PodTemplate
    pytest.param(
        "ReplicationController",
        e(("spec.selector", {"app": "other"})),
        [(INVALID, "spec.template.metadata.labels", NO_MATCH)],
        id="rc-mismatch",
    ),
    pytest.param(
        "ReplicationController",
        e(("spec.selector", {})),
        [(REQUIRED, "spec.selector", "")],
        id="rc-selector-required",
    ),
    pytest.param(
        "PodTemplate",
        e(("template.spec.containers", [])),
        [(REQUIRED, "template.spec.containers", "")],
        id="pod-template-spec",
    ),
    pytest.param(
        "ControllerRevision",
        e(("data", DELETE)),
        [(REQUIRED, "data", "data is mandatory")],
        id="revision-data",
    ),
    pytest.param(
        "Deployment",
        e(("metadata.name", "Web")),
        [(INVALID, "metadata.name", DNS1123_SUBDOMAIN)],
        id="deployment-name",
    ),
]


@pytest.mark.parametrize(("kind", "mutate", "expected"), CREATE_CASES)
def test_workload_create_rule(
    kind: str, mutate: Callable[[dict[str, Any]], None], expected: list[tuple[str, str, str]]
) -> None:
    assert run(kind, mutate) == expected


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "DaemonSet"])
def test_selector_is_immutable(kind: str) -> None:
    old = stored(BUILDERS[kind]())
    new = stored(BUILDERS[kind]())
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"] = {"app": "web", "tier": "x"}
    assert errors_of(kind, new, old) == [(INVALID, "spec.selector", "field is immutable")]


def test_statefulset_spec_is_mostly_immutable() -> None:
    old = stored(BUILDERS["StatefulSet"]())
    scaled = edit(stored(BUILDERS["StatefulSet"]()), "spec.replicas", 5)
    renamed = edit(stored(BUILDERS["StatefulSet"]()), "spec.serviceName", "db-headless")
    assert errors_of("StatefulSet", scaled, old) == []
    assert errors_of("StatefulSet", renamed, old) == [
        (
            FORBIDDEN,
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
            "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        )
    ]


def test_controller_revision_data_is_immutable() -> None:
    old = stored(BUILDERS["ControllerRevision"]())
    new = edit(stored(BUILDERS["ControllerRevision"]()), "data", {"spec": {}})
    assert errors_of("ControllerRevision", new, old) == [(INVALID, "data", "field is immutable")]

"""Strategic merge patch over real Kubernetes types (schemas from the built-in v1.32 definitions).

These are the patches users and kubectl send: `kubectl patch` bodies, the three-way patches of
client-side `kubectl apply`, and the directive forms kubectl generates for retainKeys fields.
"""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.patch import strategic_merge_patch
from kijabi.machinery.schema import Schema

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def pod(spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", **metadata},
        "spec": spec if spec is not None else {"containers": [{"name": "app", "image": "nginx"}]},
    }


def containers(*items: dict[str, Any]) -> dict[str, Any]:
    return {"containers": list(items)}


POD_CASES = [
    pytest.param(
        pod(labels={"a": "1", "b": "2"}),
        {"metadata": {"labels": {"b": None, "c": "3"}}},
        pod(labels={"a": "1", "c": "3"}),
        id="labels-merge-and-null-deletes",
    ),
    pytest.param(
        pod(labels={"a": "1"}),
        {"metadata": {"labels": {"zzz": None}}},
        pod(labels={"a": "1"}),
        id="null-for-absent-label-is-a-no-op",
    ),
    pytest.param(
        pod(annotations={"x": "1", LAST_APPLIED: "{}"}),
        {"metadata": {"annotations": {LAST_APPLIED: None}}},
        pod(annotations={"x": "1"}),
        id="annotation-removed-by-null",
    ),
    pytest.param(
        pod(finalizers=["a", "b"]),
        {"metadata": {"finalizers": ["c"]}},
        pod(finalizers=["c", "a", "b"]),
        id="finalizers-new-value-goes-first",
    ),
    pytest.param(
        pod(finalizers=["a", "b"]),
        {"metadata": {"finalizers": ["b", "c"]}},
        pod(finalizers=["a", "b", "c"]),
        id="finalizers-union-in-patch-order",
    ),
    pytest.param(
        pod(finalizers=["a", "b", "c"]),
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
        pod(finalizers=["a", "c"]),
        id="finalizers-delete-one",
    ),
    pytest.param(
        pod(),
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
        pod(),
        id="finalizers-delete-from-missing-list-creates-nothing",
    ),
    pytest.param(
        pod(finalizers=["a", "b"]),
        {
            "metadata": {
                "$setElementOrder/finalizers": ["b", "c"],
                "finalizers": ["c"],
                "$deleteFromPrimitiveList/finalizers": ["a"],
            }
        },
        pod(finalizers=["b", "c"]),
        id="finalizers-add-delete-and-order",
    ),
    pytest.param(
        pod(containers({"name": "a", "image": "x"}, {"name": "b", "image": "y"})),
        {"spec": {"containers": [{"name": "b", "image": "y2"}]}},
        pod(containers({"name": "a", "image": "x"}, {"name": "b", "image": "y2"})),
        id="containers-merge-by-name",
    ),
    pytest.param(
        pod(containers({"name": "a", "image": "x"}, {"name": "b", "image": "y"})),
        {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}},
        pod(containers({"name": "a", "image": "x"})),
        id="containers-delete-directive",
    ),
    pytest.param(
        pod(containers({"name": "a", "image": "x"}, {"name": "b", "image": "y"})),
        {"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "z"}]}},
        pod(containers({"name": "c", "image": "z"})),
        id="containers-replace-directive",
    ),
    pytest.param(
        pod(containers({"name": "a", "image": "x"})),
        {"spec": {"containers": [{"name": "b", "image": "y"}]}},
        pod(containers({"name": "b", "image": "y"}, {"name": "a", "image": "x"})),
        id="containers-new-item-without-order-goes-first",
    ),
    pytest.param(
        pod(containers({"name": "a", "image": "x"})),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": [{"name": "b", "image": "y"}],
            }
        },
        pod(containers({"name": "a", "image": "x"}, {"name": "b", "image": "y"})),
        id="containers-new-item-placed-by-set-element-order",
    ),
    pytest.param(
        pod(containers({"name": "a", "image": "x", "args": ["--one", "--two"]})),
        {"spec": {"containers": [{"name": "a", "args": ["--three"]}]}},
        pod(containers({"name": "a", "image": "x", "args": ["--three"]})),
        id="args-replaced-whole",
    ),
    pytest.param(
        pod({"containers": [{"name": "a"}], "tolerations": [{"key": "a", "operator": "Exists"}]}),
        {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}},
        pod({"containers": [{"name": "a"}], "tolerations": [{"key": "b", "operator": "Exists"}]}),
        id="tolerations-replaced-whole",
    ),
    pytest.param(
        pod(
            containers(
                {
                    "name": "dns",
                    "ports": [
                        {"containerPort": 53, "protocol": "TCP"},
                        {"containerPort": 53, "protocol": "UDP"},
                    ],
                }
            )
        ),
        {"spec": {"containers": [{"name": "dns", "ports": [{"containerPort": 53, "name": "dns"}]}]}},
        pod(
            containers(
                {
                    "name": "dns",
                    "ports": [
                        {"containerPort": 53, "protocol": "TCP", "name": "dns"},
                        {"containerPort": 53, "protocol": "UDP"},
                    ],
                }
            )
        ),
        id="ports-keyed-by-container-port-only-first-match-merges",
    ),
    pytest.param(
        pod(
            containers(
                {
                    "name": "dns",
                    "ports": [
                        {"containerPort": 53, "protocol": "TCP"},
                        {"containerPort": 53, "protocol": "UDP"},
                    ],
                }
            )
        ),
        {"spec": {"containers": [{"name": "dns", "ports": [{"containerPort": 53, "$patch": "delete"}]}]}},
        pod(containers({"name": "dns", "ports": []})),
        id="ports-delete-removes-both-protocols",
    ),
    pytest.param(
        pod(containers({"name": "a", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]})),
        {
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "env": [
                            {
                                "name": "B",
                                "value": None,
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                            }
                        ],
                    }
                ]
            }
        },
        pod(
            containers(
                {
                    "name": "a",
                    "env": [
                        {"name": "A", "value": "1"},
                        {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    ],
                }
            )
        ),
        id="env-item-switches-value-to-value-from",
    ),
    pytest.param(
        pod(containers({"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}})),
        {
            "spec": {
                "containers": [
                    {"name": "a", "resources": {"limits": {"cpu": "2"}, "requests": {"cpu": "500m"}}}
                ]
            }
        },
        pod(
            containers(
                {
                    "name": "a",
                    "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                }
            )
        ),
        id="resource-maps-merge",
    ),
    pytest.param(
        pod(
            {
                "containers": [{"name": "a"}],
                "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "secret": {"secretName": "s"}}],
            }
        ),
        {
            "spec": {
                "volumes": [
                    {"$retainKeys": ["configMap", "name"], "name": "data", "configMap": {"name": "c"}}
                ]
            }
        },
        pod(
            {
                "containers": [{"name": "a"}],
                "volumes": [
                    {"name": "data", "configMap": {"name": "c"}},
                    {"name": "cfg", "secret": {"secretName": "s"}},
                ],
            }
        ),
        id="volume-source-switch-with-retain-keys",
    ),
    pytest.param(
        pod({"containers": [{"name": "a"}], "volumes": [{"name": "data", "emptyDir": {}}]}),
        {"spec": {"volumes": [{"name": "data", "configMap": {"name": "c"}}]}},
        pod(
            {
                "containers": [{"name": "a"}],
                "volumes": [{"name": "data", "emptyDir": {}, "configMap": {"name": "c"}}],
            }
        ),
        id="volume-without-retain-keys-just-merges",
    ),
    pytest.param(
        pod({"containers": [{"name": "a"}], "nodeSelector": {"disk": "ssd"}}),
        {"spec": {"nodeSelector": {"zone": "a"}}},
        pod({"containers": [{"name": "a"}], "nodeSelector": {"disk": "ssd", "zone": "a"}}),
        id="node-selector-map-merges",
    ),
    pytest.param(
        pod({"containers": [{"name": "a"}], "securityContext": {"runAsUser": 1000, "fsGroup": 2000}}),
        {"spec": {"securityContext": {"$patch": "delete"}}},
        pod({"containers": [{"name": "a"}], "securityContext": {}}),
        id="delete-directive-empties-nested-struct",
    ),
    pytest.param(
        pod({"containers": [{"name": "a"}], "securityContext": {"runAsUser": 1000, "fsGroup": 2000}}),
        {"spec": {"securityContext": {"$patch": "replace", "runAsNonRoot": True}}},
        pod({"containers": [{"name": "a"}], "securityContext": {"runAsNonRoot": True}}),
        id="replace-directive-on-nested-struct",
    ),
    pytest.param(
        pod(),
        {"spec": {"securityContext": {"$patch": "delete"}}},
        pod(),
        id="delete-directive-on-absent-struct-adds-nothing",
    ),
    pytest.param(
        pod(ownerReferences=[{"apiVersion": "v1", "kind": "X", "name": "a", "uid": "u1"}]),
        {
            "metadata": {
                "ownerReferences": [
                    {"uid": "u1", "controller": True},
                    {"apiVersion": "v1", "kind": "Y", "name": "b", "uid": "u2"},
                ]
            }
        },
        pod(
            ownerReferences=[
                {"apiVersion": "v1", "kind": "X", "name": "a", "uid": "u1", "controller": True},
                {"apiVersion": "v1", "kind": "Y", "name": "b", "uid": "u2"},
            ]
        ),
        id="owner-references-keyed-by-uid",
    ),
]


@pytest.mark.parametrize(("live", "patch", "want"), POD_CASES)
def test_pod_patches(
    live: dict[str, Any], patch: dict[str, Any], want: dict[str, Any], pod_schema: Schema
) -> None:
    """Pod fields follow their declared strategies: maps merge, keyed lists merge, other lists are replaced."""
    assert strategic_merge_patch(live, patch, pod_schema) == want


def test_pod_status_conditions_merge_by_type(pod_schema: Schema) -> None:
    """`status.conditions` is keyed by `type`, as the kubelet's status patches rely on."""
    live = {
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]
        }
    }
    patch = {
        "status": {
            "$setElementOrder/conditions": [{"type": "PodScheduled"}, {"type": "Ready"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        }
    }
    got = strategic_merge_patch(live, patch, pod_schema)
    assert got == {
        "status": {
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]
        }
    }


def deployment(strategy: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"strategy": strategy, **spec},
    }


DEPLOYMENT_CASES = [
    pytest.param(
        deployment({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        deployment({"type": "Recreate"}),
        id="strategy-switch-drops-rolling-update",
    ),
    pytest.param(
        deployment({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
        {"spec": {"strategy": {"type": "Recreate"}}},
        deployment({"type": "Recreate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
        id="strategy-without-directive-keeps-rolling-update",
    ),
    pytest.param(
        deployment({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
        {"spec": {"strategy": {"$retainKeys": ["rollingUpdate", "type"], "rollingUpdate": {"maxSurge": 1}}}},
        deployment({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}),
        id="strategy-retained-map-still-merges",
    ),
    pytest.param(
        deployment({}, replicas=1, selector={"matchLabels": {"app": "w"}}),
        {"spec": {"replicas": 3, "selector": {"matchLabels": {"tier": "fe"}}}},
        deployment({}, replicas=3, selector={"matchLabels": {"app": "w", "tier": "fe"}}),
        id="label-selector-merges",
    ),
    pytest.param(
        deployment(
            {},
            template={
                "spec": {
                    "initContainers": [{"name": "i1", "image": "a"}],
                    "containers": [{"name": "c", "image": "x"}],
                }
            },
        ),
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/initContainers": [{"name": "i0"}, {"name": "i1"}],
                        "initContainers": [{"name": "i0", "image": "b"}],
                    }
                }
            }
        },
        deployment(
            {},
            template={
                "spec": {
                    "initContainers": [{"name": "i0", "image": "b"}, {"name": "i1", "image": "a"}],
                    "containers": [{"name": "c", "image": "x"}],
                }
            },
        ),
        id="pod-template-init-containers-ordered",
    ),
]


@pytest.mark.parametrize(("live", "patch", "want"), DEPLOYMENT_CASES)
def test_deployment_patches(
    live: dict[str, Any], patch: dict[str, Any], want: dict[str, Any], deployment_schema: Schema
) -> None:
    """Deployment: `spec.strategy` honours `$retainKeys`; nested pod templates merge with their strategies."""
    assert strategic_merge_patch(live, patch, deployment_schema) == want


def test_service_ports_keyed_by_port(service_schema: Schema) -> None:
    """Service ports merge on `port`; the selector map merges."""
    live = {
        "spec": {
            "selector": {"app": "w"},
            "ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}],
        }
    }
    patch = {
        "spec": {
            "selector": {"tier": "fe"},
            "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
            "ports": [{"port": 443, "name": "https"}],
        }
    }
    want = {
        "spec": {
            "selector": {"app": "w", "tier": "fe"},
            "ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443, "name": "https"}],
        }
    }
    assert strategic_merge_patch(live, patch, service_schema) == want


class TestClientSideApply:
    """Three-way patches as `kubectl apply` (client-side) computes and sends them."""

    def test_removed_label_and_changed_replicas(self, deployment_schema: Schema) -> None:
        """Fields dropped from the last-applied config become null; fields others added are kept."""
        new_config = '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"labels":{"app":"w"},"name":"d"},"spec":{"replicas":3}}\n'
        live = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "d",
                "labels": {"app": "w", "tier": "fe", "team": "ops"},
                "annotations": {LAST_APPLIED: '{"old":true}\n'},
            },
            "spec": {"replicas": 2},
        }
        patch = {
            "metadata": {"annotations": {LAST_APPLIED: new_config}, "labels": {"tier": None}},
            "spec": {"replicas": 3},
        }
        got = strategic_merge_patch(live, patch, deployment_schema)
        assert got["metadata"]["labels"] == {"app": "w", "team": "ops"}
        assert got["metadata"]["annotations"] == {LAST_APPLIED: new_config}
        assert got["spec"] == {"replicas": 3}

    def test_removed_container_and_changed_image(self, deployment_schema: Schema) -> None:
        """A container dropped from the config is sent as a delete directive after the changed items."""
        live = {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "a", "image": "x", "imagePullPolicy": "IfNotPresent"},
                            {"name": "b", "image": "y"},
                        ]
                    }
                }
            }
        }
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "a"}],
                        "containers": [{"image": "x2", "name": "a"}, {"$patch": "delete", "name": "b"}],
                    }
                }
            }
        }
        got = strategic_merge_patch(live, patch, deployment_schema)
        assert got["spec"]["template"]["spec"]["containers"] == [
            {"name": "a", "image": "x2", "imagePullPolicy": "IfNotPresent"}
        ]

    def test_sidecar_added_by_others_is_kept_in_place(self, deployment_schema: Schema) -> None:
        """A container injected by someone else stays where it was when the applier adds its own."""
        live = {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "app", "image": "x"}, {"name": "sidecar", "image": "s"}]}
                }
            }
        }
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "app"}, {"name": "worker"}],
                        "containers": [{"name": "worker", "image": "w"}],
                    }
                }
            }
        }
        got = strategic_merge_patch(live, patch, deployment_schema)
        names = [c["name"] for c in got["spec"]["template"]["spec"]["containers"]]
        assert names == ["app", "worker", "sidecar"]

    def test_removed_finalizer_and_env_var(self, deployment_schema: Schema) -> None:
        """Primitive merge lists lose values through `$deleteFromPrimitiveList`, keyed lists through `$patch`."""
        live = {
            "metadata": {"finalizers": ["keep", "drop", "foreign"]},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}
                        ]
                    }
                }
            },
        }
        patch = {
            "metadata": {
                "$setElementOrder/finalizers": ["keep"],
                "$deleteFromPrimitiveList/finalizers": ["drop"],
            },
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "a"}],
                        "containers": [
                            {
                                "name": "a",
                                "$setElementOrder/env": [{"name": "X"}],
                                "env": [{"$patch": "delete", "name": "Y"}],
                            }
                        ],
                    }
                }
            },
        }
        got = strategic_merge_patch(live, patch, deployment_schema)
        assert got["metadata"]["finalizers"] == ["keep", "foreign"]
        assert got["spec"]["template"]["spec"]["containers"] == [
            {"name": "a", "env": [{"name": "X", "value": "1"}]}
        ]


class TestUntypedRegions:
    """Where the schema gives no type (RawExtension, unknown members), values merge like JSON merge patch."""

    def test_raw_extension_merges_maps_and_replaces_lists(self, controller_revision_schema: Schema) -> None:
        live = {"data": {"spec": {"template": {"a": 1, "b": [1, 2]}}, "keep": True}, "revision": 1}
        patch = {
            "data": {"spec": {"template": {"a": None, "b": [3], "c": {"d": None, "e": 1}}}},
            "revision": 2,
        }
        got = strategic_merge_patch(live, patch, controller_revision_schema)
        assert got == {"data": {"spec": {"template": {"b": [3], "c": {"e": 1}}}, "keep": True}, "revision": 2}

    def test_directives_still_apply_in_untyped_values(self, controller_revision_schema: Schema) -> None:
        live = {"data": {"spec": {"a": 1, "b": 2}}}
        patch = {"data": {"spec": {"$patch": "replace", "c": 3}}}
        assert strategic_merge_patch(live, patch, controller_revision_schema) == {"data": {"spec": {"c": 3}}}

    def test_type_change_replaces_value(self, pod_schema: Schema) -> None:
        """A value of another JSON type replaces the live one (nulls inside it dropped)."""
        live = pod(labels={"a": "1"})
        got = strategic_merge_patch(
            live, {"metadata": {"labels": "oops"}, "spec": {"containers": {"x": None, "y": 1}}}, pod_schema
        )
        assert got["metadata"]["labels"] == "oops"
        assert got["spec"]["containers"] == {"y": 1}

    def test_no_schema_at_all(self) -> None:
        """With no type information every list is replaced and every map merges."""
        live = {"metadata": {"finalizers": ["a"], "labels": {"x": "1"}}}
        got = strategic_merge_patch(live, {"metadata": {"finalizers": ["b"], "labels": {"y": "2"}}}, None)
        assert got == {"metadata": {"finalizers": ["b"], "labels": {"x": "1", "y": "2"}}}


def test_set_element_order_on_stored_empty_list(pod_schema: Schema) -> None:
    """kijabi may store `[]` where Go would omit the field; ordering an empty list is not an error."""
    live = pod(finalizers=[])
    patch: dict[str, Any] = {"metadata": {"$setElementOrder/finalizers": []}}
    assert strategic_merge_patch(live, patch, pod_schema) == pod(finalizers=[])

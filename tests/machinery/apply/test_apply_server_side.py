"""Server-side apply on built-in kinds: ownership, pruning, conflicts, request errors, migration."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kijabi.machinery.apply import LAST_APPLIED_ANNOTATION, apply, build_last_applied, update_managed_fields
from kijabi.machinery.errors import StatusError
from tests.machinery.apply.ssa_helpers import EXAMPLE_FIELDSV1, History, entries, kind_schema, owned

POD = kind_schema("", "v1", "Pod")
DEPLOYMENT = kind_schema("apps", "v1", "Deployment")
CONFIGMAP = kind_schema("", "v1", "ConfigMap")
SERVICE = kind_schema("", "v1", "Service")


def pods() -> History:
    return History(POD, api_version="v1", kind="Pod", name="p", namespace="default")


def deployments() -> History:
    return History(DEPLOYMENT, api_version="apps/v1", kind="Deployment", name="d", namespace="default")


def configmaps() -> History:
    return History(CONFIGMAP, api_version="v1", kind="ConfigMap", name="c", namespace="default")


def conflict_of(call: Any) -> dict[str, Any]:
    with pytest.raises(StatusError) as info:
        call()
    assert info.value.code == 409
    return info.value.status()


def deployment_spec(replicas: int = 3, **extra: Any) -> dict[str, Any]:
    return {
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "w"}},
            "template": {
                "metadata": {"labels": {"app": "w"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]},
            },
            **extra,
        }
    }


# --- create and re-apply --------------------------------------------------------------------------


def test_apply_creates_and_records_exactly_the_config() -> None:
    """Applying to nothing creates the object; the applier owns what it sent (reference 2.3 bytes)."""
    h = pods()
    obj = h.apply(
        "kubectl",
        {
            "metadata": {"labels": {"app": "w"}, "finalizers": ["x/y"]},
            "spec": {
                "containers": [
                    {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}], "args": ["-v"]}
                ]
            },
        },
    )
    (entry,) = obj["metadata"]["managedFields"]
    assert list(entry) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["time"]) == (
        "kubectl",
        "Apply",
        "v1",
        "2024-01-01T00:00:01Z",
    )
    assert json.dumps(entry["fieldsV1"], separators=(",", ":")) == EXAMPLE_FIELDSV1
    assert obj["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]


def test_reapplying_the_same_config_changes_nothing() -> None:
    """A no-op apply returns the live object; the applier's time is not updated (reference 3.10)."""
    h = deployments()
    first = copy.deepcopy(h.apply("a", deployment_spec()))
    again = h.apply("a", deployment_spec())
    assert again == first
    assert again["metadata"]["managedFields"][0]["time"] == "2024-01-01T00:00:01Z"


def test_apply_does_not_modify_its_inputs() -> None:
    """Live object and configuration are left untouched."""
    h = deployments()
    live = h.apply("a", deployment_spec())
    live_copy = copy.deepcopy(live)
    config = h.body(deployment_spec(5, paused=True))
    config_copy = copy.deepcopy(config)
    out = apply(live, config, manager="b", schema=DEPLOYMENT, force=True, api_version="apps/v1", now="t")
    assert (live, config) == (live_copy, config_copy)
    out["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    assert live == live_copy, "the result shares nothing with the inputs"


# --- pruning --------------------------------------------------------------------------------------


def test_dropped_field_is_pruned_when_nobody_else_owns_it() -> None:
    """Fields the applier stops sending are removed (reference 3.12)."""
    h = pods()
    h.apply(
        "a",
        {
            "metadata": {"labels": {"app": "w", "tier": "fe"}},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        },
    )
    obj = h.apply(
        "a", {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    )
    assert obj["metadata"]["labels"] == {"app": "w"}
    assert h.owned() == {
        "a": [
            ".metadata.labels.app",
            '.spec.containers[name="c"]',
            '.spec.containers[name="c"].image',
            '.spec.containers[name="c"].name',
        ]
    }


def test_dropped_field_owned_by_an_updater_stays() -> None:
    """A field also owned by an Update manager survives the applier dropping it."""
    h = pods()
    h.apply("a", {"metadata": {"labels": {"app": "w", "tier": "fe"}}})
    h.update("kubectl-label", {"metadata": {"labels": {"app": "w", "tier": "be"}}})
    obj = h.apply("a", {"metadata": {"labels": {"app": "w"}}})
    assert obj["metadata"]["labels"] == {"app": "w", "tier": "be"}
    assert h.owned() == {"a": [".metadata.labels.app"], "kubectl-label": [".metadata.labels.tier"]}


def test_dropped_keyed_item_shared_with_another_applier_keeps_only_the_others_fields() -> None:
    """The item stays with the other applier's fields; the dropper's extra fields go (reference 3.13)."""
    h = pods()
    h.apply("a", {"spec": {"containers": [{"name": "c", "image": "x", "command": ["run"]}]}})
    h.apply("b", {"spec": {"containers": [{"name": "c", "image": "x"}]}})
    obj = h.apply("a", {"spec": {"containers": []}})
    assert obj["spec"]["containers"] == [{"name": "c", "image": "x"}]
    assert h.owned() == {
        "b": [
            '.spec.containers[name="c"]',
            '.spec.containers[name="c"].image',
            '.spec.containers[name="c"].name',
        ]
    }


def test_dropping_the_last_container_leaves_the_list_null_and_built_ins_drop_it() -> None:
    """An emptied granular list becomes null; decoding a built-in type drops the null."""
    h = pods()
    h.apply("a", {"spec": {"containers": [{"name": "c", "image": "x"}], "nodeName": "n"}})
    obj = h.apply("a", {"spec": {"nodeName": "n"}})
    assert obj["spec"] == {"nodeName": "n"}


# --- sharing, conflicts, force ----------------------------------------------------------------------


def test_configmap_worked_example() -> None:
    """The worked example of reference 2.4, step by step, with the exact 409 body."""
    h = configmaps()
    h.apply("A", {"data": {"k1": "v1", "k2": "v2"}})
    assert h.owned() == {"A": [".data.k1", ".data.k2"]}
    h.apply("B", {"data": {"k2": "v2"}})
    assert h.owned() == {"A": [".data.k1", ".data.k2"], "B": [".data.k2"]}
    obj = h.apply("A", {"data": {"k1": "v1"}})
    assert obj["data"] == {"k1": "v1", "k2": "v2"}
    assert h.owned() == {"A": [".data.k1"], "B": [".data.k2"]}
    body = conflict_of(lambda: h.apply("B", {"data": {"k1": "zz", "k2": "v2"}}))
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "A": .data.k1',
        "reason": "Conflict",
        "details": {
            "causes": [
                {"reason": "FieldManagerConflict", "message": 'conflict with "A"', "field": ".data.k1"}
            ]
        },
        "code": 409,
    }
    obj = h.apply("B", {"data": {"k1": "zz", "k2": "v2"}}, force=True)
    assert obj["data"] == {"k1": "zz", "k2": "v2"}
    assert h.owned() == {"B": [".data.k1", ".data.k2"]}, "A's entry is gone once empty"


def test_scale_then_apply_conflicts_with_the_updater() -> None:
    """A PUT takes replicas from the applier silently; the next apply conflicts (reference 2.5, 3.14)."""
    h = deployments()
    h.apply("A", deployment_spec(3))
    h.update("hpa", deployment_spec(5))
    assert ".spec.replicas" in h.owned()["hpa"]
    assert ".spec.replicas" not in h.owned()["A"]
    body = conflict_of(lambda: h.apply("A", deployment_spec(3)))
    assert (
        body["message"] == 'Apply failed with 1 conflict: conflict with "hpa" using apps/v1: .spec.replicas'
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "hpa" using apps/v1',
            "field": ".spec.replicas",
        }
    ]
    obj = h.apply("A", deployment_spec(3), force=True)
    assert obj["spec"]["replicas"] == 3
    assert "hpa" not in h.owned(), "the updater's only field moved to the applier"
    assert ".spec.replicas" in h.owned()["A"]


def test_same_value_is_shared_not_a_conflict() -> None:
    """Two appliers with one value both own it; a different value conflicts (reference 3.11)."""
    h = deployments()
    h.apply("a", deployment_spec(3))
    h.apply("b", {"spec": {"replicas": 3}})
    assert ".spec.replicas" in h.owned()["a"] and h.owned()["b"] == [".spec.replicas"]
    body = conflict_of(lambda: h.apply("b", {"spec": {"replicas": 4}}))
    assert body["details"]["causes"][0]["field"] == ".spec.replicas"


def test_several_conflicts_are_grouped_by_manager() -> None:
    """The message lists each manager's paths; managers sorted (reference 2.4)."""
    h = deployments()
    h.apply("a", {"spec": {"replicas": 1, "paused": True}})
    h.apply("b", {"spec": {"minReadySeconds": 1}})
    body = conflict_of(lambda: h.apply("c", {"spec": {"replicas": 2, "paused": False, "minReadySeconds": 5}}))
    assert body["message"] == (
        "Apply failed with 3 conflicts: "
        'conflicts with "a":\n- .spec.paused\n- .spec.replicas\n'
        'conflicts with "b":\n- .spec.minReadySeconds'
    )
    assert [c["message"] for c in body["details"]["causes"]] == ['conflict with "a"'] * 2 + [
        'conflict with "b"'
    ]


# --- lists and maps ---------------------------------------------------------------------------------


def test_containers_are_keyed_by_name_and_new_ones_go_last() -> None:
    """Appliers own their own containers; merged order keeps live items, new items at the end."""
    h = pods()
    h.apply("a", {"spec": {"containers": [{"name": "x", "image": "1"}, {"name": "y", "image": "1"}]}})
    obj = h.apply("b", {"spec": {"containers": [{"name": "z", "image": "2"}]}})
    assert [c["name"] for c in obj["spec"]["containers"]] == ["x", "y", "z"]
    obj = h.apply("a", {"spec": {"containers": [{"name": "y", "image": "1"}]}})
    assert [c["name"] for c in obj["spec"]["containers"]] == ["y", "z"]


def test_ports_are_keyed_by_port_and_defaulted_protocol() -> None:
    """53/TCP and 53/UDP are distinct items; a port without protocol is the TCP one (reference 3.16)."""
    h = pods()
    h.apply(
        "a",
        {
            "spec": {
                "containers": [
                    {
                        "name": "dns",
                        "image": "d",
                        "ports": [
                            {"containerPort": 53, "protocol": "UDP"},
                            {"containerPort": 53, "protocol": "TCP"},
                        ],
                    }
                ]
            }
        },
    )
    obj = h.apply(
        "b", {"spec": {"containers": [{"name": "dns", "ports": [{"containerPort": 53, "name": "dns-tcp"}]}]}}
    )
    assert obj["spec"]["containers"][0]["ports"] == [
        {"containerPort": 53, "protocol": "UDP"},
        {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"},
    ]
    assert '.spec.containers[name="dns"].ports[containerPort=53,protocol="TCP"].name' in h.owned()["b"]


def test_service_ports_are_keyed_by_port_and_protocol() -> None:
    """Service ports follow the same rule."""
    h = History(SERVICE, api_version="v1", kind="Service", name="s", namespace="default")
    h.apply("a", {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}})
    assert h.owned()["a"] == [
        '.spec.ports[port=80,protocol="TCP"]',
        '.spec.ports[port=80,protocol="TCP"].port',
        '.spec.ports[port=80,protocol="TCP"].targetPort',
    ]


def test_finalizers_are_a_set() -> None:
    """Each applier owns its own finalizers; dropping one removes only that one."""
    h = pods()
    h.apply("a", {"metadata": {"finalizers": ["a/one", "shared"]}})
    h.apply("b", {"metadata": {"finalizers": ["b/two", "shared"]}})
    assert h.obj is not None and h.obj["metadata"]["finalizers"] == ["a/one", "b/two", "shared"], (
        "config order"
    )
    obj = h.apply("a", {"metadata": {"finalizers": []}})
    assert obj["metadata"]["finalizers"] == ["b/two", "shared"]


def test_atomic_list_conflicts_as_a_whole_and_force_replaces_it() -> None:
    """Tolerations are one value: another applier's list conflicts; forced, it replaces the list."""
    h = pods()
    h.apply("a", {"spec": {"tolerations": [{"key": "k1", "operator": "Exists"}]}})
    body = conflict_of(lambda: h.apply("b", {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}))
    assert body["details"]["causes"][0]["field"] == ".spec.tolerations"
    obj = h.apply("b", {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}, force=True)
    assert obj["spec"]["tolerations"] == [{"key": "k2", "operator": "Exists"}]
    assert h.owned() == {"b": [".spec.tolerations"]}


def test_atomic_map_conflicts_as_a_whole_and_force_replaces_it() -> None:
    """nodeSelector is atomic (reference 3.18): no key-by-key merge."""
    h = pods()
    h.apply("a", {"spec": {"nodeSelector": {"disk": "ssd", "zone": "a"}}})
    body = conflict_of(lambda: h.apply("b", {"spec": {"nodeSelector": {"zone": "b"}}}))
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "a": .spec.nodeSelector'
    obj = h.apply("b", {"spec": {"nodeSelector": {"zone": "b"}}}, force=True)
    assert obj["spec"]["nodeSelector"] == {"zone": "b"}


def test_labelselector_is_an_atomic_struct() -> None:
    """spec.selector (structType=atomic) is owned as one leaf."""
    h = deployments()
    h.apply("a", deployment_spec())
    assert ".spec.selector" in h.owned()["a"]
    assert not any(p.startswith(".spec.selector.") for p in h.owned()["a"])


# --- null, status, subresources ---------------------------------------------------------------------


def test_explicit_null_removes_a_built_in_field_but_is_owned() -> None:
    """A config null overrides the value; decoding a built-in type then drops it (reference 2.4)."""
    h = pods()
    h.apply("a", {"spec": {"nodeName": "n1", "hostname": "h"}})
    obj = h.apply("a", {"spec": {"nodeName": None, "hostname": "h"}})
    assert obj["spec"] == {"hostname": "h"}
    assert ".spec.nodeName" in h.owned()["a"]


def test_status_applied_to_the_main_resource_is_not_recorded() -> None:
    """With `status` as a reset field, the applier owns none of it (reference 3.19)."""
    h = deployments()
    h.apply("a", {**deployment_spec(), "status": {"replicas": 7}}, reset_paths=("status",))
    assert not any(p.startswith(".status") for p in h.owned()["a"])


def test_status_subresource_entries_and_conflict_text() -> None:
    """Applies to /status get their own entry and are named `with subresource "status"`."""
    h = deployments()
    h.apply("a", deployment_spec())
    h.apply(
        "ctrl", {"status": {"replicas": 3}}, subresource="status", reset_paths=("spec", "metadata.labels")
    )
    assert entries(h.obj or {}) == [("a", "Apply", "apps/v1", ""), ("ctrl", "Apply", "apps/v1", "status")]
    assert h.owned()["ctrl/status"] == [".status.replicas"]
    body = conflict_of(
        lambda: h.apply("other", {"status": {"replicas": 1}}, subresource="status", reset_paths=("spec",))
    )
    assert (
        body["message"]
        == 'Apply failed with 1 conflict: conflict with "ctrl" with subresource "status": .status.replicas'
    )


# --- untracked objects ------------------------------------------------------------------------------


def untracked_deployment() -> dict[str, Any]:
    h = deployments()
    obj = h.apply("x", deployment_spec(2))
    obj["metadata"].pop("managedFields")
    return obj


def test_first_apply_to_an_untracked_object_records_before_first_apply() -> None:
    """Existing fields are attributed to `before-first-apply`, so changing them conflicts (2.7)."""
    live = untracked_deployment()
    with pytest.raises(StatusError) as info:
        apply(
            live,
            live | {"spec": {**live["spec"], "replicas": 5}},
            manager="a",
            schema=DEPLOYMENT,
            force=False,
            api_version="apps/v1",
            now="t",
        )
    assert (
        info.value.message
        == 'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas'
    )
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": 2},
    }
    obj = apply(live, config, manager="a", schema=DEPLOYMENT, force=False, api_version="apps/v1", now="t")
    assert entries(obj) == [("a", "Apply", "apps/v1", ""), ("before-first-apply", "Update", "apps/v1", "")]
    assert owned(obj)["a"] == [".spec.replicas"]
    assert ".spec.replicas" in owned(obj)["before-first-apply"]


@pytest.mark.parametrize(
    "reset", [pytest.param([], id="empty-list"), pytest.param([{}], id="one-empty-entry")]
)
def test_resetting_managed_fields_then_applying_conflicts_with_before_first_apply(reset: list[Any]) -> None:
    """`[]` or `[{}]` in a write resets tracking; the next apply attributes fields to before-first-apply (3.15)."""
    h = deployments()
    live = h.apply("a", deployment_spec(2))
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = reset
    cleared = update_managed_fields(
        live, new, manager="kubectl-edit", schema=DEPLOYMENT, api_version="apps/v1", now="t"
    )
    assert "managedFields" not in cleared["metadata"]
    with pytest.raises(StatusError) as info:
        apply(
            cleared,
            h.body(deployment_spec(4)),
            manager="a",
            schema=DEPLOYMENT,
            force=False,
            api_version="apps/v1",
            now="t",
        )
    assert 'conflict with "before-first-apply" using apps/v1: .spec.replicas' in info.value.message


# --- request errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"apiVersion": "apps/v2"}, "invalid object type: apps/v2, Kind=Deployment", id="wrong-version"
        ),
        pytest.param(
            {"kind": "StatefulSet"}, "invalid object type: apps/v1, Kind=StatefulSet", id="wrong-kind"
        ),
        pytest.param({"apiVersion": None, "kind": None}, "invalid object type: /, Kind=", id="no-type"),
        pytest.param(
            {"metadata": {"name": "d", "managedFields": []}},
            "metadata.managedFields must be nil",
            id="managed-fields-set",
        ),
        pytest.param(
            {"spec": {"foo": 1}},
            "failed to create typed patch object (default/d; apps/v1, Kind=Deployment): .spec.foo: field not declared in schema",
            id="unknown-field",
        ),
        pytest.param(
            {"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}},
            'failed to create typed patch object (default/d; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name="a"]',
            id="duplicate-keys",
        ),
        pytest.param(
            {"spec": {"template": {"spec": {"containers": [{"image": "a"}]}}, "foo": 1}},
            "failed to create typed patch object (default/d; apps/v1, Kind=Deployment): errors:\n"
            '  .spec.template.spec.containers: element 0: associative list with keys has an element that omits key field "name" (and doesn\'t have default value)\n'
            "  .spec.foo: field not declared in schema",
            id="several-errors",
        ),
    ],
)
def test_bad_apply_requests_are_400(change: dict[str, Any], message: str) -> None:
    """Request-shape errors are 400 BadRequest with upstream's text (schema errors: 400, not 500)."""
    config: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default"},
    }
    config.update(change)
    config = {k: v for k, v in config.items() if v is not None}
    with pytest.raises(StatusError) as info:
        apply(
            None,
            config,
            manager="a",
            schema=DEPLOYMENT,
            force=False,
            api_version="apps/v1",
            now="t",
            kind="Deployment",
        )
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)


def test_kind_comes_from_the_schema_when_not_given() -> None:
    """Without `kind`, the endpoint's kind is read from the schema's group-version-kind."""
    with pytest.raises(StatusError, match=r"^invalid object type: /v1, Kind=Pod$"):
        apply(
            None,
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
            manager="a",
            schema=DEPLOYMENT,
            force=False,
            api_version="apps/v1",
            now="t",
        )
    with pytest.raises(StatusError, match=r"invalid object type: apps/v1, Kind=ReplicaSet"):
        apply(
            None,
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "p"}},
            manager="a",
            schema=DEPLOYMENT,
            force=False,
            api_version="apps/v1",
            now="t",
        )


# --- client-side apply -> server-side apply -----------------------------------------------------------


def csa_created() -> dict[str, Any]:
    """A deployment created by `kubectl apply` (client side): annotation, kubectl-client-side-apply owner."""
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default", "labels": {"app": "w"}},
        **deployment_spec(2),
    }
    body = copy.deepcopy(manifest)
    body["metadata"]["annotations"] = {LAST_APPLIED_ANNOTATION: build_last_applied(manifest)}
    return update_managed_fields(
        None,
        body,
        manager="kubectl-client-side-apply",
        schema=DEPLOYMENT,
        api_version="apps/v1",
        now="2024-01-01T00:00:00Z",
    )


def test_kubectl_takes_over_fields_still_as_last_applied() -> None:
    """The `kubectl` applier may change fields whose live value equals the last-applied one (2.8, 3.21)."""
    live = csa_created()
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default", "labels": {"app": "w"}},
        **deployment_spec(3),
    }
    obj = apply(
        live,
        config,
        manager="kubectl",
        schema=DEPLOYMENT,
        force=False,
        api_version="apps/v1",
        now="2024-01-01T00:01:00Z",
    )
    assert obj["spec"]["replicas"] == 3
    assert obj["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] == build_last_applied(config)
    assert json.loads(obj["metadata"]["annotations"][LAST_APPLIED_ANNOTATION])["spec"]["replicas"] == 3
    assert ".spec.replicas" in owned(obj)["kubectl"]
    assert ".spec.replicas" not in owned(obj)["kubectl-client-side-apply"]


def test_other_appliers_get_the_conflict() -> None:
    """Only the manager named exactly `kubectl` is allowed the takeover."""
    live = csa_created()
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": 3},
    }
    with pytest.raises(StatusError) as info:
        apply(live, config, manager="my-tool", schema=DEPLOYMENT, force=False, api_version="apps/v1", now="t")
    assert (
        info.value.message
        == 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
    )


def test_kubectl_still_conflicts_on_fields_changed_since_last_applied() -> None:
    """A field someone else changed after the client-side apply is not taken over."""
    live = csa_created()
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 7
    scaled = update_managed_fields(
        live, scaled, manager="hpa", schema=DEPLOYMENT, api_version="apps/v1", now="t"
    )
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"app": "v2"}},
        "spec": {"replicas": 3},
    }
    with pytest.raises(StatusError) as info:
        apply(
            scaled, config, manager="kubectl", schema=DEPLOYMENT, force=False, api_version="apps/v1", now="t"
        )
    assert (
        info.value.message
        == 'Apply failed with 1 conflict: conflict with "hpa" using apps/v1: .spec.replicas'
    )


def test_last_applied_annotation_is_go_json_with_newline() -> None:
    """Sorted keys, HTML escaped, trailing newline, the annotation itself left out."""
    config = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "c", "annotations": {LAST_APPLIED_ANNOTATION: "old", "x": "<&>"}},
    }
    assert (
        build_last_applied(config)
        == '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"annotations":{"x":"\\u003c\\u0026\\u003e"},"name":"c"}}\n'
    )


def test_full_migration_from_client_side_apply() -> None:
    """kubectl's upgrade path (reference 2.8, 3.21): server-side apply, kubectl-last-applied apply, a
    client-written managedFields patch, and a final apply leave no kubectl-client-side-apply entry."""
    live = csa_created()
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default", "labels": {"app": "w"}},
        **deployment_spec(3),
    }
    live = apply(
        live,
        config,
        manager="kubectl",
        schema=DEPLOYMENT,
        force=False,
        api_version="apps/v1",
        now="2024-01-01T00:01:00Z",
    )
    annotation_only = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "d",
            "namespace": "default",
            "annotations": {
                LAST_APPLIED_ANNOTATION: live["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
            },
        },
    }
    live = apply(
        live,
        annotation_only,
        manager="kubectl-last-applied",
        schema=DEPLOYMENT,
        force=False,
        api_version="apps/v1",
        now="2024-01-01T00:02:00Z",
    )
    assert sorted(e[0] for e in entries(live)) == [
        "kubectl",
        "kubectl-client-side-apply",
        "kubectl-last-applied",
    ]
    no_op = next(e for e in live["metadata"]["managedFields"] if e["manager"] == "kubectl-last-applied")
    assert "time" not in no_op, "an apply that changes nothing sets no time on its new entry"
    # kubectl merges the client-side entry into its Apply entry and sends the list back as a JSON patch.
    fields = {e["manager"]: e for e in live["metadata"]["managedFields"]}
    csa = fields.pop("kubectl-client-side-apply")
    merged_fields = json.loads(json.dumps(fields["kubectl"]["fieldsV1"]))
    for key, value in csa["fieldsV1"].items():
        merged_fields.setdefault(key, {}).update(value)
    fields["kubectl"]["fieldsV1"] = merged_fields
    patched = copy.deepcopy(live)
    patched["metadata"]["managedFields"] = list(fields.values())
    live = update_managed_fields(
        live, patched, manager="kubectl", schema=DEPLOYMENT, api_version="apps/v1", now="2024-01-01T00:03:00Z"
    )
    final = apply(
        live,
        config,
        manager="kubectl",
        schema=DEPLOYMENT,
        force=False,
        api_version="apps/v1",
        now="2024-01-01T00:04:00Z",
    )
    assert sorted(e[:2] for e in entries(final)) == [("kubectl", "Apply"), ("kubectl-last-applied", "Apply")]
    assert final["spec"]["replicas"] == 3


def test_custom_resource_metadata_is_object_meta() -> None:
    """A CRD that declares metadata as a bare object still gets ObjectMeta semantics (finalizers a set)."""
    from tests.machinery.apply.ssa_helpers import crd_schema

    widget = crd_schema(
        {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        }
    )
    h = History(widget, api_version="example.com/v1", kind="Widget", name="w")
    h.apply(
        "a", {"metadata": {"finalizers": ["x"], "labels": {"k": "v"}}, "spec": {"anything": {"goes": [1]}}}
    )
    h.apply("b", {"metadata": {"finalizers": ["y"]}})
    assert h.obj is not None and h.obj["metadata"]["finalizers"] == ["x", "y"]
    assert h.owned() == {
        "a": ['.metadata.finalizers[="x"]', ".metadata.labels.k", ".spec.anything", ".spec.anything.goes"],
        "b": ['.metadata.finalizers[="y"]'],
    }


def test_fieldset_of_strips_metadata_and_reset_paths() -> None:
    """fieldset_of is what an applier of the object would own."""
    from kijabi.machinery.apply import fieldset_of, path_string

    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "uid": "u", "labels": {"a": "b"}},
        "spec": {"nodeName": "n"},
        "status": {"phase": "x"},
    }
    assert [path_string(p) for p in fieldset_of(obj, POD, reset_paths=("status",))] == [
        ".metadata.labels.a",
        ".spec.nodeName",
    ]


def test_apply_result_managed_fields_are_not_shared_with_live() -> None:
    """Even unchanged managedFields entries are copies, not the live object's dicts."""
    h = deployments()
    live = h.apply("a", deployment_spec())
    out = apply(
        live,
        h.body({"spec": {"paused": True}}),
        manager="b",
        schema=DEPLOYMENT,
        force=False,
        api_version="apps/v1",
        now="t",
    )
    a_out = next(e for e in out["metadata"]["managedFields"] if e["manager"] == "a")
    assert a_out["fieldsV1"] == live["metadata"]["managedFields"][0]["fieldsV1"]
    assert a_out["fieldsV1"] is not live["metadata"]["managedFields"][0]["fieldsV1"]

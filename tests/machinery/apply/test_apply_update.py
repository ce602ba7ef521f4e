"""managedFields on POST, PUT and non-apply PATCH: who owns what after an Update."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kijabi.machinery.apply import (
    ManagedFieldsError,
    decode_managed_fields,
    manager_from_user_agent,
    manager_or_user_agent,
    update_managed_fields,
)
from tests.machinery.apply.ssa_helpers import History, crd_schema, entries, kind_schema, owned

POD = kind_schema("", "v1", "Pod")
DEPLOYMENT = kind_schema("apps", "v1", "Deployment")
WIDGET = crd_schema(
    {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}, "color": {"type": "string"}}},
    }
)


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "uid": "u1", "labels": {"app": "w"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
    }


def create(
    obj: dict[str, Any], manager: str = "kubectl-create", schema: Any = POD, **kw: Any
) -> dict[str, Any]:
    return update_managed_fields(
        None,
        obj,
        manager=manager,
        schema=schema,
        api_version=kw.pop("api_version", "v1"),
        now="2024-01-01T00:00:00Z",
        **kw,
    )


def write(
    old: dict[str, Any], new: dict[str, Any], manager: str, now: str = "2024-01-01T00:05:00Z", **kw: Any
) -> dict[str, Any]:
    return update_managed_fields(
        old,
        new,
        manager=manager,
        schema=kw.pop("schema", POD),
        api_version=kw.pop("api_version", "v1"),
        now=now,
        **kw,
    )


def changed(obj: dict[str, Any], fn: Any) -> dict[str, Any]:
    """A copy of `obj` (managedFields included, as clients echo them) changed by `fn`."""
    out = copy.deepcopy(obj)
    fn(out)
    return out


# --- create ---------------------------------------------------------------------------------------


def test_create_records_every_field_the_creator_sent() -> None:
    """Create counts as an Update from the kind's empty object: new maps and items get "." (2.3, 2.5)."""
    obj = create(pod())
    (entry,) = obj["metadata"]["managedFields"]
    assert entry == {
        "manager": "kubectl-create",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2024-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}, "f:name": {}}}},
        },
    }


def test_create_of_a_custom_resource_owns_spec_itself() -> None:
    """Custom resources start from an object with no spec, so spec is added (and owned) too."""
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    obj = create(body, manager="tool", schema=WIDGET, api_version="example.com/v1")
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {".": {}, "f:size": {}}}


def test_create_does_not_modify_its_input() -> None:
    """The new object is copied where the result differs from it."""
    body = pod()
    before = copy.deepcopy(body)
    create(body)
    assert body == before


def test_empty_manager_is_unknown() -> None:
    """A write with no manager name at all is recorded as `unknown`."""
    assert entries(create(pod(), manager="")) == [("unknown", "Update", "v1", "")]


# --- updates ----------------------------------------------------------------------------------------


def test_update_takes_changed_fields_from_every_other_manager() -> None:
    """Modified paths move to the writer, appliers included; nobody else is touched (2.5)."""
    h = History(POD, api_version="v1", kind="Pod", name="p")
    h.apply(
        "applier",
        {
            "metadata": {"labels": {"app": "w", "tier": "fe"}},
            "spec": {"containers": [{"name": "c", "image": "1"}]},
        },
    )
    assert h.obj is not None
    obj = write(h.obj, changed(h.obj, lambda o: o["metadata"]["labels"].update(tier="be")), "kubectl-label")
    assert owned(obj) == {
        "applier": [
            ".metadata.labels.app",
            '.spec.containers[name="c"]',
            '.spec.containers[name="c"].image',
            '.spec.containers[name="c"].name',
        ],
        "kubectl-label": [".metadata.labels.tier"],
    }


def test_removed_fields_leave_everyone() -> None:
    """A write that deletes a field takes it from all owners."""
    obj = create(pod())
    obj = write(obj, changed(obj, lambda o: o["metadata"].pop("labels")), "editor")
    assert owned(obj) == {
        "kubectl-create": [
            '.spec.containers[name="c"]',
            '.spec.containers[name="c"].image',
            '.spec.containers[name="c"].name',
        ]
    }


def test_updates_by_one_manager_merge_into_its_entry() -> None:
    """Same manager, same apiVersion: one entry, paths added, time moved to now."""
    obj = create(pod())
    obj = write(
        obj, changed(obj, lambda o: o["spec"].update(nodeName="n1")), "ctl", now="2024-01-01T00:01:00Z"
    )
    obj = write(
        obj, changed(obj, lambda o: o["spec"].update(hostname="h")), "ctl", now="2024-01-01T00:02:00Z"
    )
    ctl = [e for e in obj["metadata"]["managedFields"] if e["manager"] == "ctl"]
    assert len(ctl) == 1 and ctl[0]["time"] == "2024-01-01T00:02:00Z"
    assert ctl[0]["fieldsV1"] == {"f:spec": {"f:hostname": {}, "f:nodeName": {}}}


def test_updates_through_different_versions_are_separate_entries() -> None:
    """apiVersion is part of an Update manager's identity (2.6)."""
    h = History(DEPLOYMENT, api_version="apps/v1", kind="Deployment", name="d")
    h.update("ctl", {"spec": {"replicas": 1}})
    h.update("ctl", {"spec": {"replicas": 1, "paused": True}}, api_version="apps/v1beta2")
    assert entries(h.obj or {}) == [("ctl", "Update", "apps/v1", ""), ("ctl", "Update", "apps/v1beta2", "")]


def test_an_update_that_changes_nothing_keeps_entries_and_times() -> None:
    """No change for the writer: its entry and time stay as they were (managedFieldsUpdater trick)."""
    obj = create(pod())
    again = write(obj, copy.deepcopy(obj), "kubectl-create", now="2024-02-02T00:00:00Z")
    assert again["metadata"]["managedFields"] == obj["metadata"]["managedFields"]
    other = write(obj, copy.deepcopy(obj), "someone-else", now="2024-02-02T00:00:00Z")
    assert entries(other) == [("kubectl-create", "Update", "v1", "")]


def test_reset_paths_are_not_recorded() -> None:
    """Fields under reset paths (e.g. status on the main resource) are nobody's."""
    obj = create(pod())
    obj = write(
        obj, changed(obj, lambda o: o.update(status={"phase": "Running"})), "ctl", reset_paths=("status",)
    )
    assert "ctl" not in owned(obj)


def test_status_subresource_write() -> None:
    """A /status write gets an entry with `subresource` and ignores managedFields in the body."""
    obj = create(pod())
    new = changed(obj, lambda o: o.update(status={"phase": "Running"}))
    new["metadata"]["managedFields"] = []
    out = write(obj, new, "kubelet", subresource="status", reset_paths=("spec", "metadata.labels"))
    assert entries(out) == [("kubectl-create", "Update", "v1", ""), ("kubelet", "Update", "v1", "status")]
    assert out["metadata"]["managedFields"][1]["subresource"] == "status"
    assert owned(out)["kubelet/status"] == [".status.phase"]


# --- managedFields written by clients ----------------------------------------------------------------


def test_untracked_objects_stay_untracked() -> None:
    """An existing object without managedFields is not tracked by an Update (2.7)."""
    obj = pod()
    out = write(obj, changed(obj, lambda o: o["spec"].update(nodeName="n")), "ctl")
    assert "managedFields" not in out["metadata"]


@pytest.mark.parametrize(
    "reset",
    [
        pytest.param([], id="empty-list"),
        pytest.param([{}], id="one-empty-entry"),
        pytest.param([{"manager": "", "time": None}], id="entry-of-empty-values"),
    ],
)
def test_reset_managed_fields(reset: list[Any]) -> None:
    """`[]` and `[{}]` clear managedFields (2.6)."""
    obj = create(pod())
    out = write(obj, changed(obj, lambda o: o["metadata"].update(managedFields=reset)), "ctl")
    assert "managedFields" not in out["metadata"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(
            [
                {
                    "manager": "x",
                    "operation": "Patch",
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {},
                }
            ],
            id="bad-operation",
        ),
        pytest.param(
            [{"manager": "x", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {}}],
            id="no-apiversion",
        ),
        pytest.param(
            [{"manager": "x", "operation": "Update", "apiVersion": "v1", "fieldsV1": {}}], id="no-fieldstype"
        ),
        pytest.param(
            [
                {
                    "manager": "x",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:a": 1},
                }
            ],
            id="bad-fieldsv1",
        ),
        pytest.param(["nonsense"], id="not-an-entry"),
        pytest.param(None, id="null"),
    ],
)
def test_undecodable_managed_fields_keep_the_stored_ones(bad: Any) -> None:
    """Clients that mangle managedFields cannot delete them by accident."""
    obj = create(pod())
    out = write(obj, changed(obj, lambda o: o["metadata"].update(managedFields=bad)), "ctl")
    assert out["metadata"]["managedFields"] == obj["metadata"]["managedFields"]


def test_client_written_managed_fields_replace_the_stored_ones() -> None:
    """A valid, non-empty list in the body (as kubectl's CSA->SSA migration sends) wins (2.6, 2.8)."""
    obj = create(pod())
    migrated = copy.deepcopy(obj["metadata"]["managedFields"])
    migrated[0].update(manager="kubectl", operation="Apply")
    del migrated[0]["time"]
    out = write(obj, changed(obj, lambda o: o["metadata"].update(managedFields=migrated)), "kubectl")
    assert entries(out) == [("kubectl", "Apply", "v1", "")]
    assert out["metadata"]["managedFields"][0]["fieldsV1"] == obj["metadata"]["managedFields"][0]["fieldsV1"]


def test_subresource_writes_ignore_managed_fields_in_the_body() -> None:
    """Managed fields can only be set through the main resource."""
    obj = create(pod())
    body = changed(obj, lambda o: o["metadata"]["managedFields"][0].update(manager="forged"))
    out = write(obj, body, "ctl", subresource="status")
    assert entries(out) == [("kubectl-create", "Update", "v1", "")]


# --- ordering and the cap ---------------------------------------------------------------------------------


def test_entries_are_sorted_apply_first_then_time_then_manager() -> None:
    """Sort order of 2.6."""
    h = History(DEPLOYMENT, api_version="apps/v1", kind="Deployment", name="d")
    h.update("zeta", {"spec": {"replicas": 1}})
    h.apply("late-applier", {"spec": {"paused": True}})
    h.update("alpha", {"spec": {"replicas": 1, "paused": True, "minReadySeconds": 3}})
    h.apply("applier", {"spec": {"paused": True, "revisionHistoryLimit": 2}})
    assert [e[0] for e in entries(h.obj or {})] == ["late-applier", "applier", "zeta", "alpha"]


def test_more_than_ten_update_managers_merge_into_ancient_changes() -> None:
    """The oldest Update entries merge into `ancient-changes` until ten are left (2.6, 3.20)."""
    obj = create(pod(), manager="m00")
    for i in range(1, 11):
        obj = write(
            obj,
            changed(obj, lambda o, i=i: o["metadata"]["labels"].update({f"l{i}": "x"})),
            f"m{i:02d}",
            now=f"2024-01-01T00:00:{i:02d}Z",
        )
    names = [e[0] for e in entries(obj)]
    assert len(names) == 10
    assert names[0] == "ancient-changes"
    assert "m00" not in names and "m01" not in names
    ancient = obj["metadata"]["managedFields"][0]
    assert (ancient["operation"], ancient["apiVersion"], ancient["time"]) == (
        "Update",
        "v1",
        "2024-01-01T00:00:01Z",
    )
    assert ".metadata.labels.l1" in owned(obj)["ancient-changes"]
    assert ".metadata.labels.app" in owned(obj)["ancient-changes"]


# --- decoding and names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param(
            {"manager": "m", "operation": "Get", "apiVersion": "v1", "fieldsType": "FieldsV1"},
            "operation must be `Apply` or `Update`",
            id="operation",
        ),
        pytest.param(
            {"manager": "m", "operation": "Apply", "fieldsType": "FieldsV1"},
            "apiVersion must not be empty",
            id="apiversion",
        ),
        pytest.param(
            {"manager": "m", "operation": "Apply", "apiVersion": "v1"},
            "missing fieldsType in managed fields entry 0",
            id="fieldstype-missing",
        ),
        pytest.param(
            {"manager": "m", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV2"},
            'invalid fieldsType "FieldsV2" in managed fields entry 0',
            id="fieldstype-invalid",
        ),
    ],
)
def test_decode_errors(entry: dict[str, Any], message: str) -> None:
    """Decoding errors use upstream's wording."""
    with pytest.raises(ManagedFieldsError) as info:
        decode_managed_fields([entry])
    assert str(info.value) == message


def test_apply_entries_of_one_manager_across_versions_are_one() -> None:
    """An Apply identity has no apiVersion: the later entry of the same manager wins on decode."""
    managed = decode_managed_fields(
        [
            {
                "manager": "m",
                "operation": "Apply",
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:a": {}},
            },
            {
                "manager": "m",
                "operation": "Apply",
                "apiVersion": "v2",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:b": {}},
            },
        ]
    )
    assert list(managed.managers) == ['{"manager":"m","operation":"Apply"}']
    assert managed.managers['{"manager":"m","operation":"Apply"}'].api_version == "v2"


@pytest.mark.parametrize(
    ("ua", "name"),
    [
        pytest.param("kubectl/v1.32.0 (linux/amd64) kubernetes/abcdef", "kubectl", id="kubectl"),
        pytest.param(
            "kube-controller-manager/v1.32.0 (linux/amd64)/replicaset-controller",
            "kube-controller-manager",
            id="component",
        ),
        pytest.param("Python-urllib/3.11", "Python-urllib", id="python"),
        pytest.param("no-slash", "no-slash", id="no-slash"),
        pytest.param("tab\there/1", "tabhere", id="unprintable-dropped"),
        pytest.param("x" * 200, "x" * 128, id="cut-to-128"),
        pytest.param("é" * 100, "é" * 64, id="cut-by-bytes"),
        pytest.param("", "", id="empty"),
    ],
)
def test_manager_from_user_agent(ua: str, name: str) -> None:
    """The manager of a write without fieldManager comes from the User-Agent (reference 0)."""
    assert manager_from_user_agent(ua) == name


def test_field_manager_wins_over_user_agent() -> None:
    assert manager_or_user_agent("kubectl-client-side-apply", "kubectl/v1.32") == "kubectl-client-side-apply"
    assert manager_or_user_agent("", "kubectl/v1.32") == "kubectl"


def test_fieldsv1_in_output_is_canonical_even_when_clients_send_it_unsorted() -> None:
    """Entries written by clients are re-encoded in upstream's order."""
    obj = create(pod())
    messy = copy.deepcopy(obj["metadata"]["managedFields"])
    messy[0]["fieldsV1"] = {
        "f:spec": {"f:containers": {'k:{"name": "c"}': {"f:name": {}, "f:image": {}, ".": {}}}},
        "f:metadata": {"f:labels": {"f:app": {}, ".": {}}},
    }
    out = write(obj, changed(obj, lambda o: o["metadata"].update(managedFields=messy)), "kubectl-create")
    assert json.dumps(out["metadata"]["managedFields"][0]["fieldsV1"]) == json.dumps(
        obj["metadata"]["managedFields"][0]["fieldsV1"]
    )


def test_update_does_not_modify_old_or_new() -> None:
    """Both objects are left as they were, managedFields included."""
    old = create(pod())
    new = changed(old, lambda o: o["metadata"]["labels"].update(tier="x"))
    before = copy.deepcopy((old, new))
    write(old, new, "ctl")
    assert (old, new) == before


def test_apply_results_pass_through_unchanged() -> None:
    """operation="Apply" returns an apply() result as is: no Update is recorded after an apply."""
    h = History(DEPLOYMENT, api_version="apps/v1", kind="Deployment", name="d")
    live = h.apply("kubectl", {"spec": {"replicas": 1}})
    applied = h.apply("kubectl", {"spec": {"replicas": 2}})
    out = update_managed_fields(
        live, applied, manager="kubectl", operation="Apply", schema=DEPLOYMENT, api_version="apps/v1", now="t"
    )
    assert out == applied and out is not applied
    assert entries(out) == [("kubectl", "Apply", "apps/v1", "")]
    with pytest.raises(ValueError, match="operation"):
        update_managed_fields(
            live,
            applied,
            manager="kubectl",
            operation="Patch",
            schema=DEPLOYMENT,
            api_version="apps/v1",
            now="t",
        )

"""The dependency graph of the garbage collector: how events change it and what work they ask for."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.controllers.cluster.gcgraph import (
    GraphBuilder,
    GraphEvent,
    Identity,
    Node,
    alternate_owner_identity,
    deletion_starts_with_finalizer,
    partition_dependents,
    references_diffs,
)


class Recorder:
    def __init__(self) -> None:
        self.delete: list[str] = []
        self.later: list[str] = []
        self.orphan: list[str] = []
        self.invalid: list[tuple[str, str]] = []

    def builder(self) -> GraphBuilder:
        return GraphBuilder(attempt_to_delete=lambda n: self.delete.append(n.identity.name),
                            attempt_to_delete_later=lambda n: self.later.append(n.identity.name),
                            attempt_to_orphan=lambda n: self.orphan.append(n.identity.name),
                            report_invalid_namespace=lambda n, ref: self.invalid.append((n.identity.name, ref["name"])))


def obj(name: str, uid: str, ns: str = "default", owners: list[dict[str, Any]] | None = None, **meta: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "uid": uid, "namespace": ns, **meta}
    if owners:
        m["ownerReferences"] = owners
    return {"metadata": m}


def ref(name: str, uid: str, kind: str = "ReplicaSet", api: str = "apps/v1", block: bool = False) -> dict[str, Any]:
    r: dict[str, Any] = {"apiVersion": api, "kind": kind, "name": name, "uid": uid}
    if block:
        r["blockOwnerDeletion"] = True
    return r


def add(g: GraphBuilder, o: dict[str, Any], kind: str = "Pod", api: str = "v1", old: dict[str, Any] | None = None) -> None:
    g.process(GraphEvent("update" if old else "add", api, kind, o, old))


def test_dependent_seen_before_its_owner_creates_a_virtual_owner_to_verify() -> None:
    rec = Recorder()
    g = rec.builder()
    add(g, obj("pod", "p1", owners=[ref("rs", "r1")]))
    owner = g.get("r1")
    assert owner is not None and owner.virtual and owner.identity == Identity("apps/v1", "ReplicaSet", "rs", "r1", "default")
    assert rec.delete == ["rs"]  # verify the virtual owner against the API
    add(g, obj("rs", "r1"), kind="ReplicaSet", api="apps/v1")
    owner = g.get("r1")
    assert owner is not None and owner.observed and {d.identity.name for d in owner.dependents} == {"pod"}


def test_observed_owner_in_another_namespace_is_reported_and_dependents_rechecked() -> None:
    rec = Recorder()
    g = rec.builder()
    add(g, obj("pod", "p1", ns="b", owners=[ref("rs", "r1")]))
    rec.delete.clear()
    add(g, obj("rs", "r1", ns="a"), kind="ReplicaSet", api="apps/v1")
    assert rec.invalid == [("pod", "rs")]
    assert rec.delete == ["pod"]


def test_dependent_of_an_observed_owner_elsewhere_is_reported_at_once() -> None:
    rec = Recorder()
    g = rec.builder()
    add(g, obj("rs", "r1", ns="a"), kind="ReplicaSet", api="apps/v1")
    add(g, obj("pod", "p1", ns="b", owners=[ref("rs", "r1")]))
    assert rec.invalid == [("pod", "rs")]
    assert rec.delete == ["pod"]


def test_owner_deletion_queues_its_dependents_and_remembers_it_absent() -> None:
    rec = Recorder()
    g = rec.builder()
    rs = obj("rs", "r1")
    add(g, rs, kind="ReplicaSet", api="apps/v1")
    add(g, obj("a", "p1", owners=[ref("rs", "r1")]))
    add(g, obj("b", "p2", owners=[ref("rs", "r1")]))
    rec.delete.clear()
    g.process(GraphEvent("delete", "apps/v1", "ReplicaSet", rs))
    assert g.get("r1") is None
    assert sorted(rec.delete) == ["a", "b"]
    assert Identity("apps/v1", "ReplicaSet", "rs", "r1", "default") in g.absent


@pytest.mark.parametrize(("finalizer", "queue"), [("foregroundDeletion", "delete"), ("orphan", "orphan")],
                         ids=["foreground-queues-dependents-and-owner", "orphan-queues-owner-for-orphaning"])
def test_deletion_with_finalizer_starts_the_matching_work(finalizer: str, queue: str) -> None:
    rec = Recorder()
    g = rec.builder()
    rs = obj("rs", "r1")
    add(g, rs, kind="ReplicaSet", api="apps/v1")
    add(g, obj("a", "p1", owners=[ref("rs", "r1", block=True)]))
    rec.delete.clear()
    deleting = obj("rs", "r1", deletionTimestamp="2030-01-01T00:00:00Z", finalizers=[finalizer])
    add(g, deleting, kind="ReplicaSet", api="apps/v1", old=rs)
    node = g.get("r1")
    assert node is not None and node.being_deleted
    if queue == "delete":
        assert node.deleting_dependents
        assert rec.delete == ["a", "rs"] and rec.orphan == []
        assert [d.identity.name for d in node.blocking_dependents()] == ["a"]
    else:
        assert not node.deleting_dependents
        assert rec.orphan == ["rs"] and rec.delete == []
    # The same state seen again starts nothing new.
    rec.delete.clear()
    rec.orphan.clear()
    add(g, deleting, kind="ReplicaSet", api="apps/v1", old=deleting)
    assert rec.delete == [] and rec.orphan == []


def test_removing_a_blocking_reference_wakes_the_owner() -> None:
    rec = Recorder()
    g = rec.builder()
    add(g, obj("rs", "r1"), kind="ReplicaSet", api="apps/v1")
    before = obj("a", "p1", owners=[ref("rs", "r1", block=True)])
    add(g, before)
    rec.delete.clear()
    add(g, obj("a", "p1"), old=before)
    assert rec.delete == ["rs"]
    owner = g.get("r1")
    assert owner is not None and not owner.dependents


def test_virtual_delete_with_disagreeing_dependents_keeps_an_alternate_identity() -> None:
    """Two dependents name uid u1 differently; the first identity is verified absent, so the node lives on
    under the other one and is checked again later."""
    rec = Recorder()
    g = rec.builder()
    add(g, obj("a", "p1", owners=[ref("x", "u1", kind="ConfigMap", api="v1")]))
    add(g, obj("b", "p2", owners=[ref("x", "u1", kind="Secret", api="v1")]))
    node = g.get("u1")
    assert node is not None and node.identity.kind == "ConfigMap"
    rec.delete.clear()
    g.process(GraphEvent.virtual_delete(node.identity))
    node = g.get("u1")
    assert node is not None and node.identity.kind == "Secret"
    assert rec.delete == ["a"] and rec.later == ["x"]


def test_virtual_delete_of_a_virtual_owner_removes_it() -> None:
    rec = Recorder()
    g = rec.builder()
    add(g, obj("a", "p1", owners=[ref("gone", "u9")]))
    node = g.get("u9")
    assert node is not None
    rec.delete.clear()
    g.process(GraphEvent.virtual_delete(node.identity))
    assert g.get("u9") is None and rec.delete == ["a"]


@pytest.mark.parametrize(("old", "new", "expected"), [
    (None, {"metadata": {"deletionTimestamp": "t", "finalizers": ["orphan"]}}, True),
    ({"metadata": {}}, {"metadata": {"deletionTimestamp": "t", "finalizers": ["orphan"]}}, True),
    ({"metadata": {"deletionTimestamp": "t", "finalizers": ["orphan"]}},
     {"metadata": {"deletionTimestamp": "t", "finalizers": ["orphan"]}}, False),
    ({"metadata": {}}, {"metadata": {"finalizers": ["orphan"]}}, False),
    ({"metadata": {}}, {"metadata": {"deletionTimestamp": "t"}}, False),
], ids=["new-object-being-deleted", "deletion-starts", "already-deleting", "no-deletion", "no-finalizer"])
def test_deletion_starts_with_finalizer(old: dict[str, Any] | None, new: dict[str, Any], expected: bool) -> None:
    assert deletion_starts_with_finalizer(old, new, "orphan") is expected


def test_references_diffs_by_uid() -> None:
    a, b, c = ref("a", "1"), ref("b", "2"), ref("c", "3")
    b2 = {**b, "blockOwnerDeletion": True}
    added, removed, changed = references_diffs([a, b], [b2, c])
    assert added == [c] and removed == [a] and changed == [(b, b2)]


def test_partition_and_alternate_identity() -> None:
    owner = Identity("v1", "ConfigMap", "x", "u1", "ns")
    good = Node(Identity("v1", "Pod", "a", "p1", "ns"), [ref("x", "u1", kind="ConfigMap", api="v1")])
    other_ns = Node(Identity("v1", "Pod", "b", "p2", "other"), [ref("x", "u1", kind="ConfigMap", api="v1")])
    other_kind = Node(Identity("v1", "Pod", "c", "p3", "ns"), [ref("x", "u1", kind="Secret", api="v1")])
    matching, nonmatching = partition_dependents([good, other_ns, other_kind], owner)
    assert matching == [good] and {n.identity.name for n in nonmatching} == {"b", "c"}
    # Candidates sort by (kind, apiVersion, namespace, name, uid); the first after the absent one wins.
    alt = alternate_owner_identity([good, other_ns, other_kind], owner)
    assert alt == Identity("v1", "ConfigMap", "x", "u1", "other")
    assert alternate_owner_identity([good, other_kind], owner) == Identity("v1", "Secret", "x", "u1", "ns")
    assert alternate_owner_identity([good], owner) is None

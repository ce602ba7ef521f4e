"""The garbage collector's dependency graph: who owns whom, across every resource (upstream
pkg/controller/garbagecollector graph.go and graph_builder.go).

A `Node` per object uid keeps the object's identity (apiVersion, kind, namespace, name, uid), its
ownerReferences, its dependents and whether it is being deleted (and waiting for its dependents, the
foregroundDeletion finalizer). An owner referenced before it was seen gets a *virtual* node with the
dependent's namespace, to be verified against the API.

`GraphBuilder.process(event)` is the only writer (events come one at a time, in order, from the
informers, plus "virtual delete" events the collector sends once it verified an owner is absent). It
asks for work through three callbacks:
- `attempt_to_delete(node)`: look at this node (its owners may be gone, it may wait for dependents);
- `attempt_to_orphan(node)`: its deletion with the orphan finalizer started;
- `report_invalid_namespace(dependent, owner_ref)`: a namespaced dependent names an owner that lives in
  another namespace (event OwnerRefInvalidNamespace).
Everything here is synchronous and pure; the collector (kijabi.controllers.cluster.garbagecollector)
does the I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"


@dataclass(frozen=True)
class Identity:
    """An object's coordinates as the graph knows them (upstream objectReference)."""

    api_version: str
    kind: str
    name: str
    uid: str
    namespace: str = ""

    def __str__(self) -> str:
        return f"[{self.api_version}/{self.kind}, namespace: {self.namespace}, name: {self.name}, uid: {self.uid}]"

    def sort_key(self) -> tuple[str, str, str, str, str]:
        return (self.kind, self.api_version, self.namespace, self.name, self.uid)

    @classmethod
    def of_ref(cls, ref: Mapping[str, Any], namespace: str) -> Identity:
        return cls(str(ref.get("apiVersion", "")), str(ref.get("kind", "")), str(ref.get("name", "")),
                   str(ref.get("uid", "")), namespace)


def matches_coordinates(ref: Mapping[str, Any], identity: Identity) -> bool:
    return (ref.get("uid") == identity.uid and ref.get("name") == identity.name and ref.get("kind") == identity.kind
            and ref.get("apiVersion") == identity.api_version)


def coordinates(ref: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (str(ref.get("apiVersion", "")), str(ref.get("kind", "")), str(ref.get("name", "")), str(ref.get("uid", "")))


@dataclass(eq=False)
class Node:
    identity: Identity
    owners: list[dict[str, Any]] = field(default_factory=list)
    dependents: set[Node] = field(default_factory=set)
    being_deleted: bool = False
    deleting_dependents: bool = False
    virtual: bool = False

    @property
    def uid(self) -> str:
        return self.identity.uid

    @property
    def observed(self) -> bool:
        return not self.virtual

    def clone(self) -> Node:
        return Node(self.identity, [dict(o) for o in self.owners], set(self.dependents), self.being_deleted,
                    self.deleting_dependents, self.virtual)

    def blocking_dependents(self) -> list[Node]:
        """Dependents whose reference to this node has blockOwnerDeletion=true."""
        return [d for d in self.dependents
                if any(o.get("uid") == self.uid and o.get("blockOwnerDeletion") for o in d.owners)]

    def __repr__(self) -> str:
        return f"Node({self.identity}, virtual={self.virtual}, dependents={len(self.dependents)})"


class AbsentOwnerCache:
    """Owners verified absent (LRU), keyed by identity (upstream ReferenceCache, 500 entries)."""

    def __init__(self, size: int = 500) -> None:
        self.size = size
        self._items: OrderedDict[Identity, None] = OrderedDict()

    def add(self, identity: Identity) -> None:
        self._items[identity] = None
        self._items.move_to_end(identity)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __contains__(self, identity: object) -> bool:
        if identity in self._items:
            assert isinstance(identity, Identity)
            self._items.move_to_end(identity)
            return True
        return False


@dataclass(frozen=True)
class GraphEvent:
    """One change to feed the builder. `obj` is the object (or, for a virtual delete, a stand-in with the
    identity's metadata); `old` is the previous object of an update."""

    type: str  # "add", "update", "delete"
    api_version: str
    kind: str
    obj: Mapping[str, Any]
    old: Mapping[str, Any] | None = None
    virtual: bool = False

    @classmethod
    def virtual_delete(cls, identity: Identity) -> GraphEvent:
        meta = {"name": identity.name, "uid": identity.uid, "namespace": identity.namespace}
        return cls("delete", identity.api_version, identity.kind, {"metadata": meta}, None, True)


def _meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if obj is None:
        return {}
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def _being_deleted(obj: Mapping[str, Any] | None) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def _has_finalizer(obj: Mapping[str, Any] | None, finalizer: str) -> bool:
    return finalizer in (_meta(obj).get("finalizers") or [])


def deletion_starts_with_finalizer(old: Mapping[str, Any] | None, new: Mapping[str, Any], finalizer: str) -> bool:
    if not _being_deleted(new) or not _has_finalizer(new, finalizer):
        return False
    if old is None:
        return True
    return not _being_deleted(old) or not _has_finalizer(old, finalizer)


def references_diffs(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """(added, removed, changed pairs) between two ownerReference lists, by uid."""
    old_by_uid = {str(r.get("uid")): r for r in old}
    added: list[dict[str, Any]] = []
    changed: list[tuple[dict[str, Any], dict[str, Any]]] = []
    seen: set[str] = set()
    for r in new:
        uid = str(r.get("uid"))
        if uid in old_by_uid:
            if old_by_uid[uid] != r:
                changed.append((old_by_uid[uid], r))
            seen.add(uid)
        else:
            added.append(r)
    removed = [r for uid, r in old_by_uid.items() if uid not in seen]
    return added, removed, changed


def partition_dependents(dependents: Iterable[Node], match: Identity) -> tuple[list[Node], list[Node]]:
    """Dependents whose reference to `match.uid` matches its coordinates, and those that do not."""
    owner_is_namespaced = bool(match.namespace)
    matching: list[Node] = []
    nonmatching: list[Node] = []
    for dep in dependents:
        found_match = found_mismatch = False
        if owner_is_namespaced and match.namespace != dep.identity.namespace:
            found_mismatch = True
        else:
            for ref in dep.owners:
                if ref.get("uid") == match.uid:
                    if matches_coordinates(ref, match):
                        found_match = True
                    else:
                        found_mismatch = True
        if found_match:
            matching.append(dep)
        if found_mismatch:
            nonmatching.append(dep)
    return matching, nonmatching


def alternate_owner_identity(dependents: Iterable[Node], absent: Identity) -> Identity | None:
    """Another identity the dependents use for `absent.uid`: the first following `absent` in (kind,
    apiVersion, namespace, name, uid) order, else the first (upstream getAlternateOwnerIdentity)."""
    cluster_scoped = not absent.namespace
    seen = {absent}
    first: Identity | None = None
    following: Identity | None = None
    for dep in dependents:
        for ref in dep.owners:
            if ref.get("uid") != absent.uid:
                continue
            if matches_coordinates(ref, absent) and (cluster_scoped or absent.namespace == dep.identity.namespace):
                continue
            alt = Identity.of_ref(ref, dep.identity.namespace)
            if cluster_scoped and alt.api_version == absent.api_version and alt.kind == absent.kind:
                alt = replace(alt, namespace="")
            if alt in seen:
                continue
            seen.add(alt)
            if first is None or alt.sort_key() < first.sort_key():
                first = alt
            if absent.sort_key() < alt.sort_key() and (following is None or alt.sort_key() < following.sort_key()):
                following = alt
    return following if following is not None else first


NodeCallback = Callable[[Node], None]


class GraphBuilder:
    def __init__(
        self,
        *,
        attempt_to_delete: NodeCallback,
        attempt_to_orphan: NodeCallback,
        attempt_to_delete_later: NodeCallback | None = None,
        report_invalid_namespace: Callable[[Node, dict[str, Any]], None] | None = None,
        absent: AbsentOwnerCache | None = None,
    ) -> None:
        self.nodes: dict[str, Node] = {}
        self.attempt_to_delete = attempt_to_delete
        self.attempt_to_delete_later = attempt_to_delete_later or attempt_to_delete
        self.attempt_to_orphan = attempt_to_orphan
        self.report_invalid_namespace = report_invalid_namespace or (lambda node, ref: None)
        self.absent = absent if absent is not None else AbsentOwnerCache()

    # -- structure ---------------------------------------------------------------------------------

    def get(self, uid: str) -> Node | None:
        return self.nodes.get(uid)

    def _report(self, dependent: Node, owner_uid: str) -> None:
        for ref in dependent.owners:
            if ref.get("uid") == owner_uid:
                self.report_invalid_namespace(dependent, ref)
                return

    def add_dependent_to_owners(self, node: Node, owners: list[dict[str, Any]]) -> None:
        potentially_invalid = False
        for ref in owners:
            uid = str(ref.get("uid", ""))
            owner = self.nodes.get(uid)
            created = owner is None
            if owner is None:
                owner = Node(Identity.of_ref(ref, node.identity.namespace), virtual=True)
                self.nodes[uid] = owner
            owner.dependents.add(node)
            if created:
                self.attempt_to_delete(owner)
            elif not potentially_invalid:
                owner_namespaced = bool(owner.identity.namespace)
                if owner_namespaced and owner.identity.namespace != node.identity.namespace:
                    if owner.observed:
                        self._report(node, uid)
                    potentially_invalid = True
                elif not matches_coordinates(ref, owner.identity):
                    potentially_invalid = True
                elif not owner_namespaced and owner.identity.namespace != node.identity.namespace and not owner.observed:
                    potentially_invalid = True
        if potentially_invalid:
            self.attempt_to_delete(node)

    def remove_dependent_from_owners(self, node: Node, owners: list[dict[str, Any]]) -> None:
        for ref in owners:
            owner = self.nodes.get(str(ref.get("uid", "")))
            if owner is not None:
                owner.dependents.discard(node)

    def insert_node(self, node: Node) -> None:
        self.nodes[node.uid] = node
        self.add_dependent_to_owners(node, node.owners)

    def remove_node(self, node: Node) -> None:
        self.nodes.pop(node.uid, None)
        self.remove_dependent_from_owners(node, node.owners)

    def _unblocked_owners(self, removed: list[dict[str, Any]], changed: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        for ref in removed:
            if ref.get("blockOwnerDeletion"):
                owner = self.nodes.get(str(ref.get("uid", "")))
                if owner is not None:
                    self.attempt_to_delete(owner)
        for old, new in changed:
            if old.get("blockOwnerDeletion") and not new.get("blockOwnerDeletion"):
                owner = self.nodes.get(str(new.get("uid", "")))
                if owner is not None:
                    self.attempt_to_delete(owner)

    def _transitions(self, old: Mapping[str, Any] | None, new: Mapping[str, Any], node: Node) -> None:
        if deletion_starts_with_finalizer(old, new, FINALIZER_ORPHAN):
            self.attempt_to_orphan(node)
            return
        if deletion_starts_with_finalizer(old, new, FINALIZER_FOREGROUND):
            node.deleting_dependents = True
            for dep in list(node.dependents):
                self.attempt_to_delete(dep)
            self.attempt_to_delete(node)

    # -- events ------------------------------------------------------------------------------------

    def process(self, event: GraphEvent) -> None:
        meta = _meta(event.obj)
        uid = str(meta.get("uid", ""))
        if not uid:
            return
        identity = Identity(event.api_version, event.kind, str(meta.get("name", "")), uid, str(meta.get("namespace") or ""))
        existing = self.nodes.get(uid)
        if existing is not None and not event.virtual and not existing.observed:
            if identity != existing.identity:
                _, invalid = partition_dependents(existing.dependents, identity)
                for dep in invalid:
                    if identity.namespace and dep.identity.namespace != identity.namespace:
                        self._report(dep, uid)
                    self.attempt_to_delete(dep)
                existing = existing.clone()
                existing.identity = identity
                self.nodes[uid] = existing
            existing.virtual = False
        if event.type in ("add", "update"):
            owners = [dict(r) for r in meta.get("ownerReferences") or [] if isinstance(r, Mapping)]
            if existing is None:
                node = Node(identity, owners, set(), _being_deleted(event.obj),
                            _being_deleted(event.obj) and _has_finalizer(event.obj, FINALIZER_FOREGROUND))
                self.insert_node(node)
                self._transitions(event.old, event.obj, node)
                return
            if not event.virtual and (existing.identity.api_version, existing.identity.kind) != (event.api_version, event.kind):
                old_node = existing
                existing = existing.clone()
                existing.identity = replace(existing.identity, api_version=event.api_version, kind=event.kind)
                self.nodes[uid] = existing
                for ref in existing.owners:
                    owner = self.nodes.get(str(ref.get("uid", "")))
                    if owner is not None and old_node in owner.dependents:
                        owner.dependents.discard(old_node)
                        owner.dependents.add(existing)
            added, removed, changed = references_diffs(existing.owners, owners)
            if added or removed or changed:
                self._unblocked_owners(removed, changed)
                existing.owners = owners
                self.add_dependent_to_owners(existing, added)
                self.remove_dependent_from_owners(existing, removed)
            if _being_deleted(event.obj):
                existing.being_deleted = True
            self._transitions(event.old, event.obj, existing)
            return
        # delete
        if existing is None:
            return
        remove = True
        if event.virtual:
            if existing.virtual:
                matching, nonmatching = partition_dependents(existing.dependents, identity)
                if nonmatching:
                    remove = False
                    if matching:
                        self.absent.add(identity)
                        for dep in matching:
                            self.attempt_to_delete(dep)
                    if existing.identity == identity:
                        alternate = alternate_owner_identity(nonmatching, identity)
                        if alternate is not None:
                            replacement = existing.clone()
                            replacement.identity = alternate
                            self.nodes[uid] = replacement
                            self.attempt_to_delete_later(replacement)
            elif existing.identity != identity:
                remove = False
                matching, _ = partition_dependents(existing.dependents, identity)
                if matching:
                    self.absent.add(identity)
                    for dep in matching:
                        self.attempt_to_delete(dep)
        if not remove:
            return
        self.remove_node(existing)
        if existing.dependents:
            self.absent.add(identity)
        for dep in list(existing.dependents):
            self.attempt_to_delete(dep)
        for ref in existing.owners:
            owner = self.nodes.get(str(ref.get("uid", "")))
            if owner is not None and owner.deleting_dependents:
                self.attempt_to_delete(owner)

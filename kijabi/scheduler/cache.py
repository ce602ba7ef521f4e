"""The scheduler cache: every node with the pods on it, including pods only ASSUMED to be there.

After a successful scheduling cycle the pod is assumed onto its node at once, so the next cycles see
the node as used while the binding (an API call) is still on its way. The informer's Add of the bound
pod confirms the assumption; a failed binding forgets it. With a TTL, an assumed pod whose binding
finished but whose Add never came expires (upstream pkg/scheduler/backend/cache; kube-scheduler
itself runs with TTL 0, never expiring, and so does kijabi by default).

The cache is also the node snapshot of a scheduling cycle (`NodeInfoLister`): upstream copies the
changed NodeInfos into a snapshot at the start of each cycle because its event handlers run on other
threads. Here event handlers and the scheduling cycle share one event loop, and a cycle never yields,
so the cycle reads the live NodeInfos directly. Nodes are listed zone by zone, round robin, like
upstream's nodeTree, so that the partial search (percentageOfNodesToScore) spreads across zones.
"""

from __future__ import annotations

import bisect
import builtins
import logging
from collections.abc import Mapping
from typing import Any

from kijabi.scheduler.framework.types import ImageState, Node, NodeInfo, Pod, PodInfo, pod_key, pod_uid

log = logging.getLogger(__name__)

ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")


class CacheError(Exception):
    """A cache operation that contradicts the cache's state (a bug or a lost event)."""


def zone_key(node: Mapping[str, Any]) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    zone = next((labels[k] for k in ZONE_LABELS if labels.get(k)), "")
    region = next((labels[k] for k in REGION_LABELS if labels.get(k)), "")
    if not zone and not region:
        return ""
    return f"{region}:\x00:{zone}"


class NodeTree:
    """Node names per zone, listed round robin across zones (upstream nodeTree)."""

    def __init__(self) -> None:
        self.zones: list[str] = []
        self.tree: dict[str, list[str]] = {}
        self.count = 0

    def add(self, node: Mapping[str, Any]) -> None:
        zone = zone_key(node)
        name = (node.get("metadata") or {}).get("name", "")
        names = self.tree.get(zone)
        if names is None:
            self.zones.append(zone)
            names = self.tree[zone] = []
        if name in names:
            return
        names.append(name)
        self.count += 1

    def remove(self, node: Mapping[str, Any]) -> bool:
        zone = zone_key(node)
        name = (node.get("metadata") or {}).get("name", "")
        names = self.tree.get(zone)
        if names is None or name not in names:
            return False
        names.remove(name)
        self.count -= 1
        if not names:
            del self.tree[zone]
            self.zones.remove(zone)
        return True

    def list(self) -> list[str]:
        out: list[str] = []
        columns = [self.tree[z] for z in self.zones]
        i = 0
        while len(out) < self.count:
            for names in columns:
                if i < len(names):
                    out.append(names[i])
            i += 1
        return out


class _PodState:
    __slots__ = ("binding_finished", "deadline", "info")

    def __init__(self, info: PodInfo) -> None:
        self.info = info
        self.deadline: float | None = None
        self.binding_finished = False


class Cache:
    """Nodes, pods and assumed pods; also the NodeInfoLister of the scheduling cycle."""

    def __init__(self, ttl: float = 0.0) -> None:
        self.ttl = ttl
        self.nodes: dict[str, NodeInfo] = {}
        self.pod_states: dict[str, _PodState] = {}
        self.assumed: set[str] = set()
        self.image_states: dict[str, ImageState] = {}
        self.tree = NodeTree()
        self.pvc_usage: dict[str, int] = {}
        # A log of which nodes changed (pods or node object), for plugins that keep incremental
        # aggregates (see changes_since).
        self.version = 0
        self._log: builtins.list[tuple[int, str]] = []
        self._log_floor = 0
        self._list: builtins.list[NodeInfo] | None = None
        self._with_affinity: builtins.list[NodeInfo] | None = None
        self._with_anti_affinity: builtins.list[NodeInfo] | None = None

    # -- NodeInfoLister ----------------------------------------------------------------------------

    def list(self) -> list[NodeInfo]:
        """The schedulable view: nodes the cache knows (ghost entries excluded), zones interleaved."""
        if self._list is None:
            nodes = self.nodes
            self._list = [ni for name in self.tree.list() if (ni := nodes.get(name)) is not None and ni.node is not None]
        return self._list

    def get(self, name: str) -> NodeInfo | None:
        ni = self.nodes.get(name)
        return ni if ni is not None and ni.node is not None else None

    def have_pods_with_affinity(self) -> builtins.list[NodeInfo]:
        if self._with_affinity is None:
            self._with_affinity = [ni for ni in self.list() if ni.pods_with_affinity]
        return self._with_affinity

    def have_pods_with_required_anti_affinity(self) -> builtins.list[NodeInfo]:
        if self._with_anti_affinity is None:
            self._with_anti_affinity = [ni for ni in self.list() if ni.pods_with_required_anti_affinity]
        return self._with_anti_affinity

    def is_pvc_used_by_pods(self, key: str) -> bool:
        return self.pvc_usage.get(key, 0) > 0

    def num_nodes(self) -> int:
        return len(self.list())

    def changes_since(self, version: int) -> tuple[int, set[str] | None]:
        """(current version, names of the nodes changed after `version`), or None instead of the names
        when the log no longer reaches back that far (recompute everything)."""
        if version < self._log_floor:
            return self.version, None
        i = bisect.bisect_right(self._log, version, key=lambda e: e[0])
        return self.version, {name for _, name in self._log[i:]}

    def _touch(self, name: str) -> None:
        self.version += 1
        self._log.append((self.version, name))
        if len(self._log) > 8192:
            drop = len(self._log) // 2
            self._log_floor = self._log[drop - 1][0]
            del self._log[:drop]

    def _invalidate(self, nodes: bool = False) -> None:
        if nodes:
            self._list = None
        self._with_affinity = None
        self._with_anti_affinity = None

    # -- pods --------------------------------------------------------------------------------------

    def _node_info(self, name: str) -> NodeInfo:
        ni = self.nodes.get(name)
        if ni is None:
            ni = self.nodes[name] = NodeInfo()
            ni.name = name
        return ni

    def _add(self, pi: PodInfo) -> None:
        self._node_info(pi.node_name).add_pod_info(pi)
        self._touch(pi.node_name)
        for key in pi.pvc_keys:
            self.pvc_usage[key] = self.pvc_usage.get(key, 0) + 1
        if pi.has_affinity:
            self._invalidate()

    def _remove(self, pi: PodInfo) -> None:
        self._touch(pi.node_name)
        ni = self.nodes.get(pi.node_name)
        if ni is None or not ni.remove_pod(pi.pod):
            log.error("pod %s not found on node %r in the scheduler cache", pi.key, pi.node_name)
        else:
            for key in pi.pvc_keys:
                n = self.pvc_usage.get(key, 0) - 1
                if n > 0:
                    self.pvc_usage[key] = n
                else:
                    self.pvc_usage.pop(key, None)
            if ni.node is None and not ni.pods:
                del self.nodes[pi.node_name]
        if pi.has_affinity:
            self._invalidate()

    def assume_pod(self, pod: Pod, info: PodInfo | None = None) -> PodInfo:
        """Account `pod` (spec.nodeName set) on its node before it is bound; `info`: its PodInfo, if
        the caller has it."""
        uid = pod_uid(pod)
        if uid in self.pod_states:
            raise CacheError(f"pod {pod_key(pod)}({uid}) is in the cache, so can't be assumed")
        pi = info if info is not None and info.pod is pod else PodInfo(pod)
        self._add(pi)
        self.pod_states[uid] = _PodState(pi)
        self.assumed.add(uid)
        return pi

    def finish_binding(self, pod: Pod, now: float) -> None:
        """The binding call returned; start the TTL (if any) of the assumption."""
        state = self.pod_states.get(pod_uid(pod))
        if state is not None and pod_uid(pod) in self.assumed:
            state.binding_finished = True
            state.deadline = now + self.ttl if self.ttl > 0 else None

    def forget_pod(self, pod: Pod) -> None:
        """Undo an assumption (binding failed)."""
        uid = pod_uid(pod)
        state = self.pod_states.get(uid)
        if state is not None and state.info.node_name != (pod.get("spec") or {}).get("nodeName", ""):
            raise CacheError(f"pod {pod_key(pod)} was assumed on {state.info.node_name} but assigned to "
                             f"{(pod.get('spec') or {}).get('nodeName')}")
        if state is None or uid not in self.assumed:
            raise CacheError(f"pod {pod_key(pod)}({uid}) wasn't assumed so cannot be forgotten")
        self._remove(state.info)
        self.assumed.discard(uid)
        del self.pod_states[uid]

    def add_pod(self, pod: Pod) -> None:
        """An assigned pod from the informer: confirms an assumption, or adds the pod."""
        uid = pod_uid(pod)
        state = self.pod_states.get(uid)
        if state is not None and uid in self.assumed:
            # The confirmed object replaces the assumed one (on its node, or on another one).
            self._remove(state.info)
            state.info = state.info.derived(pod)
            self._add(state.info)
            self.assumed.discard(uid)
            state.deadline = None
            return
        if state is None:
            pi = PodInfo(pod)
            self._add(pi)
            self.pod_states[uid] = _PodState(pi)
            return
        raise CacheError(f"pod {pod_key(pod)}({uid}) was already in added state")

    def update_pod(self, old: Pod, new: Pod) -> None:
        uid = pod_uid(old)
        state = self.pod_states.get(uid)
        if state is None or uid in self.assumed:
            raise CacheError(f"pod {pod_key(old)}({uid}) is not added to scheduler cache, so cannot be updated")
        self._remove(state.info)
        state.info = PodInfo(new)
        self._add(state.info)

    def remove_pod(self, pod: Pod) -> None:
        uid = pod_uid(pod)
        state = self.pod_states.get(uid)
        if state is None:
            raise CacheError(f"pod {pod_key(pod)}({uid}) is not found in scheduler cache, so cannot be removed from it")
        self._remove(state.info)
        self.assumed.discard(uid)
        del self.pod_states[uid]

    def is_assumed_pod(self, pod: Mapping[str, Any]) -> bool:
        return pod_uid(pod) in self.assumed

    def get_pod(self, pod: Mapping[str, Any]) -> Pod | None:
        state = self.pod_states.get(pod_uid(pod))
        return state.info.pod if state is not None else None

    def cleanup_assumed_pods(self, now: float) -> builtins.list[Pod]:
        """Expire assumed pods whose binding finished more than TTL ago; returns them."""
        expired = []
        for uid in list(self.assumed):
            state = self.pod_states[uid]
            if not state.binding_finished or state.deadline is None or now < state.deadline:
                continue
            log.warning("assumed pod %s expired", state.info.key)
            self._remove(state.info)
            self.assumed.discard(uid)
            del self.pod_states[uid]
            expired.append(state.info.pod)
        return expired

    def pod_count(self) -> int:
        return len(self.pod_states)

    # -- nodes -------------------------------------------------------------------------------------

    def _add_images(self, node: Node, ni: NodeInfo) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        summary: dict[str, ImageState] = {}
        for image in (node.get("status") or {}).get("images") or []:
            size = int(image.get("sizeBytes") or 0)
            for image_name in image.get("names") or []:
                st = self.image_states.get(image_name)
                if st is None:
                    st = self.image_states[image_name] = ImageState(size)
                st.nodes.add(name)
                summary.setdefault(image_name, st)
        ni.image_states = summary

    def _remove_images(self, node: Node | None) -> None:
        if node is None:
            return
        name = (node.get("metadata") or {}).get("name", "")
        for image in (node.get("status") or {}).get("images") or []:
            for image_name in image.get("names") or []:
                st = self.image_states.get(image_name)
                if st is not None:
                    st.nodes.discard(name)
                    if not st.nodes:
                        del self.image_states[image_name]

    def add_node(self, node: Node) -> NodeInfo:
        name = (node.get("metadata") or {}).get("name", "")
        ni = self.nodes.get(name)
        moved = True
        if ni is None:
            ni = self.nodes[name] = NodeInfo()
        else:
            self._remove_images(ni.node)
            if ni.node is not None:
                moved = zone_key(ni.node) != zone_key(node)
                if moved:
                    self.tree.remove(ni.node)
        if moved:
            self.tree.add(node)
        self._add_images(node, ni)
        ni.set_node(node)
        self._touch(name)
        if moved:
            self._invalidate(nodes=True)
        return ni

    def update_node(self, old: Node | None, new: Node) -> NodeInfo:
        return self.add_node(new)

    def remove_node(self, node: Node) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        ni = self.nodes.get(name)
        if ni is None:
            raise CacheError(f"node {name} is not found")
        self._remove_images(ni.node)
        if ni.node is not None:
            self.tree.remove(ni.node)
        ni.remove_node()
        self._touch(name)
        if not ni.pods:
            del self.nodes[name]
        self._invalidate(nodes=True)

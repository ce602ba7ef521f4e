"""VolumeBinding: PersistentVolumeClaims with volumeBindingMode WaitForFirstConsumer are bound where
the pod goes (upstream framework/plugins/volumebinding).

- PreFilter sorts the pod's claims: bound ones (their PV's node affinity must match the node),
  unbound delayed-binding ones (a matching Available PV is chosen per node, or the class must be able
  to provision there), and unbound immediate ones (the pod waits for the PV controller).
- Filter checks one node; the choice (static bindings, claims to provision) is kept per node.
- Reserve assumes the choice in memory; PreBind writes it: each chosen PV gets the claimRef, each claim
  to provision gets the `volume.kubernetes.io/selected-node` annotation. PreBind then waits (up to
  bindTimeoutSeconds) until the PV controller has bound every claim. Unreserve forgets the assumption.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kijabi.client.cache import copy_object
from kijabi.scheduler.framework.events import (
    CSI_NODE,
    NODE,
    PERSISTENT_VOLUME,
    PERSISTENT_VOLUME_CLAIM,
    STORAGE_CLASS,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
)
from kijabi.scheduler.framework.interface import CycleState, Handle, ObjectLister, PreFilterResult
from kijabi.scheduler.framework.selectors import (
    SelectorError,
    compile_label_selector,
    node_selector_matches,
)
from kijabi.scheduler.framework.status import Code, Status
from kijabi.scheduler.framework.types import NodeInfo, Pod, amount, pod_key
from kijabi.scheduler.plugins.helpers import get_persistent_volume_claim_class, get_persistent_volume_class

log = logging.getLogger(__name__)

NAME = "VolumeBinding"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
NOT_SUPPORTED_PROVISIONER = "kubernetes.io/no-provisioner"
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_NOT_ENOUGH_SPACE = "node(s) did not have enough free storage"
ERR_REASON_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
DEFAULT_BIND_TIMEOUT = 600
_STATE_KEY = NAME

Obj = dict[str, Any]


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int(_meta(obj).get("resourceVersion") or 0)
    except ValueError:
        return 0


class AssumeCache:
    """An informer's objects, overlaid with versions the scheduler assumed but the API has not
    confirmed yet. An assumed version is dropped once the informer holds a newer resourceVersion."""

    def __init__(self, lister: ObjectLister, namespaced: bool) -> None:
        self.lister = lister
        self.namespaced = namespaced
        self.assumed: dict[str, Obj] = {}
        self.base_rv: dict[str, int] = {}

    def _key(self, obj: Mapping[str, Any]) -> str:
        m = _meta(obj)
        return f"{m.get('namespace', '')}/{m.get('name', '')}" if self.namespaced else str(m.get("name", ""))

    def _resolve(self, key: str, informer_obj: Obj | None) -> Obj | None:
        assumed = self.assumed.get(key)
        if assumed is None:
            return informer_obj
        if informer_obj is not None and _rv(informer_obj) > self.base_rv.get(key, 0):
            del self.assumed[key]
            self.base_rv.pop(key, None)
            return informer_obj
        return assumed

    def get(self, name: str, namespace: str = "") -> Obj | None:
        key = f"{namespace}/{name}" if self.namespaced else name
        return self._resolve(key, self.lister.get(name, namespace if self.namespaced else None))

    def list(self) -> list[Obj]:
        out = []
        for obj in self.lister.list():
            resolved = self._resolve(self._key(obj), obj)
            if resolved is not None:
                out.append(resolved)
        return out

    def assume(self, obj: Obj) -> None:
        key = self._key(obj)
        self.assumed[key] = obj
        self.base_rv[key] = _rv(obj)

    def restore(self, obj: Mapping[str, Any]) -> None:
        key = self._key(obj)
        self.assumed.pop(key, None)
        self.base_rv.pop(key, None)


def pvc_fully_bound(pvc: Mapping[str, Any]) -> bool:
    return bool((pvc.get("spec") or {}).get("volumeName")) and ANN_BIND_COMPLETED in (_meta(pvc).get("annotations") or {})


def volume_bound_to_claim(pv: Mapping[str, Any], pvc: Mapping[str, Any]) -> bool:
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    m = _meta(pvc)
    if ref.get("name") != m.get("name") or ref.get("namespace") != m.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == m.get("uid")


def _storage(raw: Mapping[str, Any] | None) -> int:
    value = (raw or {}).get("storage")
    return amount("storage", value) if value is not None else 0


def _access_modes_ok(pvc: Mapping[str, Any], pv: Mapping[str, Any]) -> bool:
    have = set((pv.get("spec") or {}).get("accessModes") or [])
    return all(m in have for m in (pvc.get("spec") or {}).get("accessModes") or [])


def find_matching_volume(pvc: Mapping[str, Any], volumes: Sequence[Obj], node: Mapping[str, Any] | None,
                         excluded: set[str], delay_binding: bool) -> Obj | None:
    """The pre-bound PV of the claim, or the smallest Available PV that satisfies it (upstream
    FindMatchingVolume); None when nothing fits. SelectorError for a malformed claim selector."""
    spec = pvc.get("spec") or {}
    requested = _storage((spec.get("resources") or {}).get("requests"))
    requested_class = get_persistent_volume_claim_class(pvc)
    selector = compile_label_selector(spec["selector"]) if spec.get("selector") is not None else None
    want_mode = spec.get("volumeMode") or "Filesystem"
    smallest: Obj | None = None
    smallest_size = 0
    for pv in volumes:
        name = _meta(pv).get("name", "")
        if name in excluded:
            continue
        pv_spec = pv.get("spec") or {}
        bound_to_claim = volume_bound_to_claim(pv, pvc)
        if pv_spec.get("claimRef") and not bound_to_claim:
            continue
        size = _storage(pv_spec.get("capacity"))
        if size < requested:
            continue
        if (pv_spec.get("volumeMode") or "Filesystem") != want_mode:
            continue
        if _meta(pv).get("deletionTimestamp"):
            continue
        affinity_ok = True
        if node is not None:
            required = (pv_spec.get("nodeAffinity") or {}).get("required")
            affinity_ok = node_selector_matches(required, node)
        if bound_to_claim:
            return pv if affinity_ok else None
        if node is None and delay_binding:
            continue
        if (pv.get("status") or {}).get("phase") != "Available":
            continue
        if selector is not None and not selector.matches(_meta(pv).get("labels") or {}):
            continue
        if get_persistent_volume_class(pv) != requested_class:
            continue
        if not affinity_ok:
            continue
        if node is not None and not _access_modes_ok(pvc, pv):
            continue
        if smallest is None or size < smallest_size:
            smallest, smallest_size = pv, size
    return smallest


class PodVolumeClaims:
    def __init__(self) -> None:
        self.bound: list[Obj] = []
        self.unbound_immediate: list[Obj] = []
        self.unbound_delay: list[Obj] = []
        self.volumes_by_class: dict[str, list[Obj]] = {}


class PodVolumes:
    def __init__(self, static_bindings: list[tuple[Obj, Obj]], provisions: list[Obj]) -> None:
        self.static_bindings = static_bindings  # (PV with claimRef set, claim)
        self.provisions = provisions  # claims annotated with the selected node


class StateData:
    def __init__(self, claims: PodVolumeClaims | None) -> None:
        self.claims = claims
        self.by_node: dict[str, PodVolumes] = {}
        self.all_bound = False
        self.skip = claims is None

    def clone(self) -> StateData:
        return self


class VolumeBinding:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle
        timeout = args.get("bindTimeoutSeconds")
        self.bind_timeout = float(DEFAULT_BIND_TIMEOUT if timeout is None else timeout)
        self.poll_interval = 1.0
        listers = handle.listers
        self.pvs = AssumeCache(listers.persistent_volumes, namespaced=False)
        self.pvcs = AssumeCache(listers.persistent_volume_claims, namespaced=True)

    # -- claims ------------------------------------------------------------------------------------

    def _delay_binding(self, pvc: Mapping[str, Any]) -> bool:
        cls = get_persistent_volume_claim_class(pvc)
        if not cls:
            return False
        sc = self.handle.listers.storage_classes.get(cls)
        return sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"

    def _pod_claims(self, pod: Pod) -> tuple[PodVolumeClaims | None, Status | None]:
        """The pod's claims sorted by binding state; (None, None) when it has no claim."""
        ns = _meta(pod).get("namespace", "")
        name = _meta(pod).get("name", "")
        claims = PodVolumeClaims()
        has_claim = False
        for v in (pod.get("spec") or {}).get("volumes") or []:
            ephemeral = False
            if v.get("persistentVolumeClaim") is not None:
                claim_name = str(v["persistentVolumeClaim"].get("claimName", ""))
            elif v.get("ephemeral") is not None:
                claim_name, ephemeral = f"{name}-{v.get('name', '')}", True
            else:
                continue
            has_claim = True
            pvc = self.pvcs.get(claim_name, ns)
            if pvc is None:
                msg = (f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{claim_name}"'
                       if ephemeral else f'persistentvolumeclaim "{claim_name}" not found')
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, msg)
            pvc_spec = pvc.get("spec") or {}
            if (pvc.get("status") or {}).get("phase") == "Lost":
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                    f'persistentvolumeclaim "{claim_name}" bound to non-existent persistentvolume '
                                    f'"{pvc_spec.get("volumeName", "")}"')
            if _meta(pvc).get("deletionTimestamp"):
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                    f'persistentvolumeclaim "{claim_name}" is being deleted')
            if ephemeral:
                owner = next((r for r in _meta(pvc).get("ownerReferences") or [] if r.get("controller")), None)
                if owner is None or owner.get("uid") != _meta(pod).get("uid"):
                    return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                        f'PVC {ns}/{claim_name} was not created for pod {ns}/{name} (pod is not owner)')
            if pvc_fully_bound(pvc):
                claims.bound.append(pvc)
            elif self._delay_binding(pvc) and not pvc_spec.get("volumeName"):
                claims.unbound_delay.append(pvc)
            else:
                claims.unbound_immediate.append(pvc)
        if not has_claim:
            return None, None
        if claims.unbound_delay:
            all_pvs = self.pvs.list()
            for pvc in claims.unbound_delay:
                cls = get_persistent_volume_claim_class(pvc)
                if cls not in claims.volumes_by_class:
                    claims.volumes_by_class[cls] = [pv for pv in all_pvs if get_persistent_volume_class(pv) == cls]
        return claims, None

    # -- filtering ---------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: Pod,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        claims, status = self._pod_claims(pod)
        if status is not None:
            return None, status
        if claims is None:
            state.write(_STATE_KEY, StateData(None))
            return None, Status(Code.SKIP)
        if claims.unbound_immediate:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNBOUND_IMMEDIATE)
        state.write(_STATE_KEY, StateData(claims))
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def find_pod_volumes(self, pod: Pod, claims: PodVolumeClaims,
                         node: Mapping[str, Any]) -> tuple[PodVolumes, list[str]]:
        """Upstream FindPodVolumes: the bindings that would make the pod's claims work on `node`, and
        the reasons they cannot."""
        node_name = _meta(node).get("name", "")
        bound_ok, pvs_found, unbound_ok, enough_space = True, True, True, True
        static: list[tuple[Obj, Obj]] = []
        provisions: list[Obj] = []
        for pvc in claims.bound:
            pv = self.pvs.get((pvc.get("spec") or {}).get("volumeName") or "")
            if pv is None:
                pvs_found = False
                break
            if not node_selector_matches(((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required"), node):
                bound_ok = False
                break
        if bound_ok and pvs_found and claims.unbound_delay:
            to_match: list[Obj] = []
            to_provision: list[Obj] = []
            for pvc in claims.unbound_delay:
                selected = (_meta(pvc).get("annotations") or {}).get(ANN_SELECTED_NODE)
                if selected is not None:
                    if selected != node_name:
                        unbound_ok = False
                        break
                    to_provision.append(pvc)
                else:
                    to_match.append(pvc)
            if unbound_ok and to_match:
                chosen: set[str] = set()
                for pvc in sorted(to_match, key=lambda c: _storage(((c.get("spec") or {}).get("resources") or {})
                                                                   .get("requests"))):
                    cls = get_persistent_volume_claim_class(pvc)
                    try:
                        pv = find_matching_volume(pvc, claims.volumes_by_class.get(cls, []), node, chosen, True)
                    except SelectorError:
                        pv = None
                    if pv is None:
                        to_provision.append(pvc)
                        unbound_ok = False
                        continue
                    chosen.add(_meta(pv).get("name", ""))
                    static.append((pv, pvc))
            if to_provision:
                unbound_ok, enough_space, provisions = self._check_provisions(to_provision, node)
        reasons = []
        if not bound_ok:
            reasons.append(ERR_REASON_NODE_CONFLICT)
        if not unbound_ok:
            reasons.append(ERR_REASON_BIND_CONFLICT)
        if not enough_space:
            reasons.append(ERR_REASON_NOT_ENOUGH_SPACE)
        if not pvs_found:
            reasons.append(ERR_REASON_PV_NOT_EXIST)
        return PodVolumes(static, provisions), reasons

    def _check_provisions(self, claims: list[Obj], node: Mapping[str, Any]) -> tuple[bool, bool, list[Obj]]:
        labels = _meta(node).get("labels") or {}
        out = []
        for pvc in claims:
            cls = get_persistent_volume_claim_class(pvc)
            sc = self.handle.listers.storage_classes.get(cls) if cls else None
            if sc is None:
                return False, True, []
            provisioner = sc.get("provisioner") or ""
            if not provisioner or provisioner == NOT_SUPPORTED_PROVISIONER:
                return False, True, []
            topologies = sc.get("allowedTopologies") or []
            if topologies and not any(
                    all(labels.get(e.get("key")) in (e.get("values") or []) for e in t.get("matchLabelExpressions") or [])
                    for t in topologies):
                return False, True, []
            out.append(pvc)
        return True, True, out

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        s: StateData | None = state.get(_STATE_KEY)
        if s is None:
            return Status(Code.ERROR, f'reading "{_STATE_KEY}" from cycleState: not found')
        if s.claims is None:
            return None
        assert node_info.node is not None
        volumes, reasons = self.find_pod_volumes(pod, s.claims, node_info.node)
        if reasons:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)
        s.by_node[node_info.name] = volumes
        return None

    # -- reserve and bind --------------------------------------------------------------------------

    def reserve(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        s: StateData | None = state.get(_STATE_KEY)
        if s is None or s.claims is None:
            return None
        volumes = s.by_node.get(node_name)
        if volumes is None:
            s.all_bound = True
            return None
        assumed_static = []
        for pv, pvc in volumes.static_bindings:
            new_pv = copy_object(pv)
            pv_spec = new_pv.setdefault("spec", {})
            m = _meta(pvc)
            if not volume_bound_to_claim(pv, pvc):
                new_pv["metadata"].setdefault("annotations", {}).setdefault(ANN_BOUND_BY_CONTROLLER, "yes")
            pv_spec["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": m.get("namespace", ""),
                                   "name": m.get("name", ""), "uid": m.get("uid", ""), "apiVersion": "v1",
                                   "resourceVersion": m.get("resourceVersion", "")}
            self.pvs.assume(new_pv)
            assumed_static.append((new_pv, pvc))
        assumed_provisions = []
        for pvc in volumes.provisions:
            new_pvc = copy_object(pvc)
            new_pvc["metadata"].setdefault("annotations", {})[ANN_SELECTED_NODE] = node_name
            self.pvcs.assume(new_pvc)
            assumed_provisions.append(new_pvc)
        s.by_node[node_name] = PodVolumes(assumed_static, assumed_provisions)
        s.all_bound = not assumed_static and not assumed_provisions
        return None

    def unreserve(self, state: CycleState, pod: Pod, node_name: str) -> None:
        s: StateData | None = state.get(_STATE_KEY)
        if s is None or s.claims is None:
            return
        volumes = s.by_node.get(node_name)
        if volumes is None:
            return
        for pv, _ in volumes.static_bindings:
            self.pvs.restore(pv)
        for pvc in volumes.provisions:
            self.pvcs.restore(pvc)

    async def pre_bind(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        s: StateData | None = state.get(_STATE_KEY)
        if s is None:
            return Status(Code.ERROR, f'reading "{_STATE_KEY}" from cycleState: not found')
        if s.claims is None or s.all_bound:
            return None
        volumes = s.by_node.get(node_name)
        if volumes is None:
            return Status(Code.ERROR, f"no pod volumes found for node {node_name!r}")
        client = self.handle.client
        from kijabi.client.rest import PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES

        try:
            for pv, _ in volumes.static_bindings:
                written = await client.update(PERSISTENTVOLUMES, pv)
                self.pvs.assume(written)
            for pvc in volumes.provisions:
                written = await client.update(PERSISTENTVOLUMECLAIMS, pvc)
                self.pvcs.assume(written)
        except Exception as exc:  # an API refusal or a transport failure: retry the pod later
            return Status.from_error(RuntimeError(f"binding volumes: {exc}"))
        clock = self.handle.clock
        deadline = clock.now() + self.bind_timeout
        node = (pod.get("spec") or {}).get("nodeName") or node_name
        while True:  # like wait.PollUntilContextTimeout(interval 1s, not immediate)
            remaining = deadline - clock.now()
            if remaining <= 0:
                return Status.from_error(RuntimeError("binding volumes: context deadline exceeded"))
            await clock.sleep(min(self.poll_interval, remaining))
            done, error = self._check_bindings(node, volumes)
            if error:
                return Status.from_error(RuntimeError(f"binding volumes: {error}"))
            if done:
                log.debug("all volumes of pod %s are bound", pod_key(pod))
                return None

    def _check_bindings(self, node_name: str, volumes: PodVolumes) -> tuple[bool, str]:
        """(all claims bound, fatal error) from the informer caches (upstream checkBindings)."""
        listers = self.handle.listers
        for pv, pvc in volumes.static_bindings:
            m = _meta(pvc)
            current_pv = listers.persistent_volumes.get(_meta(pv).get("name", ""))
            if current_pv is None:
                return False, f'failed to get pv "{_meta(pv).get("name")}" from cache'
            if not (current_pv.get("spec") or {}).get("claimRef"):
                return False, f'pv "{_meta(pv).get("name")}" was not bound to claim "{m.get("name")}" anymore'
            current = listers.persistent_volume_claims.get(m.get("name", ""), m.get("namespace", ""))
            if current is None or not pvc_fully_bound(current):
                return False, ""
        for pvc in volumes.provisions:
            m = _meta(pvc)
            current = listers.persistent_volume_claims.get(m.get("name", ""), m.get("namespace", ""))
            if current is None:
                return False, f'failed to get pvc "{m.get("namespace")}/{m.get("name")}" from cache'
            annotations = _meta(current).get("annotations")
            if not annotations:
                return False, f'selectedNode annotation reset for PVC "{m.get("name")}"'
            if annotations.get(ANN_SELECTED_NODE) != node_name:
                return False, f'provisioning failed for PVC "{m.get("name")}"'
            if not pvc_fully_bound(current):
                return False, ""
            bound_pv = listers.persistent_volumes.get((current.get("spec") or {}).get("volumeName") or "")
            if bound_pv is None:
                return False, ""
        return True, ""

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(STORAGE_CLASS, ActionType.ADD | ActionType.UPDATE)),
            ClusterEventWithHint(ClusterEvent(PERSISTENT_VOLUME_CLAIM, ActionType.ADD | ActionType.UPDATE)),
            ClusterEventWithHint(ClusterEvent(PERSISTENT_VOLUME, ActionType.ADD | ActionType.UPDATE)),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL
                                              | ActionType.UPDATE_NODE_TAINT)),
            ClusterEventWithHint(ClusterEvent(CSI_NODE, ActionType.ADD | ActionType.UPDATE)),
        ]

"""Printers of the core (v1) API group: pods, nodes, services, events, volumes and the rest.

Each `*_printer()` builds the columns and the cell function of upstream's `print<Kind>` in
pkg/printers/internalversion/printers.go. Cells read the v1 JSON form of the object, which the server
has already defaulted (defaults such as Service `type: ClusterIP` therefore show up in cells).
"""

from __future__ import annotations

from typing import Any

from kijabi.machinery.printers._base import (
    Printer,
    age_col,
    col,
    containers_cols,
    doc,
    name_col,
)
from kijabi.machinery.printers._format import (
    access_modes,
    containers,
    format_labels,
    human_duration,
    lb_ingress,
    parse_time,
    quantity,
    since,
)

Obj = dict[str, Any]
_EMPTY: dict[str, Any] = {}


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or _EMPTY


def replicas(spec: Obj) -> Any:
    """`spec.replicas` of a workload; API defaulting makes an unset value 1."""
    value = spec.get("replicas")
    return 1 if value is None else value


# --- Pod ------------------------------------------------------------------------------------------------

_POD_SUCCEEDED = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }
]
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def _pod_conditions(pod: Obj) -> list[Obj] | None:
    phase = (pod.get("status") or _EMPTY).get("phase")
    if phase == "Succeeded":
        return [dict(c) for c in _POD_SUCCEEDED]
    if phase == "Failed":
        return [dict(c) for c in _POD_FAILED]
    return None


def _finished_at(status: Obj) -> float | None:
    last = status.get("lastState")
    if not last:
        return None
    term = last.get("terminated")
    if not term:
        return None
    return parse_time(term.get("finishedAt"))


def _exit_reason(term: Obj, prefix: str) -> str:
    reason = term.get("reason")
    if reason:
        return prefix + str(reason)
    signal = term.get("signal") or 0
    if signal:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{term.get('exitCode') or 0}"


def _pod_cells(pod: Obj, now: float) -> list[Any]:
    meta = pod.get("metadata") or _EMPTY
    spec = pod.get("spec") or _EMPTY
    status = pod.get("status") or _EMPTY
    conditions = status.get("conditions") or ()
    init_specs = spec.get("initContainers") or ()

    total = len(spec.get("containers") or ())
    ready = restarts = sidecar_restarts = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in conditions:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    sidecars: set[str] = set()
    for ic in init_specs:
        if ic.get("restartPolicy") == "Always":
            sidecars.add(ic.get("name") or "")
            total += 1

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or ()):
        count = cs.get("restartCount") or 0
        restarts += count
        finished = _finished_at(cs)
        if finished is not None and (last_restart is None or finished > last_restart):
            last_restart = finished
        sidecar = bool(sidecars) and (cs.get("name") or "") in sidecars
        if sidecar:
            sidecar_restarts += count
            if finished is not None and (last_sidecar_restart is None or finished > last_sidecar_restart):
                last_sidecar_restart = finished
        state = cs.get("state") or _EMPTY
        term = state.get("terminated")
        if term is not None and not term.get("exitCode"):
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        waiting = state.get("waiting")
        if term is not None:
            reason = _exit_reason(term, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _initialized(conditions):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or ()):
            restarts += cs.get("restartCount") or 0
            if cs.get("lastState"):
                finished = _finished_at(cs)
                if finished is not None and (last_restart is None or finished > last_restart):
                    last_restart = finished
            state = cs.get("state") or _EMPTY
            waiting = state.get("waiting")
            term = state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None:
                reason = _exit_reason(term, "")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_cond = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if ready_cond else "NotReady"

    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"

    pod_ips = status.get("podIPs")
    ip = (pod_ips[0].get("ip") if pod_ips else status.get("podIP")) or "<none>"
    gates_text = "<none>"
    gates = spec.get("readinessGates")
    if gates:
        true_count = 0
        for gate in gates:
            wanted = gate.get("conditionType")
            for cond in conditions:
                if cond.get("type") == wanted:
                    if cond.get("status") == "True":
                        true_count += 1
                    break
        gates_text = f"{true_count}/{len(gates)}"
    return [
        meta.get("name") or "",
        f"{ready}/{total}",
        reason,
        restarts_text,
        since(meta.get("creationTimestamp"), now),
        ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]


def _initialized(conditions: Any) -> bool:
    for cond in conditions:
        if cond.get("type") == "Initialized":
            return bool(cond.get("status") == "True")
    return False


def pod_printer() -> Printer:
    return Printer(
        [
            name_col(),
            col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
            col("Status", "string", "The aggregate status of the containers in this pod."),
            col(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last "
                "container in this pod has restarted.",
            ),
            age_col(),
            col("IP", "string", doc("core.v1.PodStatus", "podIP"), priority=1),
            col("Node", "string", doc("core.v1.PodSpec", "nodeName"), priority=1),
            col("Nominated Node", "string", doc("core.v1.PodStatus", "nominatedNodeName"), priority=1),
            col("Readiness Gates", "string", doc("core.v1.PodSpec", "readinessGates"), priority=1),
        ],
        _pod_cells,
        row_conditions=_pod_conditions,
    )


def pod_template_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        template = obj.get("template") or _EMPTY
        names, images = containers(template.get("spec"))
        labels = (template.get("metadata") or _EMPTY).get("labels")
        return [_meta(obj).get("name") or "", names, images, format_labels(labels)]

    return Printer(
        [
            name_col(),
            col("Containers", "string", "Names of each container in the template."),
            col("Images", "string", "Images referenced by each container in the template."),
            col("Pod Labels", "string", "The labels for the pod template."),
        ],
        cells,
    )


def replication_controller_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta, spec, status = _meta(obj), obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY
        names, images = containers((spec.get("template") or _EMPTY).get("spec"))
        return [
            meta.get("name") or "",
            replicas(spec),
            status.get("replicas") or 0,
            status.get("readyReplicas") or 0,
            since(meta.get("creationTimestamp"), now),
            names,
            images,
            format_labels(spec.get("selector")),
        ]

    return Printer(
        [
            name_col(),
            col("Desired", "integer", doc("core.v1.ReplicationControllerSpec", "replicas")),
            col("Current", "integer", doc("core.v1.ReplicationControllerStatus", "replicas")),
            col("Ready", "integer", doc("core.v1.ReplicationControllerStatus", "readyReplicas")),
            age_col(),
            *containers_cols(),
            col("Selector", "string", doc("core.v1.ReplicationControllerSpec", "selector"), priority=1),
        ],
        cells,
    )


# --- Service, Endpoints --------------------------------------------------------------------------------


def _external_ip(spec: Obj, status: Obj) -> str:
    kind = spec.get("type") or ""
    external = spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        addresses = lb_ingress(status.get("loadBalancer"))
        if external:
            return ",".join(([addresses] if addresses else []) + list(external))
        return addresses or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _service_cells(obj: Obj, now: float) -> list[Any]:
    meta, spec, status = _meta(obj), obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = []
    for p in spec.get("ports") or ():
        node_port = p.get("nodePort") or 0
        proto = p.get("protocol") or ""
        port = p.get("port") or 0
        ports.append(f"{port}:{node_port}/{proto}" if node_port > 0 else f"{port}/{proto}")
    return [
        meta.get("name") or "",
        spec.get("type") or "",
        cluster_ips[0] if cluster_ips else "<none>",
        _external_ip(spec, status),
        ",".join(ports) or "<none>",
        since(meta.get("creationTimestamp"), now),
        format_labels(spec.get("selector")),
    ]


def service_printer() -> Printer:
    spec = "core.v1.ServiceSpec"
    return Printer(
        [
            name_col(),
            col("Type", "string", doc(spec, "type")),
            col("Cluster-IP", "string", doc(spec, "clusterIP")),
            col("External-IP", "string", doc(spec, "externalIPs")),
            col("Port(s)", "string", doc(spec, "ports")),
            age_col(),
            col("Selector", "string", doc(spec, "selector"), priority=1),
        ],
        _service_cells,
    )


def _host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def format_endpoints(subsets: Any) -> str:
    """`formatEndpoints`: the first three ready `ip:port`s, then ` + N more...`."""
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for subset in subsets:
        addresses = subset.get("addresses") or ()
        ports = subset.get("ports") or ()
        if not ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(addr.get("ip") or "")
            continue
        for port in ports:
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_host_port(addr.get("ip") or "", port.get("port") or 0))
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def endpoints_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta = _meta(obj)
        return [
            meta.get("name") or "",
            format_endpoints(obj.get("subsets")),
            since(meta.get("creationTimestamp"), now),
        ]

    return Printer(
        [name_col(), col("Endpoints", "string", doc("core.v1.Endpoints", "subsets")), age_col()], cells
    )


# --- Node ---------------------------------------------------------------------------------------------


def _node_roles(labels: Any) -> str:
    roles: set[str] = set()
    for key, value in (labels or _EMPTY).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/") :]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def _node_address(status: Obj, kind: str) -> str:
    for addr in status.get("addresses") or ():
        if addr.get("type") == kind:
            return str(addr.get("address") or "")
    return "<none>"


def _node_cells(obj: Obj, now: float) -> list[Any]:
    meta, spec, status = _meta(obj), obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY
    ready: Obj | None = None
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Ready":
            ready = cond
    state = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    info = status.get("nodeInfo") or _EMPTY
    return [
        meta.get("name") or "",
        state,
        _node_roles(meta.get("labels")),
        since(meta.get("creationTimestamp"), now),
        info.get("kubeletVersion") or "",
        _node_address(status, "InternalIP"),
        _node_address(status, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def node_printer() -> Printer:
    info, status = "core.v1.NodeSystemInfo", "core.v1.NodeStatus"
    return Printer(
        [
            name_col(),
            col("Status", "string", "The status of the node"),
            col("Roles", "string", "The roles of the node"),
            age_col(),
            col("Version", "string", doc(info, "kubeletVersion")),
            col("Internal-IP", "string", doc(status, "addresses"), priority=1),
            col("External-IP", "string", doc(status, "addresses"), priority=1),
            col("OS-Image", "string", doc(info, "osImage"), priority=1),
            col("Kernel-Version", "string", doc(info, "kernelVersion"), priority=1),
            col("Container-Runtime", "string", doc(info, "containerRuntimeVersion"), priority=1),
        ],
        _node_cells,
    )


# --- Event (core/v1 and events.k8s.io/v1 share one printer upstream) ---------------------------------

_EVENTS_V1_FIELDS = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("deprecatedSource", "source"),
)


def _event_cells(obj: Obj, now: float) -> list[Any]:
    api_version = str(obj.get("apiVersion") or "")
    if api_version.startswith("events.k8s.io/") or (
        not api_version and "involvedObject" not in obj and ("regarding" in obj or "note" in obj)
    ):
        obj = {**obj, **{core: obj.get(new) for new, core in _EVENTS_V1_FIELDS}}
    meta = _meta(obj)
    first = since(obj.get("firstTimestamp"), now)
    if parse_time(obj.get("firstTimestamp")) is None:
        first = since(obj.get("eventTime"), now)
    last = since(obj.get("lastTimestamp"), now)
    if parse_time(obj.get("lastTimestamp")) is None:
        last = first
    count = obj.get("count") or 0
    series = obj.get("series")
    if series is not None:
        last = since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1
    involved = obj.get("involvedObject") or _EMPTY
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = obj.get("source") or _EMPTY
    component = source.get("component") or obj.get("reportingController") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    return [
        last,
        obj.get("type") or "",
        obj.get("reason") or "",
        target,
        involved.get("fieldPath") or "",
        f"{component}, {instance}" if instance else component,
        str(obj.get("message") or "").strip(),
        first,
        count,
        meta.get("name") or "",
    ]


def event_printer() -> Printer:
    ev = "core.v1.Event"
    return Printer(
        [
            col("Last Seen", "string", doc(ev, "lastTimestamp")),
            col("Type", "string", doc(ev, "type")),
            col("Reason", "string", doc(ev, "reason")),
            col("Object", "string", doc(ev, "involvedObject")),
            col("Subobject", "string", doc("core.v1.ObjectReference", "fieldPath"), priority=1),
            col("Source", "string", doc(ev, "source"), priority=1),
            col("Message", "string", doc(ev, "message")),
            col("First Seen", "string", doc(ev, "firstTimestamp"), priority=1),
            col("Count", "string", doc(ev, "count"), priority=1),
            col("Name", "string", doc("meta.v1.ObjectMeta", "name"), priority=1, fmt="name"),
        ],
        _event_cells,
    )


# --- small core types -----------------------------------------------------------------------------


def namespace_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta = _meta(obj)
        phase = (obj.get("status") or _EMPTY).get("phase") or ""
        return [meta.get("name") or "", phase, since(meta.get("creationTimestamp"), now)]

    return Printer([name_col(), col("Status", "string", "The status of the namespace"), age_col()], cells)


def secret_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta = _meta(obj)
        data = obj.get("data") or _EMPTY
        return [
            meta.get("name") or "",
            obj.get("type") or "",
            len(data),
            since(meta.get("creationTimestamp"), now),
        ]

    return Printer(
        [
            name_col(),
            col("Type", "string", doc("core.v1.Secret", "type")),
            col("Data", "string", doc("core.v1.Secret", "data")),
            age_col(),
        ],
        cells,
    )


def config_map_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta = _meta(obj)
        size = len(obj.get("data") or _EMPTY) + len(obj.get("binaryData") or _EMPTY)
        return [meta.get("name") or "", size, since(meta.get("creationTimestamp"), now)]

    return Printer([name_col(), col("Data", "string", doc("core.v1.ConfigMap", "data")), age_col()], cells)


def service_account_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta = _meta(obj)
        return [
            meta.get("name") or "",
            len(obj.get("secrets") or ()),
            since(meta.get("creationTimestamp"), now),
        ]

    return Printer(
        [name_col(), col("Secrets", "string", doc("core.v1.ServiceAccount", "secrets")), age_col()], cells
    )


def component_status_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        state, message, error = "Unknown", "", ""
        for cond in obj.get("conditions") or ():
            if cond.get("type") == "Healthy":
                state = "Healthy" if cond.get("status") == "True" else "Unhealthy"
                message, error = cond.get("message") or "", cond.get("error") or ""
                break
        return [_meta(obj).get("name") or "", state, message, error]

    return Printer(
        [
            name_col(),
            col("Status", "string", "Status of the component conditions"),
            col("Message", "string", "Message of the component conditions"),
            col("Error", "string", "Error of the component conditions"),
        ],
        cells,
    )


# --- volumes -----------------------------------------------------------------------------------------

_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


def _pv_cells(obj: Obj, now: float) -> list[Any]:
    meta, spec, status = _meta(obj), obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY
    claim = spec.get("claimRef")
    annotations = meta.get("annotations") or _EMPTY
    storage_class = (
        annotations[_BETA_CLASS] if _BETA_CLASS in annotations else spec.get("storageClassName") or ""
    )
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase") or ""
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        meta.get("name") or "",
        quantity((spec.get("capacity") or _EMPTY).get("storage")),
        access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy") or "",
        phase,
        f"{claim.get('namespace') or ''}/{claim.get('name') or ''}" if claim is not None else "",
        storage_class,
        "<unset>" if vac is None else vac,
        status.get("reason") or "",
        since(meta.get("creationTimestamp"), now),
        "<unset>" if mode is None else mode,
    ]


def persistent_volume_printer() -> Printer:
    spec, status = "core.v1.PersistentVolumeSpec", "core.v1.PersistentVolumeStatus"
    return Printer(
        [
            name_col(),
            col("Capacity", "string", doc(spec, "capacity")),
            col("Access Modes", "string", doc(spec, "accessModes")),
            col("Reclaim Policy", "string", doc(spec, "persistentVolumeReclaimPolicy")),
            col("Status", "string", doc(status, "phase")),
            col("Claim", "string", doc(spec, "claimRef")),
            col("StorageClass", "string", "StorageClass of the pv"),
            col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
            col("Reason", "string", doc(status, "reason")),
            age_col(),
            col("VolumeMode", "string", doc(spec, "volumeMode"), priority=1),
        ],
        _pv_cells,
    )


def _pvc_cells(obj: Obj, now: float) -> list[Any]:
    meta, spec, status = _meta(obj), obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase") or ""
    volume = spec.get("volumeName") or ""
    capacity = modes = ""
    if volume:
        modes = access_modes(status.get("accessModes"))
        capacity = quantity((status.get("capacity") or _EMPTY).get("storage"))
    annotations = meta.get("annotations") or _EMPTY
    if _BETA_CLASS in annotations:
        storage_class = annotations[_BETA_CLASS]
    else:
        storage_class = spec.get("storageClassName") or ""
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        meta.get("name") or "",
        phase,
        volume,
        capacity,
        modes,
        storage_class,
        "<unset>" if vac is None else vac,
        since(meta.get("creationTimestamp"), now),
        "<unset>" if mode is None else mode,
    ]


def persistent_volume_claim_printer() -> Printer:
    spec, status = "core.v1.PersistentVolumeClaimSpec", "core.v1.PersistentVolumeClaimStatus"
    return Printer(
        [
            name_col(),
            col("Status", "string", doc(status, "phase")),
            col("Volume", "string", doc(spec, "volumeName")),
            col("Capacity", "string", doc(status, "capacity")),
            col("Access Modes", "string", doc(status, "accessModes")),
            col("StorageClass", "string", "StorageClass of the pvc"),
            col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
            age_col(),
            col("VolumeMode", "string", doc(spec, "volumeMode"), priority=1),
        ],
        _pvc_cells,
    )


# --- ResourceQuota (v1.32 column order: Age second) ------------------------------------------------------


def _quota_cells(obj: Obj, now: float) -> list[Any]:
    meta, status = _meta(obj), obj.get("status") or _EMPTY
    hard = status.get("hard") or _EMPTY
    used = status.get("used") or _EMPTY
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        pieces = resource.split(".")
        target = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        target.append(f"{resource}: {quantity(used.get(resource))}/{quantity(hard[resource])}")
    return [
        meta.get("name") or "",
        since(meta.get("creationTimestamp"), now),
        ", ".join(requests),
        ", ".join(limits),
    ]


def resource_quota_printer() -> Printer:
    return Printer(
        [
            name_col(),
            age_col(),
            col(
                "Request",
                "string",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            col(
                "Limit",
                "string",
                "Limits control the maximum amount of cpu/memory that a container may use independent of "
                "contention on the node.",
            ),
        ],
        _quota_cells,
    )

"""Defaults of the core group (`v1`): upstream pkg/apis/core/v1/defaults.go and its generated walker.

Pods and pod templates share everything under a PodSpec (`pod_spec`). Three defaults are applied
to Pod objects only, never to templates in workloads: `enableServiceLinks`, container requests copied
from limits, and host ports copied from container ports under `hostNetwork`.

Feature-gated defaults whose gates are off in v1.32 are not applied: pod-level resources
(PodLevelResources), image volume pull policy (ImageVolume), host ports in templates
(DefaultHostNetworkHostPortsInPodTemplates). `ConfigMap.data` defaults to an empty map upstream,
which is invisible on the wire, so it is not added here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._image import image_tag
from ._walk import Defaulter, Obj, each, pointer, resource_list, resources, struct

GROUP = ""

_VOLUME_SOURCES = frozenset(
    {
        "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi",
        "downwardAPI", "emptyDir", "ephemeral", "fc", "flexVolume", "flocker", "gcePersistentDisk",
        "gitRepo", "glusterfs", "hostPath", "image", "iscsi", "nfs", "persistentVolumeClaim",
        "photonPersistentDisk", "portworxVolume", "projected", "quobyte", "rbd", "scaleIO", "secret",
        "storageos", "vsphereVolume",
    }
)  # fmt: skip
"""Every field of core/v1 VolumeSource (all pointers): a volume with none of them gets emptyDir."""

_FILE_MODE_DEFAULT = 0o644  # 420: secret, configMap, downwardAPI and projected volumes
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


# -- PodSpec -------------------------------------------------------------------------------------------


def pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and everything the generated walker applies below a PodSpec."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for key in _CONTAINER_LISTS:
        containers = spec.get(key)
        if isinstance(containers, list):
            for c in containers:
                if isinstance(c, dict):
                    container(c)
    volumes = spec.get("volumes")
    if isinstance(volumes, list):
        for vol in volumes:
            if isinstance(vol, dict):
                volume(vol)
    if "overhead" in spec:
        resource_list(spec, "overhead")
    if "resources" in spec:
        resources(spec, "resources")


def pod_template(template: Obj) -> None:
    """A PodTemplateSpec inside a workload: PodSpec defaults, none of the Pod-only ones."""
    pod_spec(struct(template, "spec"))


def container(c: Obj) -> None:
    """SetDefaults_Container (also for init and ephemeral containers) and what lies below it."""
    if not c.get("imagePullPolicy"):
        image = c.get("image")
        tag = image_tag(image) if isinstance(image, str) else None
        c["imagePullPolicy"] = "Always" if tag == "latest" else "IfNotPresent"
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = "/dev/termination-log"
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    # One pass over the container's own fields finds the few that have defaults below them.
    for key, value in c.items():
        walker = _CONTAINER_FIELDS.get(key)
        if walker is not None:
            walker(value)


def _ports(ports: Any) -> None:
    if isinstance(ports, list):
        for port in ports:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


def _env(env: Any) -> None:
    if isinstance(env, list):
        for var in env:
            if isinstance(var, dict):
                source = var.get("valueFrom")
                if isinstance(source, dict):
                    field_selector(source.get("fieldRef"))


def _resources(value: Any) -> None:
    if isinstance(value, dict):
        resource_list(value, "limits")
        resource_list(value, "requests")


def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    if not probe.get("timeoutSeconds"):
        probe["timeoutSeconds"] = 1
    if not probe.get("periodSeconds"):
        probe["periodSeconds"] = 10
    if not probe.get("successThreshold"):
        probe["successThreshold"] = 1
    if not probe.get("failureThreshold"):
        probe["failureThreshold"] = 3
    _http_get(probe.get("httpGet"))
    grpc = probe.get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""


def _lifecycle(lifecycle: Any) -> None:
    if isinstance(lifecycle, dict):
        for key in ("postStart", "preStop"):
            handler = lifecycle.get(key)
            if isinstance(handler, dict):
                _http_get(handler.get("httpGet"))


def _http_get(action: Any) -> None:
    if isinstance(action, dict):
        if not action.get("path"):
            action["path"] = "/"
        if not action.get("scheme"):
            action["scheme"] = "HTTP"


_CONTAINER_FIELDS: dict[str, Callable[[Any], None]] = {
    "ports": _ports,
    "env": _env,
    "resources": _resources,
    "livenessProbe": _probe,
    "readinessProbe": _probe,
    "startupProbe": _probe,
    "lifecycle": _lifecycle,
}


def field_selector(selector: Any) -> None:
    """SetDefaults_ObjectFieldSelector: `apiVersion: v1` when empty."""
    if isinstance(selector, dict) and not selector.get("apiVersion"):
        selector["apiVersion"] = "v1"


# -- volumes -----------------------------------------------------------------------------------------


def volume(vol: Obj) -> None:
    """SetDefaults_Volume and the defaults of each volume source."""
    has_source = False
    for key, value in vol.items():
        if value is not None and key in _VOLUME_SOURCES:
            has_source = True
            walker = _VOLUME_SOURCE_FIELDS.get(key)
            if walker is not None and isinstance(value, dict):
                walker(value)
    if not has_source:
        vol["emptyDir"] = {}


def _file_mode(source: Obj) -> None:
    if source.get("defaultMode") is None:
        source["defaultMode"] = _FILE_MODE_DEFAULT


def _downward_api(source: Obj) -> None:
    _file_mode(source)
    _downward_items(source)


def _downward_items(source: Obj) -> None:
    for item in each(source, "items"):
        field_selector(item.get("fieldRef"))


def _projected(projected: Obj) -> None:
    _file_mode(projected)
    for source in each(projected, "sources"):
        downward = source.get("downwardAPI")
        if isinstance(downward, dict):
            _downward_items(downward)
        token = source.get("serviceAccountToken")
        if isinstance(token, dict) and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = 3600


def _ephemeral(ephemeral: Obj) -> None:
    claim = ephemeral.get("volumeClaimTemplate")
    if isinstance(claim, dict):
        pvc_spec(struct(claim, "spec"))


def _host_path(source: Obj) -> None:
    if source.get("type") is None:
        source["type"] = ""


# Declarative (`+default=`) defaults of in-tree volume sources, in volumes and PV specs alike.


def _iscsi(iscsi: Obj) -> None:
    if not iscsi.get("iscsiInterface"):
        iscsi["iscsiInterface"] = "default"


def _rbd(rbd: Obj) -> None:
    if not rbd.get("pool"):
        rbd["pool"] = "rbd"
    if not rbd.get("user"):
        rbd["user"] = "admin"
    if not rbd.get("keyring"):
        rbd["keyring"] = "/etc/ceph/keyring"


def _azure_disk(azure: Obj) -> None:
    if azure.get("cachingMode") is None:
        azure["cachingMode"] = "ReadWrite"
    if azure.get("fsType") is None:
        azure["fsType"] = "ext4"
    if azure.get("readOnly") is None:
        azure["readOnly"] = False
    if azure.get("kind") is None:
        azure["kind"] = "Shared"


def _scale_io(scaleio: Obj) -> None:
    if not scaleio.get("storageMode"):
        scaleio["storageMode"] = "ThinProvisioned"
    if not scaleio.get("fsType"):
        scaleio["fsType"] = "xfs"


_PV_SOURCE_FIELDS: dict[str, Callable[[Obj], None]] = {
    "hostPath": _host_path,
    "iscsi": _iscsi,
    "rbd": _rbd,
    "azureDisk": _azure_disk,
    "scaleIO": _scale_io,
}
_VOLUME_SOURCE_FIELDS: dict[str, Callable[[Obj], None]] = {
    **_PV_SOURCE_FIELDS,
    "secret": _file_mode,
    "configMap": _file_mode,
    "downwardAPI": _downward_api,
    "projected": _projected,
    "ephemeral": _ephemeral,
}


def pv_spec_sources(spec: Obj) -> None:
    """The volume-source defaults of a PersistentVolumeSpec, and its capacity rounding."""
    resource_list(spec, "capacity")
    for key, walker in _PV_SOURCE_FIELDS.items():
        source = spec.get(key)
        if isinstance(source, dict):
            walker(source)


def pvc_spec(spec: Obj) -> None:
    """SetDefaults_PersistentVolumeClaimSpec (also in ephemeral volumes and StatefulSet templates)."""
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    resources(spec, "resources")


# -- kinds ---------------------------------------------------------------------------------------------


def pod(obj: Obj) -> None:
    spec = struct(obj, "spec")
    for key in ("containers", "initContainers"):
        for c in each(spec, key):
            _requests_from_limits(c)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for c in each(spec, key):
                for port in each(c, "ports"):
                    if not port.get("hostPort") and port.get("containerPort"):
                        port["hostPort"] = port["containerPort"]
    pod_spec(spec)
    status = pointer(obj, "status")
    if status is not None:
        for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
            for cs in each(status, key):
                resource_list(cs, "allocatedResources")
                resources(cs, "resources")


def _requests_from_limits(c: Obj) -> None:
    res = pointer(c, "resources")
    if res is None:
        return
    limits = pointer(res, "limits")
    if not limits:
        return
    requests = res.get("requests")
    if not isinstance(requests, dict):
        if requests is not None:
            return
        requests = {}
    for name, value in limits.items():
        if name not in requests:
            requests[name] = value
    if requests:
        res["requests"] = requests


def pod_template_object(obj: Obj) -> None:
    pod_template(struct(obj, "template"))


def replication_controller(obj: Obj) -> None:
    spec = struct(obj, "spec")
    template = pointer(spec, "template")
    if template is not None:
        labels = _template_labels(template)
        if labels:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = struct(obj, "metadata")
            if not meta.get("labels"):
                meta["labels"] = dict(labels)
        pod_template(template)
    if spec.get("replicas") is None:
        spec["replicas"] = 1


def _template_labels(template: Obj) -> Obj | None:
    meta = pointer(template, "metadata")
    return pointer(meta, "labels") if meta is not None else None


def service(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    affinity = spec["sessionAffinity"]
    if affinity == "None":
        spec.pop("sessionAffinityConfig", None)
    elif affinity == "ClientIP":
        config = pointer(spec, "sessionAffinityConfig")
        client_ip = pointer(config, "clientIP") if config is not None else None
        if client_ip is None or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    kind = spec["type"]
    for port in each(spec, "ports"):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        target = port.get("targetPort")
        if target is None or target == "" or (target == 0 and not isinstance(target, bool)):
            port["targetPort"] = port.get("port") or 0
    external = kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))
    if external and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if kind == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        status = pointer(obj, "status")
        balancer = pointer(status, "loadBalancer") if status is not None else None
        if balancer is not None:
            for ingress in each(balancer, "ingress"):
                if ingress.get("ip") and ingress.get("ipMode") is None:
                    ingress["ipMode"] = "VIP"


def endpoints(obj: Obj) -> None:
    for subset in each(obj, "subsets"):
        for port in each(subset, "ports"):
            if not port.get("protocol"):
                port["protocol"] = "TCP"


def namespace(obj: Obj) -> None:
    meta = pointer(obj, "metadata")
    name = meta.get("name") if meta is not None else None
    if meta is not None and name and isinstance(name, str):
        struct(meta, "labels")["kubernetes.io/metadata.name"] = name
    status = struct(obj, "status")
    if not status.get("phase"):
        status["phase"] = "Active"


def secret(obj: Obj) -> None:
    if not obj.get("type"):
        obj["type"] = "Opaque"


def persistent_volume(obj: Obj) -> None:
    status = struct(obj, "status")
    if not status.get("phase"):
        status["phase"] = "Pending"
    spec = struct(obj, "spec")
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    pv_spec_sources(spec)


def persistent_volume_claim(obj: Obj) -> None:
    """SetDefaults_PersistentVolumeClaim with its spec (also StatefulSet volumeClaimTemplates)."""
    status = struct(obj, "status")
    if not status.get("phase"):
        status["phase"] = "Pending"
    pvc_spec(struct(obj, "spec"))
    resource_list(status, "capacity")
    resource_list(status, "allocatedResources")


def node(obj: Obj) -> None:
    status = pointer(obj, "status")
    if status is None:
        return
    capacity = pointer(status, "capacity")
    if status.get("allocatable") is None and capacity:
        status["allocatable"] = dict(capacity)
    resource_list(status, "capacity")
    resource_list(status, "allocatable")


def limit_range(obj: Obj) -> None:
    spec = pointer(obj, "spec")
    if spec is None:
        return
    for item in each(spec, "limits"):
        if item.get("type") == "Container":
            _fill(item, "default", pointer(item, "max"))
            _fill(item, "defaultRequest", pointer(item, "default"))
            _fill(item, "defaultRequest", pointer(item, "min"))
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            resource_list(item, key)


def _fill(item: Obj, key: str, source: Obj | None) -> None:
    """Copy into the ResourceList `item[key]` every entry of `source` it lacks."""
    if not source:
        return
    target = item.get(key)
    if not isinstance(target, dict):
        if target is not None:
            return
        target = {}
    for name, value in source.items():
        if name not in target:
            target[name] = value
    item[key] = target


def resource_quota(obj: Obj) -> None:
    spec = pointer(obj, "spec")
    if spec is not None:
        resource_list(spec, "hard")
    status = pointer(obj, "status")
    if status is not None:
        resource_list(status, "hard")
        resource_list(status, "used")


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "Pod"): pod,
    ("v1", "PodTemplate"): pod_template_object,
    ("v1", "ReplicationController"): replication_controller,
    ("v1", "Service"): service,
    ("v1", "Endpoints"): endpoints,
    ("v1", "Namespace"): namespace,
    ("v1", "Secret"): secret,
    ("v1", "PersistentVolume"): persistent_volume,
    ("v1", "PersistentVolumeClaim"): persistent_volume_claim,
    ("v1", "Node"): node,
    ("v1", "LimitRange"): limit_range,
    ("v1", "ResourceQuota"): resource_quota,
}

"""Volumes: pod volume sources, PersistentVolume and PersistentVolumeClaim specs.

Upstream: kubernetes `pkg/apis/core/validation/validation.go` (ValidateVolumes,
validateVolumeSource and the per-plugin validators, ValidatePersistentVolumeSpec,
ValidatePersistentVolumeClaimSpec). The order of checks, and upstream's path quirks
(`downwarAPI`, `persistentDisk`, `cephfs` vs `cephFS`), are kept so messages match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from kijabi.machinery import errors as E

from . import meta
from ._util import Errs, d, lst, num, quantity, s

FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
MORE_THAN_ONE = "may not specify more than 1 volume type"

# --- paths ----------------------------------------------------------------------------------------


def validate_path_no_backsteps(target: str, path: str) -> Errs:
    if ".." in target.split("/"):
        return [E.invalid_value(path, target, "must not contain '..'")]
    return []


def validate_local_descending_path(target: str, path: str) -> Errs:
    errs: Errs = []
    if target.startswith("/"):
        errs.append(E.invalid_value(path, target, "must be a relative path"))
    errs.extend(validate_path_no_backsteps(target, path))
    return errs


def validate_local_non_reserved_path(target: str, path: str) -> Errs:
    errs = validate_local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(E.invalid_value(path, target, "must not start with '..'"))
    return errs


def _mode(value: Any, path: str, errs: Errs) -> None:
    if value is not None and not 0 <= num(value) <= 0o777:
        errs.append(E.invalid_value(path, value, FILE_MODE_ERROR))


def _key_to_path(item: Any, path: str) -> Errs:
    item = d(item)
    errs: Errs = []
    if not s(item.get("key")):
        errs.append(E.required(f"{path}.key"))
    target = s(item.get("path"))
    if not target:
        errs.append(E.required(f"{path}.path"))
    errs.extend(validate_local_non_reserved_path(target, f"{path}.path"))
    _mode(item.get("mode"), f"{path}.mode", errs)
    return errs


# --- downward API ---------------------------------------------------------------------------------

VOLUME_FIELD_PATHS = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
]
ENV_FIELD_PATHS = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
]
_CONVERTIBLE_FIELD_LABELS = frozenset(
    {
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.serviceAccountName",
        "spec.schedulerName",
        "status.phase",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    }
)
RESOURCE_FIELD_PATHS = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
]
_BYTE_DIVISORS = frozenset(
    {"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)
_BYTE_DIVISOR_LIST = "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei"


def _split_subscript(field_path: str) -> tuple[str, str, bool]:
    """`metadata.labels['key']` -> ('metadata.labels', 'key', True)."""
    if not field_path.endswith("']"):
        return field_path, "", False
    head, sep, sub = field_path[:-2].partition("['")
    if not sep or not head:
        return field_path, "", False
    return head, sub, True


def validate_object_field_selector(fs: Any, expressions: list[str], path: str) -> Errs:
    fs = d(fs)
    api_version, field_path = s(fs.get("apiVersion")), s(fs.get("fieldPath"))
    if not api_version:
        return [E.required(f"{path}.apiVersion")]
    if not field_path:
        return [E.required(f"{path}.fieldPath")]
    internal = field_path
    error = ""
    if api_version != "v1":
        error = f"unsupported pod version: {api_version}"
    else:
        head, _, subscripted = _split_subscript(field_path)
        if subscripted:
            if head not in ("metadata.annotations", "metadata.labels"):
                error = f"field label does not support subscript: {field_path}"
        elif field_path == "spec.host":
            internal = "spec.nodeName"
        elif field_path not in _CONVERTIBLE_FIELD_LABELS:
            error = f"field label not supported: {field_path}"
    if error:
        return [E.invalid_value(f"{path}.fieldPath", field_path, f"error converting fieldPath: {error}")]
    head, sub, subscripted = _split_subscript(internal)
    if subscripted:
        if head == "metadata.annotations":
            return [E.invalid_value(path, sub.lower(), m) for m in meta.is_qualified_name(sub.lower())]
        if head == "metadata.labels":
            return [E.invalid_value(path, sub, m) for m in meta.is_qualified_name(sub)]
        return [E.invalid_value(path, head, "does not support subscript")]
    if head not in expressions:
        return [E.not_supported(f"{path}.fieldPath", head, sorted(expressions))]
    return []


def validate_resource_divisor(resource: str, divisor: Any, path: str) -> Errs:
    if divisor is None:
        return []
    errs: Errs = []
    q = quantity(divisor, f"{path}.divisor", errs)
    if q is None or q.sign() == 0:
        return errs
    text = str(q)
    if resource in ("limits.cpu", "requests.cpu"):
        if text not in ("1m", "1"):
            errs.append(
                E.invalid_value(
                    f"{path}.divisor",
                    resource,
                    "only divisor's values 1m and 1 are supported with the cpu resource",
                )
            )
    elif resource in ("limits.memory", "requests.memory"):
        if text not in _BYTE_DIVISORS:
            errs.append(
                E.invalid_value(
                    f"{path}.divisor",
                    resource,
                    f"only divisor's values {_BYTE_DIVISOR_LIST} are supported with the memory resource",
                )
            )
    elif (
        resource in ("limits.ephemeral-storage", "requests.ephemeral-storage") and text not in _BYTE_DIVISORS
    ):
        errs.append(
            E.invalid_value(
                f"{path}.divisor",
                resource,
                f"only divisor's values {_BYTE_DIVISOR_LIST} are supported with the local ephemeral storage resource",
            )
        )
    if resource.startswith(("requests.hugepages-", "limits.hugepages-")) and text not in _BYTE_DIVISORS:
        errs.append(
            E.invalid_value(
                f"{path}.divisor",
                resource,
                f"only divisor's values {_BYTE_DIVISOR_LIST} are supported with the hugepages resource",
            )
        )
    return errs


def validate_resource_field_selector(fs: Any, path: str, *, volume: bool) -> Errs:
    fs = d(fs)
    errs: Errs = []
    resource = s(fs.get("resource"))
    if volume and not s(fs.get("containerName")):
        errs.append(E.required(f"{path}.containerName"))
    elif not resource:
        errs.append(E.required(f"{path}.resource"))
    elif resource not in RESOURCE_FIELD_PATHS and not resource.startswith(
        ("limits.hugepages-", "requests.hugepages-")
    ):
        errs.append(E.not_supported(f"{path}.resource", resource, RESOURCE_FIELD_PATHS))
    errs.extend(validate_resource_divisor(resource, fs.get("divisor"), path))
    return errs


def _downward_api_file(item: Any, path: str) -> Errs:
    item = d(item)
    errs: Errs = []
    target = s(item.get("path"))
    if not target:
        errs.append(E.required(f"{path}.path"))
    errs.extend(validate_local_non_reserved_path(target, f"{path}.path"))
    if item.get("fieldRef") is not None:
        errs.extend(validate_object_field_selector(item["fieldRef"], VOLUME_FIELD_PATHS, f"{path}.fieldRef"))
        if item.get("resourceFieldRef") is not None:
            errs.append(
                E.invalid_value(
                    path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"
                )
            )
    elif item.get("resourceFieldRef") is not None:
        errs.extend(
            validate_resource_field_selector(
                item["resourceFieldRef"], f"{path}.resourceFieldRef", volume=True
            )
        )
    else:
        errs.append(E.required(path, "one of fieldRef and resourceFieldRef is required"))
    _mode(item.get("mode"), f"{path}.mode", errs)
    return errs


# --- the volume source plugins --------------------------------------------------------------------


def _host_path(src: Any, path: str) -> Errs:
    src = d(src)
    target = s(src.get("path"))
    if not target:
        return [E.required(f"{path}.path")]
    errs = validate_path_no_backsteps(target, f"{path}.path")
    kind = src.get("type")
    supported = [
        "",
        "BlockDevice",
        "CharDevice",
        "Directory",
        "DirectoryOrCreate",
        "File",
        "FileOrCreate",
        "Socket",
    ]
    if kind is not None and kind not in supported:
        errs.append(E.not_supported(f"{path}.type", kind, supported))
    return errs


def _git_repo(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    if not s(src.get("repository")):
        errs.append(E.required(f"{path}.repository"))
    errs.extend(validate_local_descending_path(s(src.get("directory")), f"{path}.directory"))
    return errs


def _partitioned_disk(id_field: str) -> Callable[[Any, str], Errs]:
    def check(src: Any, path: str) -> Errs:
        src = d(src)
        errs: Errs = []
        if not s(src.get(id_field)):
            errs.append(E.required(f"{path}.{id_field}"))
        partition = num(src.get("partition"))
        if partition < 0 or partition > 255:
            errs.append(E.invalid_value(f"{path}.partition", partition, meta.inclusive_range_error(1, 255)))
        return errs

    return check


def _secret(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    if not s(src.get("secretName")):
        errs.append(E.required(f"{path}.secretName"))
    _mode(src.get("defaultMode"), f"{path}.defaultMode", errs)
    for i, item in enumerate(lst(src.get("items"))):
        errs.extend(_key_to_path(item, f"{path}.items[{i}]"))
    return errs


def _config_map(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    if not s(src.get("name")):
        errs.append(E.required(f"{path}.name"))
    _mode(src.get("defaultMode"), f"{path}.defaultMode", errs)
    for i, item in enumerate(lst(src.get("items"))):
        errs.extend(_key_to_path(item, f"{path}.items[{i}]"))
    return errs


def _nfs(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    if not s(src.get("server")):
        errs.append(E.required(f"{path}.server"))
    target = s(src.get("path"))
    if not target:
        errs.append(E.required(f"{path}.path"))
    if not target.startswith("/"):
        errs.append(E.invalid_value(f"{path}.path", target, "must be an absolute path"))
    return errs


def _iscsi(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    if not s(src.get("targetPortal")):
        errs.append(E.required(f"{path}.targetPortal"))
    iqn = s(src.get("iqn"))
    if not iqn:
        errs.append(E.required(f"{path}.iqn"))
    elif not iqn.startswith(("iqn", "eui", "naa")):
        errs.append(
            E.invalid_value(f"{path}.iqn", iqn, "must be valid format starting with iqn, eui, or naa")
        )
    lun = num(src.get("lun"))
    if lun < 0 or lun > 255:
        errs.append(E.invalid_value(f"{path}.lun", lun, meta.inclusive_range_error(0, 255)))
    if (src.get("chapAuthDiscovery") or src.get("chapAuthSession")) and src.get("secretRef") is None:
        errs.append(E.required(f"{path}.secretRef"))
    return errs


def _required_fields(*fields: str) -> Callable[[Any, str], Errs]:
    """Plugins whose only rule is that some fields are set (lists count as set when non-empty)."""

    def check(src: Any, path: str) -> Errs:
        src = d(src)
        return [E.required(f"{path}.{f}") for f in fields if not src.get(f)]

    return check


def _cinder(src: Any, path: str) -> Errs:
    errs = _required_fields("volumeID")(src, path)
    ref = d(src).get("secretRef")
    if ref is not None and not s(d(ref).get("name")):
        errs.append(E.required(f"{path}.secretRef.name"))
    return errs


def _flocker(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    name, uid = s(src.get("datasetName")), s(src.get("datasetUUID"))
    if not name and not uid:
        errs.append(E.required(path, "one of datasetName and datasetUUID is required"))
    if name and uid:
        errs.append(
            E.invalid_value(
                path, "resource", "datasetName and datasetUUID can not be specified simultaneously"
            )
        )
    if "/" in name:
        errs.append(E.invalid_value(f"{path}.datasetName", name, "must not contain '/'"))
    return errs


def _fc(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    wwns, wwids = lst(src.get("targetWWNs")), lst(src.get("wwids"))
    if not wwns and not wwids:
        errs.append(E.required(f"{path}.targetWWNs", "must specify either targetWWNs or wwids, but not both"))
    if wwns and wwids:
        errs.append(
            E.invalid_value(
                f"{path}.targetWWNs", wwns, "targetWWNs and wwids can not be specified simultaneously"
            )
        )
    if wwns:
        lun = src.get("lun")
        if lun is None:
            errs.append(E.required(f"{path}.lun", "lun is required if targetWWNs is specified"))
        elif not 0 <= num(lun) <= 255:
            errs.append(E.invalid_value(f"{path}.lun", lun, meta.inclusive_range_error(0, 255)))
    return errs


def _flex(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    if not s(src.get("driver")):
        errs.append(E.required(f"{path}.driver"))
    for key in d(src.get("options")):
        namespace = key.split("/", 1)[0] if "/" in key else key
        normalized = "." + namespace.lower()
        if normalized.endswith((".kubernetes.io", ".k8s.io")):
            errs.append(
                E.invalid_value(
                    f"{path}.options[{key}]", key, "kubernetes.io and k8s.io namespaces are reserved"
                )
            )
    return errs


def validate_csi_driver_name(driver: str, path: str) -> Errs:
    errs: Errs = []
    if not driver:
        errs.append(E.required(path))
    if len(driver) > 63:
        errs.append(E.too_long(path, 63))
    errs.extend(E.invalid_value(path, driver, m) for m in meta.is_dns1123_subdomain(driver.lower()))
    return errs


def _csi(src: Any, path: str) -> Errs:
    src = d(src)
    errs = validate_csi_driver_name(s(src.get("driver")), f"{path}.driver")
    ref = src.get("nodePublishSecretRef")
    if ref is not None:
        name = s(d(ref).get("name"))
        if not name:
            errs.append(E.required(f"{path}.nodePublishSecretRef.name"))
        else:
            errs.extend(
                E.invalid_value(f"{path}.name", name, m) for m in meta.name_is_dns_subdomain(name, False)
            )
    return errs


def _azure_disk(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    if not s(src.get("diskName")):
        errs.append(E.required(f"{path}.diskName"))
    uri = s(src.get("diskURI"))
    if not uri:
        errs.append(E.required(f"{path}.diskURI"))
    caching, kind = src.get("cachingMode"), src.get("kind")
    if caching is not None and caching not in ("None", "ReadOnly", "ReadWrite"):
        errs.append(E.not_supported(f"{path}.cachingMode", caching, ["None", "ReadOnly", "ReadWrite"]))
    if kind is not None and kind not in ("Dedicated", "Managed", "Shared"):
        errs.append(E.not_supported(f"{path}.kind", kind, ["Dedicated", "Managed", "Shared"]))
    if kind == "Managed" and not uri.startswith("/subscriptions/"):
        errs.append(
            E.not_supported(
                f"{path}.diskURI",
                uri,
                [
                    "/subscriptions/{sub-id}/resourcegroups/{group-name}/providers/microsoft.compute/disks/{disk-id}"
                ],
            )
        )
    if kind is not None and kind != "Managed" and not uri.startswith("https://"):
        errs.append(
            E.not_supported(
                f"{path}.diskURI",
                uri,
                ["https://{account-name}.blob.core.windows.net/{container-name}/{disk-name}.vhd"],
            )
        )
    return errs


def _storageos(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    name = s(src.get("volumeName"))
    if not name:
        errs.append(E.required(f"{path}.volumeName"))
    else:
        errs.extend(E.invalid_value(f"{path}.volumeName", name, m) for m in meta.is_dns1123_label(name))
    namespace = s(src.get("volumeNamespace"))
    if namespace:
        errs.extend(
            E.invalid_value(f"{path}.volumeNamespace", namespace, m) for m in meta.is_dns1123_label(namespace)
        )
    ref = src.get("secretRef")
    if ref is not None and not s(d(ref).get("name")):
        errs.append(E.required(f"{path}.secretRef.name"))
    return errs


def _downward_api(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    _mode(src.get("defaultMode"), f"{path}.defaultMode", errs)
    for item in lst(src.get("items")):
        errs.extend(_downward_api_file(item, path))
    return errs


def _projected(src: Any, path: str, *, has_service_account: bool = True) -> Errs:
    src = d(src)
    errs: Errs = []
    _mode(src.get("defaultMode"), f"{path}.defaultMode", errs)
    seen: set[str] = set()
    for i, source in enumerate(lst(src.get("sources"))):
        source = d(source)
        sp = f"{path}.sources[{i}]"
        count = 0
        for kind in ("secret", "configMap"):
            proj = source.get(kind)
            if proj is None:
                continue
            count += 1
            proj = d(proj)
            if not s(proj.get("name")):
                errs.append(E.required(f"{sp}.{kind}.name"))
            for j, item in enumerate(lst(proj.get("items"))):
                errs.extend(_key_to_path(item, f"{sp}.{kind}.items[{j}]"))
                target = s(d(item).get("path"))
                if target:
                    if target in seen:
                        errs.append(E.invalid_value(path, s(proj.get("name")), "conflicting duplicate paths"))
                    seen.add(target)
        if source.get("downwardAPI") is not None:
            count += 1
            for item in lst(d(source["downwardAPI"]).get("items")):
                errs.extend(_downward_api_file(item, f"{sp}.downwardAPI"))
                target = s(d(item).get("path"))
                if target:
                    if target in seen:
                        errs.append(E.invalid_value(path, target, "conflicting duplicate paths"))
                    seen.add(target)
        if source.get("serviceAccountToken") is not None:
            count += 1
            token = d(source["serviceAccountToken"])
            expiration = num(token.get("expirationSeconds"))
            tp = f"{sp}.serviceAccountToken"
            if expiration < 600:
                errs.append(
                    E.invalid_value(
                        f"{tp}.expirationSeconds",
                        expiration,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            if expiration > 1 << 32:
                errs.append(
                    E.invalid_value(
                        f"{tp}.expirationSeconds",
                        expiration,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                )
            target = s(token.get("path"))
            if not target:
                errs.append(E.required(f"{path}.path"))
            else:
                errs.extend(validate_local_non_reserved_path(target, f"{path}.path"))
        if source.get("clusterTrustBundle") is not None:
            count += 1
            bundle = d(source["clusterTrustBundle"])
            bp = f"{sp}.clusterTrustBundle"
            if bundle.get("name") is None and bundle.get("signerName") is None:
                errs.append(E.required(bp, "either name or signerName must be specified"))
            elif bundle.get("name") is not None and bundle.get("signerName") is not None:
                errs.append(E.invalid_value(bp, bundle, "only one of name and signerName may be used"))
            target = s(bundle.get("path"))
            if not target:
                errs.append(E.required(f"{bp}.path"))
            errs.extend(validate_local_non_reserved_path(target, f"{bp}.path"))
            if target in seen:
                errs.append(E.invalid_value(path, target, "conflicting duplicate paths"))
            seen.add(target)
        if count > 1:
            errs.append(E.forbidden_field(sp, "may not specify more than 1 volume type per source"))
    return errs


def _pvc_source(src: Any, path: str) -> Errs:
    return [] if s(d(src).get("claimName")) else [E.required(f"{path}.claimName")]


def _quobyte(src: Any, path: str) -> Errs:
    src = d(src)
    errs: Errs = []
    registry = s(src.get("registry"))
    if not registry:
        errs.append(
            E.required(f"{path}.registry", "must be a host:port pair or multiple pairs separated by commas")
        )
    elif len(s(src.get("tenant"))) >= 65:
        errs.append(
            E.required(f"{path}.tenant", "must be a UUID and may not exceed a length of 64 characters")
        )
    else:
        for pair in registry.split(","):
            host, sep, port = pair.rpartition(":")
            bracketed = host.startswith("[") and host.endswith("]")
            if not sep or (":" in host and not bracketed) or (port and not port.isdigit()):
                errs.append(
                    E.invalid_value(
                        f"{path}.registry",
                        registry,
                        "must be a host:port pair or multiple pairs separated by commas",
                    )
                )
    if not s(src.get("volume")):
        errs.append(E.required(f"{path}.volume"))
    return errs


# (json field, path used for "more than 1" errors, validator, path used for the validator's errors)
_POD_VOLUME_SOURCES: list[tuple[str, str, Callable[[Any, str], Errs] | None, str]] = [
    ("emptyDir", "emptyDir", None, "emptyDir"),
    ("hostPath", "hostPath", _host_path, "hostPath"),
    ("gitRepo", "gitRepo", _git_repo, "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk", _partitioned_disk("pdName"), "persistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore", _partitioned_disk("volumeID"), "awsElasticBlockStore"),
    ("secret", "secret", _secret, "secret"),
    ("nfs", "nfs", _nfs, "nfs"),
    ("iscsi", "iscsi", _iscsi, "iscsi"),
    ("glusterfs", "glusterfs", _required_fields("endpoints", "path"), "glusterfs"),
    ("flocker", "flocker", _flocker, "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim", _pvc_source, "persistentVolumeClaim"),
    ("rbd", "rbd", _required_fields("monitors", "image"), "rbd"),
    ("cinder", "cinder", _cinder, "cinder"),
    ("cephfs", "cephFS", _required_fields("monitors"), "cephfs"),
    ("quobyte", "quobyte", _quobyte, "quobyte"),
    ("downwardAPI", "downwarAPI", _downward_api, "downwardAPI"),
    ("fc", "fc", _fc, "fc"),
    ("flexVolume", "flexVolume", _flex, "flexVolume"),
    ("configMap", "configMap", _config_map, "configMap"),
    ("azureFile", "azureFile", _required_fields("secretName", "shareName"), "azureFile"),
    ("vsphereVolume", "vsphereVolume", _required_fields("volumePath"), "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk", _required_fields("pdID"), "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume", _required_fields("volumeID"), "portworxVolume"),
    ("azureDisk", "azureDisk", _azure_disk, "azureDisk"),
    ("storageos", "storageos", _storageos, "storageos"),
    ("projected", "projected", _projected, "projected"),
    ("scaleIO", "scaleIO", _required_fields("gateway", "system", "volumeName"), "scaleIO"),
    ("csi", "csi", _csi, "csi"),
    ("ephemeral", "ephemeral", None, "ephemeral"),
]

VOLUME_SOURCE_KEYS = frozenset(k for k, _, _, _ in _POD_VOLUME_SOURCES)
_SOURCE_ORDER = {entry[0]: i for i, entry in enumerate(_POD_VOLUME_SOURCES)}


def _volume_source(vol: dict[str, Any], path: str, pod_name: str) -> Errs:
    errs: Errs = []
    count = 0
    name = s(vol.get("name"))
    present = sorted(_SOURCE_ORDER[k] for k, v in vol.items() if v is not None and k in _SOURCE_ORDER)
    for key, dup_path, check, check_path in (_POD_VOLUME_SOURCES[i] for i in present):
        src = vol[key]
        if count:
            errs.append(E.forbidden_field(f"{path}.{dup_path}", MORE_THAN_ONE))
            continue
        count += 1
        if key == "emptyDir":
            limit = d(src).get("sizeLimit")
            if limit is not None:
                q = quantity(limit, f"{path}.emptyDir.sizeLimit", errs)
                if q is not None and q.sign() < 0:
                    errs.append(
                        E.forbidden_field(
                            f"{path}.emptyDir.sizeLimit", "SizeLimit field must be a valid resource quantity"
                        )
                    )
        elif key == "ephemeral":
            template = d(src).get("volumeClaimTemplate")
            if template is None:
                errs.append(E.required(f"{path}.ephemeral.volumeClaimTemplate"))
            else:
                errs.extend(validate_pvc_template(template, f"{path}.ephemeral.volumeClaimTemplate"))
            if pod_name and name:
                pvc_name = f"{pod_name}-{name}"
                errs.extend(
                    E.invalid_value(f"{path}.name", name, f'PVC name "{pvc_name}": {m}')
                    for m in meta.is_dns1123_subdomain(pvc_name)
                )
        elif check is not None:
            errs.extend(check(src, f"{path}.{check_path}"))
        if (
            key == "iscsi"
            and d(src).get("initiatorName") is not None
            and len(f"{name}:{s(d(src).get('targetPortal'))}") > 64
        ):
            errs.append(
                E.invalid_value(
                    f"{path}.name",
                    name,
                    "Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters if iscsi.initiatorName is specified.",
                )
            )
    if not count:
        errs.append(E.required(path, "must specify a volume type"))
    return errs


# Volumes found valid before (own checks: source and name), by JSON text (+ the pod name for
# ephemeral volumes, whose PVC name includes it): the volumes of a workload's pods repeat.
_CLEAN_VOLUMES: dict[tuple[bytes, str], None] = {}
_CLEAN_VOLUMES_MAX = 1024
_CLEAN_VOLUME_BYTES = 4096


def _volume_key(vol: dict[str, Any], pod_name: str) -> tuple[bytes, str] | None:
    try:
        text = orjson.dumps(vol)
    except TypeError:
        return None
    if len(text) > _CLEAN_VOLUME_BYTES:
        return None
    return text, pod_name if vol.get("ephemeral") is not None else ""


def validate_volumes(volumes: Any, pod_name: str, path: str) -> tuple[dict[str, dict[str, Any]], Errs]:
    """The pod's volumes: (valid volumes by name, errors). Names are unique DNS labels and each
    volume has exactly one source."""
    errs: Errs = []
    by_name: dict[str, dict[str, Any]] = {}
    created_pvcs = set()
    volumes = lst(volumes)
    if pod_name:
        created_pvcs = {
            f"{pod_name}-{s(d(v).get('name'))}" for v in volumes if d(v).get("ephemeral") is not None
        }
    for i, vol in enumerate(volumes):
        vol = d(vol)
        p = f"{path}[{i}]"
        name = s(vol.get("name"))
        key = _volume_key(vol, pod_name)
        if key is not None and key in _CLEAN_VOLUMES:
            vol_errs: Errs = []
        else:
            vol_errs = _volume_source(vol, p, pod_name)
            if not name:
                vol_errs.append(E.required(f"{p}.name"))
            else:
                vol_errs.extend(E.invalid_value(f"{p}.name", name, m) for m in meta.is_dns1123_label(name))
            if key is not None and not vol_errs:
                if len(_CLEAN_VOLUMES) >= _CLEAN_VOLUMES_MAX:
                    _CLEAN_VOLUMES.clear()
                _CLEAN_VOLUMES[key] = None
        if name in by_name:
            vol_errs.append(E.duplicate(f"{p}.name", name))
        if not vol_errs:
            by_name[name] = vol
        else:
            errs.extend(vol_errs)
        claim = vol.get("persistentVolumeClaim")
        if claim is not None and s(d(claim).get("claimName")) in created_pvcs:
            errs.append(
                E.invalid_value(
                    f"{p}.persistentVolumeClaim.claimName",
                    s(d(claim).get("claimName")),
                    "must not reference a PVC that gets created for an ephemeral volume",
                )
            )
    return by_name, errs


# --- PersistentVolumeClaim ------------------------------------------------------------------------

ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
VOLUME_MODES = ["Block", "Filesystem"]


def _access_modes(modes: list[Any], path: str) -> Errs:
    errs: Errs = []
    rwop = other = False
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(E.not_supported(path, mode, ACCESS_MODES))
        if mode == "ReadWriteOncePod":
            rwop = True
        elif mode in ACCESS_MODES:
            other = True
    if rwop and other:
        errs.append(E.forbidden_field(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _typed_ref(ref: Any, path: str) -> Errs:
    ref = d(ref)
    errs: Errs = []
    if not s(ref.get("name")):
        errs.append(E.required(f"{path}.name"))
    kind = s(ref.get("kind"))
    if not kind:
        errs.append(E.required(f"{path}.kind"))
    group = s(ref.get("apiGroup"))
    if not group and kind != "PersistentVolumeClaim":
        errs.append(
            E.invalid_value(
                path, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"
            )
        )
    if group:
        errs.extend(E.invalid_value(f"{path}.apiGroup", group, m) for m in meta.is_dns1123_subdomain(group))
    namespace = s(ref.get("namespace"))
    if namespace:
        errs.extend(
            E.invalid_value(f"{path}.namespace", namespace, m) for m in meta.is_dns1123_label(namespace)
        )
    return errs


def validate_pvc_spec(spec: Any, path: str) -> Errs:
    spec = d(spec)
    errs: Errs = []
    modes = lst(spec.get("accessModes"))
    if not modes:
        errs.append(E.required(f"{path}.accessModes", "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        errs.extend(meta.validate_label_selector(spec["selector"], f"{path}.selector"))
    errs.extend(_access_modes(modes, f"{path}.accessModes"))
    storage_path = f"{path}.resources[storage]"
    requests = d(d(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        errs.append(E.required(storage_path))
    else:
        q = quantity(requests["storage"], storage_path, errs)
        if q is not None and q.sign() <= 0:
            errs.append(E.invalid_value(storage_path, str(q), "must be greater than zero"))
    class_name = s(spec.get("storageClassName"))
    if class_name:
        errs.extend(
            E.invalid_value(f"{path}.storageClassName", class_name, m)
            for m in meta.is_dns1123_subdomain(class_name)
        )
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(E.not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    source, source_ref = spec.get("dataSource"), spec.get("dataSourceRef")
    if source is not None:
        errs.extend(_typed_ref(source, f"{path}.dataSource"))
    if source_ref is not None:
        errs.extend(_typed_ref(source_ref, f"{path}.dataSourceRef"))
    if source_ref is not None and s(d(source_ref).get("namespace")):
        if source is not None:
            errs.append(
                E.invalid_value(
                    path,
                    f"{path}.dataSource",
                    "may not be specified when dataSourceRef.namespace is specified",
                )
            )
    elif source is not None and source_ref is not None:
        a, b = d(source), d(source_ref)
        if (a.get("apiGroup"), s(a.get("kind")), s(a.get("name"))) != (
            b.get("apiGroup"),
            s(b.get("kind")),
            s(b.get("name")),
        ):
            errs.append(E.invalid_value(path, f"{path}.dataSource", "must match dataSourceRef"))
    vac = s(spec.get("volumeAttributesClassName"))
    if vac:
        errs.extend(
            E.invalid_value(f"{path}.volumeAttributesClassName", vac, m)
            for m in meta.is_dns1123_subdomain(vac)
        )
    return errs


_TEMPLATE_META_ALLOWED = frozenset({"labels", "annotations"})


def validate_pvc_template(template: Any, path: str) -> Errs:
    """An ephemeral volume's claim template: only labels and annotations in its metadata."""
    template = d(template)
    md = d(template.get("metadata"))
    errs = meta.validate_annotations(md.get("annotations"), f"{path}.metadata.annotations")
    errs.extend(meta.validate_labels(md.get("labels"), f"{path}.metadata.labels"))
    for key, value in md.items():
        if key not in _TEMPLATE_META_ALLOWED and value not in (None, "", 0, [], {}):
            errs.append(E.forbidden_field(f"{path}.metadata.{key}", "cannot be set"))
    errs.extend(validate_pvc_spec(template.get("spec"), f"{path}.spec"))
    return errs

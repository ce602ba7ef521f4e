"""PersistentVolumes and PersistentVolumeClaims (upstream kubernetes
`pkg/apis/core/validation/validation.go`: ValidatePersistentVolumeSpec, the PV and PVC update
rules). The PVC spec itself is in `core_volumes`, where ephemeral volume templates use it too.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from kijabi.machinery import errors as E

from . import _quantity, core_scheduling, core_volumes, meta
from ._util import Ctx, Errs, Obj, d, diff, immutable, lst, quantity, s, sem_equal
from .core_volumes import (
    MORE_THAN_ONE,
    VOLUME_MODES,
    _access_modes,
    _azure_disk,
    _cinder,
    _fc,
    _flex,
    _flocker,
    _host_path,
    _iscsi,
    _nfs,
    _partitioned_disk,
    _quobyte,
    _required_fields,
    _storageos,
    validate_csi_driver_name,
)

RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"]


def _pv_secret_ref(ref: Any, path: str) -> Errs:
    ref = d(ref)
    errs: Errs = []
    name, namespace = s(ref.get("name")), s(ref.get("namespace"))
    if not name:
        errs.append(E.required(f"{path}.name"))
    else:
        errs.extend(E.invalid_value(f"{path}.name", name, m) for m in meta.is_dns1123_subdomain(name))
    if not namespace:
        errs.append(E.required(f"{path}.namespace"))
    else:
        errs.extend(
            E.invalid_value(f"{path}.namespace", namespace, m) for m in meta.is_dns1123_label(namespace)
        )
    return errs


def _csi_pv(src: Any, path: str) -> Errs:
    src = d(src)
    errs = validate_csi_driver_name(s(src.get("driver")), f"{path}.driver")
    if not s(src.get("volumeHandle")):
        errs.append(E.required(f"{path}.volumeHandle"))
    for ref in (
        "controllerPublishSecretRef",
        "controllerExpandSecretRef",
        "nodePublishSecretRef",
        "nodeExpandSecretRef",
    ):
        if src.get(ref) is not None:
            errs.extend(_pv_secret_ref(src[ref], f"{path}.{ref}"))
    return errs


# (json field, path for "more than 1", validator, validator path)
_PV_SOURCES: list[tuple[str, str, Callable[[Any, str], Errs], str]] = [
    ("hostPath", "hostPath", _host_path, "hostPath"),
    ("gcePersistentDisk", "gcePersistentDisk", _partitioned_disk("pdName"), "persistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore", _partitioned_disk("volumeID"), "awsElasticBlockStore"),
    ("glusterfs", "glusterfs", _required_fields("endpoints", "path"), "glusterfs"),
    ("flocker", "flocker", _flocker, "flocker"),
    ("nfs", "nfs", _nfs, "nfs"),
    ("rbd", "rbd", _required_fields("monitors", "image"), "rbd"),
    ("quobyte", "quobyte", _quobyte, "quobyte"),
    ("cephfs", "cephFS", _required_fields("monitors"), "cephfs"),
    ("iscsi", "iscsi", _iscsi, "iscsi"),
    ("cinder", "cinder", _cinder, "cinder"),
    ("fc", "fc", _fc, "fc"),
    ("flexVolume", "", _flex, "flexVolume"),
    ("azureFile", "azureFile", _required_fields("secretName", "shareName"), "azureFile"),
    ("vsphereVolume", "vsphereVolume", _required_fields("volumePath"), "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk", _required_fields("pdID"), "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume", _required_fields("volumeID"), "portworxVolume"),
    ("azureDisk", "azureDisk", _azure_disk, "azureDisk"),
    ("scaleIO", "scaleIO", _required_fields("gateway", "system", "volumeName"), "scaleIO"),
    ("local", "local", _required_fields("path"), "local"),
    ("storageos", "storageos", _storageos, "storageos"),
    ("csi", "csi", lambda src, p: _csi_pv(src, p), "csi"),
]

PV_SOURCE_KEYS = tuple(k for k, _, _, _ in _PV_SOURCES)


def validate_pv_spec(spec: Any, path: str) -> Errs:
    spec = d(spec)
    errs: Errs = []
    modes = lst(spec.get("accessModes"))
    if not modes:
        errs.append(E.required(f"{path}.accessModes"))
    errs.extend(_access_modes(modes, f"{path}.accessModes"))
    capacity = d(spec.get("capacity"))
    if not capacity:
        errs.append(E.required(f"{path}.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        errs.append(E.not_supported(f"{path}.capacity", capacity, ["storage"]))
    for name, raw in capacity.items():
        q = quantity(raw, f"{path}.capacity[{name}]", errs)
        if q is not None:
            if q.int_value() < 0:
                errs.append(
                    E.invalid_value(
                        f"{path}.capacity[{name}]", q.int_value(), "must be a valid resource quantity"
                    )
                )
            if q.sign() <= 0:
                errs.append(E.invalid_value(f"{path}.capacity[{name}]", str(q), "must be greater than zero"))
    policy = s(spec.get("persistentVolumeReclaimPolicy"))
    if policy and policy not in RECLAIM_POLICIES:
        errs.append(E.not_supported(f"{path}.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES))
    affinity_set = False
    node_affinity = spec.get("nodeAffinity")
    if node_affinity is not None:
        required = d(node_affinity).get("required")
        if required is None:
            errs.append(E.required(f"{path}.nodeAffinity.required", "must specify required node constraints"))
        else:
            affinity_set = True
            errs.extend(core_scheduling.validate_node_selector(required, f"{path}.nodeAffinity.required"))
    count = 0
    for key, dup_path, check, check_path in _PV_SOURCES:
        src = spec.get(key)
        if src is None:
            continue
        if count and dup_path:
            errs.append(E.forbidden_field(f"{path}.{dup_path}", MORE_THAN_ONE))
            continue
        count += 1
        errs.extend(check(src, f"{path}.{check_path}"))
        if key == "local" and not affinity_set:
            errs.append(E.required(f"{path}.nodeAffinity", "Local volume requires node affinity"))
    if not count:
        errs.append(E.required(path, "must specify a volume type"))
    host_path = spec.get("hostPath")
    if (
        host_path is not None
        and posixpath.normpath(s(d(host_path).get("path")) or ".") == "/"
        and policy == "Recycle"
    ):
        errs.append(
            E.forbidden_field(
                f"{path}.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath mount of '/'"
            )
        )
    class_name = s(spec.get("storageClassName"))
    if class_name:
        errs.extend(
            E.invalid_value(f"{path}.storageClassName", class_name, m)
            for m in meta.is_dns1123_subdomain(class_name)
        )
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(E.not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    return errs


def validate_persistent_volume(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    errs = meta.validate_object_meta(obj.get("metadata"), False, meta.name_is_dns_subdomain)
    errs.extend(validate_pv_spec(spec, "spec"))
    for key in PV_SOURCE_KEYS:
        if key == "iscsi" and spec.get(key) is not None:
            source = d(spec[key])
            if source.get("initiatorName") is not None:
                name = s(d(obj.get("metadata")).get("name"))
                if len(f"{name}:{s(source.get('targetPortal'))}") > 64:
                    errs.append(
                        E.invalid_value(
                            "spec.iscsi.targetportal",
                            s(source.get("targetPortal")),
                            "Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters if iscsi.initiatorName is specified.",
                        )
                    )
    if old is None:
        return errs
    old_spec = d(old.get("spec"))
    new_sources = {k: spec[k] for k in PV_SOURCE_KEYS if spec.get(k) is not None}
    old_sources = {k: old_spec[k] for k in PV_SOURCE_KEYS if old_spec.get(k) is not None}
    csi, old_csi = d(new_sources.get("csi")), d(old_sources.get("csi"))
    if (
        old_csi
        and csi
        and old_csi.get("controllerExpandSecretRef") is None
        and csi.get("controllerExpandSecretRef") is not None
    ):
        new_sources["csi"] = {k: v for k, v in csi.items() if k != "controllerExpandSecretRef"}
    if not sem_equal(new_sources, old_sources):
        errs.append(
            E.forbidden_field(
                "spec.persistentvolumesource",
                "spec.persistentvolumesource is immutable after creation\n"
                + diff(old_sources, new_sources, "spec"),
            )
        )
    immutable(spec.get("volumeMode"), old_spec.get("volumeMode"), "volumeMode", errs)
    if old_spec.get("nodeAffinity") is not None and not sem_equal(
        spec.get("nodeAffinity"), old_spec.get("nodeAffinity")
    ):
        errs.append(
            E.invalid_value(
                "nodeAffinity",
                spec.get("nodeAffinity"),
                "field is immutable, except for updating from beta label to GA",
            )
        )
    return errs


_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"


def validate_persistent_volume_claim(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    if old is None:
        errs = meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain)
        errs.extend(core_volumes.validate_pvc_spec(spec, "spec"))
        return errs
    md, old_md, old_spec = d(obj.get("metadata")), d(old.get("metadata")), d(old.get("spec"))
    errs = meta.validate_object_meta_update(md, old_md)
    errs.extend(meta.validate_object_meta(md, True, meta.name_is_dns_subdomain))
    errs.extend(core_volumes.validate_pvc_spec(spec, "spec"))
    new_clone, old_clone = dict(spec), dict(old_spec)
    if not s(old_spec.get("volumeName")):
        old_clone["volumeName"] = new_clone.get("volumeName")
    ann, old_ann = d(md.get("annotations")), d(old_md.get("annotations"))
    old_class, new_class = old_spec.get("storageClassName"), spec.get("storageClassName")
    if (
        _BETA_STORAGE_CLASS in old_ann
        and old_class is None
        and new_class == old_ann[_BETA_STORAGE_CLASS]
        and ann.get(_BETA_STORAGE_CLASS, old_ann[_BETA_STORAGE_CLASS]) == old_ann[_BETA_STORAGE_CLASS]
    ):
        new_clone.pop("storageClassName", None)
    else:
        if s(ann.get(_BETA_STORAGE_CLASS)) != s(old_ann.get(_BETA_STORAGE_CLASS)):
            errs.append(
                E.invalid_value(
                    f"metadata.annotations.{_BETA_STORAGE_CLASS}",
                    s(ann.get(_BETA_STORAGE_CLASS)),
                    "field is immutable",
                )
            )
        if (
            new_class is not None
            and old_class is None
            and (_BETA_STORAGE_CLASS not in old_ann or new_class == old_ann[_BETA_STORAGE_CLASS])
        ):
            new_clone["storageClassName"] = old_class
    bound = s(d(obj.get("status")).get("phase")) == "Bound"
    if bound:
        requests = d(d(new_clone.get("resources")).get("requests"))
        if requests:
            old_storage = d(d(old_spec.get("resources")).get("requests")).get("storage")
            new_clone["resources"] = {
                **d(new_clone.get("resources")),
                "requests": {**requests, "storage": old_storage},
            }
        if new_clone.get("volumeAttributesClassName") is not None:
            new_clone["volumeAttributesClassName"] = old_clone.get("volumeAttributesClassName")
    if not sem_equal(new_clone, old_clone):
        errs.append(
            E.forbidden_field(
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"
                + diff(old_clone, new_clone, "spec"),
            )
        )
    sizes: list[Any] = []
    for source in (spec, old_spec):
        raw = d(d(source.get("resources")).get("requests")).get("storage")
        try:
            sizes.append(_quantity.parse(raw).nanos if raw is not None else 0)
        except ValueError:
            sizes.append(0)
    if sizes[0] < sizes[1]:
        errs.append(
            E.forbidden_field("spec.resources.requests.storage", "field can not be less than previous value")
        )
    immutable(spec.get("volumeMode"), old_spec.get("volumeMode"), "volumeMode", errs)
    return errs

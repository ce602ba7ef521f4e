"""Defaults of `storage.k8s.io/v1` (upstream pkg/apis/storage/v1/defaults.go).

StorageClass: reclaim policy Delete, binding mode Immediate. CSIDriver: every optional switch gets
its documented default (`seLinuxMount` too: SELinuxMountReadWriteOncePod is beta and on in v1.32).
VolumeAttachment: an inline PersistentVolumeSpec gets the volume-source defaults.
"""

from __future__ import annotations

from . import core
from ._walk import Defaulter, Obj, pointer, struct

GROUP = "storage.k8s.io"


def storage_class(obj: Obj) -> None:
    if obj.get("reclaimPolicy") is None:
        obj["reclaimPolicy"] = "Delete"
    if obj.get("volumeBindingMode") is None:
        obj["volumeBindingMode"] = "Immediate"


def csi_driver(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec.get("attachRequired") is None:
        spec["attachRequired"] = True
    if spec.get("podInfoOnMount") is None:
        spec["podInfoOnMount"] = False
    if spec.get("storageCapacity") is None:
        spec["storageCapacity"] = False
    if spec.get("fsGroupPolicy") is None:
        spec["fsGroupPolicy"] = "ReadWriteOnceWithFSType"
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]
    if spec.get("requiresRepublish") is None:
        spec["requiresRepublish"] = False
    if spec.get("seLinuxMount") is None:
        spec["seLinuxMount"] = False


def volume_attachment(obj: Obj) -> None:
    spec = pointer(obj, "spec")
    source = pointer(spec, "source") if spec is not None else None
    inline = pointer(source, "inlineVolumeSpec") if source is not None else None
    if inline is not None:
        core.pv_spec_sources(inline)


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "StorageClass"): storage_class,
    ("v1", "CSIDriver"): csi_driver,
    ("v1", "VolumeAttachment"): volume_attachment,
}

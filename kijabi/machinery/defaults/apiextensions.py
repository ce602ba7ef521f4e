"""Defaults of `apiextensions.k8s.io/v1` CustomResourceDefinitions (apiextensions-apiserver v1).

`names.singular` is the lowercased kind, `names.listKind` is `<Kind>List`, `conversion` is
`{strategy: None}`, `status.storedVersions` starts with the storage version, and a conversion
webhook's service port is 443. Defaults inside the CRD's own schemas are not applied here: they
belong to the custom resources the CRD serves.
"""

from __future__ import annotations

from ._walk import Defaulter, Obj, each, pointer, struct

GROUP = "apiextensions.k8s.io"


def custom_resource_definition(obj: Obj) -> None:
    spec = struct(obj, "spec")
    names = struct(spec, "names")
    kind = names.get("kind")
    kind = kind if isinstance(kind, str) else ""
    if not names.get("singular") and kind:
        names["singular"] = kind.lower()
    if not names.get("listKind") and kind:
        names["listKind"] = kind + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    status = pointer(obj, "status")
    if status is None or not status.get("storedVersions"):
        for version in each(spec, "versions"):
            if version.get("storage") is True:
                struct(obj, "status")["storedVersions"] = [version.get("name")]
                break
    conversion = pointer(spec, "conversion")
    webhook = pointer(conversion, "webhook") if conversion is not None else None
    config = pointer(webhook, "clientConfig") if webhook is not None else None
    service = pointer(config, "service") if config is not None else None
    if service is not None and service.get("port") is None:
        service["port"] = 443


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "CustomResourceDefinition"): custom_resource_definition,
}

"""Printers of networking.k8s.io, discovery.k8s.io and storage.k8s.io resources."""

from __future__ import annotations

from typing import Any

from kijabi.machinery.printers._base import Printer, age_col, col, doc, name_col
from kijabi.machinery.printers._format import format_label_selector, lb_ingress, list_with_more, since

Obj = dict[str, Any]
_EMPTY: dict[str, Any] = {}


def _name_age(obj: Obj, now: float) -> tuple[str, str]:
    meta = obj.get("metadata") or _EMPTY
    return meta.get("name") or "", since(meta.get("creationTimestamp"), now)


# --- networking.k8s.io ------------------------------------------------------------------------------------


def _ingress_hosts(rules: Any) -> str:
    """`formatHosts`: up to three hosts, then ` + N more...` counted over all rules."""
    rules = rules or ()
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def ingress_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = obj.get("spec") or _EMPTY
        klass = spec.get("ingressClassName")
        return [
            name,
            "<none>" if klass is None else klass,
            _ingress_hosts(spec.get("rules")),
            lb_ingress((obj.get("status") or _EMPTY).get("loadBalancer")),
            "80, 443" if spec.get("tls") else "80",
            age,
        ]

    return Printer(
        [
            name_col(),
            col(
                "Class",
                "string",
                "The name of the IngressClass resource that should be used for additional configuration",
            ),
            col(
                "Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"
            ),
            col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
            col("Ports", "string", "Ports of TLS configurations that open"),
            age_col(),
        ],
        cells,
    )


def ingress_class_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = obj.get("spec") or _EMPTY
        params = spec.get("parameters")
        shown = "<none>"
        if params is not None:
            shown = params.get("kind") or ""
            if params.get("apiGroup") is not None:
                shown += "." + params["apiGroup"]
            shown += "/" + (params.get("name") or "")
        return [name, spec.get("controller") or "", shown, age]

    return Printer(
        [
            name_col(),
            col("Controller", "string", "Controller that is responsible for handling this class"),
            col("Parameters", "string", "A reference to a resource with additional parameters"),
            age_col(),
        ],
        cells,
    )


def network_policy_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        selector = (obj.get("spec") or _EMPTY).get("podSelector") or {}
        return [name, format_label_selector(selector), age]

    return Printer(
        [
            name_col(),
            col("Pod-Selector", "string", doc("networking.v1.NetworkPolicySpec", "podSelector")),
            age_col(),
        ],
        cells,
    )


def service_cidr_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        return [name, ",".join((obj.get("spec") or _EMPTY).get("cidrs") or ()), age]

    return Printer(
        [name_col(), col("CIDRs", "string", doc("networking.v1beta1.ServiceCIDRSpec", "cidrs")), age_col()],
        cells,
    )


def ip_address_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        ref = (obj.get("spec") or _EMPTY).get("parentRef")
        parent = "<none>"
        if ref is not None:
            group, resource = ref.get("group") or "", ref.get("resource") or ""
            parent = (f"{resource}.{group}" if group else resource).lower()
            if ref.get("namespace"):
                parent += "/" + ref["namespace"]
            parent += "/" + (ref.get("name") or "")
        return [name, parent, age]

    # Upstream defines no Age column for IPAddress yet prints an age cell; kubectl ignores cells past
    # the last column, and so do we: the row is sent exactly as a real apiserver sends it.
    return Printer(
        [name_col(), col("ParentRef", "string", doc("networking.v1beta1.IPAddressSpec", "parentRef"))], cells
    )


# --- discovery.k8s.io --------------------------------------------------------------------------------


def endpoint_slice_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        ports: list[str] = []
        for port in obj.get("ports") or ():
            if port.get("port") is not None:
                ports.append(str(port["port"]))
            elif port.get("name") is not None:
                ports.append(port["name"])
            else:
                ports.append("*")
        addresses = [a for ep in obj.get("endpoints") or () for a in ep.get("addresses") or ()]
        return [
            name,
            obj.get("addressType") or "",
            list_with_more(ports, len(ports)),
            list_with_more(addresses, len(addresses)),
            age,
        ]

    es = "discovery.v1.EndpointSlice"
    return Printer(
        [
            name_col(),
            col("AddressType", "string", doc(es, "addressType")),
            col("Ports", "string", doc(es, "ports")),
            col("Endpoints", "string", doc(es, "endpoints")),
            age_col(),
        ],
        cells,
    )


# --- storage.k8s.io -------------------------------------------------------------------------------------


def _annotation(obj: Obj, key: str) -> Any:
    return ((obj.get("metadata") or _EMPTY).get("annotations") or _EMPTY).get(key)


def storage_class_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        if (
            _annotation(obj, "storageclass.kubernetes.io/is-default-class") == "true"
            or _annotation(obj, "storageclass.beta.kubernetes.io/is-default-class") == "true"
        ):
            name += " (default)"
        reclaim = obj.get("reclaimPolicy")
        binding = obj.get("volumeBindingMode")
        return [
            name,
            obj.get("provisioner") or "",
            "Delete" if reclaim is None else reclaim,
            "Immediate" if binding is None else binding,
            bool(obj.get("allowVolumeExpansion") or False),
            age,
        ]

    sc = "storage.v1.StorageClass"
    return Printer(
        [
            name_col(),
            col("Provisioner", "string", doc(sc, "provisioner")),
            col("ReclaimPolicy", "string", doc(sc, "reclaimPolicy")),
            col("VolumeBindingMode", "string", doc(sc, "volumeBindingMode")),
            col("AllowVolumeExpansion", "string", doc(sc, "allowVolumeExpansion")),
            age_col(),
        ],
        cells,
    )


def volume_attributes_class_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        if _annotation(obj, "volumeattributesclass.alpha.kubernetes.io/is-default-class") == "true":
            name += " (default)"
        return [name, obj.get("driverName") or "", age]

    return Printer(
        [
            name_col(),
            col("DriverName", "string", doc("storage.v1beta1.VolumeAttributesClass", "driverName")),
            age_col(),
        ],
        cells,
    )


def volume_attachment_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = obj.get("spec") or _EMPTY
        pv = (spec.get("source") or _EMPTY).get("persistentVolumeName")
        attached = bool((obj.get("status") or _EMPTY).get("attached") or False)
        return [name, spec.get("attacher") or "", pv or "", spec.get("nodeName") or "", attached, age]

    return Printer(
        [
            name_col(),
            col("Attacher", "string", doc("storage.v1.VolumeAttachmentSpec", "attacher"), fmt="name"),
            col("PV", "string", doc("storage.v1.VolumeAttachmentSource", "persistentVolumeName")),
            col("Node", "string", doc("storage.v1.VolumeAttachmentSpec", "nodeName")),
            col("Attached", "boolean", doc("storage.v1.VolumeAttachmentStatus", "attached")),
            age_col(),
        ],
        cells,
    )


def csi_node_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        return [name, len((obj.get("spec") or _EMPTY).get("drivers") or ()), age]

    return Printer(
        [
            name_col(),
            col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
            age_col(),
        ],
        cells,
    )


def csi_driver_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = obj.get("spec") or _EMPTY
        attach = spec.get("attachRequired")
        tokens = spec.get("tokenRequests")
        modes = ",".join(spec.get("volumeLifecycleModes") or ())
        return [
            name,
            True if attach is None else bool(attach),
            bool(spec.get("podInfoOnMount") or False),
            bool(spec.get("storageCapacity") or False),
            "<unset>" if tokens is None else ",".join(t.get("audience") or "" for t in tokens),
            bool(spec.get("requiresRepublish") or False),
            modes or "<none>",
            age,
        ]

    spec = "storage.v1.CSIDriverSpec"
    return Printer(
        [
            name_col(),
            col("AttachRequired", "boolean", doc(spec, "attachRequired")),
            col("PodInfoOnMount", "boolean", doc(spec, "podInfoOnMount")),
            col("StorageCapacity", "boolean", doc(spec, "storageCapacity")),
            col("TokenRequests", "string", doc(spec, "tokenRequests")),
            col("RequiresRepublish", "boolean", doc(spec, "requiresRepublish")),
            col("Modes", "string", doc(spec, "volumeLifecycleModes")),
            age_col(),
        ],
        cells,
    )

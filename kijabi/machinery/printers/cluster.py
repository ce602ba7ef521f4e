"""Printers of cluster-level APIs: RBAC bindings, leases, scheduling, node, admission, certificates,
flow control, storage versions, dynamic resource allocation, storage migration and APIServices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kijabi.machinery.printers._base import Printer, age_col, col, doc, name_col
from kijabi.machinery.printers._format import (
    human_duration,
    label_selector_go_string,
    list_with_more,
    since,
)

Obj = dict[str, Any]
_EMPTY: dict[str, Any] = {}


def _name_age(obj: Obj, now: float) -> tuple[str, str]:
    meta = obj.get("metadata") or _EMPTY
    return meta.get("name") or "", since(meta.get("creationTimestamp"), now)


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or _EMPTY


# --- rbac.authorization.k8s.io --------------------------------------------------------------------------


def _binding_printer(kind: str) -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        ref = obj.get("roleRef") or _EMPTY
        users: list[str] = []
        groups: list[str] = []
        accounts: list[str] = []
        for subject in obj.get("subjects") or ():
            sk = subject.get("kind")
            if sk == "ServiceAccount":
                accounts.append(f"{subject.get('namespace') or ''}/{subject.get('name') or ''}")
            elif sk == "User":
                users.append(subject.get("name") or "")
            elif sk == "Group":
                groups.append(subject.get("name") or "")
        return [
            name,
            f"{ref.get('kind') or ''}/{ref.get('name') or ''}",
            age,
            ", ".join(users),
            ", ".join(groups),
            ", ".join(accounts),
        ]

    noun = kind[0].lower() + kind[1:]
    return Printer(
        [
            name_col(),
            col("Role", "string", doc(f"rbac.v1.{kind}", "roleRef")),
            age_col(),
            col("Users", "string", f"Users in the {noun}", priority=1),
            col("Groups", "string", f"Groups in the {noun}", priority=1),
            col("ServiceAccounts", "string", f"ServiceAccounts in the {noun}", priority=1),
        ],
        cells,
    )


def role_binding_printer() -> Printer:
    return _binding_printer("RoleBinding")


def cluster_role_binding_printer() -> Printer:
    return _binding_printer("ClusterRoleBinding")


# --- coordination.k8s.io -------------------------------------------------------------------------------


def lease_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        return [name, _spec(obj).get("holderIdentity") or "", age]

    return Printer(
        [name_col(), col("Holder", "string", doc("coordination.v1.LeaseSpec", "holderIdentity")), age_col()],
        cells,
    )


def lease_candidate_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = _spec(obj)
        return [
            name,
            spec.get("leaseName") or "",
            spec.get("binaryVersion") or "",
            spec.get("emulationVersion") or "",
            age,
        ]

    # Upstream documents the two version columns with ObjectMeta docs that do not exist: empty text.
    return Printer(
        [
            name_col(),
            col("LeaseName", "string", doc("coordination.v1alpha2.LeaseCandidateSpec", "leaseName")),
            col("BinaryVersion", "string", ""),
            col("EmulationVersion", "string", ""),
            age_col(),
        ],
        cells,
    )


# --- scheduling.k8s.io, node.k8s.io --------------------------------------------------------------------


def priority_class_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        return [
            name,
            obj.get("value") or 0,
            bool(obj.get("globalDefault") or False),
            age,
            obj.get("preemptionPolicy") or "",
        ]

    pc = "scheduling.v1.PriorityClass"
    return Printer(
        [
            name_col(),
            col("Value", "integer", doc(pc, "value")),
            col("Global-Default", "boolean", doc(pc, "globalDefault")),
            age_col(),
            col("PreemptionPolicy", "string", doc(pc, "preemptionPolicy")),
        ],
        cells,
    )


def runtime_class_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        return [name, obj.get("handler") or "", age]

    return Printer([name_col(), col("Handler", "string", ""), age_col()], cells)


# --- admissionregistration.k8s.io -----------------------------------------------------------------


def webhook_configuration_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        return [name, len(obj.get("webhooks") or ()), age]

    return Printer(
        [
            name_col(),
            col(
                "Webhooks",
                "integer",
                "Webhooks indicates the number of webhooks registered in this configuration",
            ),
            age_col(),
        ],
        cells,
    )


def _param_kind(spec: Obj) -> str:
    kind = spec.get("paramKind")
    if kind is None:
        return "<unset>"
    return f"{kind.get('apiVersion') or ''}/{kind.get('kind') or ''}"


def _policy_printer(rules_field: str, column: str, description: str) -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = _spec(obj)
        return [name, len(spec.get(rules_field) or ()), _param_kind(spec), age]

    return Printer(
        [
            name_col(),
            col(column, "integer", description),
            col(
                "ParamKind",
                "string",
                "ParamKind specifies the kind of resources used to parameterize this policy",
            ),
            age_col(),
        ],
        cells,
    )


def validating_admission_policy_printer() -> Printer:
    return _policy_printer(
        "validations",
        "Validations",
        "Validations indicates the number of validation rules defined in this configuration",
    )


def mutating_admission_policy_printer() -> Printer:
    return _policy_printer(
        "mutations",
        "Mutations",
        "Mutation indicates the number of mutations rules defined in this configuration",
    )


def policy_binding_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = _spec(obj)
        ref = spec.get("paramRef")
        param = "<unset>"
        if ref is not None:
            if ref.get("name"):
                param = f"{ref.get('namespace') or '*'}/{ref['name']}"
            elif ref.get("selector") is not None:
                param = label_selector_go_string(ref["selector"])
        return [name, spec.get("policyName") or "", param, age]

    return Printer(
        [
            name_col(),
            col(
                "PolicyName",
                "string",
                "PolicyName indicates the policy definition which the policy binding binded to",
            ),
            col(
                "ParamRef",
                "string",
                "ParamRef indicates the param resource which sets the configration param",
            ),
            age_col(),
        ],
        cells,
    )


# --- certificates.k8s.io -------------------------------------------------------------------------------


def _csr_condition(status: Obj) -> str:
    kinds = {c.get("type") for c in status.get("conditions") or ()}
    text = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        text += ",Failed"
    if status.get("certificate"):
        text += ",Issued"
    return text


def csr_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = _spec(obj)
        seconds = spec.get("expirationSeconds")
        return [
            name,
            age,
            spec.get("signerName") or "<none>",
            spec.get("username") or "",
            "<none>" if seconds is None else human_duration(float(seconds)),
            _csr_condition(obj.get("status") or _EMPTY),
        ]

    spec = "certificates.v1.CertificateSigningRequestSpec"
    return Printer(
        [
            name_col(),
            age_col(),
            col("SignerName", "string", doc(spec, "signerName")),
            col("Requestor", "string", doc(spec, "request")),
            col("RequestedDuration", "string", doc(spec, "expirationSeconds")),
            col("Condition", "string", doc("certificates.v1.CertificateSigningRequestStatus", "conditions")),
        ],
        cells,
    )


def cluster_trust_bundle_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, _ = _name_age(obj, now)
        return [name, _spec(obj).get("signerName") or "<none>"]

    return Printer(
        [
            name_col(),
            col("SignerName", "string", doc("certificates.v1alpha1.ClusterTrustBundleSpec", "signerName")),
        ],
        cells,
    )


# --- flowcontrol.apiserver.k8s.io -----------------------------------------------------------------------


def _flow_schema_order(items: Sequence[Obj]) -> Sequence[Obj]:
    """`FlowSchemaSequence`: by matchingPrecedence, then by name (the one printer that sorts)."""
    return sorted(
        items,
        key=lambda o: (
            _spec(o).get("matchingPrecedence") or 0,
            (o.get("metadata") or _EMPTY).get("name") or "",
        ),
    )


def flow_schema_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = _spec(obj)
        method = spec.get("distinguisherMethod")
        dangling = "?"
        for cond in (obj.get("status") or _EMPTY).get("conditions") or ():
            if cond.get("type") == "Dangling":
                dangling = cond.get("status") or ""
                break
        return [
            name,
            (spec.get("priorityLevelConfiguration") or _EMPTY).get("name") or "",
            spec.get("matchingPrecedence") or 0,
            "<none>" if method is None else method.get("type") or "",
            age,
            dangling,
        ]

    return Printer(
        [
            name_col(),
            col("PriorityLevel", "string", doc("flowcontrol.v1.PriorityLevelConfigurationReference", "name")),
            col("MatchingPrecedence", "string", doc("flowcontrol.v1.FlowSchemaSpec", "matchingPrecedence")),
            col("DistinguisherMethod", "string", doc("flowcontrol.v1.FlowSchemaSpec", "distinguisherMethod")),
            age_col(),
            col("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration"),
        ],
        cells,
        order=_flow_schema_order,
    )


def priority_level_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = _spec(obj)
        shares: Any = "<none>"
        queues: Any = "<none>"
        hand: Any = "<none>"
        length: Any = "<none>"
        limited = spec.get("limited")
        if limited is not None:
            shares = limited.get("nominalConcurrencyShares") or 0
            queuing = (limited.get("limitResponse") or _EMPTY).get("queuing")
            if queuing is not None:
                queues = queuing.get("queues") or 0
                hand = queuing.get("handSize") or 0
                length = queuing.get("queueLengthLimit") or 0
        return [name, spec.get("type") or "", shares, queues, hand, length, age]

    queuing = "flowcontrol.v1.QueuingConfiguration"
    return Printer(
        [
            name_col(),
            col("Type", "string", doc("flowcontrol.v1.PriorityLevelConfigurationSpec", "type")),
            col(
                "NominalConcurrencyShares",
                "string",
                doc("flowcontrol.v1.LimitedPriorityLevelConfiguration", "nominalConcurrencyShares"),
            ),
            col("Queues", "string", doc(queuing, "queues")),
            col("HandSize", "string", doc(queuing, "handSize")),
            col("QueueLengthLimit", "string", doc(queuing, "queueLengthLimit")),
            age_col(),
        ],
        cells,
    )


# --- internal.apiserver.k8s.io, storagemigration.k8s.io ---------------------------------------------


def storage_version_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        status = obj.get("status") or _EMPTY
        common = status.get("commonEncodingVersion")
        versions = [
            f"{v.get('apiServerID') or ''}={v.get('encodingVersion') or ''}"
            for v in status.get("storageVersions") or ()
        ]
        return [name, "<unset>" if common is None else common, list_with_more(versions, len(versions)), age]

    status = "apiserverinternal.v1alpha1.StorageVersionStatus"
    return Printer(
        [
            name_col(),
            col("CommonEncodingVersion", "string", doc(status, "commonEncodingVersion")),
            col("StorageVersions", "string", doc(status, "storageVersions")),
            age_col(),
        ],
        cells,
    )


def storage_version_migration_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, _ = _name_age(obj, now)
        res = _spec(obj).get("resource") or _EMPTY
        return [name, f"{res.get('resource') or ''}.{res.get('version') or ''}.{res.get('group') or ''}"]

    return Printer(
        [
            {**name_col(), "format": ""},
            col("Resource", "string", "Fully qualified resource to migrate"),
        ],
        cells,
    )


# --- resource.k8s.io (dynamic resource allocation) ------------------------------------------------------


def _name_age_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        return list(_name_age(obj, now))

    return Printer([name_col(), age_col()], cells)


def device_class_printer() -> Printer:
    return _name_age_printer()


def resource_claim_template_printer() -> Printer:
    return _name_age_printer()


def resource_claim_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        deleted = bool((obj.get("metadata") or _EMPTY).get("deletionTimestamp"))
        status = obj.get("status") or _EMPTY
        states = ["deleted"] if deleted else []
        if status.get("allocation") is None:
            if not deleted:
                states.append("pending")
        else:
            states.append("allocated")
            if status.get("reservedFor"):
                states.append("reserved")
        return [name, ",".join(states), age]

    return Printer(
        [
            name_col(),
            col("State", "string", "A summary of the current state (allocated, pending, reserved, etc.)."),
            age_col(),
        ],
        cells,
    )


def resource_slice_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        spec = _spec(obj)
        return [
            name,
            spec.get("nodeName") or "",
            spec.get("driver") or "",
            (spec.get("pool") or _EMPTY).get("name") or "",
            age,
        ]

    spec = "resource.v1beta1.ResourceSliceSpec"
    return Printer(
        [
            name_col(),
            col("Node", "string", doc(spec, "nodeName")),
            col("Driver", "string", doc(spec, "driver")),
            col("Pool", "string", doc("resource.v1beta1.ResourcePool", "name")),
            age_col(),
        ],
        cells,
    )


# --- apiregistration.k8s.io (kube-aggregator's own table) -----------------------------------------------


def api_service_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        name, age = _name_age(obj, now)
        svc = _spec(obj).get("service")
        service = "Local" if svc is None else f"{svc.get('namespace') or ''}/{svc.get('name') or ''}"
        available = "Unknown"
        for cond in (obj.get("status") or _EMPTY).get("conditions") or ():
            if cond.get("type") == "Available":
                state = cond.get("status") or ""
                available = f"{state} ({cond['reason']})" if state != "True" and cond.get("reason") else state
                break
        return [name, service, available, age]

    return Printer(
        [
            name_col(),
            col("Service", "string", "The reference to the service that hosts this API endpoint."),
            col("Available", "string", "Whether this service is available."),
            age_col(),
        ],
        cells,
    )

"""Which printer serves which built-in resource (upstream: each registry's TableConvertor)."""

from __future__ import annotations

from collections.abc import Callable

from kijabi.machinery.printers import cluster, core, generic, network_storage, workloads
from kijabi.machinery.printers._base import Printer

_FACTORIES: dict[tuple[str, str], Callable[[], Printer]] = {
    # core/v1
    ("", "pods"): core.pod_printer,
    ("", "podtemplates"): core.pod_template_printer,
    ("", "replicationcontrollers"): core.replication_controller_printer,
    ("", "services"): core.service_printer,
    ("", "endpoints"): core.endpoints_printer,
    ("", "nodes"): core.node_printer,
    ("", "events"): core.event_printer,
    ("", "namespaces"): core.namespace_printer,
    ("", "secrets"): core.secret_printer,
    ("", "configmaps"): core.config_map_printer,
    ("", "serviceaccounts"): core.service_account_printer,
    ("", "persistentvolumes"): core.persistent_volume_printer,
    ("", "persistentvolumeclaims"): core.persistent_volume_claim_printer,
    ("", "componentstatuses"): core.component_status_printer,
    ("", "resourcequotas"): core.resource_quota_printer,
    # apps, batch, autoscaling, policy
    ("apps", "deployments"): workloads.deployment_printer,
    ("apps", "replicasets"): workloads.replica_set_printer,
    ("apps", "statefulsets"): workloads.stateful_set_printer,
    ("apps", "daemonsets"): workloads.daemon_set_printer,
    ("apps", "controllerrevisions"): workloads.controller_revision_printer,
    ("batch", "jobs"): workloads.job_printer,
    ("batch", "cronjobs"): workloads.cron_job_printer,
    ("autoscaling", "horizontalpodautoscalers"): workloads.hpa_printer,
    ("policy", "poddisruptionbudgets"): workloads.pdb_printer,
    # events.k8s.io serves the same objects as core events, with the same table
    ("events.k8s.io", "events"): core.event_printer,
    # networking, discovery, storage
    ("networking.k8s.io", "ingresses"): network_storage.ingress_printer,
    ("networking.k8s.io", "ingressclasses"): network_storage.ingress_class_printer,
    ("networking.k8s.io", "networkpolicies"): network_storage.network_policy_printer,
    ("networking.k8s.io", "servicecidrs"): network_storage.service_cidr_printer,
    ("networking.k8s.io", "ipaddresses"): network_storage.ip_address_printer,
    ("discovery.k8s.io", "endpointslices"): network_storage.endpoint_slice_printer,
    ("storage.k8s.io", "storageclasses"): network_storage.storage_class_printer,
    ("storage.k8s.io", "volumeattributesclasses"): network_storage.volume_attributes_class_printer,
    ("storage.k8s.io", "volumeattachments"): network_storage.volume_attachment_printer,
    ("storage.k8s.io", "csinodes"): network_storage.csi_node_printer,
    ("storage.k8s.io", "csidrivers"): network_storage.csi_driver_printer,
    # csistoragecapacities: upstream's registry uses the default table although a printer exists
    # cluster-level APIs
    ("rbac.authorization.k8s.io", "rolebindings"): cluster.role_binding_printer,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): cluster.cluster_role_binding_printer,
    ("coordination.k8s.io", "leases"): cluster.lease_printer,
    ("coordination.k8s.io", "leasecandidates"): cluster.lease_candidate_printer,
    ("scheduling.k8s.io", "priorityclasses"): cluster.priority_class_printer,
    ("node.k8s.io", "runtimeclasses"): cluster.runtime_class_printer,
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): cluster.webhook_configuration_printer,
    (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    ): cluster.webhook_configuration_printer,
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicies",
    ): cluster.validating_admission_policy_printer,
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): cluster.policy_binding_printer,
    ("admissionregistration.k8s.io", "mutatingadmissionpolicies"): cluster.mutating_admission_policy_printer,
    ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"): cluster.policy_binding_printer,
    ("certificates.k8s.io", "certificatesigningrequests"): cluster.csr_printer,
    ("certificates.k8s.io", "clustertrustbundles"): cluster.cluster_trust_bundle_printer,
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): cluster.flow_schema_printer,
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): cluster.priority_level_printer,
    ("internal.apiserver.k8s.io", "storageversions"): cluster.storage_version_printer,
    ("storagemigration.k8s.io", "storageversionmigrations"): cluster.storage_version_migration_printer,
    ("resource.k8s.io", "deviceclasses"): cluster.device_class_printer,
    ("resource.k8s.io", "resourceclaims"): cluster.resource_claim_printer,
    ("resource.k8s.io", "resourceclaimtemplates"): cluster.resource_claim_template_printer,
    ("resource.k8s.io", "resourceslices"): cluster.resource_slice_printer,
    ("apiregistration.k8s.io", "apiservices"): cluster.api_service_printer,
}

_DEFAULT_KEY = ("", "")
_cache: dict[tuple[str, str], Printer] = {}


def has_printer(group: str, resource: str) -> bool:
    """Whether `group`/`resource` has its own printer (otherwise it gets the default table)."""
    return (group, resource.partition("/")[0]) in _FACTORIES or resource.endswith("/scale")


def printer_for(group: str, resource: str) -> Printer:
    """The printer of a built-in resource: upstream's columns, or the default Name/Created At table.

    `resource` is the plural (`deployments`); a subresource path picks the table of what it returns:
    `*/scale` the Scale table, any other subresource (`pods/status`) its parent's table. Printers
    are built once and shared.
    """
    base, _, sub = resource.partition("/")
    key = ("autoscaling", "scale") if sub == "scale" else (group, base)
    if key not in _FACTORIES and key != ("autoscaling", "scale"):
        key = _DEFAULT_KEY
    printer = _cache.get(key)
    if printer is None:  # building twice in a race is harmless: printers are immutable
        if key == _DEFAULT_KEY:
            printer = generic.default_printer()
        elif key == ("autoscaling", "scale"):
            printer = workloads.scale_printer()
        else:
            printer = _FACTORIES[key]()
        printer = _cache.setdefault(key, printer)
    return printer


def default_printer() -> Printer:
    """The generic table (Name, Created At) of resources without a printer, CRDs included."""
    return printer_for("", "")

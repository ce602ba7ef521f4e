"""Which printer each built-in resource gets, and the invariants every printer keeps."""

from __future__ import annotations

import pytest

from kijabi.machinery.printers import default_printer, has_printer, printer_for
from kijabi.machinery.printers.registry import _FACTORIES

from ._support import NOW, column_names

ALL = sorted(_FACTORIES)

# Columns whose upstream description is empty (upstream reads a doc key that does not exist).
EMPTY_DESCRIPTIONS = {
    ("coordination.k8s.io", "leasecandidates"): {"BinaryVersion", "EmulationVersion"},
    ("node.k8s.io", "runtimeclasses"): {"Handler"},
}


@pytest.mark.parametrize(("group", "resource"), ALL, ids=[f"{g or 'core'}/{r}" for g, r in ALL])
def test_columns_are_well_formed(group: str, resource: str) -> None:
    """Five wire keys per column, known types and priorities, a documented name column."""
    printer = printer_for(group, resource)
    allowed_empty = EMPTY_DESCRIPTIONS.get((group, resource), set())
    for column in printer.columns:
        assert list(column) == ["name", "type", "format", "description", "priority"]
        assert column["type"] in {"string", "integer", "number", "boolean", "date"}
        assert column["priority"] in (0, 1)
        assert column["description"] or column["name"] in allowed_empty, column["name"]
    assert "Name" in column_names(printer)


@pytest.mark.parametrize(("group", "resource"), ALL, ids=[f"{g or 'core'}/{r}" for g, r in ALL])
def test_printers_tolerate_bare_objects(group: str, resource: str) -> None:
    """An object with only metadata prints a full row (unset fields have defaults, no exceptions)."""
    printer = printer_for(group, resource)
    cells = printer.cells({"metadata": {"name": "bare"}}, NOW)
    expected = len(printer.columns) + (1 if resource == "ipaddresses" else 0)
    assert len(cells) == expected
    assert "bare" in cells


@pytest.mark.parametrize(
    ("group", "resource", "columns"),
    [
        pytest.param("", "namespaces", ["Name", "Status", "Age"], id="namespaces"),
        pytest.param("", "secrets", ["Name", "Type", "Data", "Age"], id="secrets"),
        pytest.param(
            "",
            "persistentvolumes",
            [
                "Name",
                "Capacity",
                "Access Modes",
                "Reclaim Policy",
                "Status",
                "Claim",
                "StorageClass",
                "VolumeAttributesClass",
                "Reason",
                "Age",
                "VolumeMode",
            ],
            id="pv",
        ),
        pytest.param(
            "",
            "persistentvolumeclaims",
            [
                "Name",
                "Status",
                "Volume",
                "Capacity",
                "Access Modes",
                "StorageClass",
                "VolumeAttributesClass",
                "Age",
                "VolumeMode",
            ],
            id="pvc",
        ),
        pytest.param(
            "apps",
            "daemonsets",
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "Containers",
                "Images",
                "Selector",
            ],
            id="daemonsets",
        ),
        pytest.param(
            "batch",
            "jobs",
            ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"],
            id="jobs",
        ),
        pytest.param(
            "batch",
            "cronjobs",
            [
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "Containers",
                "Images",
                "Selector",
            ],
            id="cronjobs",
        ),
        pytest.param(
            "autoscaling",
            "horizontalpodautoscalers",
            ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"],
            id="hpa",
        ),
        pytest.param(
            "policy",
            "poddisruptionbudgets",
            ["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"],
            id="pdb",
        ),
        pytest.param(
            "networking.k8s.io",
            "ingresses",
            ["Name", "Class", "Hosts", "Address", "Ports", "Age"],
            id="ingresses",
        ),
        pytest.param(
            "storage.k8s.io",
            "storageclasses",
            ["Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"],
            id="storageclasses",
        ),
        pytest.param(
            "scheduling.k8s.io",
            "priorityclasses",
            ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"],
            id="priorityclasses",
        ),
        pytest.param(
            "flowcontrol.apiserver.k8s.io",
            "flowschemas",
            ["Name", "PriorityLevel", "MatchingPrecedence", "DistinguisherMethod", "Age", "MissingPL"],
            id="flowschemas",
        ),
        pytest.param(
            "flowcontrol.apiserver.k8s.io",
            "prioritylevelconfigurations",
            ["Name", "Type", "NominalConcurrencyShares", "Queues", "HandSize", "QueueLengthLimit", "Age"],
            id="prioritylevels",
        ),
    ],
)
def test_column_names(group: str, resource: str, columns: list[str]) -> None:
    """Column order is upstream's."""
    assert column_names(printer_for(group, resource)) == columns


def test_printer_types_of_count_columns() -> None:
    """A few column types upstream declares in ways cells do not follow (kept as upstream has them)."""
    assert printer_for("", "configmaps").columns[1]["type"] == "string"
    assert printer_for("storage.k8s.io", "storageclasses").columns[4]["type"] == "string"
    assert printer_for("scheduling.k8s.io", "priorityclasses").columns[4]["priority"] == 0
    assert printer_for("storage.k8s.io", "volumeattachments").columns[1]["format"] == "name"


def test_subresources_and_sharing() -> None:
    """Subresources print like their parent (scale like Scale); printers are built once."""
    assert printer_for("", "pods/status") is printer_for("", "pods")
    assert printer_for("apps", "deployments/status") is printer_for("apps", "deployments")
    assert printer_for("apps", "statefulsets/scale") is printer_for("autoscaling", "scale")
    assert printer_for("", "pods/log") is printer_for("", "pods")
    assert printer_for("example.com", "widgets/status") is default_printer()


@pytest.mark.parametrize(
    ("group", "resource", "expected"),
    [
        pytest.param("", "pods", True, id="pods"),
        pytest.param("apps", "deployments/scale", True, id="scale"),
        pytest.param("rbac.authorization.k8s.io", "roles", False, id="roles"),
        pytest.param("storage.k8s.io", "csistoragecapacities", False, id="csistoragecapacities"),
    ],
)
def test_has_printer(group: str, resource: str, expected: bool) -> None:
    """has_printer tells resources with their own table from default-table ones."""
    assert has_printer(group, resource) is expected

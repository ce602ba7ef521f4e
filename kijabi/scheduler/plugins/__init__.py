"""The in-tree plugins and the registry that builds them by name.

A factory takes the plugin's args (already defaulted by kijabi.scheduler.config) and the framework
`Handle`, and returns the plugin. `DEFAULT_PLUGINS` is upstream's v1 default MultiPoint set, in
upstream's order, with the default score weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kijabi.scheduler.framework.interface import Handle
from kijabi.scheduler.plugins.defaultpreemption import DefaultPreemption
from kijabi.scheduler.plugins.interpodaffinity import InterPodAffinity
from kijabi.scheduler.plugins.nodeaffinity import NodeAffinity
from kijabi.scheduler.plugins.noderesources import BalancedAllocation, Fit
from kijabi.scheduler.plugins.podtopologyspread import PodTopologySpread
from kijabi.scheduler.plugins.simple import (
    DefaultBinder,
    ImageLocality,
    NodeName,
    NodePorts,
    NodeUnschedulable,
    PrioritySort,
    SchedulingGates,
    TaintToleration,
)
from kijabi.scheduler.plugins.volumebinding import VolumeBinding
from kijabi.scheduler.plugins.volumes import NodeVolumeLimits, VolumeRestrictions, VolumeZone

PluginFactory = Callable[[Mapping[str, Any], Handle], Any]

REGISTRY: dict[str, PluginFactory] = {
    "PrioritySort": lambda args, h: PrioritySort(),
    "SchedulingGates": lambda args, h: SchedulingGates(),
    "NodeUnschedulable": lambda args, h: NodeUnschedulable(),
    "NodeName": lambda args, h: NodeName(),
    "TaintToleration": lambda args, h: TaintToleration(),
    "NodeAffinity": NodeAffinity,
    "NodePorts": lambda args, h: NodePorts(),
    "NodeResourcesFit": Fit,
    "VolumeRestrictions": lambda args, h: VolumeRestrictions(h),
    "NodeVolumeLimits": lambda args, h: NodeVolumeLimits(h),
    "VolumeBinding": VolumeBinding,
    "VolumeZone": lambda args, h: VolumeZone(h),
    "PodTopologySpread": PodTopologySpread,
    "InterPodAffinity": InterPodAffinity,
    "DefaultPreemption": DefaultPreemption,
    "NodeResourcesBalancedAllocation": BalancedAllocation,
    "ImageLocality": lambda args, h: ImageLocality(h),
    "DefaultBinder": lambda args, h: DefaultBinder(h),
}

# (name, score weight or None) in upstream's default MultiPoint order.
DEFAULT_PLUGINS: list[tuple[str, int | None]] = [
    ("SchedulingGates", None),
    ("PrioritySort", None),
    ("NodeUnschedulable", None),
    ("NodeName", None),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", None),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", None),
    ("NodeVolumeLimits", None),
    ("VolumeBinding", None),
    ("VolumeZone", None),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", None),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", None),
]

# Plugins whose args have a kind of their own (pluginConfig).
ARGS_KINDS: dict[str, str] = {
    "DefaultPreemption": "DefaultPreemptionArgs",
    "InterPodAffinity": "InterPodAffinityArgs",
    "NodeAffinity": "NodeAffinityArgs",
    "NodeResourcesBalancedAllocation": "NodeResourcesBalancedAllocationArgs",
    "NodeResourcesFit": "NodeResourcesFitArgs",
    "PodTopologySpread": "PodTopologySpreadArgs",
    "VolumeBinding": "VolumeBindingArgs",
}

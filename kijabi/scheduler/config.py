"""KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): loading, defaulting, validation.

`load_config(path)` reads a YAML/JSON file; `parse_config(doc)` takes the decoded document; both
return a `SchedulerConfig` with upstream's v1 defaults applied (`default_config()` with no file):

- profiles: one `default-scheduler` profile when none is given; each profile's plugin sets are the
  default MultiPoint set merged with the profile's own, per extension point (a custom entry replaces
  the default one of the same name in place, `disabled: [{name: "*"}]` drops the defaults), exactly
  as upstream's mergePlugins;
- pluginConfig: every enabled plugin that takes args gets them, with its defaults filled in;
- percentageOfNodesToScore 0 (adaptive), podInitialBackoffSeconds 1, podMaxBackoffSeconds 10,
  leader election on a Lease kube-system/kube-scheduler (15s/10s/2s), client qps 50 / burst 100.

Invalid input raises `ConfigError` whose message lists the field errors in upstream's form.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kijabi.machinery import duration
from kijabi.scheduler.plugins import ARGS_KINDS, DEFAULT_PLUGINS

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER_NAME = "default-scheduler"
EXTENSION_POINTS = ("preEnqueue", "queueSort", "preFilter", "filter", "postFilter", "preScore", "score",
                    "reserve", "permit", "preBind", "bind", "postBind")
MULTI_POINT = "multiPoint"
DEFAULT_RESOURCES = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]
SCORING_TYPES = ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio")
MAX_WEIGHT = 100
_TOP_LEVEL = {"apiVersion", "kind", "parallelism", "leaderElection", "clientConnection", "healthzBindAddress",
              "metricsBindAddress", "enableProfiling", "enableContentionProfiling", "percentageOfNodesToScore",
              "podInitialBackoffSeconds", "podMaxBackoffSeconds", "profiles", "extenders", "delayCacheUntilActive"}


class ConfigError(ValueError):
    """An invalid KubeSchedulerConfiguration (the message lists every field error)."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")


@dataclass
class PluginRef:
    name: str
    weight: int | None = None


@dataclass
class PluginSet:
    enabled: list[PluginRef] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)


@dataclass
class Profile:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    percentage_of_nodes_to_score: int | None = None
    plugins: dict[str, PluginSet] = field(default_factory=dict)
    plugin_config: dict[str, dict[str, Any]] = field(default_factory=dict)

    def plugin_set(self, point: str) -> PluginSet:
        return self.plugins.get(point) or PluginSet()


@dataclass
class LeaderElection:
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_lock: str = "leases"
    resource_name: str = "kube-scheduler"
    resource_namespace: str = "kube-system"


@dataclass
class ClientConnection:
    kubeconfig: str = ""
    qps: float = 50.0
    burst: int = 100
    content_type: str = "application/vnd.kubernetes.protobuf"


@dataclass
class SchedulerConfig:
    profiles: list[Profile] = field(default_factory=list)
    parallelism: int = 16
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    leader_election: LeaderElection = field(default_factory=LeaderElection)
    client_connection: ClientConnection = field(default_factory=ClientConnection)
    delay_cache_until_active: bool = False

    def profile(self, scheduler_name: str) -> Profile | None:
        for p in self.profiles:
            if p.scheduler_name == scheduler_name:
                return p
        return None


# -- durations -------------------------------------------------------------------------------------

def parse_duration(text: Any) -> float:
    """A Go duration string ("15s", "1m30s", "100ms") in seconds; ValueError (Go's text) if malformed."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text) / 1e9  # metav1.Duration as a JSON number is nanoseconds
    return duration.parse(str(text).strip()) / 1e9


# -- plugin sets -----------------------------------------------------------------------------------


def _plugin_set(raw: Any, path: str, errors: list[str]) -> PluginSet:
    ps = PluginSet()
    if raw is None:
        return ps
    if not isinstance(raw, Mapping):
        errors.append(f"{path}: Invalid value: must be an object")
        return ps
    for i, p in enumerate(raw.get("enabled") or []):
        name = (p or {}).get("name")
        if not name:
            errors.append(f"{path}.enabled[{i}].name: Required value")
            continue
        weight = p.get("weight")
        if weight is not None and (not isinstance(weight, int) or weight < 0):
            errors.append(f"{path}.enabled[{i}].weight: Invalid value: {weight!r}: must be a non-negative integer")
            weight = None
        ps.enabled.append(PluginRef(str(name), weight))
    for i, p in enumerate(raw.get("disabled") or []):
        name = (p or {}).get("name")
        if not name:
            errors.append(f"{path}.disabled[{i}].name: Required value")
            continue
        ps.disabled.append(str(name))
    return ps


def merge_plugin_set(default: PluginSet, custom: PluginSet) -> PluginSet:
    """Upstream mergePluginSet: a custom entry replaces the default of the same name in place, the
    other custom entries follow; disabled names (or "*") drop defaults."""
    disabled = list(custom.disabled) + list(default.disabled)
    disabled_set = set(disabled)
    custom_by_name = {p.name: (i, p) for i, p in enumerate(custom.enabled)}
    replaced: set[int] = set()
    enabled: list[PluginRef] = []
    if "*" not in disabled_set:
        for p in default.enabled:
            if p.name in disabled_set:
                continue
            hit = custom_by_name.get(p.name)
            if hit is not None:
                replaced.add(hit[0])
                p = hit[1]
            enabled.append(p)
    for i, p in enumerate(custom.enabled):
        if i not in replaced:
            enabled.append(p)
    return PluginSet(enabled, disabled)


def default_plugins() -> dict[str, PluginSet]:
    return {MULTI_POINT: PluginSet([PluginRef(n, w) for n, w in DEFAULT_PLUGINS])}


def enabled_plugin_names(plugins: Mapping[str, PluginSet]) -> list[str]:
    seen: dict[str, None] = {}
    for ps in plugins.values():
        for p in ps.enabled:
            seen.setdefault(p.name, None)
    return list(seen)


# -- plugin args -----------------------------------------------------------------------------------


def default_args(name: str, args: Mapping[str, Any] | None) -> dict[str, Any]:
    """The args of plugin `name` with upstream's v1 defaults filled in."""
    out: dict[str, Any] = copy.deepcopy(dict(args or {}))
    out.pop("apiVersion", None)
    out.pop("kind", None)
    if name == "DefaultPreemption":
        out.setdefault("minCandidateNodesPercentage", 10)
        out.setdefault("minCandidateNodesAbsolute", 100)
    elif name == "InterPodAffinity":
        out.setdefault("hardPodAffinityWeight", 1)
        out.setdefault("ignorePreferredTermsOfExistingPods", False)
    elif name == "NodeResourcesBalancedAllocation":
        if not out.get("resources"):
            out["resources"] = copy.deepcopy(DEFAULT_RESOURCES)
        for r in out["resources"]:
            if not r.get("weight"):
                r["weight"] = 1
    elif name == "NodeResourcesFit":
        strategy = out.get("scoringStrategy")
        if strategy is None:
            strategy = out["scoringStrategy"] = {"type": "LeastAllocated"}
        strategy.setdefault("type", "LeastAllocated")
        if not strategy.get("resources"):
            strategy["resources"] = copy.deepcopy(DEFAULT_RESOURCES)
        for r in strategy["resources"]:
            if not r.get("weight"):
                r["weight"] = 1
    elif name == "PodTopologySpread":
        out.setdefault("defaultingType", "System")
        out.setdefault("defaultConstraints", [])
    elif name == "VolumeBinding":
        out.setdefault("bindTimeoutSeconds", 600)
    return out


def _validate_args(name: str, args: Mapping[str, Any], path: str, errors: list[str]) -> None:
    if name == "DefaultPreemption":
        pct = args.get("minCandidateNodesPercentage")
        absolute = args.get("minCandidateNodesAbsolute")
        if not isinstance(pct, int) or not 0 <= pct <= 100:
            errors.append(f"{path}.minCandidateNodesPercentage: Invalid value: {pct}: not in valid range [0, 100]")
        if not isinstance(absolute, int) or absolute < 0:
            errors.append(f"{path}.minCandidateNodesAbsolute: Invalid value: {absolute}: not in valid range [0, inf)")
        if pct == 0 and absolute == 0:
            errors.append(f"{path}.minCandidateNodesAbsolute: Invalid value: 0: cannot be zero at the same time "
                          "as minCandidateNodesPercentage")
    elif name == "InterPodAffinity":
        w = args.get("hardPodAffinityWeight")
        if not isinstance(w, int) or not 0 <= w <= 100:
            errors.append(f"{path}.hardPodAffinityWeight: Invalid value: {w}: not in valid range [0, 100]")
    elif name in ("NodeResourcesFit", "NodeResourcesBalancedAllocation"):
        base = f"{path}.scoringStrategy" if name == "NodeResourcesFit" else path
        holder = args.get("scoringStrategy") or {} if name == "NodeResourcesFit" else args
        if name == "NodeResourcesFit":
            kind = holder.get("type")
            if kind not in SCORING_TYPES:
                errors.append(f'{base}.type: Unsupported value: "{kind}": supported values: '
                              + ", ".join(f'"{t}"' for t in SCORING_TYPES))
            if kind == "RequestedToCapacityRatio":
                shape = (holder.get("requestedToCapacityRatio") or {}).get("shape") or []
                if not shape:
                    errors.append(f"{base}.requestedToCapacityRatio.shape: Required value: at least one point must be specified")
                last = -1
                for i, pt in enumerate(shape):
                    u, s = pt.get("utilization"), pt.get("score")
                    if not isinstance(u, int) or not 0 <= u <= 100:
                        errors.append(f"{base}.requestedToCapacityRatio.shape[{i}].utilization: Invalid value: {u}: not in valid range [0, 100]")
                    elif u <= last:
                        errors.append(f"{base}.requestedToCapacityRatio.shape[{i}].utilization: Invalid value: {u}: "
                                      "utilization values must be sorted in increasing order")
                    else:
                        last = u
                    if not isinstance(s, int) or not 0 <= s <= 10:
                        errors.append(f"{base}.requestedToCapacityRatio.shape[{i}].score: Invalid value: {s}: not in valid range [0, 10]")
        seen: set[str] = set()
        for i, r in enumerate(holder.get("resources") or []):
            w = r.get("weight")
            if not isinstance(w, int) or not 1 <= w <= MAX_WEIGHT:
                errors.append(f"{base}.resources[{i}].weight: Invalid value: {w}: resource weight of {r.get('name')} "
                              f"should be in the range [1, {MAX_WEIGHT}]")
            if r.get("name") in seen:
                errors.append(f"{base}.resources[{i}].name: Duplicate value: \"{r.get('name')}\"")
            seen.add(str(r.get("name")))
    elif name == "PodTopologySpread":
        kind = args.get("defaultingType")
        if kind not in ("System", "List"):
            errors.append(f'{path}.defaultingType: Unsupported value: "{kind}": supported values: "List", "System"')
        constraints = args.get("defaultConstraints") or []
        if kind == "System" and constraints:
            errors.append(f'{path}.defaultConstraints: Invalid value: "": when .defaultingType is "System", '
                          ".defaultConstraints must be empty")
        pairs: set[tuple[str, str]] = set()
        for i, c in enumerate(constraints):
            p = f"{path}.defaultConstraints[{i}]"
            if not isinstance(c.get("maxSkew"), int) or c.get("maxSkew") <= 0:
                errors.append(f"{p}.maxSkew: Invalid value: {c.get('maxSkew')}: not in valid range (0, inf)")
            if not c.get("topologyKey"):
                errors.append(f"{p}.topologyKey: Required value: can not be empty")
            w = c.get("whenUnsatisfiable")
            if w not in ("DoNotSchedule", "ScheduleAnyway"):
                errors.append(f'{p}.whenUnsatisfiable: Unsupported value: "{w}": supported values: '
                              '"DoNotSchedule", "ScheduleAnyway"')
            pair = (str(c.get("topologyKey")), str(w))
            if pair in pairs:
                errors.append(f"{p}: Duplicate value: {{{pair[0]}, {pair[1]}}}")
            pairs.add(pair)
            if c.get("labelSelector") is not None:
                errors.append(f"{p}.labelSelector: Forbidden: constraint must not define a selector, as they deduced "
                              "for each pod")
    elif name == "VolumeBinding":
        t = args.get("bindTimeoutSeconds")
        if not isinstance(t, int) or t < 0:
            errors.append(f"{path}.bindTimeoutSeconds: Invalid value: {t}: invalid BindTimeoutSeconds, "
                          "should not be a negative value")


# -- the whole configuration -----------------------------------------------------------------------


def _int(doc: Mapping[str, Any], key: str, default: int, path: str, errors: list[str]) -> int:
    v = doc.get(key)
    if v is None:
        return default
    if not isinstance(v, int) or isinstance(v, bool):
        errors.append(f"{path}{key}: Invalid value: {v!r}: must be an integer")
        return default
    return v


def _parse_profile(raw: Mapping[str, Any], i: int, errors: list[str]) -> Profile:
    path = f"profiles[{i}]"
    prof = Profile(scheduler_name=str(raw.get("schedulerName") or DEFAULT_SCHEDULER_NAME))
    pct = raw.get("percentageOfNodesToScore")
    if pct is not None:
        if not isinstance(pct, int) or not 0 <= pct <= 100:
            errors.append(f"{path}.percentageOfNodesToScore: Invalid value: {pct}: not in valid range [0-100]")
        else:
            prof.percentage_of_nodes_to_score = pct
    plugins_raw = raw.get("plugins") or {}
    for key in plugins_raw:
        if key not in EXTENSION_POINTS and key != MULTI_POINT:
            errors.append(f'{path}.plugins: Invalid value: unknown extension point "{key}"')
    defaults = default_plugins()
    merged: dict[str, PluginSet] = {}
    for point in (MULTI_POINT, *EXTENSION_POINTS):
        custom = _plugin_set(plugins_raw.get(point), f"{path}.plugins.{point}", errors)
        merged[point] = merge_plugin_set(defaults.get(point) or PluginSet(), custom)
    prof.plugins = merged
    configured: dict[str, Any] = {}
    for j, pc in enumerate(raw.get("pluginConfig") or []):
        name = (pc or {}).get("name")
        if not name:
            errors.append(f"{path}.pluginConfig[{j}].name: Required value")
            continue
        if name in configured:
            errors.append(f'{path}.pluginConfig[{j}]: Duplicate value: "{name}"')
            continue
        args = pc.get("args") or {}
        kind = args.get("kind")
        want = ARGS_KINDS.get(name)
        if kind is not None and want is not None and kind != want:
            errors.append(f'{path}.pluginConfig[{j}].args: Invalid value: "{kind}": args kind must be "{want}"')
        configured[name] = (j, args)
    for name in enabled_plugin_names(merged):
        if name in ARGS_KINDS and name not in configured:
            configured[name] = (None, {})
    for name, (j, args) in configured.items():
        full = default_args(name, args)
        if j is not None:
            _validate_args(name, full, f"{path}.pluginConfig[{j}].args", errors)
        prof.plugin_config[name] = full
    return prof


def parse_config(doc: Mapping[str, Any] | None) -> SchedulerConfig:
    """A SchedulerConfig from a decoded KubeSchedulerConfiguration (None: all defaults)."""
    doc = doc or {"apiVersion": API_VERSION, "kind": KIND}
    errors: list[str] = []
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if kind != KIND or api_version != API_VERSION:
        raise ConfigError([f'no kind "{kind}" is registered for version "{api_version}" in scheme '
                           '"k8s.io/kubernetes/pkg/scheduler/apis/config/scheme/scheme.go:30"'])
    unknown = sorted(set(doc) - _TOP_LEVEL)
    if unknown:
        raise ConfigError([f'strict decoding error: unknown field "{u}"' for u in unknown])
    cfg = SchedulerConfig()
    cfg.parallelism = _int(doc, "parallelism", 16, "", errors)
    if cfg.parallelism <= 0:
        errors.append(f"parallelism: Invalid value: {cfg.parallelism}: should be an integer value greater than zero")
    pct = _int(doc, "percentageOfNodesToScore", 0, "", errors)
    if not 0 <= pct <= 100:
        errors.append(f"percentageOfNodesToScore: Invalid value: {pct}: not in valid range [0-100]")
    cfg.percentage_of_nodes_to_score = pct
    cfg.pod_initial_backoff_seconds = float(_int(doc, "podInitialBackoffSeconds", 1, "", errors))
    cfg.pod_max_backoff_seconds = float(_int(doc, "podMaxBackoffSeconds", 10, "", errors))
    if cfg.pod_initial_backoff_seconds <= 0:
        errors.append(f"podInitialBackoffSeconds: Invalid value: {int(cfg.pod_initial_backoff_seconds)}: must be greater than 0")
    if cfg.pod_max_backoff_seconds < cfg.pod_initial_backoff_seconds:
        errors.append(f"podMaxBackoffSeconds: Invalid value: {int(cfg.pod_max_backoff_seconds)}: must be greater than "
                      "or equal to PodInitialBackoffSeconds")
    cfg.delay_cache_until_active = bool(doc.get("delayCacheUntilActive", False))
    le = doc.get("leaderElection") or {}
    try:
        cfg.leader_election = LeaderElection(
            leader_elect=bool(le.get("leaderElect", True)),
            lease_duration=parse_duration(le.get("leaseDuration", "15s")),
            renew_deadline=parse_duration(le.get("renewDeadline", "10s")),
            retry_period=parse_duration(le.get("retryPeriod", "2s")),
            resource_lock=str(le.get("resourceLock", "leases")),
            resource_name=str(le.get("resourceName", "kube-scheduler")),
            resource_namespace=str(le.get("resourceNamespace", "kube-system")),
        )
    except ValueError as exc:
        errors.append(f"leaderElection: Invalid value: {exc}")
    if cfg.leader_election.leader_elect:
        lec = cfg.leader_election
        if lec.lease_duration <= lec.renew_deadline:
            errors.append("leaderElection.leaseDuration: Invalid value: must be greater than renewDeadline")
        if lec.renew_deadline <= 1.2 * lec.retry_period:
            errors.append("leaderElection.renewDeadline: Invalid value: must be greater than retryPeriod*1.2")
        if lec.resource_lock != "leases":
            errors.append(f'leaderElection.resourceLock: Unsupported value: "{lec.resource_lock}": supported values: "leases"')
    cc = doc.get("clientConnection") or {}
    cfg.client_connection = ClientConnection(
        kubeconfig=str(cc.get("kubeconfig") or ""), qps=float(cc.get("qps", 50)), burst=int(cc.get("burst", 100)),
        content_type=str(cc.get("contentType") or "application/vnd.kubernetes.protobuf"))
    if doc.get("extenders"):
        errors.append("extenders: Forbidden: scheduler extenders are not supported by kijabi")
    raw_profiles = doc.get("profiles") or [{}]
    names: set[str] = set()
    for i, raw in enumerate(raw_profiles):
        prof = _parse_profile(raw or {}, i, errors)
        if prof.scheduler_name in names:
            errors.append(f'profiles[{i}].schedulerName: Duplicate value: "{prof.scheduler_name}"')
        names.add(prof.scheduler_name)
        cfg.profiles.append(prof)
    if errors:
        raise ConfigError(errors)
    return cfg


def default_config() -> SchedulerConfig:
    return parse_config(None)


def load_config(path: str | Path) -> SchedulerConfig:
    """Read and parse a KubeSchedulerConfiguration file (YAML or JSON)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError([f"failed to read config file {path!r}: {exc.strerror or exc}"]) from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"failed to decode config file {path!r}: {exc}"]) from exc
    if not isinstance(doc, Mapping):
        raise ConfigError([f"config file {path!r} does not hold a KubeSchedulerConfiguration object"])
    return parse_config(doc)

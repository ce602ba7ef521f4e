"""A container's environment, as upstream's kubelet builds it (kubelet_pods.go makeEnvironmentVariables).

Order of precedence, lowest first: service links (`<SVC>_SERVICE_HOST`, docker-style `<SVC>_PORT_...`
for every Service of the pod's namespace when `enableServiceLinks`, plus the `kubernetes` Service of
`default` always), `envFrom` (ConfigMaps and Secrets, each key optionally prefixed), then `env` in order.
`env` values expand `$(VAR)` from what is defined before them (envFrom, earlier env, service links);
`$$` is a literal `$` and an undefined `$(VAR)` stays as written. The same expansion applies to the
container's command and args (`expand`).

Lookups go through `Sources` (ConfigMaps, Secrets, Services, the pod's IPs, node allocatable), so this
module stays pure. A missing non-optional ConfigMap/Secret or key raises `EnvError` (the kubelet reports
it as CreateContainerConfigError with upstream's message).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kijabi.kubelet import podutil
from kijabi.machinery.quantity import Quantity

Object = Mapping[str, Any]
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class EnvError(Exception):
    """The environment cannot be built (a referenced object or key is missing)."""


@dataclass
class Sources:
    get_configmap: Callable[[str, str], Object | None]     # (namespace, name) -> object or None
    get_secret: Callable[[str, str], Object | None]
    services: Callable[[], Sequence[Object]] = lambda: ()  # every Service the kubelet knows
    pod_ips: list[str] = field(default_factory=list)
    host_ips: list[str] = field(default_factory=list)
    node_allocatable: Mapping[str, str] = field(default_factory=dict)


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Upstream's $(VAR) expansion (third_party/forked/golang/expansion)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    value = lookup(name)
                    out.append(value if value is not None else text[i:end + 1])
                    i = end + 1
                    continue
                out.append(text[i:])
                break
            out.append(ch)
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def service_env(pod: Object, services: Sequence[Object]) -> dict[str, str]:
    ns = podutil.namespace(pod)
    links = podutil.spec(pod).get("enableServiceLinks", True) is not False
    chosen: dict[str, Object] = {}
    for svc in services:
        meta = svc.get("metadata") or {}
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if not ip or ip == "None":
            continue
        name, svc_ns = meta.get("name", ""), meta.get("namespace", "")
        if svc_ns == ns and links:
            chosen[name] = svc
        elif svc_ns == "default" and name == "kubernetes" and name not in chosen:
            chosen[name] = svc
    env: dict[str, str] = {}
    for name in sorted(chosen):
        _service_vars(chosen[name], env)
    return env


def _service_vars(svc: Object, env: dict[str, str]) -> None:
    name = (svc.get("metadata") or {}).get("name", "")
    spec = svc.get("spec") or {}
    ip = spec["clusterIP"]
    prefix = name.upper().replace("-", "_")
    ports = spec.get("ports") or []
    env[f"{prefix}_SERVICE_HOST"] = ip
    if not ports:
        return
    env[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
    for p in ports:
        if p.get("name"):
            env[f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p.get("port"))
    first = ports[0]
    env[f"{prefix}_PORT"] = f"{str(first.get('protocol') or 'TCP').lower()}://{ip}:{first.get('port')}"
    for p in ports:
        proto = str(p.get("protocol") or "TCP")
        base = f"{prefix}_PORT_{p.get('port')}_{proto.upper()}"
        env[base] = f"{proto.lower()}://{ip}:{p.get('port')}"
        env[f"{base}_PROTO"] = proto.lower()
        env[f"{base}_PORT"] = str(p.get("port"))
        env[f"{base}_ADDR"] = ip


def _data(obj: Object, *, secret: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    if secret:
        for k, v in (obj.get("data") or {}).items():
            out[k] = base64.b64decode(v).decode(errors="replace")
        for k, v in (obj.get("stringData") or {}).items():
            out[k] = v
    else:
        out.update({k: str(v) for k, v in (obj.get("data") or {}).items()})
        for k, v in (obj.get("binaryData") or {}).items():
            out[k] = base64.b64decode(v).decode(errors="replace")
    return out


def field_value(pod: Object, path: str, sources: Sources) -> str:
    """A downward-API field of the pod (fieldRef.fieldPath)."""
    meta = podutil.meta(pod)
    if path == "metadata.name":
        return str(meta.get("name", ""))
    if path == "metadata.namespace":
        return podutil.namespace(pod)
    if path == "metadata.uid":
        return str(meta.get("uid", ""))
    if path == "metadata.labels":
        return format_map(meta.get("labels") or {})
    if path == "metadata.annotations":
        return format_map(meta.get("annotations") or {})
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    spec = podutil.spec(pod)
    if path == "spec.nodeName":
        return str(spec.get("nodeName", ""))
    if path == "spec.serviceAccountName":
        return str(spec.get("serviceAccountName", ""))
    if path == "status.hostIP":
        return sources.host_ips[0] if sources.host_ips else ""
    if path == "status.hostIPs":
        return ",".join(sources.host_ips)
    if path == "status.podIP":
        return sources.pod_ips[0] if sources.pod_ips else ""
    if path == "status.podIPs":
        return ",".join(sources.pod_ips)
    raise EnvError(f"unsupported fieldPath: {path}")


def format_map(values: Mapping[str, Any]) -> str:
    """Labels/annotations as the downward API writes them: key="value" lines, sorted."""
    return "\n".join(f'{k}="{_go_quote_body(str(v))}"' for k, v in sorted(values.items()))


def _go_quote_body(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


def resource_value(container: Object, resource: str, divisor: Any, allocatable: Mapping[str, str]) -> str:
    """resourceFieldRef: a request or limit of `container` divided by `divisor`, rounded up; an unset
    limit reads as the node's allocatable amount."""
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise EnvError(f"unsupported container resource: {resource}")
    q = podutil.resource(container, kind, name)
    if q is None and kind == "limits":
        q = podutil.quantity(allocatable.get(name)) if allocatable.get(name) else None
    if q is None and kind == "requests":
        q = podutil.resource(container, "limits", name)
    value = q.as_fraction() if q is not None else 0
    div = podutil.quantity(divisor or "1")
    d = div.as_fraction() if not div.is_zero() else Quantity(1).as_fraction()
    return str(math.ceil(value / d))


def make_env(pod: Object, container: Object, sources: Sources) -> list[tuple[str, str]]:
    """The container's environment as (name, value) pairs; raises EnvError."""
    ns = podutil.namespace(pod)
    svc_env = service_env(pod, sources.services())
    env: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        if name in env:
            return env[name]
        return svc_env.get(name)

    for src in container.get("envFrom") or []:
        prefix = src.get("prefix") or ""
        if "configMapRef" in src:
            ref = src["configMapRef"] or {}
            obj = sources.get_configmap(ns, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'configmap "{ref.get("name", "")}" not found')
            data = _data(obj, secret=False)
        elif "secretRef" in src:
            ref = src["secretRef"] or {}
            obj = sources.get_secret(ns, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'secret "{ref.get("name", "")}" not found')
            data = _data(obj, secret=True)
        else:
            continue
        for k, v in data.items():
            key = prefix + k
            if ENV_NAME.match(key):
                env[key] = v
    for var in container.get("env") or []:
        name = var.get("name", "")
        if "valueFrom" not in var or var.get("value"):
            env[name] = expand(str(var.get("value") or ""), lookup)
            continue
        source = var.get("valueFrom") or {}
        if "fieldRef" in source:
            env[name] = field_value(pod, (source["fieldRef"] or {}).get("fieldPath", ""), sources)
        elif "resourceFieldRef" in source:
            ref = source["resourceFieldRef"] or {}
            target: Object = container
            if ref.get("containerName"):
                found = podutil.container_spec(pod, ref["containerName"])
                if found is not None:
                    target = found[0]
            env[name] = resource_value(target, ref.get("resource", ""), ref.get("divisor"), sources.node_allocatable)
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"] or {}
            value = _key_ref(sources.get_configmap(ns, ref.get("name", "")), ref, ns, secret=False)
            if value is not None:
                env[name] = value
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"] or {}
            value = _key_ref(sources.get_secret(ns, ref.get("name", "")), ref, ns, secret=True)
            if value is not None:
                env[name] = value
    for k, v in svc_env.items():
        env.setdefault(k, v)
    return list(env.items())


def _key_ref(obj: Object | None, ref: Mapping[str, Any], ns: str, *, secret: bool) -> str | None:
    kind, noun = ("secret", "Secret") if secret else ("configmap", "ConfigMap")
    name, key = ref.get("name", ""), ref.get("key", "")
    if obj is None:
        if ref.get("optional"):
            return None
        raise EnvError(f'{kind} "{name}" not found')
    data = _data(obj, secret=secret)
    if key not in data:
        if ref.get("optional"):
            return None
        raise EnvError(f"couldn't find key {key} in {noun} {ns}/{name}")
    return data[key]

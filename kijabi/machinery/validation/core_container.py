"""Containers: ports, env, volume mounts and devices, probes, lifecycle hooks, security contexts,
and the container lists of a pod spec (regular, init, ephemeral); requests and limits are checked
by `core_resources`.

Upstream: kubernetes `pkg/apis/core/validation/validation.go`, v1.32 default feature gates
(relaxed env var names on, in-place resize off). Upstream's path quirks are kept, for example
`volumeMounts.subPath` without the index, so messages match. The common, valid shapes take fast
paths that skip building field paths.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import orjson

from kijabi.machinery import errors as E

from . import core_volumes, meta
from ._util import Errs, d, lst, nonnegative, num, s
from .core_resources import validate_resource_requirements

# --- container pieces -----------------------------------------------------------------------------

PROTOCOLS = ["SCTP", "TCP", "UDP"]


def validate_port_num_or_name(port: Any, path: str) -> Errs:
    if isinstance(port, str):
        return [E.invalid_value(path, port, m) for m in meta.is_valid_port_name(port)]
    number = num(port)  # an unset IntOrString is the int 0
    return [E.invalid_value(path, number, m) for m in meta.is_valid_port_num(number)]


@lru_cache(maxsize=1024)
def _port_name_ok(name: str) -> bool:
    return not meta.is_valid_port_name(name)


def _container_ports(ports: Any, path: str) -> Errs:
    errs: Errs = []
    names: set[str] = set()
    for i, port in enumerate(lst(ports)):
        port = d(port)
        name = s(port.get("name"))
        container_port, host_port = num(port.get("containerPort")), num(port.get("hostPort"))
        if (
            name not in names
            and (not name or _port_name_ok(name))
            and 0 < container_port <= 65535
            and 0 <= host_port <= 65535
            and port.get("protocol") in PROTOCOLS
        ):
            if name:
                names.add(name)
            continue  # the common case: nothing to report
        p = f"{path}[{i}]"
        if name:
            msgs = meta.is_valid_port_name(name)
            if msgs:
                errs.extend(E.invalid_value(f"{p}.name", name, m) for m in msgs)
            elif name in names:
                errs.append(E.duplicate(f"{p}.name", name))
            else:
                names.add(name)
        if container_port == 0:
            errs.append(E.required(f"{p}.containerPort"))
        else:
            errs.extend(
                E.invalid_value(f"{p}.containerPort", container_port, m)
                for m in meta.is_valid_port_num(container_port)
            )
        if host_port:
            errs.extend(
                E.invalid_value(f"{p}.hostPort", host_port, m) for m in meta.is_valid_port_num(host_port)
            )
        protocol = s(port.get("protocol"))
        if not protocol:
            errs.append(E.required(f"{p}.protocol"))
        elif protocol not in PROTOCOLS:
            errs.append(E.not_supported(f"{p}.protocol", protocol, PROTOCOLS))
    return errs


def _key_selector(sel: Any, path: str) -> Errs:
    sel = d(sel)
    name = s(sel.get("name"))
    errs = [E.invalid_value(f"{path}.name", name, m) for m in meta.name_is_dns_subdomain(name, False)]
    key = s(sel.get("key"))
    if not key:
        errs.append(E.required(f"{path}.key"))
    else:
        errs.extend(E.invalid_value(f"{path}.key", key, m) for m in meta.is_config_map_key(key))
    return errs


_ENV_NAME_OK = re.compile("[ -<>-~]+")  # printable ASCII except '='
_ENV_FIELD_PATHS = frozenset(core_volumes.ENV_FIELD_PATHS)


def _plain_source(var: dict[str, Any], source: Any) -> bool:
    """A valueFrom with exactly one well-formed fieldRef / secretKeyRef / configMapKeyRef and no value."""
    if type(source) is not dict or len(source) != 1 or var.get("value"):
        return False
    kind, ref = next(iter(source.items()))
    if type(ref) is not dict:
        return False
    if kind == "fieldRef":
        return ref.get("apiVersion") == "v1" and ref.get("fieldPath") in _ENV_FIELD_PATHS
    if kind in ("secretKeyRef", "configMapKeyRef"):
        name, key = ref.get("name"), ref.get("key")
        return type(name) is str and type(key) is str and _ref_name_ok(name) and _config_key_ok(key)
    return False


@lru_cache(maxsize=1024)
def _ref_name_ok(name: str) -> bool:
    return not meta.is_dns1123_subdomain(name)


@lru_cache(maxsize=1024)
def _config_key_ok(key: str) -> bool:
    return bool(key) and not meta.is_config_map_key(key)


def validate_env(env: Any, path: str) -> Errs:
    errs: Errs = []
    for i, var in enumerate(lst(env)):
        var = d(var)
        name = var.get("name")
        source = var.get("valueFrom")
        if (
            isinstance(name, str)
            and _ENV_NAME_OK.fullmatch(name)
            and (source is None or _plain_source(var, source))
        ):
            continue  # the common case: nothing to report
        p = f"{path}[{i}]"
        name = s(name)
        if not name:
            errs.append(E.required(f"{p}.name"))
        else:
            errs.extend(E.invalid_value(f"{p}.name", name, m) for m in meta.is_relaxed_env_var_name(name))
        if source is None:
            continue
        source = d(source)
        vp = f"{p}.valueFrom"
        count = 0
        if source.get("fieldRef") is not None:
            count += 1
            errs.extend(
                core_volumes.validate_object_field_selector(
                    source["fieldRef"], core_volumes.ENV_FIELD_PATHS, f"{vp}.fieldRef"
                )
            )
        if source.get("resourceFieldRef") is not None:
            count += 1
            errs.extend(
                core_volumes.validate_resource_field_selector(
                    source["resourceFieldRef"], f"{vp}.resourceFieldRef", volume=False
                )
            )
        if source.get("configMapKeyRef") is not None:
            count += 1
            errs.extend(_key_selector(source["configMapKeyRef"], f"{vp}.configMapKeyRef"))
        if source.get("secretKeyRef") is not None:
            count += 1
            errs.extend(_key_selector(source["secretKeyRef"], f"{vp}.secretKeyRef"))
        if count == 0:
            errs.append(
                E.invalid_value(
                    vp,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                )
            )
        elif s(var.get("value")):
            errs.append(E.invalid_value(vp, "", "may not be specified when `value` is not empty"))
        elif count > 1:
            errs.append(E.invalid_value(vp, "", "may not have more than one field specified at a time"))
    return errs


def validate_env_from(env_from: Any, path: str) -> Errs:
    errs: Errs = []
    for i, source in enumerate(lst(env_from)):
        source = d(source)
        p = f"{path}[{i}]"
        prefix = s(source.get("prefix"))
        if prefix:
            errs.extend(
                E.invalid_value(f"{p}.prefix", prefix, m) for m in meta.is_relaxed_env_var_name(prefix)
            )
        count = 0
        for kind in ("configMapRef", "secretRef"):
            ref = source.get(kind)
            if ref is None:
                continue
            count += 1
            name = s(d(ref).get("name"))
            if not name:
                errs.append(E.required(f"{p}.{kind}.name"))
            else:
                errs.extend(
                    E.invalid_value(f"{p}.{kind}.name", name, m)
                    for m in meta.name_is_dns_subdomain(name, True)
                )
        if count == 0:
            errs.append(E.invalid_value(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(E.invalid_value(path, "", "may not have more than one field specified at a time"))
    return errs


def _volume_mounts(ctr: dict[str, Any], volumes: dict[str, dict[str, Any]], path: str) -> Errs:
    errs: Errs = []
    devices = {s(d(dev).get("name")): s(d(dev).get("devicePath")) for dev in lst(ctr.get("volumeDevices"))}
    device_paths = set(devices.values())
    mount_points: set[str] = set()
    privileged = d(ctr.get("securityContext")).get("privileged") is True
    for i, mount in enumerate(lst(ctr.get("volumeMounts"))):
        mount = d(mount)
        p = f"{path}[{i}]"
        name, mount_path = s(mount.get("name")), s(mount.get("mountPath"))
        if not name:
            errs.append(E.required(f"{p}.name"))
        if name not in volumes:
            errs.append(E.not_found_field(f"{p}.name", name))
        if not mount_path:
            errs.append(E.required(f"{p}.mountPath"))
        if mount_path in mount_points:
            errs.append(E.invalid_value(f"{p}.mountPath", mount_path, "must be unique"))
        mount_points.add(mount_path)
        if name in devices:
            errs.append(E.invalid_value(f"{p}.name", name, "must not already exist in volumeDevices"))
        if mount_path in device_paths:
            errs.append(
                E.invalid_value(
                    f"{p}.mountPath", mount_path, "must not already exist as a path in volumeDevices"
                )
            )
        sub_path, sub_expr = s(mount.get("subPath")), s(mount.get("subPathExpr"))
        if sub_path:
            errs.extend(core_volumes.validate_local_descending_path(sub_path, f"{path}.subPath"))
        if sub_expr:
            if sub_path:
                errs.append(
                    E.invalid_value(
                        f"{p}.subPathExpr", sub_expr, "subPathExpr and subPath are mutually exclusive"
                    )
                )
            errs.extend(core_volumes.validate_local_descending_path(sub_expr, f"{path}.subPathExpr"))
        propagation = mount.get("mountPropagation")
        if propagation is not None:
            supported = ["Bidirectional", "HostToContainer", "None"]
            if propagation not in supported:
                errs.append(E.not_supported(f"{path}.mountPropagation", propagation, supported))
            if propagation == "Bidirectional" and not privileged:
                errs.append(
                    E.forbidden_field(
                        f"{path}.mountPropagation",
                        "Bidirectional mount propagation is available only to privileged containers",
                    )
                )
        rro = mount.get("recursiveReadOnly")
        if rro is not None and rro != "Disabled":
            rp = f"{path}.recursiveReadOnly"
            if rro in ("Enabled", "IfPossible"):
                if not mount.get("readOnly"):
                    errs.append(E.forbidden_field(rp, "may only be specified when readOnly is true"))
                if propagation not in (None, "None"):
                    errs.append(
                        E.forbidden_field(
                            rp, "may only be specified when mountPropagation is None or not specified"
                        )
                    )
            else:
                errs.append(E.not_supported(rp, rro, ["Disabled", "Enabled", "IfPossible"]))
    return errs


def _volume_devices(ctr: dict[str, Any], volumes: dict[str, dict[str, Any]], path: str) -> Errs:
    errs: Errs = []
    mounts = {s(d(m).get("name")): s(d(m).get("mountPath")) for m in lst(ctr.get("volumeMounts"))}
    mount_paths = set(mounts.values())
    seen_paths: set[str] = set()
    seen_names: set[str] = set()
    for i, dev in enumerate(lst(ctr.get("volumeDevices"))):
        dev = d(dev)
        p = f"{path}[{i}]"
        name, dev_path = s(dev.get("name")), s(dev.get("devicePath"))
        vol = volumes.get(name)
        if not name:
            errs.append(E.required(f"{p}.name"))
        if name in seen_names:
            errs.append(E.invalid_value(f"{p}.name", name, "must be unique"))
        if vol is not None and vol.get("persistentVolumeClaim") is None and vol.get("ephemeral") is None:
            errs.append(
                E.invalid_value(
                    f"{p}.name",
                    name,
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
                )
            )
        if vol is None:
            errs.append(E.not_found_field(f"{p}.name", name))
        if not dev_path:
            errs.append(E.required(f"{p}.devicePath"))
        if dev_path in seen_paths:
            errs.append(E.invalid_value(f"{p}.devicePath", dev_path, "must be unique"))
        if dev_path and ".." in dev_path.split("/"):
            errs.append(E.invalid_value(f"{p}.devicePath", dev_path, "can not contain backsteps ('..')"))
        else:
            seen_paths.add(dev_path)
        if name in mounts:
            errs.append(E.invalid_value(f"{p}.name", name, "must not already exist in volumeMounts"))
        if dev_path in mount_paths:
            errs.append(
                E.invalid_value(
                    f"{p}.devicePath", dev_path, "must not already exist as a path in volumeMounts"
                )
            )
        if name:
            seen_names.add(name)
    return errs


_SECCOMP_TYPES = ["Localhost", "RuntimeDefault", "Unconfined"]


def validate_seccomp_profile_field(profile: Any, path: str) -> Errs:
    if profile is None:
        return []
    profile = d(profile)
    errs: Errs = []
    kind = s(profile.get("type"))
    if not kind:
        errs.append(E.required(f"{path}.type", "type is required when seccompProfile is set"))
    elif kind not in _SECCOMP_TYPES:
        errs.append(E.not_supported(f"{path}.type", kind, _SECCOMP_TYPES))
    local = profile.get("localhostProfile")
    if kind == "Localhost":
        if local is None:
            errs.append(E.required(f"{path}.localhostProfile", "must be set when seccomp type is Localhost"))
        else:
            errs.extend(core_volumes.validate_local_descending_path(s(local), f"{path}.localhostProfile"))
    elif local is not None:
        errs.append(
            E.invalid_value(
                f"{path}.localhostProfile", profile, "can only be set when seccomp type is Localhost"
            )
        )
    return errs


def validate_apparmor_profile_field(profile: Any, path: str) -> Errs:
    if profile is None:
        return []
    profile = d(profile)
    errs: Errs = []
    kind = s(profile.get("type"))
    local = profile.get("localhostProfile")
    if kind == "Localhost":
        if local is None:
            errs.append(E.required(f"{path}.localhostProfile", "must be set when AppArmor type is Localhost"))
        else:
            text = s(local)
            if text.strip() != text:
                errs.append(
                    E.invalid_value(f"{path}.localhostProfile", text, "must not be padded with whitespace")
                )
            elif not text:
                errs.append(
                    E.required(f"{path}.localhostProfile", "must be set when AppArmor type is Localhost")
                )
            if len(text) > 4095:
                errs.append(E.too_long(f"{path}.localhostProfile", 4095))
    elif kind in ("RuntimeDefault", "Unconfined"):
        if local is not None:
            errs.append(
                E.invalid_value(
                    f"{path}.localhostProfile", local, "can only be set when AppArmor type is Localhost"
                )
            )
    elif not kind:
        errs.append(E.required(f"{path}.type", "type is required when appArmorProfile is set"))
    else:
        errs.append(E.not_supported(f"{path}.type", kind, _SECCOMP_TYPES))
    return errs


_ID_RANGE = meta.inclusive_range_error(0, 2147483647)


def check_id(value: Any, path: str, errs: Errs) -> None:
    if value is not None and not 0 <= num(value) <= 2147483647:
        errs.append(E.invalid_value(path, value, _ID_RANGE))


def validate_security_context(sc: Any, path: str, host_users: bool) -> Errs:
    if sc is None:
        return []
    sc = d(sc)
    errs: Errs = []
    check_id(sc.get("runAsUser"), f"{path}.runAsUser", errs)
    check_id(sc.get("runAsGroup"), f"{path}.runAsGroup", errs)
    proc_mount = sc.get("procMount")
    if proc_mount is not None:
        if proc_mount not in ("Default", "Unmasked"):
            errs.append(E.not_supported(f"{path}.procMount", proc_mount, ["Default", "Unmasked"]))
        if host_users and proc_mount == "Unmasked":
            errs.append(
                E.invalid_value(
                    f"{path}.procMount", proc_mount, "`hostUsers` must be false to use `Unmasked`"
                )
            )
    errs.extend(validate_seccomp_profile_field(sc.get("seccompProfile"), f"{path}.seccompProfile"))
    if sc.get("allowPrivilegeEscalation") is False:
        if sc.get("privileged") is True:
            errs.append(
                E.invalid_value(
                    path, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"
                )
            )
        for cap in lst(d(sc.get("capabilities")).get("add")):
            if cap == "CAP_SYS_ADMIN":
                errs.append(
                    E.invalid_value(
                        path,
                        sc,
                        "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
                    )
                )
    errs.extend(validate_apparmor_profile_field(sc.get("appArmorProfile"), f"{path}.appArmorProfile"))
    return errs


# --- probes and lifecycle hooks -------------------------------------------------------------------


def _handler(handler: Any, grace: Any, path: str, kinds: tuple[str, ...]) -> Errs:
    handler = d(handler)
    errs: Errs = []
    count = 0
    for kind in kinds:
        action = handler.get(kind)
        if action is None:
            continue
        if count:
            errs.append(E.forbidden_field(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        count += 1
        action = d(action)
        ap = f"{path}.{kind}"
        if kind == "exec":
            if not lst(action.get("command")):
                errs.append(E.required(f"{ap}.command"))
        elif kind == "httpGet":
            if not s(action.get("path")):
                errs.append(E.required(f"{ap}.path"))
            errs.extend(validate_port_num_or_name(action.get("port"), f"{ap}.port"))
            scheme = s(action.get("scheme"))
            if scheme not in ("HTTP", "HTTPS"):
                errs.append(E.not_supported(f"{ap}.scheme", scheme, ["HTTP", "HTTPS"]))
            for header in lst(action.get("httpHeaders")):
                name = s(d(header).get("name"))
                errs.extend(
                    E.invalid_value(f"{ap}.httpHeaders", name, m) for m in meta.is_http_header_name(name)
                )
        elif kind == "tcpSocket":
            errs.extend(validate_port_num_or_name(action.get("port"), f"{ap}.port"))
        elif kind == "grpc":
            errs.extend(validate_port_num_or_name(num(action.get("port")), f"{ap}.port"))
        elif kind == "sleep":
            seconds = num(action.get("seconds"))
            if grace is not None and (seconds <= 0 or seconds > num(grace)):
                errs.append(
                    E.invalid_value(
                        ap,
                        seconds,
                        f"must be greater than 0 and less than terminationGracePeriodSeconds ({num(grace)})",
                    )
                )
    if not count:
        errs.append(E.required(path, "must specify a handler type"))
    return errs


_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_LIFECYCLE_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")


def _probe(probe: Any, grace: Any, path: str, kind: str) -> Errs:
    if probe is None:
        return []
    probe = d(probe)
    errs = _handler(probe, grace, path, _PROBE_HANDLERS)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        nonnegative(probe.get(key), f"{path}.{key}", errs)
    tgps = probe.get("terminationGracePeriodSeconds")
    if tgps is not None and num(tgps) <= 0:
        errs.append(E.invalid_value(f"{path}.terminationGracePeriodSeconds", tgps, "must be greater than 0"))
    if kind in ("liveness", "startup"):
        success = num(probe.get("successThreshold"))
        if success != 1:
            errs.append(E.invalid_value(f"{path}.successThreshold", success, "must be 1"))
    elif tgps is not None:
        errs.append(
            E.invalid_value(
                f"{path}.terminationGracePeriodSeconds", tgps, "must not be set for readinessProbes"
            )
        )
    return errs


def _lifecycle(lifecycle: Any, grace: Any, path: str) -> Errs:
    lifecycle = d(lifecycle)
    errs: Errs = []
    for hook in ("postStart", "preStop"):
        if lifecycle.get(hook) is not None:
            errs.extend(_handler(lifecycle[hook], grace, f"{path}.{hook}", _LIFECYCLE_HANDLERS))
    return errs


def _probes(ctr: dict[str, Any], grace: Any, path: str) -> Errs:
    errs = _probe(ctr.get("livenessProbe"), grace, f"{path}.livenessProbe", "liveness")
    errs.extend(_probe(ctr.get("readinessProbe"), grace, f"{path}.readinessProbe", "readiness"))
    errs.extend(_probe(ctr.get("startupProbe"), grace, f"{path}.startupProbe", "startup"))
    return errs


# --- containers -----------------------------------------------------------------------------------


def _container_common(
    ctr: dict[str, Any], volumes: dict[str, dict[str, Any]], claims: set[str], path: str, host_users: bool
) -> Errs:
    errs: Errs = []
    name = s(ctr.get("name"))
    if not name:
        errs.append(E.required(f"{path}.name"))
    else:
        errs.extend(E.invalid_value(f"{path}.name", name, m) for m in meta.is_dns1123_label(name))
    if not s(ctr.get("image")):
        errs.append(E.required(f"{path}.image"))
    policy = s(ctr.get("terminationMessagePolicy"))
    if not policy:
        errs.append(E.required(f"{path}.terminationMessagePolicy"))
    elif policy not in ("File", "FallbackToLogsOnError"):
        errs.append(
            E.not_supported(f"{path}.terminationMessagePolicy", policy, ["File", "FallbackToLogsOnError"])
        )
    if ctr.get("ports"):
        errs.extend(_container_ports(ctr["ports"], f"{path}.ports"))
    if ctr.get("env"):
        errs.extend(validate_env(ctr["env"], f"{path}.env"))
    if ctr.get("envFrom"):
        errs.extend(validate_env_from(ctr["envFrom"], f"{path}.envFrom"))
    if ctr.get("volumeMounts"):
        errs.extend(_volume_mounts(ctr, volumes, f"{path}.volumeMounts"))
    if ctr.get("volumeDevices"):
        errs.extend(_volume_devices(ctr, volumes, f"{path}.volumeDevices"))
    pull = s(ctr.get("imagePullPolicy"))
    if not pull:
        errs.append(E.required(f"{path}.imagePullPolicy"))
    elif pull not in ("Always", "IfNotPresent", "Never"):
        errs.append(E.not_supported(f"{path}.imagePullPolicy", pull, ["Always", "IfNotPresent", "Never"]))
    if ctr.get("resources"):
        errs.extend(validate_resource_requirements(ctr["resources"], claims, f"{path}.resources"))
    if ctr.get("securityContext") is not None:
        errs.extend(validate_security_context(ctr["securityContext"], f"{path}.securityContext", host_users))
    return errs


# Containers found valid before: (kind of check, JSON text, hostUsers, volume names, claim names, grace).
_CleanKey = tuple[str, bytes, bool, frozenset[str], frozenset[str], int | None]
_CLEAN_CONTAINERS: dict[_CleanKey, None] = {}
_CLEAN_CONTAINERS_MAX = 1024
_CLEAN_CONTAINER_BYTES = 8192


def _clean_key(
    check: str, ctr: dict[str, Any], volumes: dict[str, dict[str, Any]], claims: set[str], host_users: bool,
    grace: Any = None,
) -> _CleanKey | None:
    """What a container's checks read besides their error paths, or None when it cannot be keyed.

    The checks are pure functions of the container, the pod's volume names (mounts only check
    membership; volumeDevices read the volumes themselves, so those containers are never keyed),
    resource claim names, hostUsers and the grace period: the containers of a workload's pods repeat,
    so a container found valid once is not checked again."""
    if ctr.get("volumeDevices") or not (grace is None or type(grace) is int):
        return None
    try:
        text = orjson.dumps(ctr)
    except TypeError:
        return None
    if len(text) > _CLEAN_CONTAINER_BYTES:
        return None
    names = frozenset(volumes) if ctr.get("volumeMounts") else frozenset()
    return (check, text, host_users, names, frozenset(claims), grace)


def _remember_clean(key: _CleanKey | None) -> None:
    if key is not None:
        if len(_CLEAN_CONTAINERS) >= _CLEAN_CONTAINERS_MAX:
            _CLEAN_CONTAINERS.clear()
        _CLEAN_CONTAINERS[key] = None


def _container_common_once(
    ctr: dict[str, Any], volumes: dict[str, dict[str, Any]], claims: set[str], path: str, host_users: bool
) -> Errs:
    """`_container_common`, skipped for a container found valid before (see `_clean_key`)."""
    key = _clean_key("common", ctr, volumes, claims, host_users)
    if key is not None and key in _CLEAN_CONTAINERS:
        return []
    errs = _container_common(ctr, volumes, claims, path, host_users)
    if not errs:
        _remember_clean(key)
    return errs


def _host_port_conflicts(containers: list[Any], path: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for ci, ctr in enumerate(containers):
        for pi, port in enumerate(lst(d(ctr).get("ports"))):
            port = d(port)
            host_port = num(port.get("hostPort"))
            if not host_port:
                continue
            key = f"{s(port.get('protocol'))}/{s(port.get('hostIP'))}/{host_port}"
            if key in seen:
                errs.append(E.duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return errs


def validate_containers(
    containers: list[Any],
    volumes: dict[str, dict[str, Any]],
    claims: set[str],
    grace: Any,
    path: str,
    host_users: bool,
) -> Errs:
    if not containers:
        return [E.required(path)]
    errs: Errs = []
    names: set[str] = set()
    for i, ctr in enumerate(containers):
        ctr = d(ctr)
        p = f"{path}[{i}]"
        name = s(ctr.get("name"))
        key = _clean_key("regular", ctr, volumes, claims, host_users, grace)
        if key is not None and key in _CLEAN_CONTAINERS:
            # Valid before with the same inputs: only the checks across containers are left.
            if name in names:
                errs.append(E.duplicate(f"{p}.name", name))
            names.add(name)
            continue
        before = len(errs)
        errs.extend(_container_common(ctr, volumes, claims, p, host_users))
        clean = len(errs) == before
        if name in names:
            errs.append(E.duplicate(f"{p}.name", name))
        names.add(name)
        before = len(errs)
        if ctr.get("lifecycle") is not None:
            errs.extend(_lifecycle(ctr["lifecycle"], grace, f"{p}.lifecycle"))
        errs.extend(_probes(ctr, grace, p))
        if ctr.get("restartPolicy") is not None:
            errs.append(E.forbidden_field(f"{p}.restartPolicy", "may not be set for non-init containers"))
        if clean and len(errs) == before:
            _remember_clean(key)
    errs.extend(_host_port_conflicts(containers, path))
    return errs


def validate_init_containers(
    containers: list[Any],
    regular: list[Any],
    volumes: dict[str, dict[str, Any]],
    claims: set[str],
    grace: Any,
    path: str,
    host_users: bool,
) -> Errs:
    errs: Errs = []
    names = {s(d(c).get("name")) for c in regular}
    for i, ctr in enumerate(containers):
        ctr = d(ctr)
        p = f"{path}[{i}]"
        errs.extend(_container_common_once(ctr, volumes, claims, p, host_users))
        restart_always = False
        policy = ctr.get("restartPolicy")
        if policy is not None:
            if policy != "Always":
                errs.append(E.not_supported(f"{p}.restartPolicy", policy, ["Always"]))
            restart_always = policy == "Always"
        name = s(ctr.get("name"))
        if name in names:
            errs.append(E.duplicate(f"{p}.name", name))
        elif name:
            names.add(name)
        errs.extend(_host_port_conflicts([ctr], path))
        if restart_always:
            if ctr.get("lifecycle") is not None:
                errs.extend(_lifecycle(ctr["lifecycle"], grace, f"{p}.lifecycle"))
            errs.extend(_probes(ctr, grace, p))
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if ctr.get(key) is not None:
                    errs.append(
                        E.forbidden_field(
                            f"{p}.{key}", "may not be set for init containers without restartPolicy=Always"
                        )
                    )
        if lst(ctr.get("resizePolicy")):
            errs.append(
                E.invalid_value(
                    f"{p}.resizePolicy", ctr["resizePolicy"], "must not be set for init containers"
                )
            )
    return errs


_EPHEMERAL_FORBIDDEN = (
    "ports",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
)


def validate_ephemeral_containers(
    spec: dict[str, Any], volumes: dict[str, dict[str, Any]], claims: set[str], path: str, host_users: bool
) -> Errs:
    ephemeral = lst(spec.get("ephemeralContainers"))
    if not ephemeral:
        return []
    errs: Errs = []
    others = {s(d(c).get("name")) for c in lst(spec.get("containers")) + lst(spec.get("initContainers"))}
    names = set(others)
    for i, ctr in enumerate(ephemeral):
        ctr = d(ctr)
        p = f"{path}[{i}]"
        errs.extend(_container_common(ctr, volumes, claims, p, host_users))
        errs.extend(image_whitespace_errors(ctr, p))
        name = s(ctr.get("name"))
        if name in names:
            errs.append(E.duplicate(f"{p}.name", name))
        names.add(name)
        target = s(ctr.get("targetContainerName"))
        if target and target not in others:
            errs.append(E.not_found_field(f"{p}.targetContainerName", target))
        for key in _EPHEMERAL_FORBIDDEN:
            if ctr.get(key) not in (None, [], {}):
                errs.append(E.forbidden_field(f"{p}.{key}", "cannot be set for an Ephemeral Container"))
        for j, mount in enumerate(lst(ctr.get("volumeMounts"))):
            for key in ("subPath", "subPathExpr"):
                if s(d(mount).get(key)):
                    errs.append(
                        E.forbidden_field(
                            f"{p}.volumeMounts[{j}].{key}", "cannot be set for an Ephemeral Container"
                        )
                    )
    return errs


def image_whitespace_errors(ctr: dict[str, Any], path: str) -> Errs:
    image = s(ctr.get("image"))
    if image != image.strip():
        return [E.invalid_value(f"{path}.image", image, "must not have leading or trailing whitespace")]
    return []

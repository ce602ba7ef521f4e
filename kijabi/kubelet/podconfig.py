"""CRI configs from a Pod: the sandbox (hostname, DNS, ports, namespaces, cgroup parent, sysctls) and each
container (command, env, mounts, resources, security context, labels). Pure functions, no I/O except
reading the host's resolv.conf and writing the pod's hosts file.

DNS (upstream pkg/kubelet/network/dns):
    ClusterFirst (default)     nameserver <cluster DNS>, search <ns>.svc.<domain> svc.<domain> <domain> + the
                               host's search domains, options ndots:5; falls back to Default on hostNetwork
    ClusterFirstWithHostNet    ClusterFirst, also for hostNetwork pods
    Default                    the host's resolv.conf
    None                       only spec.dnsConfig
  spec.dnsConfig nameservers/searches are appended (deduplicated), options override by name; at most 32
  search domains (2048 characters) are kept.

Resources (upstream kuberuntime_container_linux.go): cpu shares = max(request millicores * 1024 / 1000,
2) (the limit when no request), cfs quota = limit millicores * 100000 / 1000 over a 100 ms period (at
least 1000), memory limit = limits.memory; oom_score_adj by QoS class (Guaranteed -997, BestEffort 1000,
Burstable 1000 - 1000 * request / node memory, clamped to 2..999).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kijabi.kubelet import labels, podutil
from kijabi.kubelet.cri import api

MAX_DNS_SEARCH = 32
MAX_DNS_SEARCH_CHARS = 2048
MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
QUOTA_PERIOD = 100000
MIN_QUOTA = 1000
DEFAULT_MASKED_PATHS = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                        "/sys/firmware", "/sys/devices/virtual/powercap"]
DEFAULT_READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
PROTOCOLS = {"TCP": api.TCP, "UDP": api.UDP, "SCTP": api.SCTP}

Pod = Mapping[str, Any]


class ConfigError(Exception):
    """The pod or container cannot be turned into a CRI config (CreateContainerConfigError)."""


# --- DNS ----------------------------------------------------------------------------------------------------

def parse_resolv_conf(text: str) -> tuple[list[str], list[str], list[str]]:
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = [s for s in fields[1:] if s != "."]
        elif fields[0] == "options":
            options.extend(fields[1:])
    return servers, searches, options


def _merge_options(base: list[str], extra: Sequence[Mapping[str, Any]]) -> list[str]:
    merged: dict[str, str] = {}
    for opt in base:
        merged[opt.partition(":")[0]] = opt
    for item in extra:
        key = str(item.get("name", ""))
        if not key:
            continue
        val = item.get("value")
        merged[key] = f"{key}:{val}" if val is not None else key
    return list(merged.values())


def _dedup(values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def dns_config(pod: Pod, *, cluster_dns: Sequence[str], cluster_domain: str, host_resolv: str) -> api.DNSConfig | None:
    """The sandbox's DNS config; None means "use the host's resolv.conf as is" (runtime default)."""
    spec = podutil.spec(pod)
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host_net = podutil.host_network(pod)
    if policy == "ClusterFirst" and host_net:
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and not cluster_dns:
        policy = "Default"
    h_servers, h_searches, h_options = parse_resolv_conf(host_resolv)
    if policy == "None":
        servers, searches, options = [], [], []
    elif policy == "Default":
        servers, searches, options = h_servers, h_searches, h_options
    else:
        ns = podutil.namespace(pod)
        servers = list(cluster_dns)
        searches = [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain, *h_searches]
        options = ["ndots:5"]
    extra = spec.get("dnsConfig") or {}
    servers = _dedup(servers + list(extra.get("nameservers") or []))
    searches = _dedup(searches + list(extra.get("searches") or []))
    options = _merge_options(options, extra.get("options") or [])
    kept: list[str] = []
    chars = 0
    for s in searches:
        if len(kept) >= MAX_DNS_SEARCH or chars + len(s) + (1 if kept else 0) > MAX_DNS_SEARCH_CHARS:
            break
        kept.append(s)
        chars += len(s) + (1 if len(kept) > 1 else 0)
    return api.DNSConfig(servers=servers[:3], searches=kept, options=options)


# --- hostname and hosts file ---------------------------------------------------------------------------------

def pod_hostname(pod: Pod, node_hostname: str) -> tuple[str, str]:
    """(hostname, domain) of the pod: spec.hostname or the name (at most 63 characters), and
    <subdomain>.<ns>.svc.<cluster domain> when spec.subdomain is set (the domain is filled by the caller)."""
    if podutil.host_network(pod):
        return node_hostname, ""   # not passed to the runtime: the pod shares the node's UTS namespace
    spec = podutil.spec(pod)
    hostname = str(spec.get("hostname") or podutil.name(pod))
    if len(hostname) > 63:
        hostname = hostname[:63].rstrip("-.")
    return hostname, str(spec.get("subdomain") or "")


def hosts_file(pod: Pod, *, ips: Sequence[str], hostname: str, domain: str, host_hosts: str | None = None) -> str:
    """The managed /etc/hosts of a pod (a copy of the node's for hostNetwork pods), plus hostAliases."""
    if host_hosts is not None:
        text = host_hosts if host_hosts.endswith("\n") or not host_hosts else host_hosts + "\n"
    else:
        lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
                 "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix",
                 "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
        for ip in ips:
            lines.append(f"{ip}\t{hostname}.{domain}\t{hostname}" if domain else f"{ip}\t{hostname}")
        text = "\n".join(lines) + "\n"
    aliases = podutil.spec(pod).get("hostAliases") or []
    if aliases:
        text += "\n# Entries added by HostAliases.\n"
        for a in aliases:
            text += f"{a.get('ip', '')}\t" + "\t".join(a.get("hostnames") or []) + "\n"
    return text


# --- sandbox ---------------------------------------------------------------------------------------------------

def cgroup_parent(pod: Pod, cgroup_root: str) -> str:
    """/kubepods/pod<uid> (Guaranteed), /kubepods/burstable/pod<uid>, /kubepods/besteffort/pod<uid>."""
    qos = podutil.qos_class(pod)
    root = "/" + "/".join(p for p in [cgroup_root.strip("/"), "kubepods"] if p)
    if qos == podutil.BURSTABLE:
        root += "/burstable"
    elif qos == podutil.BEST_EFFORT:
        root += "/besteffort"
    return f"{root}/pod{podutil.uid(pod)}"


def namespace_options(pod: Pod) -> api.NamespaceOption:
    spec = podutil.spec(pod)
    return api.NamespaceOption(
        network=api.NODE if spec.get("hostNetwork") else api.POD,
        pid=api.NODE if spec.get("hostPID") else (api.POD if spec.get("shareProcessNamespace") else api.CONTAINER),
        ipc=api.NODE if spec.get("hostIPC") else api.POD)


def port_mappings(pod: Pod) -> list[api.PortMapping]:
    out = []
    for c, _ in podutil.all_containers(pod):
        for p in c.get("ports") or []:
            host_port = int(p.get("hostPort") or 0)
            if host_port <= 0:
                continue
            out.append(api.PortMapping(protocol=PROTOCOLS.get(str(p.get("protocol") or "TCP"), api.TCP),
                                       container_port=int(p.get("containerPort", 0)), host_port=host_port,
                                       host_ip=str(p.get("hostIP") or "")))
    return out


def _int64(value: Any) -> api.Int64Value | None:
    return api.Int64Value(value=int(value)) if value is not None else None


def sandbox_config(pod: Pod, *, node: str, attempt: int, hostname: str, log_directory: Path,
                   dns: api.DNSConfig | None, cgroup_parent: str) -> api.PodSandboxConfig:
    meta = podutil.meta(pod)
    spec = podutil.spec(pod)
    psc = spec.get("securityContext") or {}
    privileged = any(((c.get("securityContext") or {}).get("privileged")) for c, _ in podutil.all_containers(pod))
    sc = api.LinuxSandboxSecurityContext(
        namespace_options=namespace_options(pod),
        run_as_user=_int64(psc.get("runAsUser")),
        run_as_group=_int64(psc.get("runAsGroup")),
        supplemental_groups=[int(g) for g in (psc.get("supplementalGroups") or [])]
        + ([int(psc["fsGroup"])] if psc.get("fsGroup") is not None else []),
        privileged=privileged,
        seccomp=_seccomp(psc.get("seccompProfile")),
    )
    annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
    config = api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(name=str(meta.get("name", "")), namespace=podutil.namespace(pod),
                                        uid=str(meta.get("uid", "")), attempt=attempt),
        hostname=hostname,
        log_directory=str(log_directory),
        port_mappings=port_mappings(pod),
        labels=labels.sandbox_labels(pod, node),
        annotations=annotations,
        linux=api.LinuxPodSandboxConfig(
            cgroup_parent=cgroup_parent, security_context=sc,
            sysctls={str(s.get("name")): str(s.get("value", "")) for s in psc.get("sysctls") or []}),
    )
    if dns is not None:
        config.dns_config.CopyFrom(dns)
    return config


def _seccomp(profile: Mapping[str, Any] | None) -> api.SecurityProfile:
    kind = (profile or {}).get("type") or "Unconfined"
    if kind == "RuntimeDefault":
        return api.SecurityProfile(profile_type=api.SecurityProfile.RuntimeDefault)
    if kind == "Localhost":
        return api.SecurityProfile(profile_type=api.SecurityProfile.Localhost,
                                   localhost_ref=str((profile or {}).get("localhostProfile", "")))
    return api.SecurityProfile(profile_type=api.SecurityProfile.Unconfined)


# --- containers --------------------------------------------------------------------------------------------------

def milli_cpu_to_shares(milli: int) -> int:
    if milli == 0:
        return MIN_SHARES
    shares = milli * SHARES_PER_CPU // 1000
    return min(max(shares, MIN_SHARES), MAX_SHARES)


def milli_cpu_to_quota(milli: int, period: int = QUOTA_PERIOD) -> int:
    if milli == 0:
        return 0
    return max(milli * period // 1000, MIN_QUOTA)


def oom_score_adj(pod: Pod, container: Mapping[str, Any], memory_capacity: int) -> int:
    qos = podutil.qos_class(pod)
    if qos == podutil.GUARANTEED:
        return -997
    if qos == podutil.BEST_EFFORT:
        return 1000
    request = podutil.resource(container, "requests", "memory")
    req = request.value() if request is not None else 0
    if memory_capacity <= 0:
        return 999
    adj = 1000 - (1000 * req) // memory_capacity
    return int(min(max(adj, 2), 999))


def linux_resources(pod: Pod, container: Mapping[str, Any], memory_capacity: int) -> api.LinuxContainerResources:
    cpu_req = podutil.resource(container, "requests", "cpu")
    cpu_lim = podutil.resource(container, "limits", "cpu")
    mem_lim = podutil.resource(container, "limits", "memory")
    if (cpu_req is None or cpu_req.is_zero()) and cpu_lim is not None and not cpu_lim.is_zero():
        shares = milli_cpu_to_shares(cpu_lim.milli_value())
    else:
        shares = milli_cpu_to_shares(cpu_req.milli_value() if cpu_req is not None else 0)
    res = api.LinuxContainerResources(cpu_shares=shares, oom_score_adj=oom_score_adj(pod, container, memory_capacity))
    if cpu_lim is not None and not cpu_lim.is_zero():
        res.cpu_quota = milli_cpu_to_quota(cpu_lim.milli_value())
        res.cpu_period = QUOTA_PERIOD
    if mem_lim is not None and not mem_lim.is_zero():
        res.memory_limit_in_bytes = mem_lim.value()
    return res


def effective_security_context(pod: Pod, container: Mapping[str, Any]) -> dict[str, Any]:
    """The container's securityContext with the pod-level fields it does not override."""
    psc = podutil.spec(pod).get("securityContext") or {}
    csc = dict(container.get("securityContext") or {})
    for key in ("runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile"):
        if csc.get(key) is None and psc.get(key) is not None:
            csc[key] = psc[key]
    return csc


def container_security_context(pod: Pod, container: Mapping[str, Any]) -> api.LinuxContainerSecurityContext:
    sc = effective_security_context(pod, container)
    psc = podutil.spec(pod).get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    privileged = bool(sc.get("privileged"))
    groups = [int(g) for g in (psc.get("supplementalGroups") or [])]
    if psc.get("fsGroup") is not None:
        groups.append(int(psc["fsGroup"]))
    out = api.LinuxContainerSecurityContext(
        capabilities=api.Capability(add_capabilities=[str(c) for c in caps.get("add") or []],
                                    drop_capabilities=[str(c) for c in caps.get("drop") or []]),
        privileged=privileged,
        namespace_options=namespace_options(pod),
        run_as_user=_int64(sc.get("runAsUser")),
        run_as_group=_int64(sc.get("runAsGroup")),
        readonly_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        supplemental_groups=groups,
        no_new_privs=sc.get("allowPrivilegeEscalation") is False,
        seccomp=_seccomp(sc.get("seccompProfile")),
    )
    if not privileged and sc.get("procMount") != "Unmasked":
        out.masked_paths.extend(DEFAULT_MASKED_PATHS)
        out.readonly_paths.extend(DEFAULT_READONLY_PATHS)
    return out


def check_run_as_non_root(pod: Pod, container: Mapping[str, Any], image: api.Image | None) -> None:
    """runAsNonRoot: refuse a container that would run as root (upstream verifyRunAsNonRoot)."""
    sc = effective_security_context(pod, container)
    if not sc.get("runAsNonRoot"):
        return
    name = f"pod: {podutil.name(pod)}_{podutil.namespace(pod)}({podutil.uid(pod)}), container: {container.get('name')}"
    if sc.get("runAsUser") is not None:
        if int(sc["runAsUser"]) == 0:
            raise ConfigError(f"container's runAsUser breaks non-root policy ({name})")
        return
    if image is None:
        return
    if image.HasField("uid"):
        if image.uid.value == 0:
            raise ConfigError(f"container has runAsNonRoot and image will run as root ({name})")
        return
    if image.username:
        if not re.fullmatch(r"\d+", image.username):
            raise ConfigError(f"container has runAsNonRoot and image has non-numeric user ({image.username}), "
                              f"cannot verify user is non-root ({name})")
        if int(image.username) == 0:
            raise ConfigError(f"container has runAsNonRoot and image will run as root ({name})")
        return
    raise ConfigError(f"container has runAsNonRoot and image will run as root ({name})")


def container_config(pod: Pod, container: Mapping[str, Any], *, node: str, kind: str, image: str,
                     restart_count: int, env: Sequence[tuple[str, str]], mounts: Sequence[api.Mount],
                     memory_capacity: int, termination_file: str = "", instance: str = "") -> api.ContainerConfig:
    from kijabi.kubelet import envvars

    env_map = dict(env)
    command = [envvars.expand(str(c), env_map.get) for c in container.get("command") or []]
    args = [envvars.expand(str(a), env_map.get) for a in container.get("args") or []]
    name = str(container.get("name", ""))
    grace = podutil.spec(pod).get("terminationGracePeriodSeconds")
    annotations = {
        labels.CONTAINER_HASH: podutil.container_hash(container),
        labels.RESTART_COUNT: str(restart_count),
        labels.TERMINATION_MESSAGE_PATH: str(container.get("terminationMessagePath") or "/dev/termination-log"),
        labels.TERMINATION_MESSAGE_POLICY: str(container.get("terminationMessagePolicy") or "File"),
    }
    if grace is not None:
        annotations[labels.TERMINATION_GRACE_PERIOD] = str(grace)
    if termination_file:
        annotations[labels.TERMINATION_MESSAGE_FILE] = termination_file
    return api.ContainerConfig(
        metadata=api.ContainerMetadata(name=name, attempt=restart_count),
        image=api.ImageSpec(image=image),
        command=command,
        args=args,
        working_dir=str(container.get("workingDir") or ""),
        envs=[api.KeyValue(key=k, value=v) for k, v in env],
        mounts=list(mounts),
        labels=labels.container_labels(pod, node, name, restart_count, kind, instance),
        annotations=annotations,
        log_path=f"{name}/{restart_count}.log",
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        linux=api.LinuxContainerConfig(resources=linux_resources(pod, container, memory_capacity),
                                       security_context=container_security_context(pod, container)),
    )

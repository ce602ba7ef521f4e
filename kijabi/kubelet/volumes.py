"""Pod volumes on the node: set up before the containers start, refreshed on every sync, torn down with the pod.

    type                   host path                                                 notes
    emptyDir               pods/<uid>/volumes/kubernetes.io~empty-dir/<name>          medium Memory: tmpfs
    configMap, secret      pods/<uid>/volumes/kubernetes.io~configmap|~secret/<name>  atomic writer; secret on tmpfs
    downwardAPI            pods/<uid>/volumes/kubernetes.io~downward-api/<name>       atomic writer
    projected              pods/<uid>/volumes/kubernetes.io~projected/<name>          tmpfs; configMap, secret,
                                                                                      downwardAPI, serviceAccountToken
    hostPath               the path itself (type checks as upstream)
    persistentVolumeClaim  the bound PV's hostPath.path or local.path

configMap, secret, downwardAPI and projected contents are rewritten (atomically: the `..data` symlink
swap, see atomicwriter) whenever what they project changed, so a running container sees updates; they
are mounted read-only, as upstream does. Service-account tokens are requested through
`serviceaccounts/<name>/token` bound to the pod and refreshed once 80% of their lifetime has passed;
if the API server does not serve that subresource, the token source is skipped (and logged).

Objects come from `VolumeSources` (the kubelet's watched ConfigMap/Secret cache and async API calls).
Failures raise `VolumeError`, which the kubelet reports as a FailedMount event; the pod keeps waiting in
ContainerCreating and the setup is retried.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import logging
import os
import shutil
import stat
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kijabi.kubelet import atomicwriter, envvars, podutil
from kijabi.kubelet.atomicwriter import FileProjection
from kijabi.kubelet.config import KubeletPaths
from kijabi.kubelet.cri import api

log = logging.getLogger(__name__)

Object = Mapping[str, Any]
EMPTY_DIR = "kubernetes.io~empty-dir"
CONFIGMAP = "kubernetes.io~configmap"
SECRET = "kubernetes.io~secret"
DOWNWARD_API = "kubernetes.io~downward-api"
PROJECTED = "kubernetes.io~projected"
MS_RDONLY = 1
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


class VolumeError(Exception):
    """A volume cannot be set up (yet); the message says why."""


class TokenUnsupported(Exception):
    """The API server does not serve serviceaccounts/<name>/token."""


@dataclass
class VolumeSources:
    get_configmap: Callable[[str, str], Object | None]
    get_secret: Callable[[str, str], Object | None]
    get_pvc: Callable[[str, str], Awaitable[Object | None]]
    get_pv: Callable[[str], Awaitable[Object | None]]
    request_token: Callable[[Object, str, list[str], int], Awaitable[tuple[str, float]]]
    pod_ips: list[str] = field(default_factory=list)
    host_ips: list[str] = field(default_factory=list)
    node_allocatable: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Volume:
    name: str
    host_path: Path
    read_only: bool = False
    kind: str = ""


@dataclass
class _Token:
    token: str
    issued: float
    expires: float


def _mount_tmpfs(path: Path, size: int | None) -> None:
    opts = "mode=0777" + (f",size={size}" if size else "")
    if _libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", 0, opts.encode()) != 0:
        err = ctypes.get_errno()
        raise VolumeError(f"mount tmpfs on {path}: {os.strerror(err)}")


def is_mount_point(path: Path) -> bool:
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def unmount(path: Path) -> None:
    for _ in range(4):
        if not is_mount_point(path):
            return
        _libc.umount2(str(path).encode(), MNT_DETACH)


def mounts_below(path: Path) -> list[str]:
    base = str(path).rstrip("/")
    out = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) > 4:
            target = parts[4].replace("\\040", " ")
            if target == base or target.startswith(base + "/"):
                out.append(target)
    return sorted(out, key=lambda t: t.count("/"), reverse=True)


class VolumeManager:
    """Sets up and tears down the volumes of the node's pods (see the module docstring)."""

    def __init__(self, paths: KubeletPaths) -> None:
        self.paths = paths
        self._tokens: dict[tuple[str, str, str], _Token] = {}

    # --- setup -------------------------------------------------------------------------------------------

    async def setup(self, pod: Object, sources: VolumeSources) -> dict[str, Volume]:
        """Make every volume of `pod` ready (idempotent); returns them by name. Raises VolumeError.

        What each volume needs from the API (objects, tokens, claims) is gathered on the event loop; the
        filesystem work of all of them (directories, tmpfs mounts, atomic writes, host path checks) then
        runs in one worker thread, so that a pod's sync never holds the loop on disk I/O."""
        uid = podutil.uid(pod)
        spec = podutil.spec(pod)
        fs_group = (spec.get("securityContext") or {}).get("fsGroup")
        steps: list[tuple[str, Callable[[], Volume]]] = []
        errors: list[str] = []
        for vol in spec.get("volumes") or []:
            name = vol.get("name", "")
            try:
                steps.append((name, await self._prepare_one(pod, uid, vol, sources, fs_group)))
            except (VolumeError, OSError, atomicwriter.PayloadError, envvars.EnvError) as exc:
                errors.append(f"{name}: {exc}")
        out: dict[str, Volume] = {}
        if steps:
            out, failed = await asyncio.to_thread(_run_steps, steps)
            errors += failed
        if errors:
            raise VolumeError("; ".join(errors))
        return out

    async def _prepare_one(self, pod: Object, uid: str, vol: Mapping[str, Any], sources: VolumeSources,
                           fs_group: int | None) -> Callable[[], Volume]:
        """What the volume needs from the API, as a function doing its filesystem part (run in a thread)."""
        name = vol.get("name", "")
        ns = podutil.namespace(pod)
        if "emptyDir" in vol:
            source = vol.get("emptyDir") or {}
            path = self.paths.volume_dir(uid, EMPTY_DIR, name)

            def empty_dir() -> Volume:
                path.mkdir(parents=True, exist_ok=True)
                if source.get("medium") == "Memory" and not is_mount_point(path):
                    size = podutil.quantity(source["sizeLimit"]).value() if source.get("sizeLimit") else None
                    _mount_tmpfs(path, size)
                os.chmod(path, 0o777)
                if fs_group is not None:
                    os.chown(path, -1, int(fs_group))
                    os.chmod(path, 0o2777)
                return Volume(name, path, kind="emptyDir")
            return empty_dir
        if "hostPath" in vol:
            source = vol.get("hostPath") or {}
            host = Path(source.get("path", ""))

            def host_path() -> Volume:
                check_host_path(host, source.get("type") or "")
                return Volume(name, host, kind="hostPath")
            return host_path
        if "configMap" in vol:
            source = vol.get("configMap") or {}
            path = self.paths.volume_dir(uid, CONFIGMAP, name)
            payload = configmap_payload(ns, source, sources.get_configmap(ns, source.get("name", "")),
                                        _default_mode(source), fs_group)
            return self._writer(path, payload, Volume(name, path, read_only=True, kind="configMap"), tmpfs=False)
        if "secret" in vol:
            source = vol.get("secret") or {}
            path = self.paths.volume_dir(uid, SECRET, name)
            payload = secret_payload(ns, source, sources.get_secret(ns, source.get("secretName", "")),
                                     _default_mode(source), fs_group)
            return self._writer(path, payload, Volume(name, path, read_only=True, kind="secret"), tmpfs=True)
        if "downwardAPI" in vol:
            source = vol.get("downwardAPI") or {}
            path = self.paths.volume_dir(uid, DOWNWARD_API, name)
            payload = downward_payload(pod, source.get("items") or [], _default_mode(source), fs_group, sources)
            return self._writer(path, payload, Volume(name, path, read_only=True, kind="downwardAPI"), tmpfs=False)
        if "projected" in vol:
            source = vol.get("projected") or {}
            path = self.paths.volume_dir(uid, PROJECTED, name)
            payload = await self._projected_payload(pod, name, source, sources, fs_group)
            return self._writer(path, payload, Volume(name, path, read_only=True, kind="projected"), tmpfs=True)
        if "persistentVolumeClaim" in vol:
            source = vol.get("persistentVolumeClaim") or {}
            claim = source.get("claimName", "")
            pvc = await sources.get_pvc(ns, claim)
            if pvc is None:
                raise VolumeError(f'persistentvolumeclaim "{claim}" not found')
            pv_name = (pvc.get("spec") or {}).get("volumeName")
            if not pv_name or (pvc.get("status") or {}).get("phase") not in (None, "Bound"):
                raise VolumeError(f'persistentvolumeclaim "{claim}" is not bound')
            pv = await sources.get_pv(pv_name)
            if pv is None:
                raise VolumeError(f'persistentvolume "{pv_name}" not found')
            pv_spec = pv.get("spec") or {}
            read_only = bool(source.get("readOnly"))
            if "hostPath" in pv_spec:
                hp = pv_spec["hostPath"] or {}
                hp_path = Path(hp.get("path", ""))

                def pv_host_path() -> Volume:
                    check_host_path(hp_path, hp.get("type") or "")
                    return Volume(name, hp_path, read_only=read_only, kind="persistentVolumeClaim")
                return pv_host_path
            if "local" in pv_spec:
                local = Path((pv_spec["local"] or {}).get("path", ""))

                def pv_local() -> Volume:
                    if not local.exists():
                        raise VolumeError(f"local volume path {local} does not exist")
                    return Volume(name, local, read_only=read_only, kind="persistentVolumeClaim")
                return pv_local
            raise VolumeError(f'persistentvolume "{pv_name}" is of a type this node cannot mount '
                              "(only hostPath and local are supported)")
        kinds = [k for k in vol if k != "name"]
        raise VolumeError(f"volume type {kinds[0] if kinds else '?'} is not supported on this node")

    def _writer(self, path: Path, payload: dict[str, FileProjection], volume: Volume, *,
                tmpfs: bool) -> Callable[[], Volume]:
        def write() -> Volume:
            if tmpfs:
                self._tmpfs(path)
            atomicwriter.write(path, payload)
            return volume
        return write

    def _tmpfs(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if not is_mount_point(path):
            _mount_tmpfs(path, None)

    async def _projected_payload(self, pod: Object, vol_name: str, source: Mapping[str, Any],
                                 sources: VolumeSources, fs_group: int | None) -> dict[str, FileProjection]:
        ns = podutil.namespace(pod)
        mode = _default_mode(source)
        payload: dict[str, FileProjection] = {}
        for src in source.get("sources") or []:
            if "configMap" in src:
                s = src["configMap"] or {}
                payload.update(configmap_payload(ns, s, sources.get_configmap(ns, s.get("name", "")), mode, fs_group))
            elif "secret" in src:
                s = src["secret"] or {}
                payload.update(secret_payload(ns, {**s, "secretName": s.get("name", "")},
                                              sources.get_secret(ns, s.get("name", "")), mode, fs_group))
            elif "downwardAPI" in src:
                payload.update(downward_payload(pod, (src["downwardAPI"] or {}).get("items") or [], mode, fs_group,
                                                sources))
            elif "serviceAccountToken" in src:
                s = src["serviceAccountToken"] or {}
                token = await self._token(pod, vol_name, s, sources)
                if token is not None:
                    payload[s.get("path", "token")] = FileProjection(token.encode(), _mode(0o600 if fs_group is None
                                                                                             else 0o640, fs_group),
                                                                     gid=int(fs_group) if fs_group is not None else -1)
        return payload

    async def _token(self, pod: Object, vol_name: str, source: Mapping[str, Any],
                     sources: VolumeSources) -> str | None:
        key = (podutil.uid(pod), vol_name, source.get("path", "token"))
        cached = self._tokens.get(key)
        now = time.time()
        if cached is not None and now < cached.issued + 0.8 * (cached.expires - cached.issued) \
                and now - cached.issued < 24 * 3600:
            return cached.token
        sa = podutil.spec(pod).get("serviceAccountName") or "default"
        audience = source.get("audience")
        expiration = int(source.get("expirationSeconds") or 3600)
        try:
            token, expires = await sources.request_token(pod, sa, [audience] if audience else [], expiration)
        except TokenUnsupported as exc:
            log.warning("pod %s: skipping the serviceAccountToken of volume %s: %s", podutil.full_name(pod),
                        vol_name, exc)
            return None
        self._tokens[key] = _Token(token, now, expires)
        return token

    def token_refresh_due(self, uid: str) -> float | None:
        """Seconds until the earliest token of pod `uid` should be refreshed (None without tokens)."""
        now = time.time()
        dues = [t.issued + 0.8 * (t.expires - t.issued) - now for k, t in self._tokens.items() if k[0] == uid]
        return max(min(dues), 0.0) if dues else None

    # --- mounts for a container ---------------------------------------------------------------------------

    @staticmethod
    def container_mounts(container: Mapping[str, Any], volumes: Mapping[str, Volume],
                         env: Mapping[str, str]) -> list[api.Mount]:
        mounts: list[api.Mount] = []
        for vm in container.get("volumeMounts") or []:
            vol = volumes.get(vm.get("name", ""))
            if vol is None:
                raise VolumeError(f"volume {vm.get('name')!r} is not set up")
            host = vol.host_path
            sub = vm.get("subPath") or ""
            if vm.get("subPathExpr"):
                sub = envvars.expand(vm["subPathExpr"], env.get)
            if sub:
                if sub.startswith("/") or ".." in sub.split("/"):
                    raise VolumeError(f"invalid subPath {sub!r}")
                host = host / sub
                if not host.exists() and not host.is_symlink():
                    if vol.read_only:
                        raise VolumeError(f"subPath {sub!r} does not exist in volume {vol.name}")
                    host.mkdir(parents=True, exist_ok=True)
            propagation = {"HostToContainer": api.PROPAGATION_HOST_TO_CONTAINER,
                           "Bidirectional": api.PROPAGATION_BIDIRECTIONAL}.get(vm.get("mountPropagation") or "",
                                                                               api.PROPAGATION_PRIVATE)
            mounts.append(api.Mount(container_path=vm.get("mountPath", ""), host_path=str(host),
                                    readonly=bool(vm.get("readOnly")) or vol.read_only, propagation=propagation))
        return mounts

    # --- teardown ---------------------------------------------------------------------------------------

    def teardown(self, uid: str) -> None:
        """Unmount everything below the pod's directory and remove it (hostPath/PV contents are untouched:
        they are never below the pod directory)."""
        self._tokens = {k: v for k, v in self._tokens.items() if k[0] != uid}
        pod_dir = self.paths.pod_dir(uid)
        for target in mounts_below(pod_dir):
            _libc.umount2(target.encode(), MNT_DETACH)
        if mounts_below(pod_dir):
            raise VolumeError(f"{pod_dir} still has mounts")
        shutil.rmtree(pod_dir, ignore_errors=True)


def _default_mode(source: Mapping[str, Any]) -> int:
    mode = source.get("defaultMode")
    return int(mode) if mode is not None else 0o644


def _mode(mode: int, fs_group: Any) -> int:
    return mode | 0o040 if fs_group is not None else mode


def _items(data: Mapping[str, bytes], items: list[Mapping[str, Any]], default_mode: int, fs_group: Any,
           missing: Callable[[str], str], optional: bool) -> dict[str, FileProjection]:
    gid = int(fs_group) if fs_group is not None else -1
    if not items:
        return {k: FileProjection(v, _mode(default_mode, fs_group), gid=gid) for k, v in data.items()}
    out: dict[str, FileProjection] = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            raise VolumeError(missing(key))
        mode = item.get("mode")
        out[item.get("path") or key] = FileProjection(data[key], _mode(int(mode) if mode is not None else default_mode,
                                                                       fs_group), gid=gid)
    return out


def configmap_payload(ns: str, source: Mapping[str, Any], obj: Object | None, default_mode: int,
                      fs_group: Any) -> dict[str, FileProjection]:
    name = source.get("name", "")
    optional = bool(source.get("optional"))
    if obj is None:
        if optional:
            return {}
        raise VolumeError(f'configmap "{name}" not found')
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return _items(data, source.get("items") or [], default_mode, fs_group,
                  lambda k: f"configmap references non-existent config key: {k}", optional)


def secret_payload(ns: str, source: Mapping[str, Any], obj: Object | None, default_mode: int,
                   fs_group: Any) -> dict[str, FileProjection]:
    name = source.get("secretName", "")
    optional = bool(source.get("optional"))
    if obj is None:
        if optional:
            return {}
        raise VolumeError(f'secret "{name}" not found')
    data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    return _items(data, source.get("items") or [], default_mode, fs_group,
                  lambda k: f"references non-existent secret key: {k}", optional)


def downward_payload(pod: Object, items: list[Mapping[str, Any]], default_mode: int, fs_group: Any,
                     sources: VolumeSources) -> dict[str, FileProjection]:
    env_sources = envvars.Sources(get_configmap=lambda ns, n: None, get_secret=lambda ns, n: None,
                                  pod_ips=sources.pod_ips, host_ips=sources.host_ips,
                                  node_allocatable=sources.node_allocatable)
    out: dict[str, FileProjection] = {}
    gid = int(fs_group) if fs_group is not None else -1
    for item in items:
        if "fieldRef" in item:
            value = envvars.field_value(pod, (item["fieldRef"] or {}).get("fieldPath", ""), env_sources)
        elif "resourceFieldRef" in item:
            ref = item["resourceFieldRef"] or {}
            found = podutil.container_spec(pod, ref.get("containerName", ""))
            if found is None:
                raise VolumeError(f"container {ref.get('containerName')!r} not found for resourceFieldRef")
            value = envvars.resource_value(found[0], ref.get("resource", ""), ref.get("divisor"),
                                           sources.node_allocatable)
        else:
            continue
        mode = item.get("mode")
        out[item.get("path", "")] = FileProjection(value.encode(), _mode(int(mode) if mode is not None else default_mode,
                                                                         fs_group), gid=gid)
    return out


def check_host_path(path: Path, kind: str) -> None:
    """upstream's hostPath type checks; DirectoryOrCreate / FileOrCreate create what is missing."""
    if not path.is_absolute():
        raise VolumeError(f"hostPath {path} is not absolute")
    if kind == "DirectoryOrCreate":
        if not path.exists():
            path.mkdir(mode=0o755, parents=True)
        elif not path.is_dir():
            raise VolumeError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "Directory":
        if not path.is_dir():
            raise VolumeError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "FileOrCreate":
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                os.close(fd)
        elif not path.is_file():
            raise VolumeError(f"hostPath type check failed: {path} is not a file")
    elif kind == "File":
        if not path.is_file():
            raise VolumeError(f"hostPath type check failed: {path} is not a file")
    elif kind in ("Socket", "CharDevice", "BlockDevice"):
        test = {"Socket": stat.S_ISSOCK, "CharDevice": stat.S_ISCHR, "BlockDevice": stat.S_ISBLK}[kind]
        try:
            ok = test(path.stat().st_mode)
        except OSError:
            ok = False
        if not ok:
            raise VolumeError(f"hostPath type check failed: {path} is not a {kind[0].lower() + kind[1:]}")


def _run_steps(steps: list[tuple[str, Callable[[], Volume]]]) -> tuple[dict[str, Volume], list[str]]:
    """Run the filesystem part of each volume (in a worker thread); (volumes by name, errors)."""
    out: dict[str, Volume] = {}
    errors: list[str] = []
    for name, step in steps:
        try:
            out[name] = step()
        except (VolumeError, OSError, atomicwriter.PayloadError) as exc:
            errors.append(f"{name}: {exc}")
    return out, errors

"""Pod, PodSpec, Container, probe and volume defaults (reference 1.1), and which apply to templates."""

from __future__ import annotations

from typing import Any

import pytest

from ._support import (
    MISSING,
    POD,
    TEMPLATE_PATHS,
    Row,
    at,
    check,
    container,
    defaulted,
    pod,
    template,
    workload,
)

SHA = "sha256:" + "a" * 64


def probe(**fields: Any) -> dict[str, Any]:
    return {"exec": {"command": ["true"]}, **fields}


def vol(**source: Any) -> dict[str, Any]:
    return {"name": "v", **source}


POD_ROWS = [
    # PodSpec
    Row("spec.dnsPolicy", POD, pod(), "spec.dnsPolicy", "ClusterFirst"),
    Row("spec.dnsPolicy kept", POD, pod(dnsPolicy="Default"), "spec.dnsPolicy", "Default"),
    Row("spec.restartPolicy", POD, pod(), "spec.restartPolicy", "Always"),
    Row("spec.restartPolicy kept", POD, pod(restartPolicy="Never"), "spec.restartPolicy", "Never"),
    Row("spec.securityContext", POD, pod(), "spec.securityContext", {}),
    Row("spec.securityContext null", POD, pod(securityContext=None), "spec.securityContext", {}),
    Row(
        "spec.securityContext kept",
        POD,
        pod(securityContext={"runAsUser": 1}),
        "spec.securityContext",
        {"runAsUser": 1},
    ),
    Row("spec.terminationGracePeriodSeconds", POD, pod(), "spec.terminationGracePeriodSeconds", 30),
    Row(
        "spec.terminationGracePeriodSeconds 0 kept",
        POD,
        pod(terminationGracePeriodSeconds=0),
        "spec.terminationGracePeriodSeconds",
        0,
    ),
    Row("spec.schedulerName", POD, pod(), "spec.schedulerName", "default-scheduler"),
    # Pod-only
    Row("spec.enableServiceLinks", POD, pod(), "spec.enableServiceLinks", True),
    Row(
        "spec.enableServiceLinks false kept",
        POD,
        pod(enableServiceLinks=False),
        "spec.enableServiceLinks",
        False,
    ),
    Row(
        "requests copied from limits",
        POD,
        pod(container(resources={"limits": {"cpu": "1", "memory": "1Gi"}})),
        "spec.containers[0].resources.requests",
        {"cpu": "1", "memory": "1Gi"},
    ),
    Row(
        "requests kept, missing ones copied",
        POD,
        pod(container(resources={"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "500m"}})),
        "spec.containers[0].resources.requests",
        {"cpu": "500m", "memory": "1Gi"},
    ),
    Row(
        "init container requests copied from limits",
        POD,
        pod(initContainers=[container(name="init", resources={"limits": {"cpu": "1"}})]),
        "spec.initContainers[0].resources.requests",
        {"cpu": "1"},
    ),
    Row(
        "ephemeral container requests not copied",
        POD,
        pod(ephemeralContainers=[container(name="dbg", resources={"limits": {"cpu": "1"}})]),
        "spec.ephemeralContainers[0].resources.requests",
        MISSING,
    ),
    Row(
        "empty limits add no requests",
        POD,
        pod(container(resources={"limits": {}})),
        "spec.containers[0].resources",
        {"limits": {}},
    ),
    Row(
        "hostPort from containerPort under hostNetwork",
        POD,
        pod(container(ports=[{"containerPort": 8080}]), hostNetwork=True),
        "spec.containers[0].ports[0].hostPort",
        8080,
    ),
    Row(
        "init container hostPort under hostNetwork",
        POD,
        pod(initContainers=[container(name="i", ports=[{"containerPort": 53}])], hostNetwork=True),
        "spec.initContainers[0].ports[0].hostPort",
        53,
    ),
    Row(
        "hostPort kept under hostNetwork",
        POD,
        pod(container(ports=[{"containerPort": 8080, "hostPort": 9090}]), hostNetwork=True),
        "spec.containers[0].ports[0].hostPort",
        9090,
    ),
    Row(
        "no hostPort without hostNetwork",
        POD,
        pod(container(ports=[{"containerPort": 8080}])),
        "spec.containers[0].ports[0].hostPort",
        MISSING,
    ),
    # ResourceList rounding and canonical text
    Row(
        "limits rounded to milli",
        POD,
        pod(container(resources={"limits": {"cpu": "0.0001"}})),
        "spec.containers[0].resources.limits.cpu",
        "1m",
    ),
    Row(
        "requests canonical",
        POD,
        pod(container(resources={"requests": {"memory": "1.5Gi"}})),
        "spec.containers[0].resources.requests.memory",
        "1536Mi",
    ),
    Row(
        "requests from rounded limits",
        POD,
        pod(container(resources={"limits": {"cpu": "0.0001"}})),
        "spec.containers[0].resources.requests.cpu",
        "1m",
    ),
    Row(
        "numeric quantity",
        POD,
        pod(container(resources={"requests": {"cpu": 2}})),
        "spec.containers[0].resources.requests.cpu",
        "2",
    ),
    Row("overhead rounded", POD, pod(overhead={"cpu": "0.00001"}), "spec.overhead.cpu", "1m"),
    Row(
        "ephemeral container limits rounded",
        POD,
        pod(ephemeralContainers=[container(name="d", resources={"limits": {"cpu": "1000m"}})]),
        "spec.ephemeralContainers[0].resources.limits.cpu",
        "1",
    ),
    Row(
        "status allocatedResources rounded",
        POD,
        {**pod(), "status": {"containerStatuses": [{"name": "app", "allocatedResources": {"cpu": "0.5"}}]}},
        "status.containerStatuses[0].allocatedResources.cpu",
        "500m",
    ),
    Row(
        "status resources rounded",
        POD,
        {
            **pod(),
            "status": {
                "initContainerStatuses": [{"name": "i", "resources": {"limits": {"memory": "1024Mi"}}}]
            },
        },
        "status.initContainerStatuses[0].resources.limits.memory",
        "1Gi",
    ),
    Row(
        "invalid quantity left for validation",
        POD,
        pod(container(resources={"limits": {"cpu": "lots"}})),
        "spec.containers[0].resources.limits.cpu",
        "lots",
    ),
    # Container
    Row(
        "imagePullPolicy no tag",
        POD,
        pod(container(image="nginx")),
        "spec.containers[0].imagePullPolicy",
        "Always",
    ),
    Row(
        "imagePullPolicy latest",
        POD,
        pod(container(image="nginx:latest")),
        "spec.containers[0].imagePullPolicy",
        "Always",
    ),
    Row(
        "imagePullPolicy tag",
        POD,
        pod(container(image="nginx:1.27")),
        "spec.containers[0].imagePullPolicy",
        "IfNotPresent",
    ),
    Row(
        "imagePullPolicy digest",
        POD,
        pod(container(image=f"nginx@{SHA}")),
        "spec.containers[0].imagePullPolicy",
        "IfNotPresent",
    ),
    Row(
        "imagePullPolicy unparsable",
        POD,
        pod(container(image="Nginx")),
        "spec.containers[0].imagePullPolicy",
        "IfNotPresent",
    ),
    Row(
        "imagePullPolicy kept",
        POD,
        pod(container(image="nginx", imagePullPolicy="Never")),
        "spec.containers[0].imagePullPolicy",
        "Never",
    ),
    Row(
        "imagePullPolicy init container",
        POD,
        pod(initContainers=[container(name="i", image="busybox")]),
        "spec.initContainers[0].imagePullPolicy",
        "Always",
    ),
    Row(
        "imagePullPolicy ephemeral container",
        POD,
        pod(ephemeralContainers=[container(name="d", image="busybox")]),
        "spec.ephemeralContainers[0].imagePullPolicy",
        "Always",
    ),
    Row(
        "terminationMessagePath",
        POD,
        pod(),
        "spec.containers[0].terminationMessagePath",
        "/dev/termination-log",
    ),
    Row("terminationMessagePolicy", POD, pod(), "spec.containers[0].terminationMessagePolicy", "File"),
    Row(
        "terminationMessagePolicy kept",
        POD,
        pod(container(terminationMessagePolicy="FallbackToLogsOnError")),
        "spec.containers[0].terminationMessagePolicy",
        "FallbackToLogsOnError",
    ),
    Row(
        "container port protocol",
        POD,
        pod(container(ports=[{"containerPort": 80}])),
        "spec.containers[0].ports[0].protocol",
        "TCP",
    ),
    Row(
        "container port protocol kept",
        POD,
        pod(container(ports=[{"containerPort": 53, "protocol": "UDP"}])),
        "spec.containers[0].ports[0].protocol",
        "UDP",
    ),
    Row(
        "init container port protocol",
        POD,
        pod(initContainers=[container(name="i", ports=[{"containerPort": 80}])]),
        "spec.initContainers[0].ports[0].protocol",
        "TCP",
    ),
    Row(
        "env fieldRef apiVersion",
        POD,
        pod(container(env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])),
        "spec.containers[0].env[0].valueFrom.fieldRef.apiVersion",
        "v1",
    ),
    Row(
        "no resizePolicy (InPlacePodVerticalScaling off)",
        POD,
        pod(container(resources={"limits": {"cpu": "1"}})),
        "spec.containers[0].resizePolicy",
        MISSING,
    ),
    # Probes and handlers
    *[
        Row(f"{p}.{field}", POD, pod(container(**{p: probe()})), f"spec.containers[0].{p}.{field}", value)
        for p in ("livenessProbe", "readinessProbe", "startupProbe")
        for field, value in (
            ("timeoutSeconds", 1),
            ("periodSeconds", 10),
            ("successThreshold", 1),
            ("failureThreshold", 3),
        )
    ],
    Row(
        "empty probe is defaulted",
        POD,
        pod(container(startupProbe={})),
        "spec.containers[0].startupProbe",
        {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
    ),
    Row(
        "probe zero is defaulted",
        POD,
        pod(container(livenessProbe=probe(periodSeconds=0))),
        "spec.containers[0].livenessProbe.periodSeconds",
        10,
    ),
    Row(
        "probe value kept",
        POD,
        pod(container(livenessProbe=probe(failureThreshold=5))),
        "spec.containers[0].livenessProbe.failureThreshold",
        5,
    ),
    Row(
        "probe httpGet path",
        POD,
        pod(container(readinessProbe={"httpGet": {"port": 80}})),
        "spec.containers[0].readinessProbe.httpGet.path",
        "/",
    ),
    Row(
        "probe httpGet scheme",
        POD,
        pod(container(readinessProbe={"httpGet": {"port": 80}})),
        "spec.containers[0].readinessProbe.httpGet.scheme",
        "HTTP",
    ),
    Row(
        "probe httpGet path kept",
        POD,
        pod(container(readinessProbe={"httpGet": {"port": 80, "path": "/healthz"}})),
        "spec.containers[0].readinessProbe.httpGet.path",
        "/healthz",
    ),
    Row(
        "probe grpc service",
        POD,
        pod(container(livenessProbe={"grpc": {"port": 9000}})),
        "spec.containers[0].livenessProbe.grpc.service",
        "",
    ),
    Row(
        "probe grpc service kept",
        POD,
        pod(container(livenessProbe={"grpc": {"port": 9000, "service": "s"}})),
        "spec.containers[0].livenessProbe.grpc.service",
        "s",
    ),
    Row(
        "postStart httpGet path",
        POD,
        pod(container(lifecycle={"postStart": {"httpGet": {"port": 80}}})),
        "spec.containers[0].lifecycle.postStart.httpGet.path",
        "/",
    ),
    Row(
        "preStop httpGet scheme",
        POD,
        pod(container(lifecycle={"preStop": {"httpGet": {"port": 80}}})),
        "spec.containers[0].lifecycle.preStop.httpGet.scheme",
        "HTTP",
    ),
    # Volumes
    Row("volume without source", POD, pod(volumes=[vol()]), "spec.volumes[0].emptyDir", {}),
    Row("volume with null source", POD, pod(volumes=[vol(configMap=None)]), "spec.volumes[0].emptyDir", {}),
    Row(
        "volume with source",
        POD,
        pod(volumes=[vol(nfs={"server": "s", "path": "/"})]),
        "spec.volumes[0].emptyDir",
        MISSING,
    ),
    Row(
        "image volume is a source, no pull policy (ImageVolume off)",
        POD,
        pod(volumes=[vol(image={"reference": "img"})]),
        "spec.volumes[0]",
        {"name": "v", "image": {"reference": "img"}},
    ),
    Row(
        "secret defaultMode",
        POD,
        pod(volumes=[vol(secret={"secretName": "s"})]),
        "spec.volumes[0].secret.defaultMode",
        420,
    ),
    Row(
        "secret defaultMode kept",
        POD,
        pod(volumes=[vol(secret={"secretName": "s", "defaultMode": 256})]),
        "spec.volumes[0].secret.defaultMode",
        256,
    ),
    Row(
        "configMap defaultMode",
        POD,
        pod(volumes=[vol(configMap={"name": "c"})]),
        "spec.volumes[0].configMap.defaultMode",
        420,
    ),
    Row(
        "downwardAPI defaultMode",
        POD,
        pod(volumes=[vol(downwardAPI={})]),
        "spec.volumes[0].downwardAPI.defaultMode",
        420,
    ),
    Row(
        "downwardAPI fieldRef apiVersion",
        POD,
        pod(
            volumes=[vol(downwardAPI={"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]})]
        ),
        "spec.volumes[0].downwardAPI.items[0].fieldRef.apiVersion",
        "v1",
    ),
    Row(
        "projected defaultMode",
        POD,
        pod(volumes=[vol(projected={"sources": []})]),
        "spec.volumes[0].projected.defaultMode",
        420,
    ),
    Row(
        "projected serviceAccountToken expirationSeconds",
        POD,
        pod(volumes=[vol(projected={"sources": [{"serviceAccountToken": {"path": "token"}}]})]),
        "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds",
        3600,
    ),
    Row(
        "projected downwardAPI fieldRef apiVersion",
        POD,
        pod(
            volumes=[
                vol(
                    projected={
                        "sources": [
                            {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "x"}}]}}
                        ]
                    }
                )
            ]
        ),
        "spec.volumes[0].projected.sources[0].downwardAPI.items[0].fieldRef.apiVersion",
        "v1",
    ),
    Row(
        "hostPath type",
        POD,
        pod(volumes=[vol(hostPath={"path": "/tmp"})]),
        "spec.volumes[0].hostPath.type",
        "",
    ),
    Row(
        "hostPath type kept",
        POD,
        pod(volumes=[vol(hostPath={"path": "/tmp", "type": "Directory"})]),
        "spec.volumes[0].hostPath.type",
        "Directory",
    ),
    Row(
        "ephemeral claim volumeMode",
        POD,
        pod(volumes=[vol(ephemeral={"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}})]),
        "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.volumeMode",
        "Filesystem",
    ),
    Row(
        "ephemeral claim storage rounded",
        POD,
        pod(
            volumes=[
                vol(
                    ephemeral={
                        "volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "1024Mi"}}}}
                    }
                )
            ]
        ),
        "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.resources.requests.storage",
        "1Gi",
    ),
    Row(
        "iscsi interface",
        POD,
        pod(volumes=[vol(iscsi={"targetPortal": "t", "iqn": "q", "lun": 0})]),
        "spec.volumes[0].iscsi.iscsiInterface",
        "default",
    ),
    Row(
        "rbd pool",
        POD,
        pod(volumes=[vol(rbd={"monitors": ["m"], "image": "i"})]),
        "spec.volumes[0].rbd.pool",
        "rbd",
    ),
    Row(
        "rbd user",
        POD,
        pod(volumes=[vol(rbd={"monitors": ["m"], "image": "i"})]),
        "spec.volumes[0].rbd.user",
        "admin",
    ),
    Row(
        "rbd keyring",
        POD,
        pod(volumes=[vol(rbd={"monitors": ["m"], "image": "i"})]),
        "spec.volumes[0].rbd.keyring",
        "/etc/ceph/keyring",
    ),
    Row(
        "azureDisk defaults",
        POD,
        pod(volumes=[vol(azureDisk={"diskName": "d", "diskURI": "u"})]),
        "spec.volumes[0].azureDisk",
        {
            "diskName": "d",
            "diskURI": "u",
            "cachingMode": "ReadWrite",
            "fsType": "ext4",
            "readOnly": False,
            "kind": "Shared",
        },
    ),
    Row(
        "scaleIO defaults",
        POD,
        pod(volumes=[vol(scaleIO={"gateway": "g", "system": "s", "secretRef": {"name": "x"}})]),
        "spec.volumes[0].scaleIO.storageMode",
        "ThinProvisioned",
    ),
    Row(
        "pod-level resources get no requests (PodLevelResources off)",
        POD,
        pod(resources={"limits": {"cpu": "1"}}),
        "spec.resources",
        {"limits": {"cpu": "1"}},
    ),
]


@pytest.mark.parametrize("row", POD_ROWS, ids=[r.id for r in POD_ROWS])
def test_pod_defaults(row: Row) -> None:
    """Each upstream Pod default is applied where it is missing and leaves set values alone."""
    check(row)


# PodSpec defaults every pod template gets, as (id, template kwargs, path below the pod spec, value).
TEMPLATE_ROWS = [
    ("dnsPolicy", {}, "dnsPolicy", "ClusterFirst"),
    ("restartPolicy", {}, "restartPolicy", "Always"),
    ("securityContext", {}, "securityContext", {}),
    ("terminationGracePeriodSeconds", {}, "terminationGracePeriodSeconds", 30),
    ("schedulerName", {}, "schedulerName", "default-scheduler"),
    (
        "imagePullPolicy",
        {"containers": [container(image="nginx")]},
        "containers[0].imagePullPolicy",
        "Always",
    ),
    ("terminationMessagePath", {}, "containers[0].terminationMessagePath", "/dev/termination-log"),
    (
        "port protocol",
        {"containers": [container(ports=[{"containerPort": 80}])]},
        "containers[0].ports[0].protocol",
        "TCP",
    ),
    (
        "probe periodSeconds",
        {"containers": [container(livenessProbe=probe())]},
        "containers[0].livenessProbe.periodSeconds",
        10,
    ),
    (
        "limits rounded",
        {"containers": [container(resources={"limits": {"cpu": "0.0001"}})]},
        "containers[0].resources.limits.cpu",
        "1m",
    ),
    ("emptyDir", {"volumes": [vol()]}, "volumes[0].emptyDir", {}),
    (
        "secret defaultMode",
        {"volumes": [vol(secret={"secretName": "s"})]},
        "volumes[0].secret.defaultMode",
        420,
    ),
    # Pod-only defaults are absent from templates.
    ("no enableServiceLinks", {}, "enableServiceLinks", MISSING),
    (
        "no requests from limits",
        {"containers": [container(resources={"limits": {"cpu": "1"}})]},
        "containers[0].resources.requests",
        MISSING,
    ),
    (
        "no hostPort under hostNetwork",
        {"containers": [container(ports=[{"containerPort": 80}])], "hostNetwork": True},
        "containers[0].ports[0].hostPort",
        MISSING,
    ),
]


@pytest.mark.parametrize("gvk", list(TEMPLATE_PATHS), ids=[k[2] for k in TEMPLATE_PATHS])
@pytest.mark.parametrize(
    ("spec", "path", "expected"), [r[1:] for r in TEMPLATE_ROWS], ids=[r[0] for r in TEMPLATE_ROWS]
)
def test_pod_templates_get_pod_spec_defaults_only(
    gvk: tuple[str, str, str], spec: dict[str, Any], path: str, expected: Any
) -> None:
    """Templates in every workload get PodSpec and container defaults but not the Pod-only ones."""
    containers = spec.get("containers", [container()])
    rest = {k: v for k, v in spec.items() if k != "containers"}
    tmpl = template(*containers, **rest)
    out = defaulted(gvk, workload(gvk, tmpl))
    assert at(out, f"{TEMPLATE_PATHS[gvk]}.{path}") == expected


def test_pod_without_spec_gets_spec_defaults() -> None:
    """A Pod body without spec gets the PodSpec defaults, since spec is a struct upstream."""
    out = defaulted(POD, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})
    assert out["spec"] == {
        "enableServiceLinks": True,
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler",
    }


def test_complete_pod() -> None:
    """A minimal pod comes out with exactly the fields a v1.32 API server adds."""
    out = defaulted(POD, pod(container(image="nginx")))
    assert out["spec"] == {
        "containers": [
            {
                "name": "app",
                "image": "nginx",
                "imagePullPolicy": "Always",
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
        ],
        "enableServiceLinks": True,
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler",
    }
    assert "status" not in out

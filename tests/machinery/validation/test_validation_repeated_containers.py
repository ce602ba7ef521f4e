"""Validation of containers and volumes that repeat from pod to pod (the memos of valid items in
core_container and core_volumes).

A container found valid once is not checked again when it comes back with the same volume names,
resource claims, hostUsers and grace period, nor is a volume (with the same pod name, for ephemeral
volumes); these tests check that whatever else changes is still validated.
"""

from __future__ import annotations

from typing import Any

from kijabi.machinery.validation import validate
from tests.machinery.validation import validation_objects as objects


def _pod(**spec: Any) -> dict[str, Any]:
    obj = objects.pod()
    obj["spec"].update(spec)
    return obj


def _mounting() -> dict[str, Any]:
    ctr = objects.container()
    ctr["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    ctr["resources"] = {"claims": [{"name": "gpu"}]}
    ctr["securityContext"] = {"procMount": "Unmasked"}
    return ctr


def _errors(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e.type, e.field) for e in validate("", "v1", "Pod", obj, None, namespaced=True)]


def _valid() -> dict[str, Any]:
    return _pod(containers=[_mounting()], volumes=[{"name": "data", "emptyDir": {}}],
                resourceClaims=[{"name": "gpu", "resourceClaimName": "gpu-claim"}], hostUsers=False)


def test_the_valid_pod_is_valid_every_time() -> None:
    """The reference pod passes, the first time and when its container is remembered."""
    assert _errors(_valid()) == []
    assert _errors(_valid()) == []


def test_a_remembered_container_still_needs_its_volume() -> None:
    """The same container in a pod without the mounted volume: volumeMounts[0].name is not found."""
    assert _errors(_valid()) == []
    obj = _valid()
    obj["spec"]["volumes"] = [{"name": "other", "emptyDir": {}}]
    assert ("FieldValueNotFound", "spec.containers[0].volumeMounts[0].name") in _errors(obj)


def test_a_remembered_container_still_needs_its_claim() -> None:
    """The same container in a pod without the resource claim: resources.claims[0] is not found."""
    assert _errors(_valid()) == []
    obj = _valid()
    del obj["spec"]["resourceClaims"]
    assert ("FieldValueNotFound", "spec.containers[0].resources.claims[0]") in _errors(obj)


def test_a_remembered_container_still_depends_on_host_users() -> None:
    """procMount Unmasked is valid with hostUsers=false only, also for a container seen before."""
    assert _errors(_valid()) == []
    obj = _valid()
    obj["spec"]["hostUsers"] = True
    assert ("FieldValueInvalid", "spec.containers[0].securityContext.procMount") in _errors(obj)


def test_errors_of_a_repeated_container_name_their_own_position() -> None:
    """An invalid container is reported at its index each time (nothing invalid is remembered)."""
    bad = objects.container()
    bad["imagePullPolicy"] = "Sometimes"
    for position in range(2):
        containers = [objects.container("a"), objects.container("b")]
        containers[position] = bad | {"name": "bad"}
        assert _errors(_pod(containers=containers)) == [
            ("FieldValueNotSupported", f"spec.containers[{position}].imagePullPolicy")]


def test_a_remembered_container_is_checked_as_an_init_container_too() -> None:
    """A container valid among the regular ones is validated again by the init-container rules."""
    assert _errors(_valid()) == []
    obj = _valid()
    init = _mounting()
    init["name"] = "init"
    init["readinessProbe"] = {"exec": {"command": ["true"]}}
    obj["spec"]["initContainers"] = [init]
    assert ("FieldValueForbidden", "spec.initContainers[0].readinessProbe") in _errors(obj)


def test_a_remembered_container_still_depends_on_the_grace_period() -> None:
    """A preStop sleep valid under a long grace period is invalid under a shorter one, also when the
    container was seen before."""
    ctr = objects.container()
    ctr["lifecycle"] = {"preStop": {"sleep": {"seconds": 20}}}
    assert _errors(_pod(containers=[ctr], terminationGracePeriodSeconds=30)) == []
    assert _errors(_pod(containers=[ctr], terminationGracePeriodSeconds=30)) == []
    assert _errors(_pod(containers=[ctr], terminationGracePeriodSeconds=10)) == [
        ("FieldValueInvalid", "spec.containers[0].lifecycle.preStop.sleep")]


def test_a_remembered_container_is_still_a_duplicate() -> None:
    """Two equal containers: the second is a duplicate name, whether or not the first was seen before."""
    assert _errors(_pod(containers=[objects.container()])) == []
    assert _errors(_pod(containers=[objects.container(), objects.container()])) == [
        ("FieldValueDuplicate", "spec.containers[1].name")]


def test_a_remembered_ephemeral_volume_still_depends_on_the_pod_name() -> None:
    """An ephemeral volume valid in one pod makes a PVC name that is too long in a pod with a long name."""
    volume = {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}}
    short = _pod(volumes=[volume])
    assert _errors(short) == []
    assert _errors(short) == []
    long_named = _pod(volumes=[volume])
    long_named["metadata"]["name"] = "p" * 250
    assert ("FieldValueInvalid", "spec.volumes[0].name") in _errors(long_named)


def test_a_remembered_volume_is_still_a_duplicate() -> None:
    """Two equal volumes: the second is a duplicate name, whether or not the first was seen before."""
    volume = {"name": "data", "emptyDir": {}}
    assert _errors(_pod(volumes=[volume])) == []
    assert _errors(_pod(volumes=[volume, dict(volume)])) == [("FieldValueDuplicate", "spec.volumes[1].name")]

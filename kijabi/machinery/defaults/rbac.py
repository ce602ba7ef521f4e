"""Defaults of `rbac.authorization.k8s.io/v1` bindings (upstream pkg/apis/rbac/v1/defaults.go).

`roleRef.apiGroup` defaults to the RBAC group; a subject's `apiGroup` to the RBAC group for User
and Group subjects and to "" for ServiceAccount subjects. Roles and ClusterRoles have no defaults.
"""

from __future__ import annotations

from ._walk import Defaulter, Obj, each, struct

GROUP = "rbac.authorization.k8s.io"

# ServiceAccount subjects default to "", which is the same as leaving the field out.
_USER_KINDS = ("User", "Group")


def binding(obj: Obj) -> None:
    """RoleBinding and ClusterRoleBinding alike."""
    role_ref = struct(obj, "roleRef")
    if not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = GROUP
    for subject in each(obj, "subjects"):
        if not subject.get("apiGroup") and subject.get("kind") in _USER_KINDS:
            subject["apiGroup"] = GROUP


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "RoleBinding"): binding,
    ("v1", "ClusterRoleBinding"): binding,
}

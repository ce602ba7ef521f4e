"""Who a verified client certificate names, as Kubernetes reads it: the subject's CommonName is the
user name, each Organization a group (x509 request authentication)."""

from __future__ import annotations

from typing import Any


def user_of(cert: dict[str, Any] | None) -> tuple[str, tuple[str, ...]] | None:
    """(name, groups) from `ssl.SSLSocket.getpeercert()`'s dict; None without a CommonName. The groups
    end with system:authenticated."""
    if not cert:
        return None
    cn = ""
    orgs: list[str] = []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    return (cn, (*orgs, "system:authenticated")) if cn else None

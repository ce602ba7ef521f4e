"""Webhook client configuration (upstream apiserver `pkg/util/webhook/validation.go`), shared by
admission webhook configurations and CRD conversion webhooks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kijabi.machinery import errors as E

from . import meta
from ._util import Errs, Obj, d, num, s

_FORM = "; desired format: https://host[/path]"


def validate_url(url: str, path: str) -> Errs:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return [E.required(path, f"url must be a valid URL: {exc}{_FORM}")]
    errs: Errs = []
    if parts.scheme != "https":
        errs.append(E.invalid_value(path, parts.scheme, "'https' is the only allowed URL scheme" + _FORM))
    host = parts.netloc.rpartition("@")[2]
    if not host:
        errs.append(E.invalid_value(path, host, "host must be specified" + _FORM))
    if "@" in parts.netloc:
        errs.append(
            E.invalid_value(
                path, parts.netloc.rpartition("@")[0], "user information is not permitted in the URL"
            )
        )
    if parts.fragment:
        errs.append(E.invalid_value(path, parts.fragment, "fragments are not permitted in the URL"))
    if parts.query:
        errs.append(E.invalid_value(path, parts.query, "query parameters are not permitted in the URL"))
    return errs


def validate_service(service: Obj, path: str) -> Errs:
    errs: Errs = []
    if not s(service.get("name")):
        errs.append(E.required(f"{path}.name", "service name is required"))
    if not s(service.get("namespace")):
        errs.append(E.required(f"{path}.namespace", "service namespace is required"))
    port = num(service.get("port"))
    msgs = meta.is_valid_port_num(port)
    if msgs:
        errs.append(E.invalid_value(f"{path}.port", port, "port is not valid: " + ", ".join(msgs)))
    url_path = service.get("path")
    if url_path is None:
        return errs
    text = s(url_path)
    if text in ("/", ""):
        return errs
    if text == "//":
        return [*errs, E.invalid_value(f"{path}.path", text, "segment[0] may not be empty")]
    if not text.startswith("/"):
        errs.append(E.invalid_value(f"{path}.path", text, "must start with a '/'"))
    to_check = text[1:].removesuffix("/")
    for i, step in enumerate(to_check.split("/")):
        if not step:
            errs.append(E.invalid_value(f"{path}.path", text, f"segment[{i}] may not be empty"))
            continue
        errs.extend(
            E.invalid_value(f"{path}.path", text, f"segment[{i}]: {m}")
            for m in meta.is_dns1123_subdomain(step)
        )
    return errs


def validate_client_config(config: Any, path: str) -> Errs:
    """Exactly one of url and service; each well formed."""
    config = d(config)
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        return [E.required(path, "exactly one of url or service is required")]
    if url is not None:
        return validate_url(s(url), f"{path}.url")
    return validate_service(d(service), f"{path}.service")

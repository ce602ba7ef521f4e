"""Kubernetes API errors as exceptions that carry a `Status` body.

Exception tree::

    StatusError                 any failure that the API reports as a Status
    ├── (code 400) BadRequest, (404) NotFound, (409) AlreadyExists / Conflict, (410) Expired,
    │   (413) RequestEntityTooLarge, (415) UnsupportedMediaType, (422) Invalid, (429) TooManyRequests ...
    └── all built by the constructors below; `reason` and `code` tell them apart.

`FieldError` is one validation failure (upstream `field.Error`); `invalid()` folds a list of them into
the 422 Status whose message and causes follow apimachinery's format exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class StatusError(Exception):
    """A failure that the API reports as a `Status` object with an HTTP code."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retry_after = retry_after

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(name: str | None, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    d.update({k: v for k, v in extra.items() if v is not None})
    return d


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        404, "NotFound", f'{_qualified(resource, group)} "{name}" not found', details=_details(name, group, resource)
    )


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        details=_details(name, group, resource),
    )


def conflict(resource: str, group: str, name: str, why: str) -> StatusError:
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        details=_details(name, group, resource),
    )


def stale_conflict(resource: str, group: str, name: str) -> StatusError:
    return conflict(
        resource, group, name, "the object has been modified; please apply your changes to the latest version and try again"
    )


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def gone(message: str) -> StatusError:
    return StatusError(410, "Gone", message)


def forbidden(resource: str, group: str, name: str, why: str) -> StatusError:
    target = f'{_qualified(resource, group)} "{name}"' if name else _qualified(resource, group)
    return StatusError(403, "Forbidden", f"{target} is forbidden: {why}", details=_details(name, group, resource))


def method_not_allowed(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, "NotAcceptable", message)


def too_large(message: str = "the request body is too large") -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", message)


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type!r})")


def too_many_requests(message: str, retry_after: int = 1, *, details: dict[str, Any] | None = None) -> StatusError:
    return StatusError(429, "TooManyRequests", message, retry_after=retry_after, details=details)


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")


def service_unavailable(message: str) -> StatusError:
    return StatusError(503, "ServiceUnavailable", message)


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", message)


# --- field errors (upstream k8s.io/apimachinery/pkg/util/validation/field) -------------------------

_WORDS = {
    "FieldValueInvalid": "Invalid value",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "FieldValueNotFound": "Not found",
    "FieldValueTypeInvalid": "Invalid value",
    "InternalError": "Internal error",
}
_NO_VALUE = {"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "InternalError"}
_OMIT = object()


def go_value(value: Any) -> str:
    """Render a value the way Go's `%v`/`%q` does in field errors (strings quoted, nil as null)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    """One validation failure at a field path such as `spec.containers[0].name`."""

    type: str
    field: str
    detail: str = ""
    value: Any = _OMIT

    def body(self) -> str:
        word = _WORDS.get(self.type, self.type)
        if self.type in _NO_VALUE or self.value is _OMIT:
            return f"{word}: {self.detail}" if self.detail else word
        text = f"{word}: {go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, detail)


def invalid_value(field: str, value: Any, detail: str = "") -> FieldError:
    return FieldError("FieldValueInvalid", field, detail, value)


def not_supported(field: str, value: Any, supported: list[str]) -> FieldError:
    return FieldError(
        "FieldValueNotSupported", field, "supported values: " + ", ".join(json.dumps(s) for s in supported), value
    )


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", field, "", value)


def forbidden_field(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, detail)


def too_long(field: str, max_length: int) -> FieldError:
    return FieldError("FieldValueTooLong", field, f"may not be more than {max_length} bytes")


def too_many(field: str, actual: int, max_items: int) -> FieldError:
    return FieldError("FieldValueTooMany", field, f"must have at most {max_items} items", actual)


def type_invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueTypeInvalid", field, detail, value)


def not_found_field(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueNotFound", field, "", value)


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> StatusError:
    """The 422 Invalid Status for `errors` (deduplicated, in order)."""
    unique: list[FieldError] = []
    seen: set[str] = set()
    for e in errors:
        if str(e) not in seen:
            seen.add(str(e))
            unique.append(e)
    text = str(unique[0]) if len(unique) == 1 else "[" + ", ".join(str(e) for e in unique) + "]"
    qualified = f"{kind}.{group}" if group else kind
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in unique]
    return StatusError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {text}',
        details=_details(name, group, kind, causes=causes),
    )

"""What `kijabi.client` raises. aiohttp, ssl and OS errors never escape: they become `TransportError`.

Exception tree::

    ClientError                         anything raised by kijabi.client
    ├── ConfigError                     unusable kubeconfig / in-cluster environment
    ├── TransportError                  no (complete) answer from the server: refused, reset, TLS, timeout
    ├── DecodeError                     the server answered, but not with the JSON we expected
    ├── NoMatchError                    discovery knows no resource for a kind / name
    └── APIError                        the server answered with a failure Status
        │                               (also a kijabi.machinery.errors.StatusError: .code .reason
        │                                .message .details .retry_after .status())
        ├── BadRequest                  400
        ├── Unauthorized                401
        ├── Forbidden                   403
        ├── NotFound                    404
        ├── MethodNotAllowed            405
        ├── AlreadyExists               409, reason AlreadyExists
        ├── Conflict                    409, any other reason (optimistic-concurrency failures)
        ├── Expired                     410 (reasons Expired and Gone): resourceVersion or continue too old
        ├── RequestEntityTooLarge       413
        ├── UnsupportedMediaType        415
        ├── Invalid                     422 (.causes lists the field errors)
        ├── TooManyRequests             429
        └── ServerError                 5xx
            ├── InternalError           500
            ├── ServiceUnavailable      503
            └── ServerTimeout           504, or reason Timeout / ServerTimeout

`error_from_status(body, http_code)` picks the class by Status reason first, then by code, exactly as
apimachinery's `IsNotFound`/`IsConflict`/... helpers read a Status.
"""

from __future__ import annotations

from typing import Any

from kijabi.machinery.errors import StatusError


class ClientError(Exception):
    """Base of every exception raised by kijabi.client."""


class ConfigError(ClientError):
    """The kubeconfig or in-cluster environment cannot be used."""


class TransportError(ClientError):
    """The request got no complete answer. `sent` is False when the request surely never left."""

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class DecodeError(ClientError):
    """The server's answer was not the JSON document expected."""


class NoMatchError(ClientError):
    """Discovery has no resource for the requested kind or name."""


class APIError(ClientError, StatusError):
    """The server refused or failed the request and said so with a Status."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        StatusError.__init__(self, code, reason, message, details=details, retry_after=retry_after)
        self.body = body if body is not None else self.status()

    @property
    def causes(self) -> list[dict[str, Any]]:
        causes = (self.details or {}).get("causes") or []
        return [c for c in causes if isinstance(c, dict)]

    def __str__(self) -> str:
        return f"({self.code} {self.reason}) {self.message}"


class BadRequest(APIError):
    pass


class Unauthorized(APIError):
    pass


class Forbidden(APIError):
    pass


class NotFound(APIError):
    pass


class MethodNotAllowed(APIError):
    pass


class AlreadyExists(APIError):
    pass


class Conflict(APIError):
    pass


class Expired(APIError):
    pass


class RequestEntityTooLarge(APIError):
    pass


class UnsupportedMediaType(APIError):
    pass


class Invalid(APIError):
    pass


class TooManyRequests(APIError):
    pass


class ServerError(APIError):
    pass


class InternalError(ServerError):
    pass


class ServiceUnavailable(ServerError):
    pass


class ServerTimeout(ServerError):
    pass


_BY_REASON: dict[str, type[APIError]] = {
    "BadRequest": BadRequest,
    "Unauthorized": Unauthorized,
    "Forbidden": Forbidden,
    "NotFound": NotFound,
    "MethodNotAllowed": MethodNotAllowed,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Expired": Expired,
    "Gone": Expired,
    "RequestEntityTooLarge": RequestEntityTooLarge,
    "UnsupportedMediaType": UnsupportedMediaType,
    "Invalid": Invalid,
    "TooManyRequests": TooManyRequests,
    "InternalError": InternalError,
    "ServiceUnavailable": ServiceUnavailable,
    "Timeout": ServerTimeout,
    "ServerTimeout": ServerTimeout,
}

_BY_CODE: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Expired,
    413: RequestEntityTooLarge,
    415: UnsupportedMediaType,
    422: Invalid,
    429: TooManyRequests,
    500: InternalError,
    503: ServiceUnavailable,
    504: ServerTimeout,
}

_DEFAULT_REASON = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}


def error_class(code: int, reason: str) -> type[APIError]:
    cls = _BY_REASON.get(reason)
    if cls is not None and (cls is not Conflict or code == 409):
        return cls
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls
    return ServerError if code >= 500 else APIError


def error_from_status(body: Any, http_code: int = 0, *, retry_after: int | None = None, text: str = "") -> APIError:
    """The exception for a failure Status `body` (or, when the body is not a Status, for the bare code)."""
    if isinstance(body, dict) and body.get("kind") == "Status":
        code = body.get("code")
        code = code if isinstance(code, int) and code else http_code
        reason = body.get("reason") or _DEFAULT_REASON.get(code, "Unknown")
        message = body.get("message") or ""
        details = body.get("details") if isinstance(body.get("details"), dict) else None
        if retry_after is None and details and isinstance(details.get("retryAfterSeconds"), int):
            retry_after = details["retryAfterSeconds"]
        cls = error_class(code, reason)
        return cls(code, reason, message, details=details, retry_after=retry_after, body=body)
    reason = _DEFAULT_REASON.get(http_code, "Unknown")
    message = text.strip() or f"the server responded with status {http_code}"
    cls = error_class(http_code, reason)
    return cls(http_code, reason, message, retry_after=retry_after)

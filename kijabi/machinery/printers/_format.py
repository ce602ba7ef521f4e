"""Cell formatting shared by every printer: ages, labels, selectors, quantities, access modes.

Each helper reproduces the upstream helper the Go printers call (named in its docstring), because a
cell is only right if it is byte-identical to what a real apiserver sends.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

from kijabi.machinery.quantity import canonical as canonical_quantity

# Go's zero time.Time (0001-01-01T00:00:00Z) as a Unix timestamp: "unset" for metav1.Time.
GO_ZERO_TIME = -62135596800.0

_NS = 1_000_000_000
_MAX_DURATION = 2**63 - 1


def human_duration(seconds: float) -> str:
    """apimachinery `duration.HumanDuration`: `0s`, `59s`, `5m3s`, `3h5m`, `2d3h`, `400d`, `3y12d`, `9y`.

    Clock skew up to one second prints `0s`; further in the future prints `<invalid>`.
    """
    ns = max(-_MAX_DURATION, min(_MAX_DURATION, round(seconds * _NS)))  # Go saturates time.Duration
    secs = abs(ns) // _NS * (1 if ns >= 0 else -1)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = ns // (60 * _NS)
    if minutes < 10:
        rest = secs % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = ns // (3600 * _NS)
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def parse_time(value: Any) -> float | None:
    """A stored metav1.Time / MicroTime string as a Unix timestamp; None when unset or zero."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        ts = parsed.timestamp()
    except (ValueError, OverflowError):
        return None
    return None if ts == GO_ZERO_TIME else ts


_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})\Z"
)


def parse_rfc3339(value: str) -> float | None:
    """Go's `time.Parse(time.RFC3339, value)` as a Unix timestamp; raises ValueError when invalid.

    Returns None for Go's zero time (metav1.Time.IsZero).
    """
    m = _RFC3339.match(value)
    if m is None:
        raise ValueError(value)
    year, month, day, hour, minute, second, frac, zone = m.groups()
    if zone != "Z" and (int(zone[1:3]) >= 24 or int(zone[4:6]) >= 60):
        raise ValueError(value)
    micro = (frac or "").ljust(6, "0")[:6]
    iso = f"{year}-{month}-{day}T{hour}:{minute}:{second}.{micro}{'+00:00' if zone == 'Z' else zone}"
    try:
        ts = datetime.fromisoformat(iso).timestamp()
    except (ValueError, OverflowError):
        raise ValueError(value) from None
    return None if ts == GO_ZERO_TIME else ts


def since(value: Any, now: float) -> str:
    """`translateTimestampSince`: the age of a timestamp, `<unknown>` when it is unset."""
    ts = parse_time(value)
    if ts is None:
        return "<unknown>"
    return human_duration(now - ts)


# --- labels and selectors (apimachinery pkg/labels, meta/v1 helpers) ----------------------------------


def format_labels(labels: Any) -> str:
    """`labels.FormatLabels`: `k=v` pairs sorted as whole strings, joined by commas; `<none>`."""
    if not labels:
        return "<none>"
    return ",".join(sorted(f"{k}={v}" for k, v in labels.items()))


_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


def _valid_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or "/" in prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and _NAME.match(name) is not None


def _valid_value(value: str) -> bool:
    return len(value) <= 63 and (value == "" or _NAME.match(value) is not None)


_OPERATORS = {"In": " in ", "NotIn": " notin ", "Exists": "", "DoesNotExist": ""}


def selector_string(selector: Any) -> str | None:
    """`LabelSelectorAsSelector(s).String()`; None when the selector is invalid.

    A nil or empty selector renders as the empty string.
    """
    if not selector:
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        if not _valid_key(key) or not isinstance(value, str) or not _valid_value(value):
            return None
        requirements.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key") or "", expr.get("operator"), list(expr.get("values") or ())
        if op not in _OPERATORS or not _valid_key(key):
            return None
        if op in ("In", "NotIn") and not values:
            return None
        if op in ("Exists", "DoesNotExist") and values:
            return None
        if not all(isinstance(v, str) and _valid_value(v) for v in values):
            return None
        if op == "Exists":
            requirements.append((key, key))
        elif op == "DoesNotExist":
            requirements.append((key, "!" + key))
        else:
            requirements.append((key, f"{key}{_OPERATORS[op]}({','.join(sorted(values))})"))
    requirements.sort(key=lambda r: r[0])
    return ",".join(text for _, text in requirements)


def format_label_selector(selector: Any) -> str:
    """`metav1.FormatLabelSelector`: `<none>` when empty, `<error>` when invalid."""
    text = selector_string(selector)
    if text is None:
        return "<error>"
    return text or "<none>"


def label_selector_go_string(selector: dict[str, Any]) -> str:
    """The generated `(*metav1.LabelSelector).String()` (what a few printers show verbatim)."""
    labels = selector.get("matchLabels") or {}
    label_text = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    exprs = "".join(
        "LabelSelectorRequirement{"
        f"Key:{e.get('key') or ''},Operator:{e.get('operator') or ''},"
        f"Values:[{' '.join(e.get('values') or ())}],}},"
        for e in selector.get("matchExpressions") or ()
    )
    return (
        "&LabelSelector{"
        f"MatchLabels:map[string]string{{{label_text}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},"
        "}"
    )


# --- quantities -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _canonical_text(text: str) -> str:
    try:
        return canonical_quantity(text)
    except ValueError:
        return text


def quantity(value: Any) -> str:
    """`Quantity.String()` of a stored quantity (`1Gi`, `500m`); missing -> `0`; invalid as written."""
    if value is None or value == "":
        return "0"
    if isinstance(value, str):
        return _canonical_text(value)
    try:
        return canonical_quantity(value)
    except ValueError:
        return str(value)


def quantity_ptr(value: Any) -> str:
    """`(*Quantity).String()` where the pointer may be nil: `<nil>`."""
    return "<nil>" if value is None else quantity(value)


# --- other shared pieces ------------------------------------------------------------------------------

_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: Any) -> str:
    """`GetAccessModesAsString`: fixed order RWO, ROX, RWX, RWOP, each once."""
    present = set(modes or ())
    return ",".join(short for long, short in _ACCESS_MODES if long in present)


def containers(pod_spec: Any) -> tuple[str, str]:
    """`layoutContainerCells`: container names and images, each joined by commas."""
    items = (pod_spec or {}).get("containers") or ()
    return ",".join(c.get("name") or "" for c in items), ",".join(c.get("image") or "" for c in items)


def int_or_string(value: Any) -> str:
    """`IntOrString.String()`."""
    return str(value)


def bool_ptr(value: Any) -> str:
    """`printBoolPtr`: `True` / `False` / `<unset>`."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def first_condition_true(conditions: Any, kind: str) -> bool:
    """Whether the first condition of type `kind` has status True."""
    for cond in conditions or ():
        if cond.get("type") == kind:
            return bool(cond.get("status") == "True")
    return False


def list_with_more(items: list[str], total: int, limit: int = 3) -> str:
    """`listWithMoreString`: the first `limit` items, then ` + N more...`; empty -> `<unset>`."""
    text = ",".join(items[:limit])
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or "<unset>"


def lb_ingress(status: Any) -> str:
    """`loadBalancerStatusStringer` (wide): unique ip-or-hostname values, sorted, joined by commas."""
    found: set[str] = set()
    for entry in (status or {}).get("ingress") or ():
        addr = entry.get("ip") or entry.get("hostname")
        if addr:
            found.add(addr)
    return ",".join(sorted(found))


def go_group_kind(api_version: str, kind: str) -> str:
    """`schema.GroupKind{...}.String()` from an apiVersion: `Kind` or `Kind.group`."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return f"{kind}.{group}" if group else kind

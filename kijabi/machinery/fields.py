"""Field selectors (`?fieldSelector=`): `a=b`, `a==b`, `a!=b`, comma-separated, ANDed.

Which fields are selectable is per resource (every resource has metadata.name and, when namespaced,
metadata.namespace); the resource's strategy supplies the rest and the values for an object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kijabi.machinery.errors import bad_request


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) != self.negate


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def exact(self, field: str) -> str | None:
        for r in self.requirements:
            if r.field == field and not r.negate:
                return r.value
        return None


EVERYTHING = FieldSelector()


def _unescape(value: str) -> str:
    out: list[str] = []
    it = iter(value)
    for ch in it:
        if ch == "\\":
            nxt = next(it, "")
            if nxt not in ("\\", ",", "="):
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{nxt}")
            out.append(nxt)
        else:
            out.append(ch)
    return "".join(out)


def _split(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            cur.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _split_term(term: str) -> tuple[str, str, bool] | None:
    for op, negate in (("!=", True), ("==", False), ("=", False)):
        idx = term.find(op)
        if idx > 0:
            return term[:idx].strip(), term[idx + len(op):], negate
    return None


def parse(text: str | None, allowed: Iterable[str] | None = None, *, kind: str = "") -> FieldSelector:
    """Parse a field selector; with `allowed`, an unsupported field is a 400 as upstream reports it."""
    if not text or not text.strip():
        return EVERYTHING
    allowed_set = set(allowed) if allowed is not None else None
    reqs: list[FieldRequirement] = []
    for term in _split(text, ","):
        if not term:
            continue
        parsed = _split_term(term)
        if parsed is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, value, negate = parsed
        if allowed_set is not None and field not in allowed_set:
            raise bad_request(f'field label not supported: {field}')
        reqs.append(FieldRequirement(field, _unescape(value), negate))
    return FieldSelector(tuple(reqs))

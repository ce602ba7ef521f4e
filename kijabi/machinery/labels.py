"""Label selectors: the string form of `?labelSelector=` and the `LabelSelector` object form.

Grammar (apimachinery pkg/labels): requirements separated by ',':
    key            key exists              !key          key does not exist
    key=v, key==v  equals                  key!=v        not equal (or absent)
    key in (a,b)   one of                  key notin (a,b)  none of (or absent)
    key>n, key<n   integer comparison (not in LabelSelector objects)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kijabi.machinery.errors import StatusError, bad_request


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        value = labels.get(self.key)
        if op in ("=", "in"):
            return value is not None and value in self.values
        if op in ("!=", "notin"):
            return value is None or value not in self.values
        if value is None:
            return False
        try:
            n = int(value)
        except ValueError:
            return False
        bound = int(self.values[0])
        return n > bound if op == "gt" else n < bound


@dataclass(frozen=True, slots=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def exact(self) -> dict[str, str]:
        """The key=value pairs that every match must have (for indexed lookups)."""
        return {r.key: r.values[0] for r in self.requirements if r.op == "=" and len(r.values) == 1}


EVERYTHING = Selector()

_KEY = r"(?:[a-z0-9A-Z](?:[-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_TOKEN = re.compile(
    r"\s*(?:(?P<paren>\()|(?P<close>\))|(?P<comma>,)|(?P<op>==|!=|=|>|<|!)|(?P<word>[^\s,()=!<>]+))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise bad_request(f"unable to parse requirement: found '{text[pos:]}'")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _check_key(key: str) -> None:
    if not re.fullmatch(_KEY, key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise bad_request(f'unable to parse requirement: invalid label key "{key}": name part must consist of '
                          "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")


def _check_value(value: str) -> None:
    if len(value) > 63 or not re.fullmatch(_VALUE, value):
        raise bad_request(f'unable to parse requirement: invalid label value: "{value}": a valid label must be '
                          "an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
                          "start and end with an alphanumeric character")


def parse(text: str | None) -> Selector:
    """Parse a `labelSelector` query string; malformed input is a 400 StatusError."""
    if not text or not text.strip():
        return EVERYTHING
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def need(kind: str) -> str:
        nonlocal i
        if i >= len(toks) or toks[i][0] != kind:
            found = toks[i][1] if i < len(toks) else "end of string"
            raise bad_request(f"unable to parse requirement: found '{found}', expected: {kind}")
        i += 1
        return toks[i - 1][1]

    while i < len(toks):
        if toks[i] == ("op", "!"):
            i += 1
            key = need("word")
            _check_key(key)
            reqs.append(Requirement(key, "!"))
        else:
            key = need("word")
            _check_key(key)
            if i >= len(toks) or toks[i][0] == "comma":
                reqs.append(Requirement(key, "exists"))
            elif toks[i][0] == "op":
                op = toks[i][1]
                i += 1
                if op == "!":
                    raise bad_request("unable to parse requirement: found '!', expected: '=', '!=', '==', 'in', 'notin'")
                value = toks[i][1] if i < len(toks) and toks[i][0] == "word" else ""
                if i < len(toks) and toks[i][0] == "word":
                    i += 1
                if op in (">", "<"):
                    try:
                        int(value)
                    except ValueError:
                        raise bad_request(f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {value!r}") from None
                    reqs.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
                else:
                    _check_value(value)
                    reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
            elif toks[i] in (("word", "in"), ("word", "notin")):
                op = toks[i][1]
                i += 1
                need("paren")
                values: list[str] = []
                while i < len(toks) and toks[i][0] != "close":
                    if toks[i][0] == "comma":
                        i += 1
                        continue
                    v = need("word")
                    _check_value(v)
                    values.append(v)
                need("close")
                reqs.append(Requirement(key, op, tuple(sorted(set(values)))))
            else:
                raise bad_request(f"unable to parse requirement: found '{toks[i][1]}', expected: ',' or operator")
        if i < len(toks):
            need("comma")
    return Selector(tuple(reqs))


def from_label_selector(sel: Mapping[str, Any] | None) -> Selector:
    """A `LabelSelector` object (matchLabels + matchExpressions). None selects nothing? No: callers
    decide; an empty object selects everything, as upstream's LabelSelectorAsSelector."""
    if not sel:
        return EVERYTHING
    reqs: list[Requirement] = [Requirement(k, "=", (str(v),)) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        op = expr.get("operator")
        key = expr.get("key", "")
        values = tuple(expr.get("values") or ())
        if op == "In":
            reqs.append(Requirement(key, "in", values))
        elif op == "NotIn":
            reqs.append(Requirement(key, "notin", values))
        elif op == "Exists":
            reqs.append(Requirement(key, "exists"))
        elif op == "DoesNotExist":
            reqs.append(Requirement(key, "!"))
        else:
            raise StatusError(400, "BadRequest", f'"{op}" is not a valid label selector operator')
    return Selector(tuple(reqs))

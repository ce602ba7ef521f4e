"""Kubernetes JSONPath: the template language of `kubectl -o jsonpath` and CRD printer columns.

This is the dialect of client-go's `util/jsonpath`, not RFC 9535: templates mix literal text with
`{actions}`; an action is a chain of `.field`, `['key']`, `[i]`, `[a:b:c]`, `[*]`, `..field`,
`[a,b]` unions, `[?(@.x == "y")]` filters and the `range`/`end` keywords. Behaviour that users can
see follows upstream, including its quirks:

* a quoted bracket key is parsed as a path, so `['a.b']` means `.a.b`; a dot inside a key is escaped
  with a backslash (`.metadata.labels.app\\.kubernetes\\.io/name`, or `['a\\.b']`);
* only single quotes delimit bracket keys (`["a"]` is an invalid array index);
* filters compare one scalar with one scalar of the same kind (int with int, float with float...);
* an index out of range, or indexing a non-list, is an evaluation error.

Errors::

    JSONPathError(ValueError)     anything this module rejects
    ├── JSONPathParseError        the template is malformed (CRD validation rejects the column)
    └── JSONPathEvalError         the template is valid but cannot be evaluated against this object

Objects are JSON values as Python sees them: dict, list, str, int, float, bool, None.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kijabi.machinery.gotext import go_float, go_json

__all__ = [
    "JSONPath",
    "JSONPathError",
    "JSONPathEvalError",
    "JSONPathParseError",
    "evaluate",
    "go_float",
    "go_json",
    "go_text",
    "parse",
    "parse_column",
]


class JSONPathError(ValueError):
    """A JSONPath template was rejected (parse) or could not be evaluated."""


class JSONPathParseError(JSONPathError):
    """The template is not valid Kubernetes JSONPath."""


class JSONPathEvalError(JSONPathError):
    """The template is valid but failed on this object (bad index, type mismatch in a filter...)."""


# --- nodes ------------------------------------------------------------------------------------------
# Nodes are small immutable tuples tagged by their first element; evaluation dispatches on the tag.

_FIELD = 0  # (tag, name)
_ARRAY = 1  # (tag, (start, start_known), (end, end_known, end_derived), (step, step_known))
_FILTER = 2  # (tag, left_nodes, right_nodes, operator)
_UNION = 3  # (tag, tuple of node lists)
_WILDCARD = 4  # (tag,)
_RECURSIVE = 5  # (tag,)
_TEXT = 6  # (tag, str) a quoted literal inside an action
_INT = 7  # (tag, int)
_FLOAT = 8  # (tag, float)
_BOOL = 9  # (tag, bool)
_IDENT = 10  # (tag, name)  range / end / anything else (an error when evaluated)

Node = tuple[Any, ...]
Nodes = tuple[Node, ...]

_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_DICT_KEY = re.compile(r"'([^']*)'\Z")
_SLICE = re.compile(r"(-?[0-9]*)(:-?[0-9]*)?(:-?[0-9]*)?\Z")
_FILTER_SPLIT = re.compile(r"([^!<>=]+)([!<>=]+)(.+?)\Z")
_INT_TEXT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\Z")


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdigit()


def _rune(ch: str) -> str:
    """Go's `%#U` rendering of a character, as upstream error messages print it."""
    code = f"U+{ord(ch):04X}"
    return f"{code} '{ch}'" if ch.isprintable() else code


class _Parser:
    """A recursive-descent reader of one template, mirroring upstream's lexer states."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # Segments: ("text", str) for literal text outside braces, ("action", Nodes) for each {...}.
    def template(self) -> list[tuple[str, Any]]:
        segments: list[tuple[str, Any]] = []
        text = self.text
        while self.pos < len(text):
            brace = text.find("{", self.pos)
            if brace < 0:
                segments.append(("text", text[self.pos :]))
                break
            if brace > self.pos:
                segments.append(("text", text[self.pos : brace]))
            self.pos = brace + 1
            segments.append(("action", tuple(self.action())))
        return segments

    def action(self) -> list[Node]:
        """Read nodes up to and including the closing brace."""
        nodes: list[Node] = []
        text = self.text
        while True:
            rest = text.startswith
            if rest("}", self.pos):
                self.pos += 1
                return nodes
            if rest("[?(", self.pos):
                nodes.append(self.filter())
                continue
            if rest("..", self.pos):
                if nodes and nodes[-1][0] == _RECURSIVE:
                    raise JSONPathParseError("invalid multiple recursive descent")
                self.pos += 2
                nodes.append((_RECURSIVE,))
                if self.pos < len(text) and _is_alnum(text[self.pos]):
                    nodes.append(self.field())
                continue
            if self.pos >= len(text):
                raise JSONPathParseError("unclosed action")
            ch = text[self.pos]
            self.pos += 1
            if ch in "\r\n":
                raise JSONPathParseError("unclosed action")
            if ch in " @$":
                continue
            if ch == "[":
                nodes.extend(self.array())
            elif ch in "\"'":
                nodes.append(self.quoted(ch))
            elif ch == ".":
                nodes.append(self.field())
            elif ch in "+-" or ch.isdigit():
                self.pos -= 1
                nodes.append(self.number())
            elif _is_alnum(ch):
                self.pos -= 1
                nodes.append(self.identifier())
            else:
                raise JSONPathParseError(f"unrecognized character in action: {_rune(ch)}")

    def field(self) -> Node:
        text = self.text
        start = self.pos
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\":
                self.pos += 2
                continue
            if ch in _TERMINATORS:
                break
            self.pos += 1
        self.pos = min(self.pos, len(text))
        value = text[start : self.pos]
        if value == "*":
            return (_WILDCARD,)
        return (_FIELD, value.replace("\\", ""))

    def identifier(self) -> Node:
        text = self.text
        start = self.pos
        while self.pos < len(text) and text[self.pos] not in _TERMINATORS:
            self.pos += 1
        value = text[start : self.pos]
        if value in ("true", "false"):
            return (_BOOL, value == "true")
        return (_IDENT, value)

    def number(self) -> Node:
        text = self.text
        start = self.pos
        if text[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(text) and (text[self.pos] == "." or text[self.pos].isdigit()):
            self.pos += 1
        value = text[start : self.pos]
        if _INT_TEXT.match(value):
            return (_INT, int(value))
        if _FLOAT_TEXT.match(value):
            return (_FLOAT, float(value))
        raise JSONPathParseError(f"cannot parse number {value}")

    def quoted(self, quote: str) -> Node:
        text = self.text
        start = self.pos - 1
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise JSONPathParseError("unterminated quoted string")
            ch = text[self.pos]
            self.pos += 1
            if ch == quote and text[self.pos - 2] != "\\":
                break
        raw = text[start : self.pos]
        try:
            return (_TEXT, _unquote(raw))
        except ValueError:
            raise JSONPathParseError(f"unquote string {raw} error invalid syntax") from None

    def array(self) -> list[Node]:
        text = self.text
        close = self.pos
        while True:
            if close >= len(text) or text[close] == "\n":
                raise JSONPathParseError("unterminated array")
            if text[close] == "]":
                break
            close += 1
        inner = text[self.pos : close]
        self.pos = close + 1
        if inner == "*":
            inner = ":"
        parts = inner.split(",")
        if len(parts) > 1:
            return [(_UNION, tuple(_sub_action("[" + part.strip(" ") + "]") for part in parts))]
        key = _DICT_KEY.match(inner)
        if key:
            return list(_sub_action("." + key.group(1)))
        return [_slice(inner)]

    def filter(self) -> Node:
        text = self.text
        self.pos += 3
        start = self.pos
        begin = end = False
        pair = ""
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise JSONPathParseError("unterminated filter")
            ch = text[self.pos]
            self.pos += 1
            if ch in "\"'":
                if not begin:
                    begin, pair = True, ch
                    continue
                if text[self.pos - 2] != "\\" and ch == pair:
                    end = True
            elif ch == ")" and begin == end:
                break
        if self.pos >= len(text) or text[self.pos] != "]":
            raise JSONPathParseError("unclosed array expect ]")
        self.pos += 1
        body = text[start : self.pos - 2]
        split = _FILTER_SPLIT.match(body)
        if split is None:
            return (_FILTER, _sub_action(body), (), "exists")
        return (_FILTER, _sub_action(split.group(1)), _sub_action(split.group(3)), split.group(2))


def _sub_action(text: str) -> Nodes:
    """Parse `text` as the inside of one action (upstream's parseAction)."""
    segments = _Parser("{" + text + "}").template()
    for kind, value in segments:
        if kind == "action":
            return tuple(value)
    return ()


def _slice(inner: str) -> Node:
    m = _SLICE.match(inner)
    if m is None:
        raise JSONPathParseError(f"invalid array index {inner}")
    groups = [m.group(1) or "", m.group(2) or "", m.group(3) or ""]
    values = [0, 0, 0]
    known = [False, False, False]
    derived = False
    for i, raw in enumerate(groups):
        if raw:
            if i > 0:
                raw = raw[1:]
            if i > 0 and raw == "":
                continue
            if not re.fullmatch(r"[+-]?[0-9]+", raw):
                raise JSONPathParseError(f"array index {raw} is not a number")
            values[i], known[i] = int(raw), True
        elif i == 1:
            values[1], known[1], derived = values[0] + 1, True, True
    return (_ARRAY, (values[0], known[0]), (values[1], known[1], derived), (values[2], known[2]))


_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _unquote(raw: str) -> str:
    """Go's strconv.Unquote, extended to single-quoted strings (upstream's UnquoteExtend)."""
    if len(raw) < 2 or raw[0] != raw[-1] or raw[0] not in "\"'":
        raise ValueError(raw)
    quote, body = raw[0], raw[1:-1]
    if "\\" not in body and quote not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == quote:
            raise ValueError(raw)
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError(raw)
        esc = body[i + 1]
        i += 2
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
        elif esc in "'\"":
            if esc != quote:
                raise ValueError(raw)
            out.append(esc)
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i : i + width]
            if len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise ValueError(raw)
            code = int(digits, 16)
            if esc != "x" and (code > 0x10FFFF or 0xD800 <= code <= 0xDFFF):
                raise ValueError(raw)
            out.append(chr(code))
            i += width
        elif esc in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or not re.fullmatch(r"[0-7]{3}", digits) or int(digits, 8) > 255:
                raise ValueError(raw)
            out.append(chr(int(digits, 8)))
            i += 2
        else:
            raise ValueError(raw)
    return "".join(out)


# --- templates ----------------------------------------------------------------------------------------

# A compiled template is a list of items: ("text", str), ("action", Nodes) or
# ("range", Nodes, items) / ("end",) resolved into nested ranges at compile time.


def _nest(segments: list[tuple[str, Any]]) -> list[tuple[Any, ...]]:
    """Turn `{range X}...{end}` segment runs into ("range", X, body) items."""
    out: list[tuple[Any, ...]] = []
    stack: list[tuple[Nodes, list[tuple[Any, ...]]]] = []
    current = out
    for kind, value in segments:
        if kind == "action" and value and value[0] == (_IDENT, "range"):
            body: list[tuple[Any, ...]] = []
            stack.append((value[1:], current))
            current = body
            continue
        if kind == "action" and value and value[0] == (_IDENT, "end"):
            if not stack:
                current.append(("end",))
                continue
            expr, parent = stack.pop()
            parent.append(("range", expr, current))
            current = parent
            continue
        current.append((kind, value))
    while stack:  # a range without its end runs to the end of the template
        expr, parent = stack.pop()
        parent.append(("range", expr, current))
        current = parent
    return out


class JSONPath:
    """One parsed template. Thread-safe and reusable: evaluation keeps no state on the instance."""

    __slots__ = ("_items", "template")

    def __init__(self, template: str) -> None:
        self.template = template
        self._items = _nest(_Parser(template).template())

    def find_results(self, data: Any, *, allow_missing_keys: bool = True) -> list[list[Any]]:
        """One list of values per template block (upstream FindResults), in template order."""
        out: list[list[Any]] = []
        self._run(self._items, data, allow_missing_keys, out)
        return out

    def _run(self, items: list[tuple[Any, ...]], data: Any, missing_ok: bool, out: list[list[Any]]) -> None:
        for item in items:
            kind = item[0]
            if kind == "text":
                out.append([item[1]])
            elif kind == "action":
                out.append(_eval_list([data], item[1], missing_ok))
            elif kind == "range":
                for value in _eval_list([data], item[1], missing_ok):
                    self._run(item[2], value, missing_ok, out)
            else:
                raise JSONPathEvalError("not in range, nothing to end")

    def execute(self, data: Any, *, allow_missing_keys: bool = True) -> str:
        """The text `kubectl -o jsonpath=...` prints: values of a block joined by spaces.

        Missing keys print nothing, as with kubectl's default `--allow-missing-template-keys`.
        """
        return "".join(
            " ".join(go_text(v, from_field=True) for v in group)
            for group in self.find_results(data, allow_missing_keys=allow_missing_keys)
        )

    def __repr__(self) -> str:
        return f"JSONPath({self.template!r})"


def parse(template: str) -> JSONPath:
    """Parse a full template (`{.a}` actions mixed with text). Raises JSONPathParseError."""
    return JSONPath(template)


def parse_column(json_path: str) -> JSONPath:
    """Parse a CRD printer column's `jsonPath` exactly as the apiserver does (wrapped in braces)."""
    return JSONPath("{" + json_path + "}")


def evaluate(obj: Any, expr: str, *, allow_missing_keys: bool = True) -> list[Any]:
    """All values `expr` selects in `obj`, flattened over template blocks.

    `expr` may be a bare path (`.spec.replicas`, wrapped in braces like a printer column) or a full
    template (`{.a}{.b}`). Missing keys give no values; an invalid expression raises
    JSONPathParseError and an evaluation failure (index out of range...) JSONPathEvalError.
    """
    path = JSONPath(expr if "{" in expr else "{" + expr + "}")
    return [v for group in path.find_results(obj, allow_missing_keys=allow_missing_keys) for v in group]


# --- evaluation ----------------------------------------------------------------------------------------


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return "interface {}"


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return list(value.encode())
    return []


def _eval_list(values: list[Any], nodes: Nodes, missing_ok: bool) -> list[Any]:
    for node in nodes:
        values = _eval(values, node, missing_ok)
    return values


def _eval(values: list[Any], node: Node, missing_ok: bool) -> list[Any]:
    tag = node[0]
    if tag == _FIELD:
        name = node[1]
        found = [v[name] for v in values if isinstance(v, dict) and name in v]
        if not found and values and not missing_ok:
            raise JSONPathEvalError(f"{name} is not found")
        return found
    if tag == _ARRAY:
        return _eval_array(values, node)
    if tag == _FILTER:
        return _eval_filter(values, node, missing_ok)
    if tag == _WILDCARD:
        return [c for v in values if v is not None for c in _children(v)]
    if tag == _RECURSIVE:
        return list(_descend(values))
    if tag == _UNION:
        return [r for branch in node[1] for r in _eval_list(values, branch, missing_ok)]
    if tag == _TEXT:
        return [node[1]]
    if tag in (_INT, _FLOAT, _BOOL):
        return [node[1] for _ in values]
    if node[1] == "range":
        raise JSONPathEvalError("range must start an action")
    if node[1] == "end":
        raise JSONPathEvalError("not in range, nothing to end")
    raise JSONPathEvalError(f"unrecognized identifier {node[1]}")


def _descend(values: list[Any]) -> Iterator[Any]:
    for value in values:
        if value is None:
            continue
        children = _children(value)
        if children:
            yield value
            yield from _descend(children)


def _eval_array(values: list[Any], node: Node) -> list[Any]:
    out: list[Any] = []
    (start, start_known), (end, end_known, end_derived), (step, step_known) = node[1], node[2], node[3]
    for value in values:
        if value is None:
            continue
        if not isinstance(value, list):
            raise JSONPathEvalError(f"{_go_type(value)} is not array or slice")
        length = len(value)
        lo = start if start_known else 0
        if lo < 0:
            lo += length
        hi = end if end_known else length
        if hi < 0 or (hi == 0 and end_derived):
            hi += length
        if hi == lo:
            return out
        if lo >= length or lo < 0:
            raise JSONPathEvalError(f"array index out of bounds: index {lo}, length {length}")
        if hi > length or hi < 0:
            raise JSONPathEvalError(f"array index out of bounds: index {hi - 1}, length {length}")
        if lo > hi:
            raise JSONPathEvalError(f"starting index {lo} is greater than ending index {hi}")
        stride = 1
        if step_known:
            if step <= 0:
                raise JSONPathEvalError("step must be > 0")
            stride = step
        out.extend(value[lo:hi:stride])
    return out


def _eval_filter(values: list[Any], node: Node, missing_ok: bool) -> list[Any]:
    _, left, right, op = node
    out: list[Any] = []
    for value in values:
        if not isinstance(value, list):
            raise JSONPathEvalError(
                f"{go_text(value, from_field=True)} is not array or slice and cannot be filtered"
            )
        for element in value:
            try:
                lefts = _eval_list([element], left, missing_ok)
                left_error: JSONPathError | None = None
            except JSONPathError as exc:
                lefts, left_error = [], exc
            if op == "exists":
                if lefts:
                    out.append(element)
                continue
            if left_error is not None:
                raise left_error
            if not lefts:
                continue
            if len(lefts) > 1:
                raise JSONPathEvalError("can only compare one element at a time")
            rights = _eval_list([element], right, missing_ok)
            if not rights:
                continue
            if len(rights) > 1:
                raise JSONPathEvalError("can only compare one element at a time")
            if _compare(lefts[0], rights[0], op):
                out.append(element)
    return out


def _basic_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise JSONPathEvalError("invalid type for comparison")


def _compare(a: Any, b: Any, op: str) -> bool:
    """Go text/template's eq/ne/lt/le/gt/ge on two scalars of the same basic kind."""
    ka, kb = _basic_kind(a), _basic_kind(b)
    if ka != kb:
        raise JSONPathEvalError("incompatible types for comparison")
    if op in ("==", "!="):
        return bool(a == b) == (op == "==")
    if op not in ("<", ">", "<=", ">="):
        raise JSONPathEvalError(f"unrecognized filter operator {op}")
    if ka == "bool":
        raise JSONPathEvalError("invalid type for comparison")
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


# --- rendering ------------------------------------------------------------------------------------
# Scalars print as Go's fmt does and maps and lists as json.Marshal does (kijabi.machinery.gotext).


def go_text(value: Any, *, from_field: bool = False) -> str:
    """One JSONPath result as text: maps and lists as JSON, scalars as Go's fmt prints them.

    A JSON null prints `<nil>` when it was read from an object field (kubectl's output) and
    `<no value>` when it reaches the printer on its own (CRD printer columns, `from_field=False`).
    """
    if value is None:
        return "<nil>" if from_field else "<no value>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return go_json(value)

"""JSON Patch (RFC 6902), as the Kubernetes apiserver applies it (`application/json-patch+json`).

The apiserver runs evanphx/json-patch v4 over the object's JSON. That library is the specification here,
including where it is more lenient than the RFC:

* `replace` of a missing object member adds it; `copy` from a missing object member copies null;
* `test` of a missing member (or a null one) against a missing or null value passes;
* array indexes may be negative (`-1` is the last element) and may carry a sign (`+1`);
* an operation without `value` uses null.

Where the library accepts a pointer that does not start with `/` (it silently ignores the first token),
kijabi follows the RFC and reports the path as missing.

Errors (all `StatusError`):
    400 BadRequest            the patch is not an array of objects (Go decoding error text)
    413 RequestEntityTooLarge more than `max_operations` operations
    422 Invalid               an operation failed (unknown op, missing path, failed test, bad index, copy
                              budget exceeded); the message is upstream's generic one, the library's
                              explanation is the single cause
    422 Invalid               the patched document is no longer an object (upstream: decoding fails)
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from kijabi.machinery import errors
from kijabi.machinery.patch._common import JSONObject, clone, json_equal, json_kind, unprocessable

MAX_OPERATIONS = 10000  # apiserver handlers/patch.go maxJSONPatchOperations
MAX_COPY_BYTES = 3 * 1024 * 1024  # apiserver server/config.go JSONPatchMaxCopyBytes

_INDEX = re.compile(r"[+-]?[0-9]+")
_ESCAPE = re.compile(r"~[01]")
_MISSING = "missing value"
_INVALID_INDEX = "invalid index referenced"

Container = dict[str, Any] | list[Any]


class _OpError(Exception):
    """One operation failed; the text is evanphx/json-patch's."""


def json_patch(
    doc: JSONObject,
    ops: Any,
    *,
    max_operations: int = MAX_OPERATIONS,
    max_copy_bytes: int = MAX_COPY_BYTES,
) -> JSONObject:
    """Apply the RFC 6902 operations `ops` (the decoded request body) to `doc`; return a new object.

    Neither argument is modified. Operations run in order; the first failure aborts the whole patch.
    `max_copy_bytes` bounds the total JSON size of values duplicated by `copy` operations.
    """
    if ops is None:  # a JSON `null` body decodes to an empty patch upstream
        return clone(doc)  # type: ignore[no-any-return]
    if not isinstance(ops, list):
        raise errors.bad_request(
            f"json: cannot unmarshal {json_kind(ops)} into Go value of type jsonpatch.Patch"
        )
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise errors.bad_request(
                f"json: cannot unmarshal {json_kind(op)} into Go value of type jsonpatch.Operation"
            )
    if len(ops) > max_operations:
        raise errors.too_large(
            f"The allowed maximum operations in a JSON patch is {max_operations}, got {len(ops)}"
        )
    state = _Document(clone(doc), max_copy_bytes)
    for op in clone(ops):
        try:
            state.apply(op if op is not None else {})
        except _OpError as exc:
            raise unprocessable(str(exc)) from None
    if not isinstance(state.root, dict):
        text = orjson.dumps(state.root).decode()
        raise errors.invalid(
            "", "", "", [errors.invalid_value("patch", text, "the patched document must be a JSON object")]
        )
    return state.root


def _unescape(token: str) -> str:
    return _ESCAPE.sub(lambda m: "~" if m.group() == "~0" else "/", token)


def _atoi(key: str) -> int:
    if not _INDEX.fullmatch(key):
        raise _OpError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    return int(key)


# --- container primitives, each with the library's error text ------------------------------------------


def _get(con: Container, key: str) -> Any:
    """The child at `key`; None for a missing object member (not an error, as upstream)."""
    if isinstance(con, dict):
        return con.get(key)
    idx = _atoi(key)
    if idx < 0:
        if idx < -len(con):
            raise _OpError(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")
        idx += len(con)
    if idx >= len(con):
        raise _OpError(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")
    return con[idx]


def _set(con: Container, key: str, value: Any) -> None:
    """Overwrite an existing member or element (callers have checked that it exists)."""
    if isinstance(con, dict):
        con[key] = value
        return
    idx = _atoi(key)
    if idx < 0:
        idx += len(con)
    con[idx] = value


def _add(con: Container, key: str, value: Any) -> None:
    if isinstance(con, dict):
        con[key] = value
        return
    if key == "-":
        con.append(value)
        return
    try:
        idx = _atoi(key)
    except _OpError as exc:
        raise _OpError(f"value was not a proper array index: '{key}': {exc}") from None
    size = len(con) + 1
    if idx >= size:
        raise _OpError(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")
    if idx < 0:
        if idx < -size:
            raise _OpError(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")
        idx += size
    con.insert(idx, value)


def _remove(con: Container, key: str) -> None:
    if isinstance(con, dict):
        if key not in con:
            raise _OpError(f"Unable to remove nonexistent key: {key}: {_MISSING}")
        del con[key]
        return
    idx = _atoi(key)
    if idx >= len(con):
        raise _OpError(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")
    if idx < 0:
        if idx < -len(con):
            raise _OpError(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")
        idx += len(con)
    del con[idx]


class _Document:
    """The document being patched; `root` may become an array through `replace` of the whole document."""

    def __init__(self, root: Any, max_copy_bytes: int) -> None:
        self.root: Any = root
        self.max_copy_bytes = max_copy_bytes
        self.copied = 0

    def find(self, path: str) -> tuple[Container, str] | None:
        """The container holding the last token of `path`, and that (unescaped) token."""
        if not path.startswith("/"):
            return None
        tokens = path.split("/")[1:]
        node: Any = self.root
        for token in tokens[:-1]:
            try:
                node = _get(node, _unescape(token))
            except _OpError:
                return None
            if not isinstance(node, dict | list):
                return None
        return node, _unescape(tokens[-1])

    def apply(self, op: dict[str, Any]) -> None:
        kind = op.get("op")
        if not isinstance(kind, str):
            kind = "unknown"
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise _OpError(f"Unexpected kind: {kind}")
        handler(self, op)

    # -- operations ----------------------------------------------------------------------------------

    def add(self, op: dict[str, Any]) -> None:
        path = _pointer(op, "path", "add operation failed to decode path: ", always_missing=True)
        found = self.find(path)
        if found is None:
            raise _OpError(f'add operation does not apply: doc is missing path: "{path}": {_MISSING}')
        try:
            _add(*found, op.get("value"))
        except _OpError as exc:
            raise _OpError(f"error in add for path: '{path}': {exc}") from None

    def remove(self, op: dict[str, Any]) -> None:
        path = _pointer(op, "path", "remove operation failed to decode path: ", always_missing=True)
        found = self.find(path)
        if found is None:
            raise _OpError(f'remove operation does not apply: doc is missing path: "{path}": {_MISSING}')
        try:
            _remove(*found)
        except _OpError as exc:
            raise _OpError(f"error in remove for path: '{path}': {exc}") from None

    def replace(self, op: dict[str, Any]) -> None:
        path = _pointer(op, "path", "replace operation failed to decode path: ")
        value = op.get("value")
        if path == "":
            if not isinstance(value, dict | list):
                raise _OpError("replace operation value must be object or array: %!w(<nil>)")
            self.root = value
            return
        found = self.find(path)
        if found is None:
            raise _OpError(f"replace operation does not apply: doc is missing path: {path}: {_MISSING}")
        try:
            _get(*found)
        except _OpError:
            raise _OpError(
                f"replace operation does not apply: doc is missing key: {path}: {_MISSING}"
            ) from None
        _set(*found, value)

    def move(self, op: dict[str, Any]) -> None:
        source = _pointer(op, "from", "move operation failed to decode from: ")
        found = self.find(source)
        if found is None:
            raise _OpError(f"move operation does not apply: doc is missing from path: {source}: {_MISSING}")
        con, key = found
        try:
            value = _get(con, key)
            _remove(con, key)
        except _OpError as exc:
            raise _OpError(f"error in move for path: '{key}': {exc}") from None
        path = _pointer(op, "path", "move operation failed to decode path: ")
        found = self.find(path)
        if found is None:
            raise _OpError(
                f"move operation does not apply: doc is missing destination path: {path}: {_MISSING}"
            )
        try:
            _add(*found, value)
        except _OpError as exc:
            raise _OpError(f"error in move for path: '{path}': {exc}") from None

    def test(self, op: dict[str, Any]) -> None:
        path = _pointer(op, "path", "test operation failed to decode path: ")
        failed = _OpError(f"testing value {path} failed: test failed")
        if path == "":
            if "value" not in op or not json_equal(self.root, op["value"]):
                raise failed
            return
        found = self.find(path)
        if found is None:
            raise _OpError(f"test operation does not apply: is missing path: {path}: {_MISSING}")
        try:
            actual = _get(*found)
        except _OpError as exc:
            raise _OpError(f"error in test for path: '{path}': {exc}") from None
        expected = op.get("value")
        if actual is None:
            if expected is not None:
                raise failed
        elif "value" not in op or not json_equal(actual, expected):
            raise failed

    def copy(self, op: dict[str, Any]) -> None:
        source = _pointer(op, "from", "copy operation failed to decode from: ")
        found = self.find(source)
        if found is None:
            raise _OpError(f"copy operation does not apply: doc is missing from path: {source}: {_MISSING}")
        try:
            value = _get(*found)
        except _OpError as exc:
            raise _OpError(f"error in copy for from: '{source}': {exc}") from None
        path = _pointer(op, "path", "copy operation failed to decode path: ", always_missing=True)
        target = self.find(path)
        if target is None:
            raise _OpError(
                f"copy operation does not apply: doc is missing destination path: {path}: {_MISSING}"
            )
        if value is not None:
            encoded = orjson.dumps(value)
            self.copied += len(encoded)
            if 0 < self.max_copy_bytes < self.copied:
                raise _OpError(
                    "Unable to complete the copy, the accumulated size increase of copy is "
                    f"{self.copied}, exceeding the limit {self.max_copy_bytes}"
                )
            value = orjson.loads(encoded)
        try:
            _add(*target, value)
        except _OpError as exc:
            raise _OpError(f"error while adding value during copy: {exc}") from None


def _pointer(op: dict[str, Any], name: str, context: str, *, always_missing: bool = False) -> str:
    """The JSON pointer in member `name` of `op`, or the library's error for a missing or non-string one."""
    value = op.get(name)
    if isinstance(value, str):
        return value
    if value is None or always_missing:
        cause = "operation missing path field" if name == "path" else "operation, missing from field"
        reason = _MISSING if always_missing else f"{cause}: {_MISSING}"
    else:
        reason = f"json: cannot unmarshal {json_kind(value)} into Go value of type string"
    raise _OpError(context + reason)


_HANDLERS = {
    "add": _Document.add,
    "remove": _Document.remove,
    "replace": _Document.replace,
    "move": _Document.move,
    "test": _Document.test,
    "copy": _Document.copy,
}

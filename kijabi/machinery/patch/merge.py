"""JSON Merge Patch (RFC 7386), as the apiserver applies it (`application/merge-patch+json`).

Upstream runs evanphx/json-patch v4 `MergePatch`; kijabi follows it:

* an object patch merges member by member; `null` removes a member (absent members stay absent);
* any other patch value replaces the target value;
* a value that is added (the target had no such member, or held null, or was not an object) has the
  nulls of its objects removed first, at any depth, also inside arrays; null array elements stay;
* when an object is replaced by an array, the array is taken as sent (the library skips the pruning);
* a `null` or scalar patch is refused with 400 `Invalid JSON Patch`; an array patch would replace the
  whole object, which no Kubernetes object can decode from: 422.
"""

from __future__ import annotations

from typing import Any

import orjson

from kijabi.machinery import errors
from kijabi.machinery.patch._common import JSONObject, clone


def merge_patch(doc: JSONObject, patch: Any) -> JSONObject:
    """Apply the merge patch `patch` (the decoded request body) to `doc`; return a new object.

    Neither argument is modified.
    """
    if isinstance(patch, dict):
        result: JSONObject = clone(doc)
        _merge_into(result, clone(patch))
        return result
    if isinstance(patch, list):
        replaced = clone(patch)
        _prune_nulls(replaced)
        text = orjson.dumps(replaced).decode()
        raise errors.invalid(
            "", "", "", [errors.invalid_value("patch", text, "the patched document must be a JSON object")]
        )
    raise errors.bad_request("Invalid JSON Patch")


def _merge_into(doc: JSONObject, patch: JSONObject) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        current = doc.get(key)
        if current is None:
            _prune_nulls(value)
            doc[key] = value
        elif not isinstance(current, dict):
            _prune_nulls(value)
            doc[key] = value
        elif isinstance(value, dict):
            _merge_into(current, value)
        else:
            doc[key] = value


def _prune_nulls(value: Any) -> None:
    """Drop null members of every object inside `value` (in place); null array elements are kept."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for v in value.values():
            _prune_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _prune_nulls(v)

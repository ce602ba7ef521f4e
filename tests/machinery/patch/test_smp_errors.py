"""Strategic merge patch: refused patches, their HTTP codes and their messages.

Upstream answers 400 for malformed directives, 422 (generic message) for lists of lists, and a bare 500
carrying the library's text for everything else; kijabi answers those with 422 and the same text.
"""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.errors import StatusError
from kijabi.machinery.patch import strategic_merge_patch
from kijabi.machinery.schema import Definitions, Schema

GENERIC_422 = "the server rejected our request due to an error in our request"

BAD_REQUESTS = [
    pytest.param(
        {},
        [{"a": 1}],
        "json: cannot unmarshal array into Go value of type map[string]interface {}",
        id="patch-is-a-list",
    ),
    pytest.param(
        {},
        "x",
        "json: cannot unmarshal string into Go value of type map[string]interface {}",
        id="patch-is-a-string",
    ),
    pytest.param(
        {"retainKeysMap": {"name": "a"}},
        {"retainKeysMap": {"$retainKeys": "name", "name": "b"}},
        "invalid patch format of retainKeys",
        id="retain-keys-not-a-list",
    ),
    pytest.param(
        {"retainKeysMap": {"name": "a"}},
        {"retainKeysMap": {"$retainKeys": ["name"], "name": "b", "value": "v"}},
        "invalid patch format of retainKeys",
        id="retain-keys-misses-a-patched-member",
    ),
    pytest.param(
        {"mergingIntList": [1]},
        {"$deleteFromPrimitiveList": [1]},
        "invalid patch format of primitive list",
        id="delete-from-primitive-list-without-field",
    ),
    pytest.param(
        {"mergingIntList": [1]},
        {"$deleteFromPrimitiveListX/mergingIntList": [1]},
        "invalid patch format of primitive list",
        id="delete-from-primitive-list-misspelled",
    ),
    pytest.param(
        {"mergingIntList": [1]},
        {"$setElementOrder": [1]},
        "invalid patch format of setElementOrder list",
        id="set-element-order-without-field",
    ),
]


@pytest.mark.parametrize(("live", "patch", "message"), BAD_REQUESTS)
def test_bad_request(live: dict[str, Any], patch: Any, message: str, merge_item: Schema) -> None:
    """Malformed patches and directives are 400 BadRequest with upstream's text."""
    with pytest.raises(StatusError) as caught:
        strategic_merge_patch(live, patch, merge_item)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


FAILURES = [
    pytest.param(
        {"mergingList": [{"name": "1", "value": "a"}]},
        {"mergingList": [{"value": "b"}]},
        "map: map[value:b] does not contain declared merge key: name",
        id="item-without-merge-key",
    ),
    pytest.param(
        {"mergingList": [{"name": "1"}]},
        {"mergingList": [{"$patch": "delete"}]},
        "map: map[$patch:delete] does not contain declared merge key: name",
        id="delete-item-without-merge-key",
    ),
    pytest.param(
        {"mergingList": [{"value": "no key"}]},
        {"mergingList": [{"name": "1"}]},
        "map: map[value:no key] does not contain declared merge key: name",
        id="live-item-without-merge-key",
    ),
    pytest.param(
        {"simpleMap": {"a": "1"}},
        {"simpleMap": {"$patch": "merge", "b": "2"}},
        "unknown patch type: merge in map: map[$patch:merge b:2]",
        id="merge-directive-in-map",
    ),
    pytest.param(
        {"simpleMap": {"a": "1"}},
        {"simpleMap": {"$patch": 5}},
        "unknown patch type: %!s(int64=5) in map: map[$patch:5]",
        id="non-string-directive-in-map",
    ),
    pytest.param(
        {"mergingList": [{"name": "1"}]},
        {"mergingList": [{"name": "1", "$patch": "merge"}]},
        "merging lists cannot yet be specified in the patch",
        id="merge-directive-in-list",
    ),
    pytest.param(
        {"mergingList": [{"name": "1"}]},
        {"mergingList": [{"name": "1", "$patch": "bogus"}]},
        "unknown patch type: bogus in map: map[$patch:bogus name:1]",
        id="unknown-directive-in-list",
    ),
    pytest.param(
        {"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]},
        {
            "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
            "mergingList": [{"name": 3, "value": "3"}, {"name": 1, "value": "1"}],
        },
        "The order in patch list:\n[map[name:3 value:3] map[name:1 value:1]]\n doesn't match $setElementOrder list:\n"
        "[map[name:1] map[name:2] map[name:3]]\n",
        id="patch-list-out-of-set-element-order",
    ),
    pytest.param(
        {"mergingIntList": [1, 3, 2]},
        {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]},
        "The order in patch list:\n[3 1]\n doesn't match $setElementOrder list:\n[1 2 3]\n",
        id="scalar-list-out-of-set-element-order",
    ),
    pytest.param(
        {"mergingIntList": [1]},
        {"$setElementOrder/mergingIntList": "1,2"},
        "expected a []interface {}, but received a string",
        id="set-element-order-not-a-list",
    ),
    pytest.param(
        {"mergingIntList": [1]},
        {"mergingIntList": ["a"]},
        "list element types are not identical: [[1] [a]]",
        id="mixed-element-types",
    ),
    pytest.param(
        {"nonMergingList": [{"name": "a"}]},
        {"$deleteFromPrimitiveList/nonMergingList": [{"name": "a"}]},
        "cannot merge lists without merge key for struct",
        id="delete-list-of-maps-without-merge-key",
    ),
]


@pytest.mark.parametrize(("live", "patch", "message"), FAILURES)
def test_unprocessable_with_library_text(
    live: dict[str, Any], patch: Any, message: str, merge_item: Schema
) -> None:
    """What upstream reports as a 500 with the library's text is a 422 Invalid with that same text."""
    with pytest.raises(StatusError) as caught:
        strategic_merge_patch(live, patch, merge_item)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (422, "Invalid", message)


def test_null_patch_changes_nothing(merge_item: Schema) -> None:
    """A JSON `null` body decodes to an empty patch upstream."""
    assert strategic_merge_patch({"name": "a"}, None, merge_item) == {"name": "a"}


def test_lists_of_lists_are_unprocessable(merge_item: Schema) -> None:
    """Lists of lists get upstream's generic 422; the explanation travels as the cause."""
    with pytest.raises(StatusError) as caught:
        strategic_merge_patch({"mergingIntList": [[1]]}, {"mergingIntList": [[2]]}, merge_item)
    body = caught.value.status()
    assert body["code"] == 422
    assert body["reason"] == "Invalid"
    assert body["message"] == GENERIC_422
    assert body["details"]["causes"] == [{"message": "lists of lists are not supported", "field": "patch"}]


def test_replaced_list_of_lists_is_fine(merge_item: Schema) -> None:
    """Lists without the merge strategy are replaced, whatever they hold."""
    assert strategic_merge_patch({"nonMergingIntList": [[1]]}, {"nonMergingIntList": [[2]]}, merge_item) == {
        "nonMergingIntList": [[2]]
    }


def test_error_leaves_inputs_untouched(merge_item: Schema) -> None:
    """A patch that fails half-way has not changed the caller's objects."""
    live = {"simpleMap": {"a": "1"}, "mergingList": [{"name": "1"}]}
    patch = {"simpleMap": {"a": None}, "mergingList": [{"value": "no key"}]}
    with pytest.raises(StatusError):
        strategic_merge_patch(live, patch, merge_item)
    assert live == {"simpleMap": {"a": "1"}, "mergingList": [{"name": "1"}]}
    assert patch == {"simpleMap": {"a": None}, "mergingList": [{"value": "no key"}]}


def test_conflicting_strategies_in_schema() -> None:
    """A field may combine `retainKeys` with one other strategy only."""
    defs = {
        "thing": {
            "type": "object",
            "properties": {
                "m": {"type": "object", "x-kubernetes-patch-strategy": "merge,replace", "properties": {}}
            },
        }
    }
    node = Definitions(defs).get("thing")
    with pytest.raises(StatusError) as caught:
        strategic_merge_patch({"m": {"a": 1}}, {"m": {"b": 2}}, node)
    assert (caught.value.code, caught.value.message) == (422, "unexpected patch strategy: [merge replace]")

"""Strategic merge patch: cases ported from apimachinery's strategicpatch tests.

Each upstream case gives an object, a patch computed by the client, and the object the server must
produce. They run against a schema equivalent to upstream's test type (see `conftest.merge_item`):
`mergingList`/`mergeItemPtr`/`retainKeysMergingList` are lists keyed by `name`, `mergingIntList` is a
merged scalar list, `nonMerging*` lists are replaced, `retainKeysMap` carries the retainKeys strategy,
`replacingItem` has the replace strategy and `jsonItem` is untyped.

Results are compared exactly, list order included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from kijabi.machinery.patch import strategic_merge_patch
from kijabi.machinery.schema import Schema


def n(name: Any, **fields: Any) -> dict[str, Any]:
    """A list item keyed by `name`."""
    return {"name": name, **fields}


def deleted(name: Any) -> dict[str, Any]:
    return {"name": name, "$patch": "delete"}


ORDER = "$setElementOrder/mergingList"
INT_ORDER = "$setElementOrder/mergingIntList"
DROP_INTS = "$deleteFromPrimitiveList/mergingIntList"


@dataclass(frozen=True)
class Case:
    id: str
    live: dict[str, Any]
    patch: dict[str, Any]
    want: dict[str, Any]


SCALAR_LISTS = [
    Case(
        "union-keeps-unique-values",
        {"mergingIntList": [1, 2]},
        {"mergingIntList": [2, 3]},
        {"mergingIntList": [1, 2, 3]},
    ),
    Case(
        "delete-from-primitive-list-with-order",
        {"mergingIntList": [1, 2, 3, 4]},
        {INT_ORDER: [1, 2], DROP_INTS: [3]},
        {"mergingIntList": [1, 2, 4]},
    ),
    Case(
        "delete-from-primitive-list-removes-duplicates",
        {"mergingIntList": [1, 2, 3, 3, 4]},
        {INT_ORDER: [1, 2], DROP_INTS: [3]},
        {"mergingIntList": [1, 2, 4]},
    ),
    Case(
        "add-and-delete-scalars",
        {"mergingIntList": [1, 2, 3]},
        {INT_ORDER: [1, 2, 4], DROP_INTS: [3], "mergingIntList": [4]},
        {"mergingIntList": [1, 2, 4]},
    ),
    Case(
        "add-scalar-keeps-live-only-item",
        {"mergingIntList": [1, 2, 4]},
        {INT_ORDER: [1, 2, 3], "mergingIntList": [3]},
        {"mergingIntList": [1, 2, 3, 4]},
    ),
    Case(
        "delete-missing-scalar-adds-nothing",
        {"mergingIntList": [1, 2]},
        {DROP_INTS: [3]},
        {"mergingIntList": [1, 2]},
    ),
    Case(
        "delete-from-null-list-keeps-null",
        {"mergingIntList": None},
        {DROP_INTS: [3]},
        {"mergingIntList": None},
    ),
    Case(
        "delete-from-absent-list-creates-nothing",
        {"foo": ["bar"]},
        {DROP_INTS: [3]},
        {"foo": ["bar"]},
    ),
    Case(
        "delete-from-list-without-merge-strategy",
        {"nonMergingIntList": [1, 2, 3]},
        {"$deleteFromPrimitiveList/nonMergingIntList": [2]},
        {"nonMergingIntList": [1, 3]},
    ),
    Case(
        "non-merging-scalar-list-is-replaced",
        {"nonMergingIntList": [1, 2]},
        {"nonMergingIntList": [3]},
        {"nonMergingIntList": [3]},
    ),
]

KEYED_LISTS = [
    Case(
        "add-items-in-set-element-order",
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b")]},
        {ORDER: [n(4), n(1), n(2), n(3)], "mergingList": [n(4, value=4), n(3, value=3)]},
        {"mergingList": [n(4, value=4), n(1, other="a"), n(2, value=2, other="b"), n(3, value=3)]},
    ),
    Case(
        "merge-existing-item-keeps-other-fields",
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b")]},
        {ORDER: [n(1), n(2)], "mergingList": [n(1, value=1)]},
        {"mergingList": [n(1, value=1, other="a"), n(2, value=2, other="b")]},
    ),
    Case(
        "item-missing-from-live-is-added-back",
        {"mergingList": [n(1, other="a"), n(3, value=2, other="b")]},
        {ORDER: [n(1), n(2)], "mergingList": [n(1, value=1), n(2, value=2)]},
        {"mergingList": [n(1, value=1, other="a"), n(2, value=2), n(3, value=2, other="b")]},
    ),
    Case(
        "replace-value-in-item",
        {"mergingList": [n(1, value=1, other="a"), n(2, value=2, other="b")]},
        {ORDER: [n(1), n(2)], "mergingList": [n(1, value="a")]},
        {"mergingList": [n(1, value="a", other="a"), n(2, value=2, other="b")]},
    ),
    Case(
        "delete-item",
        {"mergingList": [n(1), n(2, other="b")]},
        {ORDER: [n(2)], "mergingList": [deleted(1)]},
        {"mergingList": [n(2, other="b")]},
    ),
    Case(
        "delete-missing-item-is-a-no-op",
        {"mergingList": [n(2, other="b")]},
        {ORDER: [n(2)], "mergingList": [deleted(1)]},
        {"mergingList": [n(2, other="b")]},
    ),
    Case(
        "delete-missing-item-and-add-another",
        {"mergingList": [n(3, other="a")]},
        {ORDER: [n(2)], "mergingList": [n(2), deleted(1)]},
        {"mergingList": [n(2), n(3, other="a")]},
    ),
    Case(
        # Upstream's live list is shifted in place by the deletion and the new item lands in the freed
        # slot, so item 3 counts as coming after the live-only item 4.
        "add-and-delete-keeps-live-only-item-before-new-one",
        {"mergingList": [n(1), n(2, other="b"), n(4, other="c")]},
        {ORDER: [n(2), n(3)], "mergingList": [n(3), deleted(1)]},
        {"mergingList": [n(2, other="b"), n(4, other="c"), n(3)]},
    ),
    Case(
        "add-two-and-delete-one-next-to-live-only-item",
        {"mergingList": [n(1, other="a"), n(4, other="c")]},
        {ORDER: [n(2), n(3)], "mergingList": [n(2), n(3), deleted(1)]},
        {"mergingList": [n(4, other="c"), n(2), n(3)]},
    ),
    Case(
        "delete-all-duplicates",
        {"mergingList": [n(1), n(1), n(2, value="a"), n(3), n(3)]},
        {"mergingList": [deleted(1), deleted(3)]},
        {"mergingList": [n(2, value="a")]},
    ),
    Case(
        "null-removes-field-of-item",
        {"mergingList": [n(1, value="a", other="a"), n(2, value=2)]},
        {ORDER: [n(1), n(2)], "mergingList": [n(1, value=None)]},
        {"mergingList": [n(1, other="a"), n(2, value=2)]},
    ),
    Case(
        "null-for-missing-field-of-item",
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b")]},
        {ORDER: [n(1), n(2)], "mergingList": [n(1, value=None)]},
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b")]},
    ),
    Case(
        "replace-directive-empties-list",
        {"mergingList": [n(1), n(2)]},
        {"mergingList": [{"$patch": "replace"}]},
        {"mergingList": []},
    ),
    Case(
        "replace-directive-keeps-only-patch-items",
        {"mergingList": [n(1, value="x"), n(2)]},
        {"mergingList": [n(3), {"$patch": "replace"}, n(1)]},
        {"mergingList": [n(3), n(1)]},
    ),
    Case("empty-lists-stay-empty", {"mergingList": []}, {"mergingList": []}, {"mergingList": []}),
    Case(
        "new-list-drops-delete-directives",
        {"name": "hi"},
        {"mergingList": [n("hello"), deleted("doesntexist")]},
        {"name": "hi", "mergingList": [n("hello")]},
    ),
    Case(
        "order-names-missing-item",
        {"name": "hi", "mergingList": [n("hello2")]},
        {ORDER: [n("hello"), n("doesntexist")], "mergingList": [n("hello")]},
        {"name": "hi", "mergingList": [n("hello"), n("hello2")]},
    ),
]

NESTED_LISTS = [
    Case(
        "non-merging-list-inside-item-is-replaced",
        {"mergingList": [n(1, other="a", nonMergingList=[n(1, value="c")]), n(2, other="b")]},
        {ORDER: [n(1), n(2)], "mergingList": [n(1, nonMergingList=[n(1, value=1)])]},
        {"mergingList": [n(1, other="a", nonMergingList=[n(1, value=1)]), n(2, other="b")]},
    ),
    Case(
        "merging-list-inside-item-is-merged",
        {
            "mergingList": [
                n(1, other="a", mergingList=[n(1, value="a", other="c"), n(2, value="b", other="d")]),
                n(2),
            ]
        },
        {
            ORDER: [n(1), n(2)],
            "mergingList": [{ORDER: [n(1), n(2)], "name": 1, "mergingList": [n(1, value=1), n(2, value=2)]}],
        },
        {
            "mergingList": [
                n(1, other="a", mergingList=[n(1, value=1, other="c"), n(2, value=2, other="d")]),
                n(2),
            ]
        },
    ),
    Case(
        "nested-order-puts-new-item-last",
        {"mergingList": [n(1, other="a", mergingList=[n(2, value=2, other="d")]), n(2, other="b")]},
        {
            ORDER: [n(1), n(2)],
            "mergingList": [{ORDER: [n(2), n(1)], "name": 1, "mergingList": [n(1, value=1)]}],
        },
        {
            "mergingList": [
                n(1, other="a", mergingList=[n(2, value=2, other="d"), n(1, value=1)]),
                n(2, other="b"),
            ]
        },
    ),
    Case(
        "pointer-field-used-as-keyed-list",
        {"mergeItemPtr": [n(1, other="a"), n(3)]},
        {"$setElementOrder/mergeItemPtr": [n(1), n(2)], "mergeItemPtr": [n(2)]},
        {"mergeItemPtr": [n(1, other="a"), n(2), n(3)]},
    ),
    Case(
        "pointer-keyed-list-nested",
        {
            "mergeItemPtr": [
                n(1, other="a", mergeItemPtr=[n(1, other="a"), n(2, value=2, other="b")]),
                n(2, other="b"),
            ]
        },
        {
            "$setElementOrder/mergeItemPtr": [n(1), n(2)],
            "mergeItemPtr": [
                {"$setElementOrder/mergeItemPtr": [n(1), n(2)], "name": 1, "mergeItemPtr": [n(1, value=1)]}
            ],
        },
        {
            "mergeItemPtr": [
                n(1, other="a", mergeItemPtr=[n(1, value=1, other="a"), n(2, value=2, other="b")]),
                n(2, other="b"),
            ]
        },
    ),
    Case(
        "two-lists-ordered-in-one-patch",
        {
            "mergingList": [n("a", value="a"), n("b", value="b")],
            "mergeItemPtr": [n("c", value="c"), n("d", value="d")],
        },
        {
            ORDER: [n("b")],
            "$setElementOrder/mergeItemPtr": [n("d"), n("c")],
            "mergingList": [{"$patch": "delete", "name": "a"}],
        },
        {"mergingList": [n("b", value="b")], "mergeItemPtr": [n("d", value="d"), n("c", value="c")]},
    ),
]

ORDERING = [
    Case(
        "patch-order-wins-over-live-order",
        {"mergingList": [n(1), n(2, value="b"), n(3)]},
        {"mergingList": [n(3, value="c"), n(1, value="a"), n(2, other="x")]},
        {"mergingList": [n(3, value="c"), n(1, value="a"), n(2, value="b", other="x")]},
    ),
    Case(
        "unnamed-live-item-comes-first-when-earlier",
        {"mergingList": [n(1), n(2, value="b"), n(3)]},
        {"mergingList": [n(3, value="c"), n(1, value="a")]},
        {"mergingList": [n(2, value="b"), n(3, value="c"), n(1, value="a")]},
    ),
    Case(
        "int-list-takes-patch-order",
        {"mergingIntList": [1, 2, 3]},
        {"mergingIntList": [3, 1, 2]},
        {"mergingIntList": [3, 1, 2]},
    ),
    Case(
        "int-list-partial-patch-order",
        {"mergingIntList": [1, 2, 3]},
        {"mergingIntList": [3, 1]},
        {"mergingIntList": [2, 3, 1]},
    ),
    Case(
        "new-scalar-goes-before-later-live-only-scalar",
        {"mergingIntList": [1, 4, 2]},
        {INT_ORDER: [3, 1, 2], "mergingIntList": [3]},
        {"mergingIntList": [3, 1, 4, 2]},
    ),
    Case(
        "delete-scalar-and-reorder",
        {"mergingIntList": [1, 2, 3]},
        {INT_ORDER: [2, 1], DROP_INTS: [3]},
        {"mergingIntList": [2, 1]},
    ),
    Case(
        "add-scalars-in-the-middle",
        {"mergingIntList": [1, 2]},
        {INT_ORDER: [1, 4, 2, 3], "mergingIntList": [4, 3]},
        {"mergingIntList": [1, 4, 2, 3]},
    ),
    Case(
        "add-delete-and-reorder-scalars",
        {"mergingIntList": [1, 2, 3]},
        {INT_ORDER: [4, 2, 1], "mergingIntList": [4], DROP_INTS: [3]},
        {"mergingIntList": [4, 2, 1]},
    ),
    Case(
        "add-item-at-front",
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b")]},
        {ORDER: [n(3), n(1), n(2)], "mergingList": [n(3, value=3)]},
        {"mergingList": [n(3, value=3), n(1, other="a"), n(2, value=2, other="b")]},
    ),
    Case(
        "add-items-between-live-items",
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b")]},
        {ORDER: [n(1), n(4), n(2), n(3)], "mergingList": [n(4, value=4), n(3, value=3)]},
        {"mergingList": [n(1, other="a"), n(4, value=4), n(2, value=2, other="b"), n(3, value=3)]},
    ),
    Case(
        "delete-item-and-reorder",
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b"), n(3, value=3)]},
        {ORDER: [n(2), n(1)], "mergingList": [deleted(3)]},
        {"mergingList": [n(2, value=2, other="b"), n(1, other="a")]},
    ),
    Case(
        "change-item-and-reorder",
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b"), n(3, value=3)]},
        {ORDER: [n(2), n(3), n(1)], "mergingList": [n(3, value="x")]},
        {"mergingList": [n(2, value=2, other="b"), n(3, value="x"), n(1, other="a")]},
    ),
    Case(
        "add-delete-and-reorder-items",
        {"mergingList": [n(1, other="a"), n(2, value=2, other="b"), n(3, value=3)]},
        {ORDER: [n(4), n(2), n(1)], "mergingList": [n(4, value=4), deleted(3)]},
        {"mergingList": [n(4, value=4), n(2, value=2, other="b"), n(1, other="a")]},
    ),
    Case(
        "order-only-reorders-live-items",
        {"mergingList": [n(1, other="a"), n(3, value=3), n(4, value=4), n(2, value=2)]},
        {ORDER: [n(4), n(2), n(3), n(1)]},
        {"mergingList": [n(4, value=4), n(2, value=2), n(3, value=3), n(1, other="a")]},
    ),
    Case(
        "order-leaves-trailing-live-only-item-last",
        {"mergingList": [n(1, other="a"), n(3, value=3), n(4, value=4), n(2, value=2), n(9)]},
        {ORDER: [n(4), n(2), n(3), n(1)]},
        {"mergingList": [n(4, value=4), n(2, value=2), n(3, value=3), n(1, other="a"), n(9)]},
    ),
    Case(
        "order-keeps-live-only-item-in-place",
        {"mergingList": [n(1, other="a"), n(2, value=2), n(9), n(3, value=3), n(4, value=4)]},
        {ORDER: [n(2), n(1), n(4), n(3)]},
        {"mergingList": [n(2, value=2), n(1, other="a"), n(9), n(4, value=4), n(3, value=3)]},
    ),
    Case(
        "order-keeps-run-of-live-only-items",
        {"mergingList": [n(1, other="a"), n(2, value=2), n(7), n(9), n(8), n(3, value=3), n(4, value=4)]},
        {ORDER: [n(2), n(1), n(4), n(3)]},
        {"mergingList": [n(2, value=2), n(1, other="a"), n(7), n(9), n(8), n(4, value=4), n(3, value=3)]},
    ),
    Case(
        "order-scalars-with-live-only-value",
        {"mergingIntList": [1, 2, 9, 3, 4]},
        {INT_ORDER: [2, 1, 4, 3]},
        {"mergingIntList": [2, 1, 9, 4, 3]},
    ),
    Case(
        "order-names-item-absent-from-list",
        {"mergingList": [n(1), n(3)]},
        {ORDER: [n(3), n(2), n(1)], "mergingList": [n(3, value=3), n(1, value=1)]},
        {"mergingList": [n(3, value=3), n(1, value=1)]},
    ),
    Case(
        "order-names-scalar-absent-from-list",
        {"mergingIntList": [1, 3]},
        {INT_ORDER: [3, 2, 1]},
        {"mergingIntList": [3, 1]},
    ),
    Case(
        "order-with-duplicate-keys-groups-them",
        {"mergingList": [n(1), n(2, value="dup1"), n(3), n(2, value="dup2"), n(4)]},
        {ORDER: [n(2), n(1), n(4), n(3), n(2)]},
        {"mergingList": [n(2, value="dup1"), n(2, value="dup2"), n(1), n(4), n(3)]},
    ),
    Case(
        "order-with-duplicate-scalars-groups-them",
        {"mergingIntList": [1, 2, 3, 2, 4]},
        {INT_ORDER: [2, 1, 4, 3, 2]},
        {"mergingIntList": [2, 2, 1, 4, 3]},
    ),
]

RETAIN_KEYS = [
    Case(
        "clears-defaulted-field",
        {"retainKeysMap": {"value": "foo"}},
        {"retainKeysMap": {"$retainKeys": ["other"], "other": "bar"}},
        {"retainKeysMap": {"other": "bar"}},
    ),
    Case(
        "switches-union-member",
        {"retainKeysMap": {"name": "type1", "value": "foo"}},
        {"retainKeysMap": {"$retainKeys": ["name", "other"], "name": "type2", "other": "bar"}},
        {"retainKeysMap": {"name": "type2", "other": "bar"}},
    ),
    Case(
        "adds-field-and-clears-unlisted",
        {"retainKeysMap": {"name": "foo", "other": "a"}},
        {"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "bar"}},
        {"retainKeysMap": {"name": "foo", "value": "bar"}},
    ),
    Case(
        "null-field-need-not-be-listed",
        {"retainKeysMap": {"name": "foo", "value": "bar", "other": "a"}},
        {"retainKeysMap": {"$retainKeys": ["name"], "value": None}},
        {"retainKeysMap": {"name": "foo"}},
    ),
    Case(
        "directive-alone-clears-fields",
        {"retainKeysMap": {"name": "foo", "value": "bar", "other": "a"}},
        {"retainKeysMap": {"$retainKeys": ["name", "value"]}},
        {"retainKeysMap": {"name": "foo", "value": "bar"}},
    ),
    Case(
        "nested-map-still-merges",
        {"retainKeysMap": {"name": "foo", "value": "bar", "simpleMap": {"key1": "a", "key3": "c"}}},
        {"retainKeysMap": {"$retainKeys": ["name", "simpleMap", "value"], "simpleMap": {"key2": "b"}}},
        {
            "retainKeysMap": {
                "name": "foo",
                "value": "bar",
                "simpleMap": {"key1": "a", "key2": "b", "key3": "c"},
            }
        },
    ),
    Case(
        "nested-map-null-deletes-key",
        {"retainKeysMap": {"name": "foo", "simpleMap": {"key1": "a", "key2": "b", "key3": "c"}}},
        {"retainKeysMap": {"$retainKeys": ["name", "simpleMap"], "simpleMap": {"key2": None}}},
        {"retainKeysMap": {"name": "foo", "simpleMap": {"key1": "a", "key3": "c"}}},
    ),
    Case(
        "replaces-non-merging-list",
        {"retainKeysMap": {"name": "foo", "nonMergingList": [n("a"), n("b"), n("c")]}},
        {
            "retainKeysMap": {
                "$retainKeys": ["name", "nonMergingList", "value"],
                "value": "bar",
                "nonMergingList": [n("a"), n("b")],
            }
        },
        {"retainKeysMap": {"name": "foo", "value": "bar", "nonMergingList": [n("a"), n("b")]}},
    ),
    Case(
        "unlisted-list-is-dropped",
        {"retainKeysMap": {"name": "foo", "nonMergingList": [n("a"), n("b"), n("c")]}},
        {"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "bar", "nonMergingList": None}},
        {"retainKeysMap": {"name": "foo", "value": "bar"}},
    ),
    Case(
        "order-of-listed-int-list",
        {"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2, 3]}},
        {
            "retainKeysMap": {
                "$retainKeys": ["mergingIntList", "name", "value"],
                INT_ORDER: [1, 2],
                "value": "bar",
            }
        },
        {"retainKeysMap": {"name": "foo", "value": "bar", "mergingIntList": [1, 2, 3]}},
    ),
    Case(
        "add-to-listed-int-list",
        {"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2, 3]}},
        {
            "retainKeysMap": {
                INT_ORDER: [1, 2, 4],
                "$retainKeys": ["mergingIntList", "name"],
                "mergingIntList": [4],
            }
        },
        {"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2, 4, 3]}},
    ),
    Case(
        "add-and-delete-in-listed-int-list",
        {"retainKeysMap": {"name": "foo", "mergingIntList": [1, 2, 3, 4]}},
        {
            "retainKeysMap": {
                "$retainKeys": ["mergingIntList", "name"],
                "mergingIntList": [5],
                DROP_INTS: [2],
                INT_ORDER: [1, 3, 5],
            }
        },
        {"retainKeysMap": {"name": "foo", "mergingIntList": [1, 3, 5, 4]}},
    ),
    Case(
        "add-to-listed-keyed-list",
        {"retainKeysMap": {"name": "foo", "mergingList": [n("a"), n("b"), n("x")]}},
        {
            "retainKeysMap": {
                "$retainKeys": ["mergingList", "name"],
                ORDER: [n("a"), n("b"), n("c")],
                "mergingList": [n("c")],
            }
        },
        {"retainKeysMap": {"name": "foo", "mergingList": [n("a"), n("b"), n("c"), n("x")]}},
    ),
    Case(
        "delete-from-listed-keyed-list",
        {"retainKeysMap": {"name": "foo", "mergingList": [n("a"), n("b"), n("x")]}},
        {
            "retainKeysMap": {
                "$retainKeys": ["mergingList", "name"],
                ORDER: [n("a")],
                "mergingList": [deleted("b")],
            }
        },
        {"retainKeysMap": {"name": "foo", "mergingList": [n("a"), n("x")]}},
    ),
    Case(
        "without-directive-map-merges-normally",
        {"retainKeysMap": {"name": "foo", "value": "a"}},
        {"retainKeysMap": {"value": None}},
        {"retainKeysMap": {"name": "foo"}},
    ),
    Case(
        "list-item-clears-unlisted-field",
        {"retainKeysMergingList": [n("bar"), n("foo", value="a", other="x")]},
        {
            "$setElementOrder/retainKeysMergingList": [n("bar"), n("foo")],
            "retainKeysMergingList": [{"$retainKeys": ["name", "value"], "name": "foo"}],
        },
        {"retainKeysMergingList": [n("bar"), n("foo", value="a")]},
    ),
    Case(
        "list-item-changes-and-clears",
        {"retainKeysMergingList": [n("bar"), n("foo", value="old", other="x")]},
        {
            "$setElementOrder/retainKeysMergingList": [n("bar"), n("foo")],
            "retainKeysMergingList": [{"$retainKeys": ["name", "value"], "name": "foo", "value": "new"}],
        },
        {"retainKeysMergingList": [n("bar"), n("foo", value="new")]},
    ),
    Case(
        "list-item-deletes-field",
        {"retainKeysMergingList": [n("bar"), n("foo", value="a", other="x")]},
        {
            "$setElementOrder/retainKeysMergingList": [n("bar"), n("foo")],
            "retainKeysMergingList": [{"$retainKeys": ["name"], "name": "foo", "value": None}],
        },
        {"retainKeysMergingList": [n("bar"), n("foo")]},
    ),
    Case(
        "list-without-directive-merges-normally",
        {"retainKeysMergingList": [n("bar"), n("foo", value="a")]},
        {"retainKeysMergingList": [n("foo", value=None)]},
        {"retainKeysMergingList": [n("bar"), n("foo")]},
    ),
]

MAPS = [
    Case(
        "delete-directive-leaves-empty-map",
        {"simpleMap": {"key1": "1", "key2": "1"}},
        {"simpleMap": {"$patch": "delete"}},
        {"simpleMap": {}},
    ),
    Case("replace-directive-at-top-level", {"name": "1", "value": "1"}, {"$patch": "replace"}, {}),
    Case(
        "replace-directive-keeps-patch-members",
        {"name": "1", "value": "1"},
        {"other": "a", "$patch": "replace"},
        {"other": "a"},
    ),
    Case(
        "replace-strategy-field-is-replaced-whole",
        {"name": "o", "replacingItem": {"Some": "Generic", "Yaml": "Inside", "Field": "Period"}},
        {"replacingItem": {"Newly": "Modified", "Yaml": "Inside"}},
        {"name": "o", "replacingItem": {"Newly": "Modified", "Yaml": "Inside"}},
    ),
    Case(
        "replace-strategy-next-to-merged-list",
        {"mergingList": [n(1), n(3)], "replacingItem": {"Some": "Generic"}},
        {ORDER: [n(1), n(2)], "mergingList": [n(2)], "replacingItem": {"Newly": "Modified"}},
        {"mergingList": [n(1), n(2), n(3)], "replacingItem": {"Newly": "Modified"}},
    ),
]

UNKNOWN_FIELDS = [
    Case(
        "null-inside-new-unknown-map-is-dropped",
        {"name": "foo"},
        {"complex_nullable": {"key": {"keynotnull": "value", "keynull": None}}},
        {"name": "foo", "complex_nullable": {"key": {"keynotnull": "value"}}},
    ),
    Case("all-null-new-map-stays-empty", {}, {"complex": {"nested": None}}, {"complex": {}}),
    Case(
        "existing-null-members-are-kept",
        {"thing": None},
        {"nested": {"value": 5}},
        {"nested": {"value": 5}, "thing": None},
    ),
    Case(
        "new-empty-list-is-kept",
        {"name": "foo"},
        {"complex_nullable": []},
        {"name": "foo", "complex_nullable": []},
    ),
    Case(
        "nulls-in-maps-inside-new-lists-are-dropped",
        {},
        {"complex_nullable": [{"inner_one": {"key_one": "foo", "key_two": None}}]},
        {"complex_nullable": [{"inner_one": {"key_one": "foo"}}]},
    ),
    Case(
        "null-list-elements-are-kept",
        {},
        {"complex_nullable": ["key1", None, "key2"]},
        {"complex_nullable": ["key1", None, "key2"]},
    ),
    Case(
        "null-removes-unknown-members",
        {"name": "foo", "scalar": True, "complex": {"nested": True}, "array": [1, 2, 3]},
        {"complex": None, "scalar": None},
        {"name": "foo", "array": [1, 2, 3]},
    ),
    Case(
        # Upstream's Go-struct lookup fails here; kijabi merges untyped values like JSON merge patch.
        "untyped-json-field-merges-deeply",
        {"name": "foo", "jsonItem": {"nested": {"nested2": {"nested3": {}}}}},
        {"jsonItem": {"nested": {"nested2": {"nested3": {"a": "b"}}}}},
        {"name": "foo", "jsonItem": {"nested": {"nested2": {"nested3": {"a": "b"}}}}},
    ),
    Case(
        "unknown-member-map-merges",
        {"complex": {"nested": True, "keep": 1}},
        {"complex": {"nested": False}},
        {"complex": {"nested": False, "keep": 1}},
    ),
]


def _params(group: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in group]


def _check(case: Case, schema: Schema) -> None:
    # dict equality ignores the order of members but not the order of list items
    assert strategic_merge_patch(case.live, case.patch, schema) == case.want


@pytest.mark.parametrize("case", _params(SCALAR_LISTS))
def test_scalar_lists(case: Case, merge_item: Schema) -> None:
    """Merged scalar lists form a union; `$deleteFromPrimitiveList` removes values and never creates a list."""
    _check(case, merge_item)


@pytest.mark.parametrize("case", _params(KEYED_LISTS))
def test_keyed_lists(case: Case, merge_item: Schema) -> None:
    """Lists with a merge key merge item by item; `$patch: delete|replace` items act on the live list."""
    _check(case, merge_item)


@pytest.mark.parametrize("case", _params(NESTED_LISTS))
def test_nested_lists(case: Case, merge_item: Schema) -> None:
    """Strategies apply at every depth, including a pointer field that holds a keyed list."""
    _check(case, merge_item)


@pytest.mark.parametrize("case", _params(ORDERING))
def test_element_order(case: Case, merge_item: Schema) -> None:
    """`$setElementOrder` beats patch order beats live order; live-only items keep their place."""
    _check(case, merge_item)


@pytest.mark.parametrize("case", _params(RETAIN_KEYS))
def test_retain_keys(case: Case, merge_item: Schema) -> None:
    """`$retainKeys` drops the live members it does not name, after which the patch merges as usual."""
    _check(case, merge_item)


@pytest.mark.parametrize("case", _params(MAPS))
def test_map_directives_and_replace_strategy(case: Case, merge_item: Schema) -> None:
    """`$patch: delete|replace` in objects, and fields whose strategy is `replace`."""
    _check(case, merge_item)


@pytest.mark.parametrize("case", _params(UNKNOWN_FIELDS))
def test_members_without_schema(case: Case, merge_item: Schema) -> None:
    """Members the schema does not describe merge like JSON merge patch; nulls in new values are dropped."""
    _check(case, merge_item)

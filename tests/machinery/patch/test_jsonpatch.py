"""JSON Patch (RFC 6902) as the apiserver applies it.

The RFC's Appendix A examples (A.13, a document with a duplicate member, is a parsing matter and cannot
be expressed once the body is decoded), then the behaviours of evanphx/json-patch v4 that the apiserver
exposes, then errors and their HTTP codes.
"""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.errors import StatusError
from kijabi.machinery.patch import json_patch

GENERIC_422 = "the server rejected our request due to an error in our request"

RFC6902_APPENDIX_A = [
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"baz": "qux", "foo": "bar"},
        id="A.1-add-member",
    ),
    pytest.param(
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
        id="A.2-add-element",
    ),
    pytest.param(
        {"baz": "qux", "foo": "bar"},
        [{"op": "remove", "path": "/baz"}],
        {"foo": "bar"},
        id="A.3-remove-member",
    ),
    pytest.param(
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
        id="A.4-remove-element",
    ),
    pytest.param(
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
        id="A.5-replace",
    ),
    pytest.param(
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        id="A.6-move-member",
    ),
    pytest.param(
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
        id="A.7-move-element",
    ),
    pytest.param(
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
        id="A.8-test-success",
    ),
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
        id="A.10-add-nested-object",
    ),
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
        id="A.11-unrecognized-members-ignored",
    ),
    pytest.param(
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}],
        {"/": 9, "~1": 10},
        id="A.14-escape-ordering",
    ),
    pytest.param(
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
        id="A.16-add-array-value",
    ),
]


@pytest.mark.parametrize(("doc", "ops", "want"), RFC6902_APPENDIX_A)
def test_rfc6902_appendix_a(doc: dict[str, Any], ops: list[Any], want: dict[str, Any]) -> None:
    """The RFC's worked examples that succeed."""
    assert json_patch(doc, ops) == want


RFC6902_APPENDIX_A_ERRORS = [
    pytest.param(
        {"baz": "qux"},
        [{"op": "test", "path": "/baz", "value": "bar"}],
        "testing value /baz failed: test failed",
        id="A.9-test-error",
    ),
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/baz/bat", "value": "qux"}],
        'add operation does not apply: doc is missing path: "/baz/bat": missing value',
        id="A.12-add-to-nonexistent-target",
    ),
    pytest.param(
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": "10"}],
        "testing value /~01 failed: test failed",
        id="A.15-string-is-not-number",
    ),
]


@pytest.mark.parametrize(("doc", "ops", "cause"), RFC6902_APPENDIX_A_ERRORS)
def test_rfc6902_appendix_a_errors(doc: dict[str, Any], ops: list[Any], cause: str) -> None:
    """The RFC's failing examples: upstream answers 422 with a generic message; the cause says why."""
    with pytest.raises(StatusError) as caught:
        json_patch(doc, ops)
    body = caught.value.status()
    assert (body["code"], body["reason"], body["message"]) == (422, "Invalid", GENERIC_422)
    assert body["details"]["causes"] == [{"message": cause, "field": "patch"}]


LIBRARY_BEHAVIOUR = [
    pytest.param(
        {"metadata": {"labels": {"a": "1"}}},
        [{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "web"}],
        {"metadata": {"labels": {"a": "1", "app.kubernetes.io/name": "web"}}},
        id="escaped-slash-in-label-key",
    ),
    pytest.param({"a": 1}, [{"op": "add", "path": "/a", "value": 2}], {"a": 2}, id="add-overwrites-member"),
    pytest.param(
        {"a": [1, 2]},
        [{"op": "add", "path": "/a/2", "value": 3}],
        {"a": [1, 2, 3]},
        id="add-at-length-appends",
    ),
    pytest.param(
        {"a": [1, 2]},
        [{"op": "add", "path": "/a/-1", "value": 9}],
        {"a": [1, 2, 9]},
        id="add-negative-index-counts-new-length",
    ),
    pytest.param(
        {"a": [1, 2]},
        [{"op": "add", "path": "/a/-3", "value": 9}],
        {"a": [9, 1, 2]},
        id="add-most-negative-index-prepends",
    ),
    pytest.param(
        {"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/-1"}], {"a": [1, 2]}, id="remove-negative-index"
    ),
    pytest.param(
        {"a": [1, 2, 3]},
        [{"op": "replace", "path": "/a/-1", "value": 0}],
        {"a": [1, 2, 0]},
        id="replace-negative-index",
    ),
    pytest.param({"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/+1"}], {"a": [1, 3]}, id="signed-index"),
    pytest.param(
        {"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/01"}], {"a": [1, 3]}, id="leading-zero-index"
    ),
    pytest.param(
        {"a": [{"b": 1}]},
        [{"op": "replace", "path": "/a/-1/b", "value": 2}],
        {"a": [{"b": 2}]},
        id="negative-index-inside-path",
    ),
    pytest.param(
        {"a": 1},
        [{"op": "replace", "path": "/b", "value": 2}],
        {"a": 1, "b": 2},
        id="replace-missing-member-adds-it",
    ),
    pytest.param({"a": 1}, [{"op": "add", "path": "/b"}], {"a": 1, "b": None}, id="missing-value-means-null"),
    pytest.param(
        {"a": 1},
        [{"op": "copy", "from": "/missing", "path": "/b"}],
        {"a": 1, "b": None},
        id="copy-from-missing-member-copies-null",
    ),
    pytest.param(
        {"a": None},
        [{"op": "test", "path": "/b", "value": None}],
        {"a": None},
        id="test-missing-member-against-null",
    ),
    pytest.param(
        {"a": None}, [{"op": "test", "path": "/a"}], {"a": None}, id="test-null-member-without-value"
    ),
    pytest.param(
        {"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}, id="test-int-equals-float"
    ),
    pytest.param(
        {"a": {"x": [1, {"y": 2}]}},
        [{"op": "test", "path": "/a", "value": {"x": [1, {"y": 2}]}}],
        {"a": {"x": [1, {"y": 2}]}},
        id="test-deep-equality",
    ),
    pytest.param(
        {"a": 1}, [{"op": "test", "path": "", "value": {"a": 1}}], {"a": 1}, id="test-whole-document"
    ),
    pytest.param(
        {"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}, id="replace-whole-document"
    ),
    pytest.param({"": 1}, [{"op": "replace", "path": "/", "value": 2}], {"": 2}, id="empty-member-name"),
    pytest.param(
        {"a": [1, 2, 3, 4]},
        [{"op": "move", "from": "/a/0", "path": "/a/-"}],
        {"a": [2, 3, 4, 1]},
        id="move-element-to-end",
    ),
    pytest.param(
        {"a": {"b": [1]}},
        [{"op": "copy", "from": "/a", "path": "/c"}, {"op": "add", "path": "/c/b/-", "value": 2}],
        {"a": {"b": [1]}, "c": {"b": [1, 2]}},
        id="copy-is-deep",
    ),
    pytest.param(
        {"a": 1},
        [
            {"op": "add", "path": "/b", "value": {"x": 1}},
            {"op": "copy", "from": "/b", "path": "/c"},
            {"op": "remove", "path": "/b/x"},
        ],
        {"a": 1, "b": {}, "c": {"x": 1}},
        id="operations-see-earlier-results",
    ),
    pytest.param({"a": 1}, None, {"a": 1}, id="null-patch-is-empty"),
    pytest.param({"a": 1}, [], {"a": 1}, id="empty-patch"),
]


@pytest.mark.parametrize(("doc", "ops", "want"), LIBRARY_BEHAVIOUR)
def test_library_behaviour(doc: dict[str, Any], ops: Any, want: dict[str, Any]) -> None:
    """Where evanphx/json-patch v4 (used by the apiserver) is more lenient than the RFC, kijabi is too."""
    assert json_patch(doc, ops) == want


OPERATION_FAILURES = [
    pytest.param([{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate", id="unknown-op"),
    pytest.param([{"path": "/a"}], "Unexpected kind: unknown", id="missing-op"),
    pytest.param([{"op": 7, "path": "/a"}], "Unexpected kind: unknown", id="non-string-op"),
    pytest.param([None], "Unexpected kind: unknown", id="null-operation"),
    pytest.param(
        [{"op": "add", "value": 1}],
        "add operation failed to decode path: missing value",
        id="add-without-path",
    ),
    pytest.param(
        [{"op": "replace", "value": 1}],
        "replace operation failed to decode path: operation missing path field: missing value",
        id="replace-without-path",
    ),
    pytest.param(
        [{"op": "test", "path": 5, "value": 1}],
        "test operation failed to decode path: json: cannot unmarshal number into Go value of type string",
        id="non-string-path",
    ),
    pytest.param(
        [{"op": "move", "path": "/b"}],
        "move operation failed to decode from: operation, missing from field: missing value",
        id="move-without-from",
    ),
    pytest.param(
        [{"op": "remove", "path": "/zzz"}],
        "error in remove for path: '/zzz': Unable to remove nonexistent key: zzz: missing value",
        id="remove-missing-member",
    ),
    pytest.param(
        [{"op": "remove", "path": "/list/3"}],
        "error in remove for path: '/list/3': Unable to access invalid index: 3: invalid index referenced",
        id="remove-past-end",
    ),
    pytest.param(
        [{"op": "add", "path": "/list/4", "value": 0}],
        "error in add for path: '/list/4': Unable to access invalid index: 4: invalid index referenced",
        id="add-past-end",
    ),
    pytest.param(
        [{"op": "add", "path": "/list/x", "value": 0}],
        "error in add for path: '/list/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
        id="add-non-numeric-index",
    ),
    pytest.param(
        [{"op": "replace", "path": "/list/-", "value": 0}],
        "replace operation does not apply: doc is missing key: /list/-: missing value",
        id="replace-append-marker",
    ),
    pytest.param(
        [{"op": "replace", "path": "/list/-4", "value": 0}],
        "replace operation does not apply: doc is missing key: /list/-4: missing value",
        id="replace-too-negative",
    ),
    pytest.param(
        [{"op": "replace", "path": "/obj/a/b", "value": 0}],
        "replace operation does not apply: doc is missing path: /obj/a/b: missing value",
        id="replace-under-missing-parent",
    ),
    pytest.param(
        [{"op": "add", "path": "/scalar/x", "value": 0}],
        'add operation does not apply: doc is missing path: "/scalar/x": missing value',
        id="add-under-scalar",
    ),
    pytest.param(
        [{"op": "add", "path": "/nothing/x", "value": 0}],
        'add operation does not apply: doc is missing path: "/nothing/x": missing value',
        id="add-under-null",
    ),
    pytest.param(
        [{"op": "add", "path": "obj/x", "value": 0}],
        'add operation does not apply: doc is missing path: "obj/x": missing value',
        id="pointer-without-leading-slash",
    ),
    pytest.param(
        [{"op": "add", "path": "", "value": {}}],
        'add operation does not apply: doc is missing path: "": missing value',
        id="add-whole-document",
    ),
    pytest.param(
        [{"op": "move", "from": "/zzz", "path": "/b"}],
        "error in move for path: 'zzz': Unable to remove nonexistent key: zzz: missing value",
        id="move-from-missing-member",
    ),
    pytest.param(
        [{"op": "move", "from": "/obj", "path": "/obj/inner"}],
        "move operation does not apply: doc is missing destination path: /obj/inner: missing value",
        id="move-into-own-child",
    ),
    pytest.param(
        [{"op": "copy", "from": "/list/9", "path": "/b"}],
        "error in copy for from: '/list/9': Unable to access invalid index: 9: invalid index referenced",
        id="copy-from-past-end",
    ),
    pytest.param(
        [{"op": "test", "path": "/obj/a", "value": 1}],
        "testing value /obj/a failed: test failed",
        id="test-missing-member-against-value",
    ),
    pytest.param(
        [{"op": "test", "path": "/scalar"}],
        "testing value /scalar failed: test failed",
        id="test-without-value",
    ),
    pytest.param(
        [{"op": "test", "path": "/flag", "value": 1}],
        "testing value /flag failed: test failed",
        id="test-bool-is-not-number",
    ),
    pytest.param(
        [{"op": "replace", "path": "", "value": "x"}],
        "replace operation value must be object or array: %!w(<nil>)",
        id="replace-document-with-scalar",
    ),
]

DOC: dict[str, Any] = {"obj": {}, "list": [1, 2, 3], "scalar": "s", "nothing": None, "flag": True}


@pytest.mark.parametrize(("ops", "cause"), OPERATION_FAILURES)
def test_operation_failures(ops: list[Any], cause: str) -> None:
    """A failing operation aborts the patch with 422 Invalid; the library's explanation is the cause."""
    with pytest.raises(StatusError) as caught:
        json_patch(DOC, ops)
    body = caught.value.status()
    assert (body["code"], body["reason"], body["message"]) == (422, "Invalid", GENERIC_422)
    assert body["details"]["causes"] == [{"message": cause, "field": "patch"}]


MALFORMED = [
    pytest.param(
        {"op": "add"},
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        id="object-instead-of-array",
    ),
    pytest.param(
        "add",
        "json: cannot unmarshal string into Go value of type jsonpatch.Patch",
        id="string-instead-of-array",
    ),
    pytest.param(
        3, "json: cannot unmarshal number into Go value of type jsonpatch.Patch", id="number-instead-of-array"
    ),
    pytest.param(
        ["add"],
        "json: cannot unmarshal string into Go value of type jsonpatch.Operation",
        id="string-operation",
    ),
    pytest.param(
        [{"op": "test", "path": ""}, [1]],
        "json: cannot unmarshal array into Go value of type jsonpatch.Operation",
        id="array-operation",
    ),
]


@pytest.mark.parametrize(("ops", "message"), MALFORMED)
def test_malformed_patch_is_bad_request(ops: Any, message: str) -> None:
    """A body that is not an array of objects is 400 BadRequest with Go's decoding error."""
    with pytest.raises(StatusError) as caught:
        json_patch({"a": 1}, ops)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


def test_too_many_operations_is_413() -> None:
    """More operations than the limit is refused before any is applied."""
    ops = [{"op": "test", "path": "/a", "value": 1}] * 11
    with pytest.raises(StatusError) as caught:
        json_patch({"a": 1}, ops, max_operations=10)
    assert caught.value.code == 413
    assert caught.value.reason == "RequestEntityTooLarge"
    assert caught.value.message == "The allowed maximum operations in a JSON patch is 10, got 11"


def test_default_operation_limit_is_upstreams() -> None:
    ops = [{"op": "test", "path": "/a", "value": 1}] * 10001
    with pytest.raises(StatusError) as caught:
        json_patch({"a": 1}, ops)
    assert caught.value.message == "The allowed maximum operations in a JSON patch is 10000, got 10001"


def test_copy_budget() -> None:
    """Copies may not grow the document by more than `max_copy_bytes` in total (JSON size)."""
    doc = {"a": "x" * 8}  # "xxxxxxxx" is 10 bytes of JSON
    assert json_patch(doc, [{"op": "copy", "from": "/a", "path": "/b"}], max_copy_bytes=20)["b"] == "x" * 8
    ops = [
        {"op": "copy", "from": "/a", "path": "/b"},
        {"op": "copy", "from": "/a", "path": "/c"},
        {"op": "copy", "from": "/a", "path": "/d"},
    ]
    with pytest.raises(StatusError) as caught:
        json_patch(doc, ops, max_copy_bytes=20)
    assert caught.value.code == 422
    assert caught.value.status()["details"]["causes"][0]["message"] == (
        "Unable to complete the copy, the accumulated size increase of copy is 30, exceeding the limit 20"
    )


def test_result_must_stay_an_object() -> None:
    """Replacing the whole document with an array cannot decode into an object: 422 Invalid on `patch`."""
    with pytest.raises(StatusError) as caught:
        json_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1, 2]}])
    assert caught.value.code == 422
    assert caught.value.reason == "Invalid"
    assert caught.value.status()["details"]["causes"][0]["field"] == "patch"


def test_failure_after_success_changes_nothing() -> None:
    """Operations are all-or-nothing: the caller's document is never modified."""
    doc = {"a": {"b": 1}}
    with pytest.raises(StatusError):
        json_patch(doc, [{"op": "add", "path": "/a/c", "value": 2}, {"op": "remove", "path": "/zzz"}])
    assert doc == {"a": {"b": 1}}

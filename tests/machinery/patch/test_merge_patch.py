"""JSON Merge Patch (RFC 7386) as the apiserver applies it (evanphx/json-patch v4 `MergePatch`)."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.errors import StatusError
from kijabi.machinery.patch import merge_patch

# RFC 7386 Appendix A, the examples whose target is an object (the apiserver always patches an object).
RFC7386_APPENDIX_A = [
    pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="replace-member"),
    pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="add-member"),
    pytest.param({"a": "b"}, {"a": None}, {}, id="null-removes-member"),
    pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="null-removes-only-that-member"),
    pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="scalar-replaces-array"),
    pytest.param({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}, id="array-replaces-scalar"),
    pytest.param(
        {"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}, id="nested-merge-and-null"
    ),
    pytest.param({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}, id="arrays-are-replaced-not-merged"),
    pytest.param({"e": None}, {"a": 1}, {"e": None, "a": 1}, id="existing-null-is-kept"),
    pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="nulls-in-added-object-are-dropped"),
]


@pytest.mark.parametrize(("doc", "patch", "want"), RFC7386_APPENDIX_A)
def test_rfc7386_appendix_a(doc: dict[str, Any], patch: dict[str, Any], want: dict[str, Any]) -> None:
    """The RFC's worked examples."""
    assert merge_patch(doc, patch) == want


LIBRARY_BEHAVIOUR = [
    pytest.param({"a": None}, {"a": {"b": 1, "c": None}}, {"a": {"b": 1}}, id="object-over-null-is-pruned"),
    pytest.param(
        {"a": "x"}, {"a": {"b": None, "c": {"d": None}}}, {"a": {"c": {}}}, id="object-over-scalar-is-pruned"
    ),
    pytest.param(
        {},
        {"a": [{"b": None, "c": 1}, None, [{"d": None}]]},
        {"a": [{"c": 1}, None, [{}]]},
        id="added-array-objects-pruned-null-elements-kept",
    ),
    pytest.param({"a": [1]}, {"a": [{"b": None}]}, {"a": [{}]}, id="array-over-array-is-pruned"),
    pytest.param(
        {"a": {"x": 1}}, {"a": [{"b": None}]}, {"a": [{"b": None}]}, id="array-over-object-is-taken-as-sent"
    ),
    pytest.param({"a": 1}, {"missing": None}, {"a": 1}, id="null-for-missing-member"),
    pytest.param({"a": 1}, {}, {"a": 1}, id="empty-patch"),
    pytest.param(
        {"metadata": {"labels": {"app": "w", "tier": "fe"}, "name": "x"}, "spec": {"replicas": 1}},
        {"metadata": {"labels": {"tier": None, "team": "ops"}}, "spec": {"replicas": 3}},
        {"metadata": {"labels": {"app": "w", "team": "ops"}, "name": "x"}, "spec": {"replicas": 3}},
        id="kubectl-patch-type-merge",
    ),
    pytest.param(
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["c"]}},
        {"metadata": {"finalizers": ["c"]}},
        id="lists-never-merge",
    ),
]


@pytest.mark.parametrize(("doc", "patch", "want"), LIBRARY_BEHAVIOUR)
def test_library_behaviour(doc: dict[str, Any], patch: dict[str, Any], want: dict[str, Any]) -> None:
    """How the apiserver's merge-patch library treats nulls inside values it adds."""
    assert merge_patch(doc, patch) == want


@pytest.mark.parametrize("patch", [None, "bar", 3, True], ids=["null", "string", "number", "bool"])
def test_non_object_patch_is_bad_request(patch: Any) -> None:
    """RFC 7386 would replace the document; the apiserver refuses with 400 `Invalid JSON Patch`."""
    with pytest.raises(StatusError) as caught:
        merge_patch({"a": "foo"}, patch)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400,
        "BadRequest",
        "Invalid JSON Patch",
    )


def test_array_patch_cannot_become_an_object() -> None:
    """An array replaces the whole document, which then cannot decode into an object: 422 Invalid."""
    with pytest.raises(StatusError) as caught:
        merge_patch({"a": "b"}, ["c"])
    assert caught.value.code == 422
    assert caught.value.reason == "Invalid"
    assert caught.value.status()["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "[\\"c\\"]": the patched document must be a JSON object',
            "field": "patch",
        }
    ]

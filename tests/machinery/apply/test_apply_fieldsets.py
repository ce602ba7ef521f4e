"""Field sets: the FieldsV1 wire form, set algebra, and how paths print."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kijabi.machinery.apply import FieldSet, FieldsV1Error, path_string
from kijabi.machinery.apply.fieldpath import key_element, value_element
from tests.machinery.apply.ssa_helpers import EXAMPLE_FIELDSV1


def dump(fields: dict[str, Any]) -> str:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def paths(fs: FieldSet) -> list[str]:
    return [path_string(p) for p in fs]


def test_reference_example_round_trips_byte_for_byte() -> None:
    """Decoding and re-encoding upstream's FieldsV1 reproduces it exactly."""
    fs = FieldSet.from_fieldsv1(json.loads(EXAMPLE_FIELDSV1))
    assert dump(fs.to_fieldsv1()) == EXAMPLE_FIELDSV1


@pytest.mark.parametrize(
    ("given", "want"),
    [
        pytest.param(
            {"f:b": {}, "f:a": {}, ".": {}},
            {"f:a": {}, "f:b": {}},
            id="fields-sorted-and-root-dot-dropped",
        ),
        pytest.param(
            {"f:l": {'v:"b"': {}, "v:1": {}, 'v:"a"': {}, "v:true": {}, "f:x": {}}},
            {"f:l": {"f:x": {}, "v:1": {}, 'v:"a"': {}, 'v:"b"': {}, "v:true": {}}},
            id="values-numbers-then-strings-then-bools",
        ),
        pytest.param(
            {
                "f:p": {
                    'k:{"protocol":"TCP","containerPort":8080}': {},
                    'k:{"containerPort":9,"protocol":"TCP"}': {},
                }
            },
            {
                "f:p": {
                    'k:{"containerPort":9,"protocol":"TCP"}': {},
                    'k:{"containerPort":8080,"protocol":"TCP"}': {},
                }
            },
            id="key-fields-sorted-and-numeric-order",
        ),
        pytest.param(
            {"f:l": {"i:10": {}, "i:2": {}, 'k:{"a": "x"}': {}}},
            {"f:l": {'k:{"a":"x"}': {}, "i:2": {}, "i:10": {}}},
            id="keys-before-indexes-indexes-numeric",
        ),
        pytest.param(
            {"f:a": {".": {}}, "f:b": {"x:unknown": {}}, "f:c": {"f:d": {}, "z:skip": {"f:e": {}}}},
            {"f:a": {}, "f:b": {}, "f:c": {"f:d": {}}},
            id="lone-dot-and-unknown-elements",
        ),
        pytest.param(
            {"f:s": {'v:"<a&b>"': {}}},
            {"f:s": {'v:"\\u003ca\\u0026b\\u003e"': {}}},
            id="values-escaped-like-go",
        ),
        pytest.param({"f:a": None}, {"f:a": {}}, id="null-is-a-leaf"),
    ],
)
def test_decoding_canonicalizes(given: dict[str, Any], want: dict[str, Any]) -> None:
    """Keys are re-encoded canonically and children come out in upstream's order."""
    out = FieldSet.from_fieldsv1(given).to_fieldsv1()
    assert dump(out) == dump(want)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        pytest.param({"f:a": []}, "expect {", id="non-object-child"),
        pytest.param({"f": {}}, "2 characters", id="short-key"),
        pytest.param({"fa": {}}, "missing colon", id="no-colon"),
        pytest.param({"k:{bad": {}}, "parsing key", id="bad-key-json"),
        pytest.param({"k:[1]": {}}, "expected an object", id="key-not-object"),
        pytest.param({"i:x": {}}, "invalid syntax", id="bad-index"),
        pytest.param([], "expect {", id="not-an-object"),
    ],
)
def test_decoding_errors(given: Any, message: str) -> None:
    """Malformed fieldsV1 is rejected with upstream's wording."""
    with pytest.raises(FieldsV1Error, match=message):
        FieldSet.from_fieldsv1(given)


def test_shared_decoding_keeps_canonical_input_and_copies_the_rest() -> None:
    """With share=True a canonical trie is used as is; anything else is rebuilt."""
    canonical = json.loads(EXAMPLE_FIELDSV1)
    fs = FieldSet.from_fieldsv1(canonical, share=True)
    assert fs.to_fieldsv1(share=True) is canonical
    assert fs.to_fieldsv1() is not canonical
    unsorted = {"f:b": {}, "f:a": {}}
    fs2 = FieldSet.from_fieldsv1(unsorted, share=True)
    assert list(fs2.to_fieldsv1(share=True)) == ["f:a", "f:b"]


def test_elements() -> None:
    """Elements are built from values as Go would serialize them."""
    assert key_element({"protocol": "TCP", "containerPort": 80}) == 'k:{"containerPort":80,"protocol":"TCP"}'
    assert value_element("x/y") == 'v:"x/y"'
    assert value_element(1.5) == "v:1.5"
    assert value_element(2.0) == "v:2"


A = FieldSet.from_paths
S = ("f:spec",)


@pytest.mark.parametrize(
    ("op", "left", "right", "want"),
    [
        pytest.param("union", [("f:a",)], [("f:b",)], [".a", ".b"], id="union-disjoint"),
        pytest.param("union", [("f:a",)], [("f:a", "f:b")], [".a", ".a.b"], id="union-member-and-child"),
        pytest.param(
            "difference",
            [("f:a",), ("f:a", "f:b")],
            [("f:a",)],
            [".a.b"],
            id="difference-parent-minus-parent",
        ),
        pytest.param(
            "difference", [("f:a",)], [("f:a", "f:b")], [".a"], id="difference-parent-minus-child-stays"
        ),
        pytest.param(
            "difference", [("f:a", "f:b")], [("f:a",)], [".a.b"], id="difference-child-minus-parent-stays"
        ),
        pytest.param(
            "recursive_difference",
            [("f:a", "f:b"), ("f:c",)],
            [("f:a",)],
            [".c"],
            id="recursive-difference-takes-subtree",
        ),
        pytest.param(
            "intersection",
            [("f:a",), ("f:a", "f:b"), ("f:c",)],
            [("f:a", "f:b"), ("f:c", "f:d")],
            [".a.b"],
            id="intersection-members-only",
        ),
    ],
)
def test_set_algebra(
    op: str, left: list[tuple[str, ...]], right: list[tuple[str, ...]], want: list[str]
) -> None:
    """Union, difference, recursive difference and intersection follow upstream's rules."""
    result = getattr(A(left), op)(A(right))
    assert paths(result) == want


def test_algebra_never_modifies_operands() -> None:
    """Operations build new sets and leave their operands as they were."""
    left = A([("f:a",), ("f:a", "f:b"), ("f:c",)])
    right = A([("f:a",), ("f:c", "f:d")])
    before = (dump(left.to_fieldsv1()), dump(right.to_fieldsv1()))
    left.union(right), left.difference(right), left.intersection(right), left.recursive_difference(right)
    assert (dump(left.to_fieldsv1()), dump(right.to_fieldsv1())) == before


def test_queries() -> None:
    """Membership, emptiness, size and prefixes."""
    fs = A([("f:spec", "f:replicas"), ("f:spec", "f:template", "f:spec")])
    assert fs.has(("f:spec", "f:replicas"))
    assert not fs.has(("f:spec",))
    assert not fs.has(())
    assert len(fs) == 2
    assert paths(fs.with_prefix("f:spec")) == [".replicas", ".template.spec"]
    assert FieldSet().is_empty() and not FieldSet()
    assert A([("f:x",)]) == FieldSet.from_fieldsv1({"f:x": {}})


def test_iteration_order_is_upstreams() -> None:
    """Members of a level come before the paths below it, each level in element order."""
    fs = FieldSet.from_fieldsv1(json.loads(EXAMPLE_FIELDSV1))
    assert paths(fs) == [
        '.metadata.finalizers[="x/y"]',
        ".metadata.labels.app",
        '.spec.containers[name="c"]',
        '.spec.containers[name="c"].args',
        '.spec.containers[name="c"].image',
        '.spec.containers[name="c"].name',
        '.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"]',
        '.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"].containerPort',
    ]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        pytest.param(("f:spec", "f:replicas"), ".spec.replicas", id="fields"),
        pytest.param(("f:l", 'k:{"name":"nginx"}', "f:image"), '.l[name="nginx"].image', id="key"),
        pytest.param(("f:l", 'k:{"a":1,"b":"x"}'), '.l[a=1,b="x"]', id="two-keys"),
        pytest.param(("f:f", 'v:"x/y"'), '.f[="x/y"]', id="set-value"),
        pytest.param(("f:f", "v:1000000.5"), ".f[=1.0000005e+06]", id="float-value-like-go"),
        pytest.param(("f:l", "i:3"), ".l[3]", id="index"),
        pytest.param(("f:l", 'k:{"n":"tab\\there"}'), '.l[n="tab\\there"]', id="go-quoted"),
    ],
)
def test_path_strings(path: tuple[str, ...], text: str) -> None:
    """Paths print as upstream's Path.String does."""
    assert path_string(path) == text


def test_leaves_skip_members_with_children() -> None:
    """leaves() yields only members that own nothing below them."""
    fs = FieldSet.from_fieldsv1(json.loads(EXAMPLE_FIELDSV1))
    assert '.spec.containers[name="c"]' in paths(fs)
    assert [path_string(p) for p in fs.leaves()] == [
        p for p in paths(fs) if not p.endswith('[name="c"]') and not p.endswith('protocol="TCP"]')
    ]

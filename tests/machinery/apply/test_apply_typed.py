"""Objects read through schemas: what a field set holds, how configs merge, what changed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kijabi.machinery.apply import compare, merge, path_string, to_set, validate
from kijabi.machinery.apply.typed import list_mode
from tests.machinery.apply.ssa_helpers import crd_schema, kind_schema

POD = kind_schema("", "v1", "Pod")

GRAB_BAG = crd_schema(
    {
        "numeric": {"type": "number"},
        "string": {"type": "string"},
        "bool": {"type": "boolean"},
        "setStr": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "setBool": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "boolean"}},
        "setNumeric": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "number"}},
        "list": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["key", "id"],
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "id": {"type": "integer"},
                    "value": {"type": "object", "additionalProperties": {"type": "string"}},
                    "bv": {"type": "boolean"},
                    "nv": {"type": "integer"},
                },
            },
        },
        "atomicList": {"type": "array", "items": {"type": "string"}},
        "inner": {"type": "object", "properties": {"value": {"x-kubernetes-preserve-unknown-fields": True}}},
        "innerMap": {"type": "object", "additionalProperties": {"type": "string"}},
    }
)


def paths(fs: Any) -> list[str]:
    return [path_string(p) for p in fs]


# --- ToFieldSet -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "want"),
    [
        pytest.param(
            {"spec": {"nodeName": "n"}}, [".spec.nodeName"], id="struct-fields-only-through-children"
        ),
        pytest.param({"metadata": {"labels": {"a": "1"}}}, [".metadata.labels.a"], id="map-keys-are-members"),
        pytest.param({"metadata": {"labels": {}}}, [".metadata.labels"], id="empty-map-is-a-member"),
        pytest.param({"spec": {"nodeName": None}}, [".spec.nodeName"], id="null-is-a-member"),
        pytest.param(
            {"spec": {"nodeSelector": {"a": "b"}}}, [".spec.nodeSelector"], id="atomic-map-is-a-leaf"
        ),
        pytest.param(
            {"spec": {"tolerations": [{"key": "k"}]}}, [".spec.tolerations"], id="atomic-list-is-a-leaf"
        ),
        pytest.param({"spec": {"containers": []}}, [], id="empty-keyed-list-owns-nothing"),
        pytest.param(
            {"metadata": {"finalizers": ["a", "b"]}},
            ['.metadata.finalizers[="a"]', '.metadata.finalizers[="b"]'],
            id="set-items",
        ),
        pytest.param(
            {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53}],
                        }
                    ]
                }
            },
            [
                '.spec.containers[name="c"]',
                '.spec.containers[name="c"].name',
                '.spec.containers[name="c"].ports[containerPort=53,protocol="TCP"]',
                '.spec.containers[name="c"].ports[containerPort=53,protocol="UDP"]',
                '.spec.containers[name="c"].ports[containerPort=53,protocol="TCP"].containerPort',
                '.spec.containers[name="c"].ports[containerPort=53,protocol="UDP"].containerPort',
                '.spec.containers[name="c"].ports[containerPort=53,protocol="UDP"].protocol',
            ],
            id="port-protocol-defaults-to-TCP",
        ),
        pytest.param(
            {"spec": {"imagePullSecrets": [{}]}},
            ['.spec.imagePullSecrets[name=""]'],
            id="local-object-reference-name-defaults-to-empty",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "a"}, {"name": "a", "image": "x"}]}},
            ['.spec.containers[name="a"]'],
            id="duplicates-are-one-member-without-children",
        ),
    ],
)
def test_to_set(obj: dict[str, Any], want: list[str]) -> None:
    """ToFieldSet records leaves, items and map keys, not declared structs (reference 2.3)."""
    assert paths(to_set(obj, POD)) == want


def test_deduced_fields_own_the_map_too() -> None:
    """Under preserve-unknown-fields, a map key holding a map is owned itself and through children."""
    fs = to_set({"inner": {"value": {"a": {"b": 1}, "l": [1, 2]}}}, GRAB_BAG)
    assert paths(fs) == [".inner.value.a", ".inner.value.l", ".inner.value.a.b"]


# --- list semantics -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "mode"),
    [
        pytest.param(("spec", "containers"), (2, ("name",)), id="list-map"),
        pytest.param(("metadata", "finalizers"), (1, ()), id="set"),
        pytest.param(("spec", "tolerations"), (0, ()), id="atomic"),
        pytest.param(("spec", "volumes"), (2, ("name",)), id="merge-retainKeys-keyed"),
    ],
)
def test_list_modes(path: tuple[str, str], mode: tuple[int, tuple[str, ...]]) -> None:
    """List types come from x-kubernetes-list-type, else from the patch strategy (reference 2.2)."""
    s = POD.field(path[0])
    assert s is not None
    assert list_mode(s.field(path[1])) == mode


# --- Merge (ported from structured-merge-diff typed/merge_test.go) -----------------------------------

MERGES = [
    ('{"numeric":1}', '{"numeric":3.14159}', '{"numeric":3.14159}'),
    ('{"string":"aoeu"}', '{"bool":true}', '{"string":"aoeu","bool":true}'),
    ('{"setStr":["a","b","c"]}', '{"setStr":["a","b"]}', '{"setStr":["a","b","c"]}'),
    ('{"setStr":["a","b","c"]}', '{"setStr":[]}', '{"setStr":["a","b","c"]}'),
    ('{"setStr":[]}', '{"setStr":["a","b","c"]}', '{"setStr":["a","b","c"]}'),
    ('{"setStr":["a","b"]}', '{"setStr":["b","a"]}', '{"setStr":["b","a"]}'),
    ('{"setStr":["a","b","c"]}', '{"setStr":["c","d","e","f"]}', '{"setStr":["a","b","c","d","e","f"]}'),
    (
        '{"setStr":["a","b","c","g","f"]}',
        '{"setStr":["c","d","e","f"]}',
        '{"setStr":["a","b","c","g","d","e","f"]}',
    ),
    ('{"setStr":["c","d","e","f"]}', '{"setStr":["a","c","e"]}', '{"setStr":["a","c","d","e","f"]}'),
    (
        '{"setStr":["a","b","c","x","y","z"]}',
        '{"setStr":["d","e","f","x","y","z"]}',
        '{"setStr":["a","b","c","d","e","f","x","y","z"]}',
    ),
    ('{"setStr":["c","a","g","f"]}', '{"setStr":["c","f","a","g"]}', '{"setStr":["c","f","a","g"]}'),
    ('{"setStr":["a","b","c","d"]}', '{"setStr":["d","e","f","a"]}', '{"setStr":["b","c","d","e","f","a"]}'),
    (
        '{"setStr":["c","d","e","f","g","h","i","j"]}',
        '{"setStr":["2","h","3","e","4","k","l"]}',
        '{"setStr":["c","d","f","g","2","h","i","j","3","e","4","k","l"]}',
    ),
    (
        '{"setStr":["a","b","c","d","e","f","g","h","i","j"]}',
        '{"setStr":["1","b","2","h","3","e","4","k","l"]}',
        '{"setStr":["a","1","b","c","d","f","g","2","h","i","j","3","e","4","k","l"]}',
    ),
    ('{"setStr":["a","b","b"]}', '{"setStr":["c"]}', '{"setStr":["a","b","b","c"]}'),
    ('{"setStr":["a","b","b"]}', '{"setStr":["b"]}', '{"setStr":["a","b"]}'),
    ('{"setStr":["a","b","b"]}', '{"setStr":["a"]}', '{"setStr":["a","b","b"]}'),
    (
        '{"setStr":["a","b","c","d","e","c"]}',
        '{"setStr":["1","b","2","e","d"]}',
        '{"setStr":["a","1","b","c","2","e","c","d"]}',
    ),
    (
        '{"setStr":["a","b","c","d","e","c"]}',
        '{"setStr":["1","b","2","c","e","d"]}',
        '{"setStr":["a","1","b","2","c","e","d"]}',
    ),
    ('{"setStr":["a","a","b","b"]}', '{"setStr":["b","c","d"]}', '{"setStr":["a","a","b","c","d"]}'),
    ('{"setBool":[true]}', '{"setBool":[false]}', '{"setBool":[true,false]}'),
    ('{"setNumeric":[1,2,3.14159]}', '{"setNumeric":[1,2,3]}', '{"setNumeric":[1,2,3.14159,3]}'),
    ('{"setBool":[true,false,true]}', '{"setBool":[true]}', '{"setBool":[true,false]}'),
    (
        '{"list":[{"key":"a","id":1},{"key":"b","id":1}]}',
        '{"list":[{"key":"a","id":1},{"key":"a","id":2}]}',
        '{"list":[{"key":"a","id":1},{"key":"b","id":1},{"key":"a","id":2}]}',
    ),
    (
        '{"list":[{"key":"b","id":2}]}',
        '{"list":[{"key":"a","id":1},{"key":"b","id":2},{"key":"c","id":3}]}',
        '{"list":[{"key":"a","id":1},{"key":"b","id":2},{"key":"c","id":3}]}',
    ),
    (
        '{"list":[{"key":"a","id":1},{"key":"b","id":2},{"key":"c","id":3}]}',
        '{"list":[{"key":"c","id":3},{"key":"b","id":2}]}',
        '{"list":[{"key":"a","id":1},{"key":"c","id":3},{"key":"b","id":2}]}',
    ),
    (
        '{"list":[{"key":"a","id":1},{"key":"b","id":2},{"key":"c","id":3}]}',
        '{"list":[{"key":"c","id":3},{"key":"a","id":1}]}',
        '{"list":[{"key":"b","id":2},{"key":"c","id":3},{"key":"a","id":1}]}',
    ),
    ('{"atomicList":["a","a","a"]}', '{"atomicList":null}', '{"atomicList":null}'),
    ('{"atomicList":["a","b","c"]}', '{"atomicList":[]}', '{"atomicList":[]}'),
    (
        '{"list":[{"key":"a","id":1,"bv":true},{"key":"b","id":2},{"key":"a","id":1,"bv":false,"nv":2}]}',
        '{"list":[{"key":"a","id":1,"nv":3},{"key":"c","id":3},{"key":"b","id":2}]}',
        '{"list":[{"key":"a","id":1,"nv":3},{"key":"c","id":3},{"key":"b","id":2}]}',
    ),
    (
        '{"list":[{"key":"a","id":1,"nv":1},{"key":"a","id":1,"nv":2}]}',
        "{}",
        '{"list":[{"key":"a","id":1,"nv":1},{"key":"a","id":1,"nv":2}]}',
    ),
    (
        '{"list":[{"key":"a","id":1,"value":{"a":"a"}}]}',
        '{"list":[{"key":"a","id":1,"value":{"b":"b"}}]}',
        '{"list":[{"key":"a","id":1,"value":{"a":"a","b":"b"}}]}',
    ),
    ('{"inner":null}', '{"inner":{}}', '{"inner":{}}'),
    ('{"inner":{}}', '{"inner":null}', '{"inner":null}'),
    ('{"innerMap":{"a":"1"}}', '{"innerMap":null}', '{"innerMap":{"a":"1"}}'),
]


@pytest.mark.parametrize(
    ("live", "config", "want"), [pytest.param(*m, id=f"merge-{i}") for i, m in enumerate(MERGES)]
)
def test_merge(live: str, config: str, want: str) -> None:
    """Config wins on scalars and atomics; sets and keyed lists merge, new items at the end."""
    lhs, rhs = json.loads(live), json.loads(config)
    out = merge(lhs, rhs, GRAB_BAG)
    assert json.dumps(out) == json.dumps(json.loads(want)), "same content in the same order"
    assert (lhs, rhs) == (json.loads(live), json.loads(config)), "inputs must not change"


# --- Compare --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "removed", "modified", "added"),
    [
        pytest.param(
            {"spec": {"nodeName": "a"}},
            {"spec": {"nodeName": "b"}},
            [],
            [".spec.nodeName"],
            [],
            id="modified-scalar",
        ),
        pytest.param(
            {"metadata": {}},
            {"metadata": {"labels": {"a": "1"}}},
            [],
            [],
            [".metadata.labels", ".metadata.labels.a"],
            id="added-map-and-its-key",
        ),
        pytest.param(
            {"metadata": {"labels": {"a": "1", "b": "2"}}},
            {"metadata": {"labels": {"a": "1"}}},
            [".metadata.labels.b"],
            [],
            [],
            id="removed-key",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "a", "image": "x"}]}},
            {"spec": {"containers": [{"name": "a", "image": "y"}, {"name": "b"}]}},
            [],
            ['.spec.containers[name="a"].image'],
            ['.spec.containers[name="b"]', '.spec.containers[name="b"].name'],
            id="keyed-list-items",
        ),
        pytest.param(
            {"metadata": {"finalizers": ["a", "b"]}},
            {"metadata": {"finalizers": ["b", "a"]}},
            [],
            [],
            [],
            id="reordered-set-changes-nothing",
        ),
        pytest.param(
            {"spec": {"nodeSelector": {"a": "1"}}},
            {"spec": {"nodeSelector": {"a": "2"}}},
            [],
            [".spec.nodeSelector"],
            [],
            id="atomic-map-modified-whole",
        ),
        pytest.param(
            {"spec": {"hostNetwork": True}},
            {"spec": {"hostNetwork": 1}},
            [],
            [".spec.hostNetwork"],
            [],
            id="true-is-not-1",
        ),
        pytest.param(
            {"spec": {"priority": 1}}, {"spec": {"priority": 1.0}}, [], [], [], id="ints-equal-floats"
        ),
    ],
)
def test_compare(
    old: dict[str, Any], new: dict[str, Any], removed: list[str], modified: list[str], added: list[str]
) -> None:
    """Comparison reports removed, modified and added paths as upstream's Compare does."""
    cmp = compare(old, new, POD)
    assert (paths(cmp.removed), paths(cmp.modified), paths(cmp.added)) == (removed, modified, added)


# --- validation of apply configurations -----------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "errors"),
    [
        pytest.param({"spec": {"containers": [{"name": "a"}]}}, [], id="valid"),
        pytest.param(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}, [], id="type-meta-known"
        ),
        pytest.param({"spec": {"foo": 1}}, [".spec.foo: field not declared in schema"], id="unknown-field"),
        pytest.param(
            {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}},
            ['.spec.containers: duplicate entries for key [name="a"]'],
            id="duplicate-keys",
        ),
        pytest.param(
            {"spec": {"containers": [{"image": "x"}]}},
            [
                '.spec.containers: element 0: associative list with keys has an element that omits key field "name" (and doesn\'t have default value)'
            ],
            id="missing-key",
        ),
        pytest.param(
            {"spec": {"containers": [{"name": "a", "ports": [{"protocol": "TCP"}]}]}},
            [
                '.spec.containers[name="a"].ports: element 0: associative list with keys has an element that omits key field "containerPort" (and doesn\'t have default value)'
            ],
            id="missing-key-nested",
        ),
        pytest.param(
            {"metadata": {"finalizers": [None]}},
            [
                ".metadata.finalizers: element 0: associative list without keys has an element that's an explicit null"
            ],
            id="null-in-set",
        ),
        pytest.param(
            {"spec": {"nodeName": 3}}, [".spec.nodeName: expected string, got 3"], id="wrong-scalar-type"
        ),
        pytest.param(
            {"spec": {"priority": "high"}},
            [".spec.priority: expected numeric (int or float), got string"],
            id="not-numeric",
        ),
        pytest.param({"spec": "x"}, ['.spec: expected map, got "x"'], id="not-a-map"),
        pytest.param(
            {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": "80"}]}]}},
            [
                '.spec.containers[name="a"].ports[containerPort="80",protocol="TCP"].containerPort: expected numeric (int or float), got string'
            ],
            id="path-through-keys",
        ),
    ],
)
def test_validate(config: dict[str, Any], errors: list[str]) -> None:
    """Apply configurations must fit the schema; errors read like upstream's."""
    assert validate(config, POD) == errors


def test_validate_preserve_unknown_fields_reaches_descendants() -> None:
    """Below x-kubernetes-preserve-unknown-fields anything goes, as schemaconv propagates it."""
    s = crd_schema(
        {
            "spec": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}}},
            }
        }
    )
    assert validate({"spec": {"x": 1, "a": {"c": 2}}}, s) == []
    strict = crd_schema({"spec": {"type": "object", "properties": {"a": {"type": "string"}}}})
    assert validate({"spec": {"b": 1}}, strict) == [".spec.b: field not declared in schema"]

"""Sequences of applies and updates, ported from structured-merge-diff's merge tests.

Each case runs its operations on one object and checks the final content and who owns what.
Operations: ("apply", manager, fields), ("force", manager, fields), ("update", manager, fields), and
("conflict", manager, fields, [paths]) for an apply that must fail with exactly those conflicts.
"""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.errors import StatusError
from tests.machinery.apply.ssa_helpers import History, crd_schema

LEAF = crd_schema({"numeric": {"type": "number"}, "string": {"type": "string"}, "bool": {"type": "boolean"}})
SET = crd_schema({"list": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}})
ASSOCIATIVE = crd_schema(
    {
        "list": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "value": {"type": "integer"}},
            },
        }
    }
)
NESTED = crd_schema(
    {
        "listOfLists": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "value": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                },
            },
        },
        "mapOfMaps": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
)
PORTS = crd_schema(
    {
        "containerPorts": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["port", "protocol"],
            "items": {
                "type": "object",
                "properties": {
                    "port": {"type": "integer"},
                    "protocol": {"type": "string", "default": "TCP"},
                    "name": {"type": "string"},
                },
            },
        }
    }
)
STRUCT = crd_schema(
    {
        "struct": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "scalarField": {"type": "string"},
                "complexField": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        }
    }
)


def run(schema: Any, ops: list[tuple[Any, ...]]) -> History:
    h = History(schema)
    for op in ops:
        kind, manager, fields = op[0], op[1], op[2]
        if kind == "apply":
            h.apply(manager, fields)
        elif kind == "force":
            h.apply(manager, fields, force=True)
        elif kind == "update":
            h.update(manager, fields)
        elif kind == "conflict":
            with pytest.raises(StatusError) as info:
                h.apply(manager, fields)
            assert info.value.code == 409
            assert [c["field"] for c in (info.value.details or {})["causes"]] == op[3]
        else:
            raise AssertionError(kind)
    return h


CASES = [
    pytest.param(
        LEAF,
        [
            ("apply", "default", {"numeric": 1, "string": "string"}),
            ("apply", "default", {"numeric": 2, "string": "string", "bool": False}),
        ],
        {"numeric": 2, "string": "string", "bool": False},
        {"default": [".bool", ".numeric", ".string"]},
        id="leaf-apply-twice",
    ),
    pytest.param(
        LEAF,
        [
            ("apply", "default", {"numeric": 1, "string": "string"}),
            ("update", "controller", {"numeric": 1, "string": "string", "bool": True}),
            ("apply", "default", {"numeric": 2, "string": "string"}),
        ],
        {"numeric": 2, "string": "string", "bool": True},
        {"default": [".numeric", ".string"], "controller": [".bool"]},
        id="leaf-apply-update-apply-no-conflict",
    ),
    pytest.param(
        LEAF,
        [
            ("apply", "default", {"numeric": 1, "string": "string"}),
            ("update", "controller", {"numeric": 1, "string": "controller string", "bool": True}),
            ("conflict", "default", {"numeric": 2, "string": "user string"}, [".string"]),
            ("force", "default", {"numeric": 2, "string": "user string"}),
        ],
        {"numeric": 2, "string": "user string", "bool": True},
        {"default": [".numeric", ".string"], "controller": [".bool"]},
        id="leaf-apply-update-apply-with-conflict",
    ),
    pytest.param(
        LEAF,
        [
            ("apply", "default", {"numeric": 1, "string": "string", "bool": False}),
            ("apply", "default", {"string": "new string"}),
        ],
        {"string": "new string"},
        {"default": [".string"]},
        id="leaf-apply-twice-remove",
    ),
    pytest.param(
        LEAF,
        [
            ("apply", "default", {"numeric": 2}),
            ("update", "controller", {"numeric": 1}),
            ("apply", "default", {}),
        ],
        {"numeric": 1},
        {"controller": [".numeric"]},
        id="leaf-update-apply-omits",
    ),
    pytest.param(
        SET,
        [
            ("apply", "default", {"list": ["a", "b", "c", "d"]}),
            ("apply", "default", {"list": ["a", "d", "c", "b"]}),
        ],
        {"list": ["a", "d", "c", "b"]},
        {"default": ['.list[="a"]', '.list[="b"]', '.list[="c"]', '.list[="d"]']},
        id="set-apply-twice-reorder",
    ),
    pytest.param(
        SET,
        [
            ("apply", "default", {"list": ["a", "b", "c", "d"]}),
            ("update", "controller", {"list": ["a", "d", "c", "b"]}),
            ("apply", "default", {"list": ["a", "b", "c", "d"]}),
        ],
        {"list": ["a", "b", "c", "d"]},
        {"default": ['.list[="a"]', '.list[="b"]', '.list[="c"]', '.list[="d"]']},
        id="set-apply-update-apply-reorder",
    ),
    pytest.param(
        SET,
        [
            ("apply", "default", {"list": ["a", "b"]}),
            ("update", "controller", {"list": ["a", "b", "c"]}),
            ("apply", "default", {"list": ["a"]}),
        ],
        {"list": ["a", "c"]},
        {"default": ['.list[="a"]'], "controller": ['.list[="c"]']},
        id="set-apply-twice-remove-keeps-updaters-item",
    ),
    pytest.param(
        ASSOCIATIVE,
        [
            ("apply", "apply-one", {"list": [{"name": "a"}, {"name": "b"}]}),
            ("apply", "apply-two", {"list": [{"name": "c"}]}),
            ("apply", "apply-one", {"list": [{"name": "a"}]}),
        ],
        {"list": [{"name": "a"}, {"name": "c"}]},
        {
            "apply-one": ['.list[name="a"]', '.list[name="a"].name'],
            "apply-two": ['.list[name="c"]', '.list[name="c"].name'],
        },
        id="appliers-remove-one",
    ),
    pytest.param(
        ASSOCIATIVE,
        [
            ("apply", "apply-one", {"list": [{"name": "a", "value": 0}]}),
            ("apply", "apply-two", {"list": [{"name": "a", "value": 0}]}),
        ],
        {"list": [{"name": "a", "value": 0}]},
        {
            "apply-one": ['.list[name="a"]', '.list[name="a"].name', '.list[name="a"].value'],
            "apply-two": ['.list[name="a"]', '.list[name="a"].name', '.list[name="a"].value'],
        },
        id="appliers-same-value-no-conflict",
    ),
    pytest.param(
        ASSOCIATIVE,
        [
            ("apply", "apply-one", {"list": [{"name": "a", "value": 0}]}),
            ("conflict", "apply-two", {"list": [{"name": "a", "value": 1}]}, ['.list[name="a"].value']),
        ],
        {"list": [{"name": "a", "value": 0}]},
        {"apply-one": ['.list[name="a"]', '.list[name="a"].name', '.list[name="a"].value']},
        id="appliers-change-value-conflict",
    ),
    pytest.param(
        ASSOCIATIVE,
        [
            ("apply", "apply-one", {"list": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
            ("apply", "apply-two", {"list": [{"name": "c"}, {"name": "d"}]}),
            ("apply", "apply-one", {"list": [{"name": "a"}]}),
        ],
        {"list": [{"name": "a"}, {"name": "c"}, {"name": "d"}]},
        {
            "apply-one": ['.list[name="a"]', '.list[name="a"].name'],
            "apply-two": [
                '.list[name="c"]',
                '.list[name="d"]',
                '.list[name="c"].name',
                '.list[name="d"].name',
            ],
        },
        id="appliers-remove-one-keep-one",
    ),
    pytest.param(
        NESTED,
        [
            ("apply", "apply-one", {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c"]}]}),
            ("apply", "apply-two", {"listOfLists": [{"name": "b", "value": ["d"]}]}),
            ("apply", "apply-one", {"listOfLists": [{"name": "a"}]}),
        ],
        {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["d"]}]},
        {
            "apply-one": ['.listOfLists[name="a"]', '.listOfLists[name="a"].name'],
            "apply-two": [
                '.listOfLists[name="b"]',
                '.listOfLists[name="b"].name',
                '.listOfLists[name="b"].value[="d"]',
            ],
        },
        id="nested-remove-one-keep-one-with-sub-item",
    ),
    pytest.param(
        NESTED,
        [
            ("apply", "apply-one", {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c"]}]}),
            ("apply", "apply-two", {"listOfLists": [{"name": "b", "value": ["d"]}]}),
            (
                "update",
                "controller",
                {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c", "d", "e"]}]},
            ),
            ("apply", "apply-one", {"listOfLists": [{"name": "a"}]}),
        ],
        {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["d", "e"]}]},
        {
            "apply-one": ['.listOfLists[name="a"]', '.listOfLists[name="a"].name'],
            "apply-two": [
                '.listOfLists[name="b"]',
                '.listOfLists[name="b"].name',
                '.listOfLists[name="b"].value[="d"]',
            ],
            "controller": ['.listOfLists[name="b"].value[="e"]'],
        },
        id="nested-remove-one-keep-one-with-dangling-subitem",
    ),
    pytest.param(
        NESTED,
        [
            ("apply", "apply-one", {"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c"]}]}),
            ("apply", "apply-two", {"listOfLists": [{"name": "a", "value": ["b"]}]}),
            (
                "update",
                "controller",
                {"listOfLists": [{"name": "a", "value": ["b"]}, {"name": "b", "value": ["c", "d"]}]},
            ),
            ("apply", "apply-one", {"listOfLists": [{"name": "a"}]}),
        ],
        {"listOfLists": [{"name": "a", "value": ["b"]}]},
        {
            "apply-one": ['.listOfLists[name="a"]', '.listOfLists[name="a"].name'],
            "apply-two": [
                '.listOfLists[name="a"]',
                '.listOfLists[name="a"].name',
                '.listOfLists[name="a"].value[="b"]',
            ],
        },
        id="nested-remove-one-with-dangling-subitem-keep-one",
    ),
    pytest.param(
        NESTED,
        [
            ("apply", "apply-one", {"mapOfMaps": {"a": {"b": "1"}, "c": {"d": "2"}}}),
            ("apply", "apply-two", {"mapOfMaps": {"a": {"e": "3"}}}),
            ("apply", "apply-one", {"mapOfMaps": {"c": {"d": "2"}}}),
        ],
        {"mapOfMaps": {"a": {"e": "3"}, "c": {"d": "2"}}},
        {"apply-one": [".mapOfMaps.c", ".mapOfMaps.c.d"], "apply-two": [".mapOfMaps.a", ".mapOfMaps.a.e"]},
        id="nested-maps-prune-key-keeps-others",
    ),
    pytest.param(
        PORTS,
        [("apply", "default", {"containerPorts": [{"port": 80}]})],
        {"containerPorts": [{"port": 80}]},
        {
            "default": [
                '.containerPorts[port=80,protocol="TCP"]',
                '.containerPorts[port=80,protocol="TCP"].port',
            ]
        },
        id="default-keys-missing-defaulted-key",
    ),
    pytest.param(
        PORTS,
        [("apply", "default", {"containerPorts": [{"port": 80}, {"port": 80, "protocol": "UDP"}]})],
        {"containerPorts": [{"port": 80}, {"port": 80, "protocol": "UDP"}]},
        {
            "default": [
                '.containerPorts[port=80,protocol="TCP"]',
                '.containerPorts[port=80,protocol="UDP"]',
                '.containerPorts[port=80,protocol="TCP"].port',
                '.containerPorts[port=80,protocol="UDP"].port',
                '.containerPorts[port=80,protocol="UDP"].protocol',
            ]
        },
        id="default-keys-tcp-and-udp",
    ),
    pytest.param(
        PORTS,
        [
            ("apply", "apply-one", {"containerPorts": [{"port": 80, "protocol": "TCP", "name": "foo"}]}),
            (
                "conflict",
                "apply-two",
                {"containerPorts": [{"port": 80, "name": "bar"}]},
                ['.containerPorts[port=80,protocol="TCP"].name'],
            ),
        ],
        {"containerPorts": [{"port": 80, "protocol": "TCP", "name": "foo"}]},
        {
            "apply-one": [
                '.containerPorts[port=80,protocol="TCP"]',
                '.containerPorts[port=80,protocol="TCP"].name',
                '.containerPorts[port=80,protocol="TCP"].port',
                '.containerPorts[port=80,protocol="TCP"].protocol',
            ]
        },
        id="default-keys-conflict-on-defaulted-item",
    ),
    pytest.param(
        STRUCT,
        [
            ("update", "updater", {"struct": {"name": "a", "scalarField": "a"}}),
            ("apply", "applier", {"struct": {"name": "a", "scalarField": "a"}}),
            ("apply", "applier", {"struct": {"name": "a"}}),
        ],
        {"struct": {"name": "a", "scalarField": "a"}},
        {"applier": [".struct.name"], "updater": [".struct", ".struct.name", ".struct.scalarField"]},
        id="struct-unset-scalar-shared-with-updater",
    ),
    pytest.param(
        STRUCT,
        [
            ("apply", "applier", {"struct": {"name": "a", "scalarField": "a"}}),
            ("update", "updater", {"struct": {"name": "a", "scalarField": "b"}}),
        ],
        {"struct": {"name": "a", "scalarField": "b"}},
        {"applier": [".struct.name"], "updater": [".struct.scalarField"]},
        id="struct-updater-claims-field",
    ),
    pytest.param(
        STRUCT,
        [
            ("apply", "apply-one", {"struct": {"name": "a", "complexField": {"name": "b"}}}),
            ("apply", "apply-one", {"struct": {"name": "a"}}),
        ],
        {"struct": {"name": "a"}},
        {"apply-one": [".struct.name"]},
        id="struct-unset-complex-sole-owner",
    ),
    pytest.param(
        STRUCT,
        [
            ("apply", "apply-one", {"struct": {"name": "a", "complexField": {"name": "b"}}}),
            ("apply", "apply-two", {"struct": {"complexField": {"name": "b"}}}),
            ("apply", "apply-one", {"struct": {"name": "a"}}),
        ],
        {"struct": {"name": "a", "complexField": {"name": "b"}}},
        {"apply-one": [".struct.name"], "apply-two": [".struct.complexField.name"]},
        id="struct-unset-complex-shared-with-applier",
    ),
    pytest.param(
        STRUCT,
        [
            ("apply", "a", {"struct": {"name": "x"}}),
            ("apply", "b", {"struct": {"scalarField": "y"}}),
            ("force", "b", {"struct": {"name": "z"}}),
        ],
        {"struct": {"name": "z"}},
        {"b": [".struct.name"]},
        id="struct-force-takes-over-and-prunes-own",
    ),
]


@pytest.mark.parametrize(("schema", "ops", "content", "managers"), CASES)
def test_sequence(
    schema: Any, ops: list[tuple[Any, ...]], content: dict[str, Any], managers: dict[str, list[str]]
) -> None:
    """After the operations, the object and the ownership are upstream's."""
    h = run(schema, ops)
    assert h.content() == content
    assert h.owned() == managers


def test_missing_key_without_default_is_rejected() -> None:
    """A keyed item lacking a key field with no default cannot be applied (400)."""
    h = History(PORTS)
    with pytest.raises(StatusError) as info:
        h.apply("default", {"containerPorts": [{"protocol": "TCP"}]})
    assert info.value.code == 400
    assert 'omits key field "port"' in info.value.message


def test_ambiguous_defaulted_keys_are_duplicates() -> None:
    """Two items that default to the same key are duplicates (400)."""
    h = History(PORTS)
    with pytest.raises(StatusError) as info:
        h.apply("default", {"containerPorts": [{"port": 80}, {"port": 80}]})
    assert info.value.code == 400
    assert 'duplicate entries for key [port=80,protocol="TCP"]' in info.value.message


def test_explicit_null_is_kept_for_custom_resources() -> None:
    """Custom resources store the null the applier sent, and the applier owns it."""
    h = run(
        LEAF, [("apply", "a", {"string": "x", "numeric": 1}), ("apply", "a", {"string": None, "numeric": 1})]
    )
    assert h.content() == {"string": None, "numeric": 1}
    assert h.owned() == {"a": [".numeric", ".string"]}


def test_pruning_a_custom_resource_map_removes_the_field() -> None:
    """A dropped declared field goes away whole when nobody else owns it."""
    h = run(
        NESTED,
        [
            ("apply", "a", {"mapOfMaps": {"x": {"y": "1"}}, "listOfLists": [{"name": "n"}]}),
            ("apply", "a", {"listOfLists": [{"name": "n"}]}),
        ],
    )
    assert h.content() == {"listOfLists": [{"name": "n"}]}


def test_pruning_the_last_key_of_a_map_someone_else_owns_leaves_null() -> None:
    """An emptied map whose container another manager owns becomes null in a custom resource."""
    h = run(
        NESTED,
        [
            ("update", "creator", {"mapOfMaps": {}}),
            ("apply", "a", {"mapOfMaps": {"x": {"y": "1"}}}),
            ("apply", "a", {}),
        ],
    )
    assert h.content() == {"mapOfMaps": None}
    assert h.owned() == {"creator": [".mapOfMaps"]}

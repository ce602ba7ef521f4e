"""validate() never raises: every field of every example object replaced by a value of the wrong
JSON type still yields field errors (or none), never an exception or an internal error."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from kijabi.machinery.validation import validate
from tests.machinery.validation.validation_objects import BUILDERS, KINDS

WRONG_VALUES: list[Any] = [None, -1, "x", [], {}, [1, None]]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield (*prefix, i)
            yield from _paths(child, (*prefix, i))


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_wrongly_typed_fields_never_raise(kind: str) -> None:
    group, version, k, namespaced = KINDS[kind]
    base = BUILDERS[kind]()
    for path in _paths(base):
        for wrong in WRONG_VALUES:
            obj = copy.deepcopy(base)
            target = obj
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = wrong
            for old in (None, base):
                errs = validate(group, version, k, obj, old, namespaced=namespaced)
                assert not [e for e in errs if e.type == "InternalError"], (path, wrong, errs)

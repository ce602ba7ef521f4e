"""A valid, defaulted object of every validated kind produces no errors, on create and on a no-op
update; and every registered kind has such an object here."""

from __future__ import annotations

import pytest

from kijabi.machinery.validation import REGISTRY
from tests.machinery.validation.validation_objects import BUILDERS, KINDS, errors_of, stored


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_valid_object_has_no_errors_on_create(kind: str) -> None:
    assert errors_of(kind, BUILDERS[kind]()) == []


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_unchanged_object_has_no_errors_on_update(kind: str) -> None:
    old = stored(BUILDERS[kind]())
    assert errors_of(kind, stored(BUILDERS[kind]()), old) == []


def test_every_registered_kind_has_a_valid_example() -> None:
    covered = {(group, kind) for group, _, kind, _ in KINDS.values()}
    missing = sorted(
        f"{g or 'core'}/{k}" for g, k in REGISTRY if (g, k) not in covered and k != "ResourceQuota"
    )
    assert missing == []

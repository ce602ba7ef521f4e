"""Prefix ranges: [prefix, prefix_end(prefix)) holds exactly the keys that start with the prefix."""

from __future__ import annotations

import pytest

from kijabi.storage._keys import prefix_end, prefix_range


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        ("/registry/pods/", "/registry/pods0"),
        ("/registry/pods/a", "/registry/pods/b"),
        ("a\U0010ffff", "b"),
        ("\U0010ffff\U0010ffff", None),
        ("", None),
        ("x\ud7ff", "x\ue000"),
        ("é", "ê"),
    ],
    ids=[
        "slash-terminated",
        "plain",
        "trailing max code point is carried",
        "only max code points: unbounded",
        "empty: unbounded",
        "skips the surrogate block",
        "non-ASCII",
    ],
)
def test_prefix_end(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end


@pytest.mark.parametrize("prefix", ["/registry/pods/", "/a", "a\U0010ffff", "x\ud7ff"])
def test_range_contains_exactly_the_prefixed_keys(prefix: str) -> None:
    start, end = prefix_range(prefix)
    candidates = [
        prefix,
        prefix + "x",
        prefix + "\U0010ffff",
        prefix[:-1],
        prefix[:-1] + "\U0010ffff",
        "~",
        "",
    ]
    if end is not None:
        candidates.append(end)
    for key in candidates:
        inside = key >= start and (end is None or key < end)
        assert inside == key.startswith(prefix), key
        assert key.encode("utf-8", "surrogatepass") >= start.encode("utf-8", "surrogatepass") or not inside

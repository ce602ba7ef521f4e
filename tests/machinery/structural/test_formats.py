"""String formats a CRD schema can check (kube-openapi strfmt.Default), value by value."""

from __future__ import annotations

import pytest

from kijabi.machinery.structural import formats

CASES = [
    ("date", "2024-02-29", True),
    ("date", "2023-02-29", False),
    ("date", "2024-1-01", False),
    ("date-time", "2024-01-01T10:00:00Z", True),
    ("date-time", "2024-01-01t10:00:00.5+02:00", True),
    ("date-time", "2024-01-01T24:00:00Z", False),
    ("date-time", "2024-01-01", False),
    ("datetime", "2024-01-01T10:00:00Z", True),
    ("duration", "1h30m", True),
    ("duration", "3 days", True),
    ("duration", "-1.5h", True),
    ("duration", "soon", False),
    ("byte", "aGVsbG8=", True),
    ("byte", "", False),
    ("byte", "aGVsbG8", False),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000", True),
    ("uuid", "123E4567E89B12D3A456426614174000", True),
    ("uuid", "123e4567", False),
    ("uuid4", "123e4567-e89b-42d3-a456-426614174000", True),
    ("uuid4", "123e4567-e89b-12d3-a456-426614174000", False),
    ("ipv4", "10.0.0.1", True),
    ("ipv4", "010.000.000.001", True),
    ("ipv4", "10.0.0", False),
    ("ipv4", "::ffff:10.0.0.1", True),
    ("ipv6", "fd00::1", True),
    ("ipv6", "10.0.0.1", False),
    ("cidr", "10.0.0.0/8", True),
    ("cidr", "fd00::/64", True),
    ("cidr", "10.0.0.0/33", False),
    ("cidr", "10.0.0.0", False),
    ("mac", "01:23:45:67:89:ab", True),
    ("mac", "0123.4567.89ab", True),
    ("mac", "01:23:45", False),
    ("hostname", "example.com", True),
    ("hostname", "localhost", True),
    ("hostname", "ex_ample.com", False),
    ("hostname", "a" * 64 + ".com", False),
    ("email", "user@example.com", True),
    ("email", "Name <user@example.com>", True),
    ("email", "not-an-email", False),
    ("uri", "https://example.com/path?q=1", True),
    ("uri", "/absolute/path", True),
    ("uri", "mailto:a@b.c", True),
    ("uri", "relative/path", False),
    ("uri", "https://example.com:port/", False),
    ("hexcolor", "#ffffff", True),
    ("hexcolor", "#ffff", False),
    ("rgbcolor", "rgb(255, 0, 10)", True),
    ("rgbcolor", "rgb(256,0,0)", False),
    ("isbn10", "0321751043", True),
    ("isbn13", "978-0321751041", True),
    ("isbn", "0321751044", False),
    ("creditcard", "4111 1111 1111 1111", True),
    ("creditcard", "4111 1111 1111 1112", False),
    ("ssn", "123-45-6789", True),
    ("ssn", "123456789", False),
    ("bsonobjectid", "507f1f77bcf86cd799439011", True),
    ("bsonobjectid", "507f1f77", False),
    ("password", "", True),
]


@pytest.mark.parametrize(
    ("fmt", "value", "ok"), CASES, ids=[f"{f}-{v or 'empty'}-{ok}" for f, v, ok in CASES]
)
def test_format(fmt: str, value: str, ok: bool) -> None:
    assert formats.valid(fmt, value) is ok


@pytest.mark.parametrize(
    ("name", "known"),
    [
        ("date-time", True),
        ("byte", True),
        ("int32", False),
        ("int64", False),
        ("double", False),
        ("Date", False),
    ],
)
def test_known_formats(name: str, known: bool) -> None:
    """Only kube-openapi's registry counts; apiextensions drops the rest from CRD validators."""
    assert formats.known(name) is known

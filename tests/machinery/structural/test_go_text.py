"""The Go printing, comparing and parsing rules that upstream's messages depend on."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.structural import _go, _goparse
from kijabi.machinery.structural._regex import GoRegexError, compile_go

FLOATS = [
    (1.0, "1"),
    (1.5, "1.5"),
    (-0.25, "-0.25"),
    (100000.0, "100000"),
    (1000000.0, "1e+06"),
    (1234567.0, "1.234567e+06"),
    (0.0001, "0.0001"),
    (0.00001, "1e-05"),
    (1e21, "1e+21"),
    (0.1 + 0.2, "0.30000000000000004"),
    (0.0, "0"),
]


@pytest.mark.parametrize(("value", "text"), FLOATS, ids=[t for _, t in FLOATS])
def test_float_v(value: float, text: str) -> None:
    """%v of a float64 (strconv 'g', shortest)."""
    assert _go.go_float(value) == text


JSON_FLOATS = [
    (1.0, "1"),
    (1e21, "1e+21"),
    (1e20, "100000000000000000000"),
    (1e-7, "1e-7"),
    (0.000001, "0.000001"),
]


@pytest.mark.parametrize(("value", "text"), JSON_FLOATS, ids=[t for _, t in JSON_FLOATS])
def test_float_json(value: float, text: str) -> None:
    """json.Marshal of a float64."""
    assert _go.go_json_float(value) == text


QUOTES = [
    ("a", '"a"'),
    ('a"b', '"a\\"b"'),
    ("tab\t", '"tab\\t"'),
    ("\x01", '"\\x01"'),
    ("é", '"é"'),
    ("\u200b", '"\\u200b"'),
]


@pytest.mark.parametrize(("value", "text"), QUOTES, ids=[repr(v) for v, _ in QUOTES])
def test_quote(value: str, text: str) -> None:
    """strconv.Quote."""
    assert _go.go_quote(value) == text


SHARP = [
    (None, "interface {}(nil)"),
    ({"b": 1, "a": [True, "x", 1.5]}, 'map[string]interface {}{"a":[]interface {}{true, "x", 1.5}, "b":1}'),
]


@pytest.mark.parametrize(("value", "text"), SHARP, ids=["nil", "nested"])
def test_sharp_v(value: Any, text: str) -> None:
    """%#v of decoded JSON (map keys sorted)."""
    assert _go.go_sharp_v(value) == text


def test_json_marshal_sorts_keys_and_escapes_html() -> None:
    assert _go.go_json({"b": [1, 2.0, None], "a": "<&>"}) == '{"a":"\\u003c\\u0026\\u003e","b":[1,2,null]}'


EQUAL = [
    (1, 1, True),
    (1, 1.0, False),
    (True, 1, False),
    ({"a": [1]}, {"a": [1]}, True),
    ({"a": [1]}, {"a": [1.0]}, False),
    (None, None, True),
]


@pytest.mark.parametrize(("a", "b", "equal"), EQUAL, ids=[f"{a!r}-{b!r}" for a, b, _ in EQUAL])
def test_deep_equal(a: Any, b: Any, equal: bool) -> None:
    """reflect.DeepEqual: int64 and float64 never compare equal."""
    assert _go.go_equal(a, b) is equal


REGEX = [
    ("^[a-z]+$", "abc", True),
    ("^[a-z]+$", "abc\n", False),
    (r"\d+", "٣", False),
    (r"^\pL+$", "héllo", True),
    ("[[:digit:]]{3}", "a123", True),
    ("(?i)abc", "ABC", True),
    (r"a\z", "a", True),
    (r"\Qa.b\E", "axb", False),
]


@pytest.mark.parametrize(("pattern", "text", "match"), REGEX, ids=[p for p, _, _ in REGEX])
def test_re2_patterns(pattern: str, text: str, match: bool) -> None:
    """RE2 semantics: $ is end of text, \\d is ASCII, POSIX classes, \\z, \\Q..\\E."""
    rx = compile_go(pattern)
    assert rx is not None
    assert (rx.search(text) is not None) is match


BAD_REGEX = [
    ("(", "error parsing regexp: missing closing ): `(`"),
    ("a)", "error parsing regexp: unexpected ): `a)`"),
    ("(?=x)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
    (r"(a)\1", "error parsing regexp: invalid escape sequence: `\\1`"),
    ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
    ("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
    ("[a", "error parsing regexp: missing closing ]: `[a`"),
]


@pytest.mark.parametrize(("pattern", "message"), BAD_REGEX, ids=[p for p, _ in BAD_REGEX])
def test_re2_rejections(pattern: str, message: str) -> None:
    with pytest.raises(GoRegexError) as exc:
        compile_go(pattern)
    assert str(exc.value) == message


def test_untranslatable_unicode_classes_are_skipped() -> None:
    assert compile_go(r"\p{Greek}") is None


DURATIONS = [
    ("300ms", True),
    ("-1.5h", True),
    ("2h45m", True),
    ("1µs", True),
    ("0", True),
    ("1", False),
    ("", False),
    ("1d", False),
]


@pytest.mark.parametrize(("text", "ok"), DURATIONS, ids=[t or "empty" for t, _ in DURATIONS])
def test_parse_duration(text: str, ok: bool) -> None:
    """time.ParseDuration."""
    assert _goparse.duration_ok(text) is ok


def test_micro_time_layout() -> None:
    """metav1.MicroTime parses with RFC3339Micro: exactly six fractional digits."""
    assert _goparse.time_error("2024-01-01T00:00:00.000001Z", micro=True) is None
    assert _goparse.time_error("2024-01-01T00:00:00Z", micro=True) == (
        'parsing time "2024-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"'
    )


def test_time_quotes_non_ascii_as_bytes() -> None:
    assert _goparse.time_error("é") == (
        'parsing time "\\xc3\\xa9" as "2006-01-02T15:04:05Z07:00": cannot parse "\\xc3\\xa9" as "2006"'
    )

"""The validation package's quantity model: exact values and upstream's canonical spelling, which
messages such as `must be less than or equal to cpu limit of 500m` print."""

from __future__ import annotations

import pytest

from kijabi.machinery.validation import _quantity


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        pytest.param("0.5", "500m", id="fraction-to-milli"),
        pytest.param("1000m", "1", id="milli-to-unit"),
        pytest.param("1000", "1k", id="thousand-to-k"),
        pytest.param("1024Mi", "1Gi", id="binary-up"),
        pytest.param("1.5Gi", "1536Mi", id="binary-down"),
        pytest.param("512", "512", id="plain"),
        pytest.param("100Ki", "100Ki", id="binary-kept"),
        pytest.param("0.5Ki", "512", id="small-binary-to-decimal"),
        pytest.param("1e3", "1e3", id="exponent"),
        pytest.param("0.0001", "100u", id="micro"),
        pytest.param("-1", "-1", id="negative"),
        pytest.param("0", "0", id="zero"),
        pytest.param(2, "2", id="json-int"),
        pytest.param(0.25, "250m", id="json-float"),
    ],
)
def test_canonical_form(text: object, canonical: str) -> None:
    assert str(_quantity.parse(text)) == canonical


@pytest.mark.parametrize("text", ["", "1.2.3", "abc", "1Qi", "1 Gi", "--1", "1e", "1ee3"])
def test_invalid_quantities(text: str) -> None:
    with pytest.raises(ValueError, match="quantities must match the regular expression"):
        _quantity.parse(text)


def test_values_compare_exactly() -> None:
    assert _quantity.parse("1Gi").value == _quantity.parse("1073741824").value
    assert _quantity.parse("100m").milli_value() == 100
    assert _quantity.parse("1.5").int_value() == 2

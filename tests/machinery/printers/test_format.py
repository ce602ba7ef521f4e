"""Shared cell formatting: labels, label selectors, quantities, access modes, bool pointers."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.printers import _format as fmt


@pytest.mark.parametrize(
    ("labels", "text"),
    [
        pytest.param(None, "<none>", id="nil"),
        pytest.param({}, "<none>", id="empty"),
        pytest.param({"b": "2", "a": "1"}, "a=1,b=2", id="sorted"),
        pytest.param({"a": "1", "a-b": "2"}, "a-b=2,a=1", id="sorted-as-whole-strings"),
        pytest.param({"flag": ""}, "flag=", id="empty-value"),
    ],
)
def test_format_labels(labels: dict[str, str] | None, text: str) -> None:
    """labels.FormatLabels sorts `k=v` strings, not keys."""
    assert fmt.format_labels(labels) == text


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        pytest.param(None, "<none>", id="nil"),
        pytest.param({}, "<none>", id="empty"),
        pytest.param({"matchLabels": {}, "matchExpressions": []}, "<none>", id="empty-parts"),
        pytest.param({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2", id="labels-sorted"),
        pytest.param(
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]},
            "env in (dev,prod)",
            id="in-values-sorted",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["x"]}]},
            "env notin (x)",
            id="notin",
        ),
        pytest.param({"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}, "gpu", id="exists"),
        pytest.param(
            {"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}, "!gpu", id="does-not-exist"
        ),
        pytest.param(
            {
                "matchLabels": {"z": "1"},
                "matchExpressions": [
                    {"key": "a", "operator": "Exists"},
                    {"key": "example.com/m", "operator": "In", "values": ["v"]},
                ],
            },
            "a,example.com/m in (v),z=1",
            id="mixed-sorted-by-key",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "k", "operator": "Gt", "values": ["1"]}]},
            "<error>",
            id="unsupported-operator",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "k", "operator": "In", "values": []}]},
            "<error>",
            id="in-without-values",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["x"]}]},
            "<error>",
            id="exists-with-values",
        ),
        pytest.param({"matchLabels": {"-bad": "x"}}, "<error>", id="bad-key"),
        pytest.param({"matchLabels": {"ok": "bad value"}}, "<error>", id="bad-value"),
        pytest.param({"matchLabels": {"Example.com/x": "v"}}, "<error>", id="uppercase-prefix"),
        pytest.param({"matchLabels": {"x" * 64: "v"}}, "<error>", id="name-too-long"),
    ],
)
def test_format_label_selector(selector: dict[str, Any] | None, text: str) -> None:
    """metav1.FormatLabelSelector: requirements sorted by key; `<none>` empty, `<error>` invalid."""
    assert fmt.format_label_selector(selector) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(None, "0", id="missing"),
        pytest.param("1024Mi", "1Gi", id="binary-canonical"),
        pytest.param("1536Mi", "1536Mi", id="binary-not-whole-gi"),
        pytest.param("0.5Gi", "512Mi", id="binary-fraction"),
        pytest.param("1000m", "1", id="milli-to-unit"),
        pytest.param("1500m", "1500m", id="milli"),
        pytest.param("2000000k", "2G", id="decimal-up"),
        pytest.param(5, "5", id="json-int"),
        pytest.param(0.25, "250m", id="json-float"),
        pytest.param("not-a-quantity", "not-a-quantity", id="invalid-as-written"),
    ],
)
def test_quantity(value: Any, text: str) -> None:
    """Quantities print in canonical form, as Quantity.String() does."""
    assert fmt.quantity(value) == text


@pytest.mark.parametrize(
    ("modes", "text"),
    [
        pytest.param(None, "", id="none"),
        pytest.param(
            ["ReadWriteOncePod", "ReadOnlyMany", "ReadWriteOnce", "ReadOnlyMany"],
            "RWO,ROX,RWOP",
            id="fixed-order-deduplicated",
        ),
        pytest.param(["ReadWriteMany"], "RWX", id="rwx"),
    ],
)
def test_access_modes(modes: list[str] | None, text: str) -> None:
    """Access modes abbreviated in the fixed order RWO, ROX, RWX, RWOP."""
    assert fmt.access_modes(modes) == text


@pytest.mark.parametrize(
    ("value", "text"), [(True, "True"), (False, "False"), (None, "<unset>")], ids=["true", "false", "unset"]
)
def test_bool_ptr(value: bool | None, text: str) -> None:
    """printBoolPtr."""
    assert fmt.bool_ptr(value) == text


@pytest.mark.parametrize(
    ("items", "total", "text"),
    [
        pytest.param([], 0, "<unset>", id="empty"),
        pytest.param(["a", "b"], 2, "a,b", id="few"),
        pytest.param(["a", "b", "c", "d"], 4, "a,b,c + 1 more...", id="more"),
    ],
)
def test_list_with_more(items: list[str], total: int, text: str) -> None:
    """listWithMoreString."""
    assert fmt.list_with_more(items, total) == text

"""Kubernetes JSONPath: selection, filters, slices, ranges, parse errors and text rendering."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import jsonpath
from kijabi.machinery.jsonpath import JSONPathError, JSONPathEvalError, JSONPathParseError

POD: dict[str, Any] = {
    "kind": "Pod",
    "metadata": {
        "name": "web-1",
        "labels": {"app": "web", "app.kubernetes.io/name": "frontend", "tier": "a"},
        "annotations": {"a.b/c": "dotted"},
    },
    "spec": {
        "replicas": 3,
        "containers": [
            {
                "name": "nginx",
                "image": "nginx:1.25",
                "ports": [{"containerPort": 80}, {"containerPort": 443}],
            },
            {"name": "sidecar", "image": "busybox"},
        ],
    },
    "status": {
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
        ],
        "ratio": 1.5,
        "nothing": None,
    },
}

STORE: dict[str, Any] = {
    "items": [
        {"name": "a", "price": 8, "ok": True},
        {"name": "b", "price": 12},
        {"name": "c", "price": 20, "ok": False},
    ],
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param(".spec.replicas", [3], id="field-chain"),
        pytest.param("{.spec.replicas}", [3], id="braced"),
        pytest.param("$.spec.replicas", [3], id="dollar-root"),
        pytest.param(".metadata.labels.app", ["web"], id="map-key"),
        pytest.param(".metadata.labels.app\\.kubernetes\\.io/name", ["frontend"], id="escaped-dots"),
        pytest.param(".metadata.annotations['a\\.b/c']", ["dotted"], id="bracket-key-escaped-dot"),
        pytest.param(".metadata['labels']['tier']", ["a"], id="bracket-keys"),
        pytest.param(".metadata.annotations['a.b/c']", [], id="bracket-key-dots-are-a-path-upstream"),
        pytest.param(".spec.containers[*].name", ["nginx", "sidecar"], id="wildcard-index"),
        pytest.param(".spec.containers[0].image", ["nginx:1.25"], id="index"),
        pytest.param(".spec.containers[-1].name", ["sidecar"], id="negative-index"),
        pytest.param(".spec.containers[0:1].name", ["nginx"], id="slice"),
        pytest.param(".spec.containers[:].name", ["nginx", "sidecar"], id="slice-open"),
        pytest.param(".spec.containers[0].ports[0:2:2].containerPort", [80], id="slice-step"),
        pytest.param(".spec.containers[0,1].name", ["nginx", "sidecar"], id="union-indices"),
        pytest.param(".metadata['name','kind']", ["web-1"], id="union-keys-missing-one"),
        pytest.param(".spec.containers[*].ports[*].containerPort", [80, 443], id="nested-wildcards"),
        pytest.param("..containerPort", [80, 443], id="recursive-descent"),
        pytest.param('.status.conditions[?(@.type=="Ready")].status', ["False"], id="filter-eq-double-quote"),
        pytest.param(
            ".status.conditions[?(@.type=='Ready')].reason",
            ["ContainersNotReady"],
            id="filter-eq-single-quote",
        ),
        pytest.param(".status.conditions[?(@.type!='Ready')].type", ["PodScheduled"], id="filter-ne"),
        pytest.param(".status.conditions[?(@.reason)].type", ["Ready"], id="filter-exists"),
        pytest.param(".spec.missing", [], id="missing-key"),
        pytest.param(".spec.replicas.deeper", [], id="field-of-scalar"),
        pytest.param(".status.nothing", [None], id="explicit-null"),
        pytest.param(".status.nothing.below", [], id="below-null"),
        pytest.param("{.metadata.name}:{.spec.replicas}", ["web-1", ":", 3], id="template-with-text"),
        pytest.param(".metadata.labels.*", ["web", "frontend", "a"], id="map-wildcard"),
    ],
)
def test_evaluate_pod(expr: str, expected: list[Any]) -> None:
    """`evaluate` returns every selected value; missing keys select nothing."""
    assert jsonpath.evaluate(POD, expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param(".items[?(@.price<10)].name", ["a"], id="lt"),
        pytest.param(".items[?(@.price<=12)].name", ["a", "b"], id="le"),
        pytest.param(".items[?(@.price>12)].name", ["c"], id="gt"),
        pytest.param(".items[?(@.price>=12)].name", ["b", "c"], id="ge"),
        pytest.param(".items[?(@.ok==true)].name", ["a"], id="bool-literal"),
        pytest.param(".items[?(@.ok)].name", ["a", "c"], id="exists-bool-field"),
        pytest.param(".items[?(@.ok==false)].name", ["c"], id="missing-field-skipped"),
        pytest.param(
            "{range .items[*]}{.name}={.price};{end}",
            ["a", "=", 8, ";", "b", "=", 12, ";", "c", "=", 20, ";"],
            id="range",
        ),
        pytest.param("{range .nothing[*]}{.name}{end}", [], id="empty-range"),
    ],
)
def test_evaluate_filters_and_ranges(expr: str, expected: list[Any]) -> None:
    """Filters compare like Go templates; `range`/`end` repeat their body per element."""
    assert jsonpath.evaluate(STORE, expr) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param("{.a", "unclosed action", id="unclosed-action"),
        pytest.param("{.a[0}", "unterminated array", id="unterminated-array"),
        pytest.param("{.a[x]}", "invalid array index x", id="bad-index"),
        pytest.param('{.a["x"]}', 'invalid array index "x"', id="double-quoted-key"),
        pytest.param("{.a[1:b]}", "invalid array index 1:b", id="bad-slice"),
        pytest.param("{.a[?(@.b==1]}", "unterminated filter", id="unterminated-filter"),
        pytest.param("{.a[?(@.b==1)}", "unclosed array expect ]", id="filter-without-bracket"),
        pytest.param("{{.a}}", "unrecognized character in action: U+007B '{'", id="nested-brace"),
        pytest.param("{.a\t}", "unrecognized character in action: U+0009", id="tab"),
        pytest.param("{....a}", "invalid multiple recursive descent", id="two-recursive-descents"),
        pytest.param("{'abc}", "unterminated quoted string", id="unterminated-quote"),
        pytest.param("{1.2.3}", "cannot parse number 1.2.3", id="bad-number"),
        pytest.param("{.a[-]}", "array index - is not a number", id="lone-minus"),
    ],
)
def test_parse_errors(expr: str, message: str) -> None:
    """Malformed templates raise JSONPathParseError (a ValueError) with upstream's message."""
    with pytest.raises(JSONPathParseError) as info:
        jsonpath.parse(expr)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param(
            ".spec.containers[5]", "array index out of bounds: index 5, length 2", id="index-out-of-range"
        ),
        pytest.param(
            ".spec.containers[1:9]",
            "array index out of bounds: index 8, length 2",
            id="slice-end-out-of-range",
        ),
        pytest.param(
            ".spec.containers[1:0]", "starting index 1 is greater than ending index 0", id="reversed-slice"
        ),
        pytest.param(".spec.containers[::0]", "step must be > 0", id="zero-step"),
        pytest.param(".metadata[0]", "map[string]interface {} is not array or slice", id="index-a-map"),
        pytest.param(
            ".status.conditions[?(@.type==1)]", "incompatible types for comparison", id="string-vs-int"
        ),
        pytest.param(
            ".status.conditions[?(@.type<true)]", "incompatible types for comparison", id="string-vs-bool"
        ),
        pytest.param(
            ".status.ratio[?(@.x)]", "1.5 is not array or slice and cannot be filtered", id="filter-a-scalar"
        ),
        pytest.param("{.a}{end}", "not in range, nothing to end", id="end-without-range"),
        pytest.param("{.spec bogus}", "unrecognized identifier bogus", id="unknown-identifier"),
    ],
)
def test_evaluation_errors(expr: str, message: str) -> None:
    """Valid templates that cannot apply to this object raise JSONPathEvalError."""
    with pytest.raises(JSONPathEvalError) as info:
        jsonpath.evaluate(POD, expr)
    assert str(info.value) == message


def test_missing_keys_can_be_errors() -> None:
    """With allow_missing_keys=False a missing field is an error (kubectl -o jsonpath)."""
    with pytest.raises(JSONPathError, match="missing is not found"):
        jsonpath.evaluate(POD, ".spec.missing", allow_missing_keys=False)


def test_column_parse_wraps_in_braces() -> None:
    """CRD printer columns are parsed as `{<jsonPath>}`, so braces inside them are invalid."""
    assert jsonpath.parse_column(".spec.replicas").find_results(POD) == [[3]]
    with pytest.raises(JSONPathParseError):
        jsonpath.parse_column("{.spec.replicas}")


def test_find_results_groups_per_block() -> None:
    """FindResults keeps one group per template block, literal text included."""
    path = jsonpath.parse("name={.metadata.name} ports={.spec.containers[0].ports[*].containerPort}")
    assert path.find_results(POD) == [["name="], ["web-1"], [" ports="], [80, 443]]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("{.metadata.name}", "web-1", id="string"),
        pytest.param("{.spec.containers[0].ports[*].containerPort}", "80 443", id="values-space-separated"),
        pytest.param("{.status.ratio}", "1.5", id="float"),
        pytest.param(
            "{.status.conditions[0]}", '{"status":"True","type":"PodScheduled"}', id="map-as-json-sorted"
        ),
        pytest.param("{.status.nothing}", "<nil>", id="null-field"),
        pytest.param(
            "{range .spec.containers[*]}{.name}{'\\n'}{end}", "nginx\nsidecar\n", id="range-with-newline"
        ),
    ],
)
def test_execute_text(template: str, expected: str) -> None:
    """`execute` renders like `kubectl -o jsonpath`."""
    assert jsonpath.parse(template).execute(POD) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("text", "text", id="string"),
        pytest.param(True, "true", id="bool"),
        pytest.param(5, "5", id="int"),
        pytest.param(1.5, "1.5", id="float"),
        pytest.param(3.0, "3", id="integral-float"),
        pytest.param(1234567.5, "1.2345675e+06", id="float-exponent"),
        pytest.param(123456.0, "123456", id="float-below-exponent"),
        pytest.param(0.0001, "0.0001", id="small-float"),
        pytest.param(0.00001, "1e-05", id="tiny-float"),
        pytest.param(None, "<no value>", id="null-alone"),
        pytest.param(["a", "b"], '["a","b"]', id="list-json"),
        pytest.param({"z": 1, "a": "<&>"}, '{"a":"\\u003c\\u0026\\u003e","z":1}', id="map-json-html-escaped"),
        pytest.param(
            {"f": 1e21, "g": 1e-7, "h": 2.0}, '{"f":1e+21,"g":1e-7,"h":2}', id="json-floats-go-style"
        ),
    ],
)
def test_go_text(value: Any, expected: str) -> None:
    """Printer-column text uses Go's fmt for scalars and encoding/json for maps and lists."""
    assert jsonpath.go_text(value) == expected


def test_execute_missing_keys() -> None:
    """Missing keys print nothing by default (kubectl's default) and fail when disallowed."""
    path = jsonpath.parse("[{.spec.missing}]")
    assert path.execute(POD) == "[]"
    with pytest.raises(JSONPathEvalError, match="missing is not found"):
        path.execute(POD, allow_missing_keys=False)

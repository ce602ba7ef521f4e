"""Name formats: upstream's exact error strings for DNS labels and subdomains, qualified names,
label values, config keys, port names, and the per-resource name rules (generateName masking)."""

from __future__ import annotations

import pytest

from kijabi.machinery.validation import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    meta,
)
from tests.machinery.validation.validation_messages import (
    CONFIG_KEY,
    DNS1035_LABEL,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    LABEL_VALUE,
    QUALIFIED_NAME_PART,
)

SUBDOMAIN_PREFIX = "prefix part " + DNS1123_SUBDOMAIN
QUALIFIED_FORM = (
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
    "(e.g. 'example.com/MyName')"
)


@pytest.mark.parametrize(
    ("func", "value", "expected"),
    [
        pytest.param(is_dns1123_label, "web-1", [], id="label-ok"),
        pytest.param(is_dns1123_label, "Web", [DNS1123_LABEL], id="label-upper-case"),
        pytest.param(is_dns1123_label, "a.b", ["must not contain dots"], id="label-with-dots"),
        pytest.param(is_dns1123_label, "-a", [DNS1123_LABEL], id="label-leading-dash"),
        pytest.param(is_dns1123_label, "a" * 64, ["must be no more than 63 characters"], id="label-too-long"),
        pytest.param(is_dns1123_label, "", [DNS1123_LABEL], id="label-empty"),
        pytest.param(is_dns1123_label, "a\n", [DNS1123_LABEL], id="label-trailing-newline"),
        pytest.param(is_dns1123_subdomain, "a.b-c.d", [], id="subdomain-ok"),
        pytest.param(is_dns1123_subdomain, "a..b", [DNS1123_SUBDOMAIN], id="subdomain-empty-label"),
        pytest.param(
            is_dns1123_subdomain,
            "a" * 254,
            ["must be no more than 253 characters"],
            id="subdomain-too-long",
        ),
        pytest.param(is_dns1035_label, "svc-1", [], id="1035-ok"),
        pytest.param(is_dns1035_label, "1svc", [DNS1035_LABEL], id="1035-leading-digit"),
        pytest.param(is_qualified_name, "app", [], id="qname-ok"),
        pytest.param(is_qualified_name, "example.com/App_1", [], id="qname-prefixed"),
        pytest.param(is_qualified_name, "/app", ["prefix part must be non-empty"], id="qname-empty-prefix"),
        pytest.param(is_qualified_name, "Example.com/app", [SUBDOMAIN_PREFIX], id="qname-bad-prefix"),
        pytest.param(is_qualified_name, "a/b/c", [QUALIFIED_FORM], id="qname-two-slashes"),
        pytest.param(
            is_qualified_name,
            "x/",
            ["name part must be non-empty", QUALIFIED_NAME_PART],
            id="qname-empty-name",
        ),
        pytest.param(
            is_qualified_name,
            "a" * 64,
            ["name part must be no more than 63 characters"],
            id="qname-name-too-long",
        ),
        pytest.param(is_qualified_name, "bad key!", [QUALIFIED_NAME_PART], id="qname-bad-chars"),
        pytest.param(is_valid_label_value, "", [], id="value-empty-ok"),
        pytest.param(is_valid_label_value, "v1.2_3", [], id="value-ok"),
        pytest.param(is_valid_label_value, "-x", [LABEL_VALUE], id="value-leading-dash"),
        pytest.param(
            is_valid_label_value, "x" * 64, ["must be no more than 63 characters"], id="value-too-long"
        ),
        pytest.param(meta.is_config_map_key, "..data", ["must not start with '..'"], id="key-dotdot-prefix"),
        pytest.param(meta.is_config_map_key, ".", ["must not be '.'"], id="key-dot"),
        pytest.param(meta.is_config_map_key, "a b", [CONFIG_KEY], id="key-space"),
        pytest.param(
            meta.is_valid_port_name,
            "Http--",
            [
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must not contain consecutive hyphens",
                "must not begin or end with a hyphen",
            ],
            id="port-name-many-problems",
        ),
        pytest.param(
            meta.is_valid_port_name, "8080", ["must contain at least one letter (a-z)"], id="port-name-digits"
        ),
        pytest.param(
            meta.is_valid_port_name,
            "a-very-long-port-name",
            ["must be no more than 15 characters"],
            id="port-name-long",
        ),
        pytest.param(meta.is_valid_path_segment_name, "..", ["may not be '..'"], id="segment-dotdot"),
        pytest.param(
            meta.is_valid_path_segment_name,
            "a/b%c",
            ["may not contain '/'", "may not contain '%'"],
            id="segment-chars",
        ),
        pytest.param(
            meta.is_relaxed_env_var_name,
            "A=B",
            [
                "a valid environment variable name must consist only of printable ASCII characters other than '='"
            ],
            id="env-equals",
        ),
        pytest.param(meta.is_relaxed_env_var_name, "1-odd.name", [], id="env-relaxed-ok"),
    ],
)
def test_format_messages(func: object, value: str, expected: list[str]) -> None:
    assert func(value) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("func", "name", "prefix", "expected"),
    [
        pytest.param(meta.name_is_dns_subdomain, "web-", True, [], id="generate-name-trailing-dash-ok"),
        pytest.param(meta.name_is_dns_subdomain, "web-", False, [DNS1123_SUBDOMAIN], id="name-trailing-dash"),
        pytest.param(meta.name_is_dns_label, "-", True, [DNS1123_LABEL], id="single-dash-not-masked"),
        pytest.param(meta.name_is_dns1035_label, "svc-", True, [], id="1035-prefix-ok"),
        pytest.param(meta.name_is_path_segment, "a:b", False, [], id="path-segment-colon-ok"),
        pytest.param(meta.name_is_path_segment, "..", True, [], id="path-segment-prefix-dotdot-ok"),
    ],
)
def test_name_rules(func: meta.NameFn, name: str, prefix: bool, expected: list[str]) -> None:
    assert func(name, prefix) == expected


def test_results_are_fresh_lists() -> None:
    first = is_dns1123_label("Bad")
    first.append("mutated")
    assert is_dns1123_label("Bad") == [DNS1123_LABEL]

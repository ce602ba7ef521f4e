"""Request body decoding and response encoding.

Bodies arrive as JSON, YAML or Kubernetes protobuf; anything else is 415. Bodies over 3 MiB are 413,
nesting deeper than `MAX_DEPTH` is 400, malformed input is 400. Replies are JSON (or YAML when asked):
clients decode by the reply's Content-Type, so protobuf is never required on the way out.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from kijabi.machinery import errors

MAX_BODY = 3 * 1024 * 1024
MAX_DEPTH = 100

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply-cbor",
}


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors/aliases: they allow exponential 'billion laughs' bodies."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases are not supported")
        return super().compose_node(parent, index)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _too_deep() -> errors.StatusError:
    return errors.bad_request(f"the object nesting is deeper than the maximum of {MAX_DEPTH} levels")


def _check_containers(values: Any, depth: int) -> None:
    """Raise if a container among `values` (the members of one at `depth - 1`) nests too deep."""
    for x in values:
        t = type(x)
        if t is dict:
            if depth > MAX_DEPTH:
                raise _too_deep()
            if x:
                _check_containers(x.values(), depth + 1)
        elif t is list:
            if depth > MAX_DEPTH:
                raise _too_deep()
            if x:
                _check_containers(x, depth + 1)


def _check_depth(value: Any) -> None:
    """400 when containers nest deeper than MAX_DEPTH levels (the top-level value is level 1)."""
    _check_containers((value,), 1)


def decode_json(body: bytes) -> Any:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"json: {exc}") from None
    # Nesting needs an opening bracket per level: a body with few brackets needs no walk.
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH:
        _check_depth(value)
    return value


def decode_yaml(body: bytes) -> Any:
    try:
        value = yaml.load(body, Loader=_NoAliasLoader)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None
    _check_depth(value)
    # YAML may produce non-JSON scalars (dates, binary); round-trip through JSON rules.
    try:
        result = orjson.loads(orjson.dumps(value, default=str))
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None
    return result


def decode_body(body: bytes, content_type: str | None) -> Any:
    """The request body as a JSON value, by Content-Type."""
    if len(body) > MAX_BODY:
        raise errors.too_large()
    mt = media_type(content_type)
    if mt in ("", JSON, "application/json-patch+json", "application/merge-patch+json",
              "application/strategic-merge-patch+json"):
        return decode_json(body)
    if mt in (YAML, "application/apply-patch+yaml", "text/yaml", "application/x-yaml"):
        return decode_yaml(body)
    if mt == PROTOBUF:
        from kijabi.machinery import protobuf

        return protobuf.decode(body)
    raise errors.unsupported_media_type(mt)


def encode_json(value: Any) -> bytes:
    return orjson.dumps(value)


class _NoAliasDumper(yaml.SafeDumper):
    """YAML as Kubernetes writes it: a value that occurs twice (objects may share parts, such as the
    field sets of managedFields) is written out twice, never as an anchor and an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def encode_yaml(value: Any) -> bytes:
    return yaml.dump(value, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True).encode()

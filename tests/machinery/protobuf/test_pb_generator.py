"""tools/gen_proto_table.py: the .proto subset parser, the Go struct reader, and the table it builds."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_proto_table", ROOT / "tools" / "gen_proto_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_proto_table"] = module
    spec.loader.exec_module(module)
    return module


gen = _load()

PROTO = """
// header comment
syntax = "proto2";

package k8s.io.api.demo.v1;

import "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto";

option go_package = "k8s.io/api/demo/v1";

/* a block
   comment */
message Widget {
  // +optional
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;

  optional WidgetSpec spec = 2 [packed = false];

  map<string, string> labels = 3;

  repeated Part parts = 4;

  message Part {
    optional string name = 1;
  }
}

message WidgetSpec {
  optional int32 size = 1;

  repeated int64 numbers = 2;

  map<string, .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta> byName = 3;
}

// Tags masks the value so protobuf can generate
// +protobuf.nullable=true
message Tags {
  // items, if empty, will result in an empty slice

  repeated string items = 1;
}
"""


def test_parser_messages_and_fields() -> None:
    """Messages (nested too), labels, maps, field options and comments are understood."""
    parser = gen.ProtoParser(PROTO)
    messages = {msg.full_name: msg for msg in parser.parse()}
    assert parser.package == "k8s.io.api.demo.v1"
    assert sorted(messages) == [
        "k8s.io.api.demo.v1.Tags",
        "k8s.io.api.demo.v1.Widget",
        "k8s.io.api.demo.v1.Widget.Part",
        "k8s.io.api.demo.v1.WidgetSpec",
    ]
    widget = messages["k8s.io.api.demo.v1.Widget"]
    assert [(f.number, f.name, f.type, f.label, f.key_type) for f in widget.fields] == [
        (1, "metadata", ".k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", "optional", ""),
        (2, "spec", "WidgetSpec", "optional", ""),
        (3, "labels", "string", "map", "string"),
        (4, "parts", "Part", "repeated", ""),
    ]
    assert messages["k8s.io.api.demo.v1.Tags"].nullable
    assert not widget.nullable


@pytest.mark.parametrize(
    ("type_name", "scope", "expected"),
    [
        ("string", "k8s.io.api.demo.v1.Widget", "string"),
        ("Part", "k8s.io.api.demo.v1.Widget", "k8s.io.api.demo.v1.Widget.Part"),
        ("WidgetSpec", "k8s.io.api.demo.v1.Widget", "k8s.io.api.demo.v1.WidgetSpec"),
        (".k8s.io.api.demo.v1.WidgetSpec", "k8s.io.api.other.v1.X", "k8s.io.api.demo.v1.WidgetSpec"),
        ("demo.v1.WidgetSpec", "k8s.io.api.other.v1.X", "k8s.io.api.demo.v1.WidgetSpec"),
    ],
)
def test_resolve(type_name: str, scope: str, expected: str) -> None:
    """Type references resolve from the innermost scope outward, as protoc does."""
    known = {"k8s.io.api.demo.v1.Widget", "k8s.io.api.demo.v1.Widget.Part", "k8s.io.api.demo.v1.WidgetSpec"}
    assert gen.resolve(type_name, scope, known) == expected


@pytest.mark.parametrize(
    "text",
    [
        "enum Color { RED = 0; }",
        "message A { oneof x { string a = 1; } }",
        "message A { optional string a = 1 }",
        "message A { optional string a = 1;",
        "message A { optional string a = @; }",
    ],
)
def test_parser_refuses_what_it_does_not_know(text: str) -> None:
    """Constructs outside the subset are errors, not silently wrong tables."""
    with pytest.raises(gen.ProtoSyntaxError):
        gen.ProtoParser(text).parse()


GO = """package v1

type Widget struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	Spec WidgetSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
	// Old string `json:"old" protobuf:"bytes,9,opt,name=old"`
	Inner `json:",inline" protobuf:"bytes,3,opt,name=inner"`
	UID *string `json:"uid,omitempty" protobuf:"bytes,4,opt,name=uID"`
	Local int `json:"-" protobuf:"-"`
	Raw []byte `protobuf:"bytes,5,opt,name=raw"`
}

type Empty struct{}

type List metav1.List
"""


def test_go_structs(tmp_path: Path) -> None:
    """JSON name, omitempty, pointer and inline come from the Go struct tags, keyed by proto number."""
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "types.go").write_text(GO)
    (tmp_path / "demo" / "types_test.go").write_text("type Ignored struct {\n}\n")
    structs, defined = gen.go_structs(gen.Tree(tmp_path, None), "demo")
    assert set(structs) == {"Widget", "Empty"}
    widget = structs["Widget"]
    assert {n: (f.json_name, f.omitempty, f.pointer, f.inline) for n, f in widget.items()} == {
        1: ("metadata", True, False, False),
        2: ("spec", False, False, False),
        3: ("", False, False, True),
        4: ("uid", True, True, False),
        5: ("Raw", False, False, False),
    }
    assert defined == {"List": "metav1.List"}


def test_block() -> None:
    """_block finds the bracketed body after a marker."""
    text = "func addKnownTypes(scheme *runtime.Scheme) error {\n\tscheme.Add(&A{}, &B{})\n}\nfunc other() {}"
    assert gen._KNOWN.findall(gen._block(text, "func addKnownTypes", "{")) == ["A", "B"]


def test_checked_in_table_format() -> None:
    """The table in the package has the documented shape and one JSON object per message line."""
    path = ROOT / "kijabi" / "machinery" / "protobuf" / "messages.json"
    data = json.loads(path.read_text())
    assert set(data) == {"source", "groups", "kinds", "meta", "wrappers", "messages"}
    assert data["groups"]["k8s.io.api.apps.v1"] == "apps/v1"
    assert "Deployment" in data["kinds"]["apps/v1"]
    for rows in data["messages"].values():
        for number, json_name, typ, label, flags in rows:
            assert isinstance(number, int) and number > 0
            assert isinstance(json_name, str) and isinstance(typ, str)
            assert label in ("", "r") or label.startswith("m:")
            assert set(flags) <= {"p", "e", "i"}
    assert len(path.read_text().splitlines()) == len(data["messages"]) + 8

"""Regenerate the Python modules of runtime_v1.proto (run from the repository root).

    .venv/bin/python kijabi/kubelet/cri/regen.py

Runs grpc_tools.protoc with the repository root as include path, so that the generated gRPC module imports
the message module as `kijabi.kubelet.cri.runtime_v1_pb2`, then puts a header on each generated file that
keeps mypy and ruff out of them. Run as a script path (not `-m`): the package's `__init__` imports the
generated modules, which may be the very thing being repaired.

The generated code checks at import time that the installed grpcio and protobuf are at least the versions
of grpcio-tools that generated it; regenerate after lowering either.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PROTO = HERE.relative_to(ROOT) / "runtime_v1.proto"
GENERATED = ("runtime_v1_pb2.py", "runtime_v1_pb2.pyi", "runtime_v1_pb2_grpc.py")
HEADER = "# mypy: ignore-errors\n# ruff: noqa\n# Generated from runtime_v1.proto by kijabi/kubelet/cri/regen.py. Do not edit.\n"


def main() -> int:
    cmd = [sys.executable, "-m", "grpc_tools.protoc", "-I.", "--python_out=.", "--pyi_out=.",
           "--grpc_python_out=.", str(PROTO)]
    subprocess.run(cmd, cwd=ROOT, check=True)
    for name in GENERATED:
        path = HERE / name
        text = path.read_text()
        if not text.startswith(HEADER):
            path.write_text(HEADER + text)
    print(f"regenerated {', '.join(GENERATED)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

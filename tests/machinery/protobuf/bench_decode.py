"""Benchmark: protobuf decode/encode of a ~5 KB pod, as a ratio to json.loads/json.dumps of the same
object measured in the same run (this machine's speed varies a lot from run to run).

    .venv/bin/python tests/machinery/protobuf/bench_decode.py
"""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from kijabi.machinery import protobuf
from tests.machinery.protobuf.pb_objects import pod


def best_us(fn: object, number: int = 100, repeat: int = 30) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    obj = pod()
    body = protobuf.encode(obj)
    text = json.dumps(obj, separators=(",", ":"))
    assert protobuf.decode(body) == obj
    decode = best_us(lambda: protobuf.decode(body))
    loads = best_us(lambda: json.loads(text))
    encode = best_us(lambda: protobuf.encode(obj))
    dumps = best_us(lambda: json.dumps(obj, separators=(",", ":")))
    print(f"pod: {len(text)} bytes of JSON, {len(body)} bytes of protobuf")
    print(f"decode {decode:7.1f} us  = {decode / loads:4.1f} x json.loads ({loads:.1f} us)")
    print(f"encode {encode:7.1f} us  = {encode / dumps:4.1f} x json.dumps ({dumps:.1f} us)")


if __name__ == "__main__":
    main()

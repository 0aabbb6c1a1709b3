"""Would msgspec pay? Decoding the same lines with orjson and with msgspec, same run.

    python bench/decode_msgspec.py FILE.jsonl

Three decoders over every line of FILE (best of three, CPU seconds): `orjson.loads` (the
benches' floor), msgspec's generic decoder (dicts, as orjson), and msgspec into typed OTLP
`Struct`s (only the fields the loader reads; attribute values as typed fields instead of one
dict each). Files: `load_throughput.py --shape many-short` / `few-long` make them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson


class Value(msgspec.Struct):
    stringValue: str | None = None
    intValue: Any = None
    boolValue: Any = None
    doubleValue: Any = None
    arrayValue: Any = None
    kvlistValue: Any = None


class Attribute(msgspec.Struct):
    key: str
    value: Value


class Status(msgspec.Struct):
    code: Any = 0
    message: Any = None


class Span(msgspec.Struct):
    traceId: str
    spanId: str
    name: str = ""
    parentSpanId: str = ""
    kind: Any = 0
    startTimeUnixNano: Any = 0
    endTimeUnixNano: Any = 0
    attributes: list[Attribute] = []
    status: Status | None = None


class Scope(msgspec.Struct):
    name: str | None = None


class ScopeSpans(msgspec.Struct):
    scope: Scope | None = None
    spans: list[Span] = []


class ResourceSpans(msgspec.Struct):
    scopeSpans: list[ScopeSpans] = []


class Request(msgspec.Struct):
    resourceSpans: list[ResourceSpans] = []


def best_cpu(lines: list[bytes], decode: Callable[[bytes], Any]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for line in lines:
            decode(line)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    lines = [line for line in Path(sys.argv[1]).read_bytes().splitlines() if line.strip()]
    size = sum(map(len, lines)) / 1e6
    floor = best_cpu(lines, orjson.loads)
    print(f"{len(lines)} lines, {size:.0f} MB")
    print(f"orjson.loads                 {floor:.3f} s CPU")
    for name, decoder in (
        ("msgspec generic", msgspec.json.Decoder()),
        ("msgspec typed OTLP Structs", msgspec.json.Decoder(Request)),
    ):
        cpu = best_cpu(lines, decoder.decode)
        print(f"{name:<28} {cpu:.3f} s CPU  ({floor / cpu:.2f}x orjson's speed)")


if __name__ == "__main__":
    main()

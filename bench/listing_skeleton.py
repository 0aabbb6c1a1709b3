"""How fast could a listing be in Python at all? A skeleton beside the loader, same run.

    python bench/listing_skeleton.py FILE.jsonl [--repeat 3]

A probe for the next design of the loader, not a second loader: it does only the least any
listing must do, and so bounds from below what one written in Python can reach. Per line of
spans: msgspec decoding into `Struct`s with every attribute value kept raw (`msgspec.Raw`), a
dict of them per span, the session read from `session.id` / `gen_ai.conversation.id` (the
trace id when neither is there), the input tokens summed and the first start kept per session.
It reads no log line, no convention, no message, stitches nothing, checks nothing and warns
about nothing, so its "sessions" are not the loader's (it prints how many it found).

Printed, each the fastest of `--repeat` runs in a fresh process (CPU seconds): `orjson.loads`
of every line (the floor of bench/load_throughput.py), the skeleton, and `load_traces` plus
what `deftrace sessions` reads of every session (the listing of load_throughput.py), each with
its ratio to the floor.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import orjson


class _Value(msgspec.Struct, gc=False):
    stringValue: str | None = None
    intValue: str | int | None = None


class _KeyValue(msgspec.Struct, gc=False):
    key: str
    value: msgspec.Raw


class _Span(msgspec.Struct, gc=False):
    traceId: str
    startTimeUnixNano: str | int = 0
    attributes: list[_KeyValue] = []


class _Scope(msgspec.Struct, gc=False):
    spans: list[_Span] = []


class _Resource(msgspec.Struct, gc=False):
    scopeSpans: list[_Scope] = []


class _Request(msgspec.Struct, gc=False):
    resourceSpans: list[_Resource] = []


_SESSION_KEYS = ("session.id", "gen_ai.conversation.id")
_TOKENS = "gen_ai.usage.input_tokens"


def floor(path: Path) -> dict[str, float]:
    cpu = time.process_time()
    with open(path, "rb", buffering=1 << 20) as f:
        for line in f:
            orjson.loads(line)
    return {"cpu": time.process_time() - cpu}


def skeleton(path: Path) -> dict[str, float]:
    decode = msgspec.json.Decoder(_Request).decode
    value = msgspec.json.Decoder(_Value).decode
    cpu = time.process_time()
    sessions: dict[str, list[int]] = {}
    with open(path, "rb", buffering=1 << 20) as f:
        for line in f:
            if not line.startswith(b'{"resourceSpans"'):
                continue  # logs: not read here
            for resource in decode(line).resourceSpans:
                for scope in resource.scopeSpans:
                    for span in scope.spans:
                        _add(span, sessions, value)
    return {"cpu": time.process_time() - cpu, "sessions": len(sessions)}


def _add(span: _Span, sessions: dict[str, list[int]], value: Any) -> None:
    attributes = {kv.key: kv.value for kv in span.attributes}
    key = span.traceId
    for name in _SESSION_KEYS:
        raw = attributes.get(name)
        if raw is not None:
            key = value(raw).stringValue or key
            break
    found = sessions.get(key)
    if found is None:
        found = sessions[key] = [0, 0]
    tokens = attributes.get(_TOKENS)
    if tokens is not None:
        found[0] += int(value(tokens).intValue or 0)
    start = int(span.startTimeUnixNano)
    if not found[1] or start < found[1]:
        found[1] = start


def loader(path: Path) -> dict[str, float]:
    from definable_trace.loading import load_traces

    cpu = time.process_time()
    rows = [
        (s.id, len(s.turns), s.message_count, s.metrics.input_tokens, s.start, s.models)
        for s in load_traces(path)
    ]
    return {"cpu": time.process_time() - cpu, "sessions": len(rows)}


_STEPS = {"floor": floor, "skeleton": skeleton, "loader": loader}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--step", choices=sorted(_STEPS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(_STEPS[args.step](args.file)))
        return
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in _STEPS}
    for _ in range(args.repeat):
        for name in _STEPS:
            out = subprocess.run(
                [sys.executable, __file__, str(args.file), f"--step={name}"],
                check=True,
                capture_output=True,
                text=True,
            )
            runs[name].append(json.loads(out.stdout))
    best = {name: min(found, key=lambda r: r["cpu"]) for name, found in runs.items()}
    base = best["floor"]["cpu"]
    print(f"file: {args.file}")
    print(f"orjson.loads of every line (floor)       {base:6.3f} s")
    for name, label in (("skeleton", "skeleton listing"), ("loader", "load_traces listing")):
        found = best[name]
        print(
            f"{label:40} {found['cpu']:6.3f} s  ratio {base / found['cpu']:.2f}  "
            f"({int(found['sessions'])} sessions)"
        )


if __name__ == "__main__":
    main()

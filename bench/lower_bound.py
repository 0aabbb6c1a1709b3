"""The least work a listing, and a load with every history, must do in Python, same run.

    python bench/lower_bound.py FILE.jsonl [--repeat 3]

A measurement of the goal, not a loader: issue 8 asks the listing of a many-short file for
0.6x of `orjson.loads` of its lines, and the load with every history for 0.45x. This bench
does a strict part of what each must do, as cheaply as we could write it, and prints its time
beside the floor and the loader's in the same run. If the part alone is slower than the goal,
no Python design that decodes its input can reach the goal on that file.

What the two bounds do (each a part of what the loader does, none of it checked):

- listing: every span line decoded by msgspec into `Struct`s, attribute values kept raw
  (`msgspec.Raw`, as fast as decoding gets in Python: bench/decode_msgspec.py); every log
  line decoded to its span ids and counted per span; per span, its attribute names as a
  tuple and a plan per such tuple, its session (its own attribute, else its parent's), its
  times, and a tuple of it in its session's list. Spans with no session (to be stitched)
  have the input messages they carry as attributes hashed as a chain, one dict probe per
  message (what stitching cannot do with less); content in log records is not read. Then
  per session: calls counted as its turns, tokens summed, first and last time, models, and
  the length of the last call's input list. No id, time or value is checked, no lineage,
  convention or flag is read, no warning made.
- load: the same reading and stitching, then per session one `Message` (role and text) for
  each entry of its calls' input and output lists not seen before in it (compared as raw
  bytes): fewer than the loader builds (it prints both counts), since stitched sessions,
  flattened attributes and content in log records are left out.

Both raise the collector's young threshold while they run, as `load_traces` does.

Each step runs `--repeat` times in a fresh process; the fastest CPU time is printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import orjson


class _KeyValue(msgspec.Struct, gc=False):
    key: str
    value: msgspec.Raw


class _Span(msgspec.Struct, gc=False):
    traceId: str
    spanId: str
    parentSpanId: str = ""
    name: str = ""
    startTimeUnixNano: str = "0"
    endTimeUnixNano: str = "0"
    attributes: list[_KeyValue] = []


class _Scope(msgspec.Struct, gc=False):
    spans: list[_Span] = []


class _Resource(msgspec.Struct, gc=False):
    scopeSpans: list[_Scope] = []


class _Request(msgspec.Struct, gc=False):
    resourceSpans: list[_Resource] = []


class _LogRecord(msgspec.Struct, gc=False):
    spanId: str = ""


class _ScopeLogs(msgspec.Struct, gc=False):
    logRecords: list[_LogRecord] = []


class _ResourceLogs(msgspec.Struct, gc=False):
    scopeLogs: list[_ScopeLogs] = []


class _LogsRequest(msgspec.Struct, gc=False):
    resourceLogs: list[_ResourceLogs] = []


class _Value(msgspec.Struct, gc=False):
    stringValue: str | None = None
    intValue: str | int | None = None


_SESSION = ("session.id", "gen_ai.conversation.id", "traceloop.association.properties.session_id")
_MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
_INPUT = ("gen_ai.input.messages", "gen_ai.prompt", "input.value")
_OUTPUT = ("gen_ai.output.messages", "gen_ai.completion", "output.value")
_FLAT = ("llm.input_messages.", "gen_ai.prompt.")


class _Plan(msgspec.Struct, gc=False):
    """Where a shape's values are, found once per tuple of attribute names."""

    session: int
    input_tokens: int
    output_tokens: int
    model: int
    input: int
    output: int
    flat: tuple[int, ...]


def _plan(keys: tuple[str, ...]) -> _Plan:
    at = {key: i for i, key in enumerate(keys)}
    first = lambda names: next((at[n] for n in names if n in at), -1)  # noqa: E731
    return _Plan(
        first(_SESSION),
        at.get("gen_ai.usage.input_tokens", at.get("llm.token_count.prompt", -1)),
        at.get("gen_ai.usage.output_tokens", at.get("llm.token_count.completion", -1)),
        first(_MODEL),
        first(_INPUT),
        first(_OUTPUT),
        tuple(i for i, key in enumerate(keys) if key.startswith(_FLAT)),
    )


_YOUNG = 100_000
"""The young generation's threshold while reading, as `load_traces` sets it."""

_Record = tuple[str, int, int, _Plan, list[_KeyValue]]
_VALUE = msgspec.json.Decoder(_Value).decode
_RAWS = msgspec.json.Decoder(list[msgspec.Raw]).decode
_ANY = msgspec.json.Decoder().decode


def _read(path: Path) -> tuple[dict[str, list[_Record]], list[_Record], dict[str, int]]:
    """Sessions' spans, spans with no session, log records per span."""
    spans = msgspec.json.Decoder(_Request).decode
    logs = msgspec.json.Decoder(_LogsRequest).decode
    plans: dict[tuple[str, ...], _Plan] = {}
    session_of: dict[str, str | None] = {}
    sessions: dict[str, list[_Record]] = {}
    orphans: list[_Record] = []
    per_span: dict[str, int] = {}
    with open(path, "rb", buffering=1 << 20) as f:
        for line in f:
            if line.startswith(b'{"resourceLogs"'):
                for resource in logs(line).resourceLogs:
                    for group in resource.scopeLogs:
                        for log in group.logRecords:
                            per_span[log.spanId] = per_span.get(log.spanId, 0) + 1
                continue
            for resource_spans in spans(line).resourceSpans:
                for scope in resource_spans.scopeSpans:
                    for span in scope.spans:
                        _place(span, plans, session_of, sessions, orphans)
    return sessions, orphans, per_span


def _place(
    span: _Span,
    plans: dict[tuple[str, ...], _Plan],
    session_of: dict[str, str | None],
    sessions: dict[str, list[_Record]],
    orphans: list[_Record],
) -> None:
    """One span into its session's list (or the orphans'): its plan, session and times."""
    attributes = span.attributes
    keys = tuple([item.key for item in attributes])
    plan = plans.get(keys)
    if plan is None:
        plan = plans[keys] = _plan(keys)
    at = plan.session
    session = _VALUE(attributes[at].value).stringValue if at >= 0 else None
    if session is None and span.parentSpanId:
        session = session_of.get(span.parentSpanId)
    session_of[span.spanId] = session
    record = (
        span.spanId,
        int(span.startTimeUnixNano),
        int(span.endTimeUnixNano),
        plan,
        attributes,
    )
    if session is None:
        orphans.append(record)
    elif (found := sessions.get(session)) is None:
        sessions[session] = [record]
    else:
        found.append(record)


def _stitch(orphans: list[_Record]) -> int:
    """Each orphan's input messages hashed as a chain, one probe each: stitching's least."""
    ends: dict[int, _Record] = {}
    probes = 0
    for record in orphans:
        plan, attributes = record[3], record[4]
        chain = 0
        if plan.input >= 0:
            text = _VALUE(attributes[plan.input].value).stringValue or ""
            items: list[Any] = _RAWS(text) if text.startswith("[") else [text]
        else:
            items = [bytes(attributes[i].value) for i in plan.flat]
        for item in items:
            chain = hash((chain, bytes(item)))
            probes += ends.get(chain) is not None
        ends[chain] = record
    return probes


def _last_input(records: list[_Record]) -> list[Any]:
    """The entries of the input list of the session's last call that has one."""
    for record in reversed(records):
        plan = record[3]
        if plan.input >= 0:
            text = _VALUE(record[4][plan.input].value).stringValue or "[]"
            return _RAWS(text) if text.startswith("[") else []
    return []


def floor(path: Path) -> dict[str, float]:
    cpu = time.process_time()
    with open(path, "rb", buffering=1 << 20) as f:
        for line in f:
            orjson.loads(line)
    return {"cpu": time.process_time() - cpu}


def listing_bound(path: Path) -> dict[str, float]:
    gc.set_threshold(_YOUNG, *gc.get_threshold()[1:])
    cpu = time.process_time()
    sessions, orphans, per_span = _read(path)
    _stitch(orphans)
    rows = []
    for session, records in sessions.items():
        calls = input_tokens = output_tokens = 0
        first, last = records[0][1], records[0][2]
        models: set[bytes] = set()
        for _, start, end, plan, attributes in records:
            if plan.input_tokens >= 0:
                calls += 1
                input_tokens += int(_VALUE(attributes[plan.input_tokens].value).intValue or 0)
                if plan.output_tokens >= 0:
                    value = _VALUE(attributes[plan.output_tokens].value).intValue
                    output_tokens += int(value or 0)
            if plan.model >= 0:
                models.add(bytes(attributes[plan.model].value))
            first, last = min(first, start), max(last, end)
        count = len(_last_input(records)) + per_span.get(records[-1][0], 0)
        rows.append((session, calls, count, input_tokens, output_tokens, first, last, models))
    return {"cpu": time.process_time() - cpu, "sessions": len(rows)}


def load_bound(path: Path) -> dict[str, float]:
    from definable_trace import Message

    gc.set_threshold(_YOUNG, *gc.get_threshold()[1:])
    cpu = time.process_time()
    sessions, orphans, _ = _read(path)
    _stitch(orphans)
    built = 0
    for records in sessions.values():
        seen: set[bytes] = set()
        history = []
        for record in records:
            for entry in _entries(record):
                key = bytes(entry)
                if key in seen:
                    continue
                seen.add(key)
                message = _message(Message, _ANY(entry))
                if message is not None:
                    history.append(message)
        built += len(history)
    return {"cpu": time.process_time() - cpu, "sessions": len(sessions), "messages": built}


def _entries(record: _Record) -> list[Any]:
    """The raw entries of a call's input and output lists."""
    plan, attributes = record[3], record[4]
    found: list[Any] = []
    for at in (plan.input, plan.output):
        if at >= 0:
            text = _VALUE(attributes[at].value).stringValue or ""
            if text.startswith("["):
                found.extend(_RAWS(text))
    return found


def _message(kind: Any, item: Any) -> Any:
    """A `Message` of an entry's role and text (its parts joined), or None."""
    if not isinstance(item, dict):
        return None
    text = item.get("content")
    parts = item.get("parts")
    if isinstance(parts, list):
        text = "".join(str(p.get("content", "")) for p in parts if isinstance(p, dict))
    role = item.get("role")
    if role not in ("system", "user", "assistant", "tool"):
        return None
    return kind(role=role, content=text if isinstance(text, str) else None)


def loader_listing(path: Path) -> dict[str, float]:
    from definable_trace.loading import load_traces

    cpu = time.process_time()
    traces = load_traces(path)
    rows = [
        (s.id, len(s.turns), s.message_count, s.metrics.input_tokens, s.start, s.end, s.models)
        for s in traces
    ]
    return {"cpu": time.process_time() - cpu, "sessions": len(rows)}


def loader_load(path: Path) -> dict[str, float]:
    from definable_trace.loading import load_traces

    cpu = time.process_time()
    traces = load_traces(path)
    built = sum(len(session.messages) for session in traces)
    return {"cpu": time.process_time() - cpu, "sessions": len(traces), "messages": built}


_STEPS = {
    "floor": floor,
    "listing-bound": listing_bound,
    "listing": loader_listing,
    "load-bound": load_bound,
    "load": loader_load,
}
_GOALS = {"listing-bound": 0.6, "listing": 0.6, "load-bound": 0.45, "load": 0.45}


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
        for name in _STEPS:  # alternating, so the machine's moods fall on every step alike
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
    print(f"{'orjson.loads of every line (floor)':44} {base:6.3f} s")
    for name in list(_STEPS)[1:]:
        found = best[name]
        extra = f", {int(found['messages'])} messages" if "messages" in found else ""
        print(
            f"{name:44} {found['cpu']:6.3f} s  ratio {base / found['cpu']:.2f}"
            f" (many-short goal {_GOALS[name]})  {int(found['sessions'])} sessions{extra}"
        )
    if best["load-bound"]["messages"] > best["load"]["messages"]:
        print("load-bound built more messages than the loader: not a bound on this file")


if __name__ == "__main__":
    main()

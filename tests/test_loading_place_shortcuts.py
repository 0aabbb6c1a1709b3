"""Placing spans in sessions takes shortcuts that must give what the plain way gives.

Each is run beside plain code written here from the rules alone, on every span of the
committed traces (ours and the real foreign instrumentations') and of damaged versions of them
(the fuzz test's mutations), read by the real reader, and on files made to hit the rare cases
(a parent loop, a trace that names two sessions):

- `SpanGraph.session_of` reads a span's own session from positions found once per shape,
  remembers what ancestors give by span, and keeps one string per trace (not a set);
- `SpanGraph.parent` makes no key for the cut test when no loop was cut;
- `_foreign.build_foreign_turns` takes a call's entries from the call before when it sent the
  very same list, and from a shared prefix found by identity: copies of every list (no
  identity to find) give the same turns, ids and messages;
- `classify` remembers its answer per shape and value of the one attribute the conventions
  read (`Convention.reads`), up to a bound: past it, and for values of other types, it asks
  (tests/test_loading_foreign_speed.py compares it on every committed and damaged span);
- `_stitch` remembers each link of a history's hash chain by the previous hash and the
  message object: the same hashes, and the same placements as units sharing no message;
- a call's `Usage` keeps the counts a listing read for the `Metrics` made later.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from loading_mutations import damaged_copies

from definable_trace import DefinableTraceError
from definable_trace._loading import _assemble, _stitch
from definable_trace._loading import _conventions as conv
from definable_trace._loading._calls import CallData, Usage, plain_usage, usage_of
from definable_trace._loading._foreign import build_foreign_turns
from definable_trace._loading._graph import SpanGraph
from definable_trace._loading._load import _Reading
from definable_trace._loading._records import SpanRecord
from definable_trace._loading._stitch import Unit
from definable_trace._semconv import SESSION_KEYS

_MUTANTS_PER_SOURCE = 10


def _files(tmp: Path) -> Iterator[Path]:
    """The committed traces, then damaged versions of each (the same ones every run)."""
    return damaged_copies(tmp, _MUTANTS_PER_SOURCE, seed=20261130)


def _reading(path: Path) -> _Reading:
    reading = _Reading()
    with contextlib.suppress(DefinableTraceError):  # what was read before the damage stays
        reading.source(path)
    return reading


def _span(trace: str, span: str, parent: str | None, session: str | None) -> dict[str, Any]:
    attributes = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}]
    if session is not None:
        attributes.append({"key": "session.id", "value": {"stringValue": session}})
    return {
        "traceId": trace,
        "spanId": span,
        "parentSpanId": parent or "",
        "name": "chat m",
        "startTimeUnixNano": "1000",
        "endTimeUnixNano": "2000",
        "attributes": attributes,
    }


def _crafted(tmp: Path) -> Path:
    """Rare links: a loop of three spans under a session, a trace naming two sessions, one
    naming one session on a span far from its sessionless root, a dangling parent."""
    t1, t2, t3, t4 = (f"{n:032x}" for n in (1, 2, 3, 4))
    spans = [
        _span(t1, "a" * 16, "c" * 16, "s1"),
        _span(t1, "b" * 16, "a" * 16, None),
        _span(t1, "c" * 16, "b" * 16, None),
        _span(t1, "d" * 16, "c" * 16, None),
        _span(t2, "e" * 16, None, None),
        _span(t2, "f" * 16, "e" * 16, "s2"),
        _span(t2, "1" * 16, "e" * 16, "s3"),
        _span(t3, "2" * 16, None, None),
        _span(t3, "3" * 16, "2" * 16, None),
        _span(t3, "4" * 16, "3" * 16, "s4"),
        _span(t4, "5" * 16, "9" * 16, None),
        _span(t4, "6" * 16, "5" * 16, None),
    ]
    path = tmp / "links.jsonl"
    line = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    path.write_bytes(orjson.dumps(line) + b"\n")
    return path


@pytest.fixture(scope="module")
def readings(tmp_path_factory: pytest.TempPathFactory) -> list[_Reading]:
    tmp = tmp_path_factory.mktemp("place")
    return [_reading(path) for path in [*_files(tmp), _crafted(tmp)]]


def _own(span: SpanRecord) -> str | None:
    for key in SESSION_KEYS:
        value = span.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _plain_parent(graph: SpanGraph, span: SpanRecord) -> SpanRecord | None:
    if span.parent_span_id is None or (span.trace_id, span.span_id) in graph._cut:
        return None
    return graph.spans.get((span.trace_id, span.parent_span_id))


def _plain_session(graph: SpanGraph, span: SpanRecord) -> tuple[str, bool]:
    """The rule, each step from scratch: own, else the nearest ancestor's own, else the one
    session the trace names anywhere, else the trace id (inferred)."""
    found = _own(span)
    ancestor = _plain_parent(graph, span)
    while found is None and ancestor is not None:
        found = _own(ancestor)
        ancestor = _plain_parent(graph, ancestor)
    if found is None:
        names = {_own(s) for s in graph.spans.values() if s.trace_id == span.trace_id}
        names.discard(None)
        if len(names) == 1:
            found = names.pop()
    return (found, False) if found is not None else (span.trace_id, True)


def test_session_of_is_the_plain_rule(readings: list[_Reading]) -> None:
    kinds: set[tuple[bool, bool]] = set()
    for reading in readings:
        graph = SpanGraph(reading.index)
        graph.check()
        spans = list(graph.spans.values())
        for span in [*spans, *reversed(spans)]:  # the second time: what was remembered
            assert graph.parent(span) is _plain_parent(graph, span)
            found = graph.session_of(span)
            assert found == _plain_session(graph, span)
            kinds.add((found[1], _own(span) is None))
    # spans of their own session, inheriting one, and with none (the trace id) were met
    assert kinds == {(False, False), (False, True), (True, True)}


def test_crafted_links_place_as_the_rule_says(tmp_path: Path) -> None:
    graph = SpanGraph(_reading(_crafted(tmp_path)).index)
    assert len(graph.check()) == 2  # the dangling parent and the loop
    by_id = {s.span_id[0]: graph.session_of(s) for s in graph.spans.values()}
    t2, t3, t4 = (f"{n:032x}" for n in (2, 3, 4))
    assert {by_id[k] for k in "abcd"} == {("s1", False)}  # the loop is cut, not followed
    assert by_id["e"] == (t2, True)  # a trace that names two sessions names none
    assert by_id["2"] == by_id["3"] == ("s4", False)  # the one its trace names
    assert by_id["5"] == by_id["6"] == (t4, True)
    assert t3 not in {s for s, _ in by_id.values()}


def _calls(reading: _Reading) -> list[tuple[_assemble._Bucket, list[CallData]]]:
    run = _assemble._Assembler(reading.index, reading.store, [], reading.logs)
    run.warnings.extend(run.graph.check())
    for span in run.graph.spans.values():
        run._place(span)
    return [(b, list(b.calls)) for b in run.buckets.values() if b.calls]


def _copied(call: CallData) -> CallData:
    """The call with lists of its own (its messages still shared): nothing to find by
    identity between calls' lists."""
    return CallData(
        span=call.span,
        convention=call.convention,
        input=None if call.input is None else list(call.input),
        output=None if call.output is None else list(call.output),
        usage=call.usage,
        facts=call.facts,
    )


def _turns(bucket: _assemble._Bucket, calls: list[CallData]) -> Any:
    found = build_foreign_turns(bucket.id, calls, bucket.tools, bucket.groupers)
    return (
        [
            (t.index, t.start_ns, t.end_ns, [m.model_dump() for m in t.history], t.history_count)
            for t in found.turns
        ],
        [m.model_dump() for m in found.messages()],
        found.count(),
        found.has_content,
    )


def test_foreign_turns_found_by_identity_are_those_of_copies(readings: list[_Reading]) -> None:
    resent = 0
    for reading in readings:
        for bucket, calls in _calls(reading):
            twice = [c for call in calls for c in (call, call)]  # the very same list again
            resent += len(twice)
            expected = _turns(bucket, [_copied(c) for c in calls])
            assert _turns(bucket, calls) == expected
            doubled = _turns(bucket, twice)
            assert doubled == _turns(bucket, [_copied(c) for c in twice])
    assert resent > 100


def _naive_classify(span: SpanRecord) -> tuple[str, str | None] | None:
    for convention in conv.CONVENTIONS:
        if convention.claims(span):
            return convention.name, convention.role_of(span)
    return None


def test_classify_by_value_past_what_is_remembered(tmp_path: Path) -> None:
    """Spans of one shape whose operation names are all different (more than are remembered
    per shape), then the usual ones again: each classified as every convention is asked."""
    trace = f"{5:032x}"
    names = [f"op-{n}" for n in range(100)] + ["chat", "invoke_agent", "execute_tool", ""]
    spans = []
    for n, name in enumerate(names * 2):
        span = _span(trace, f"{n + 1:016x}", None, "s1")
        span["attributes"][0]["value"] = {"stringValue": name}
        spans.append(span)
    spans.append(
        {
            **spans[0],
            "spanId": f"{999:016x}",
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"intValue": "3"}},
                {"key": "session.id", "value": {"stringValue": "s1"}},
            ],
        }
    )
    path = tmp_path / "operations.jsonl"
    line = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    path.write_bytes(orjson.dumps(line) + b"\n")
    read = list(_reading(path).index.spans.values())
    assert len(read) == len(spans)
    found = [conv.classify(span) for span in read]
    assert found == [_naive_classify(span) for span in read]
    assert {f[1] for f in found if f} == {"call", "tool", "agent", None}


def _units(readings: list[_Reading]) -> list[list[Unit]]:
    """Every call with content of every file as a unit (what `_stitch` makes of a sessionless
    call), the calls of one file together."""
    found = []
    for reading in readings:
        units = []
        for _, calls in _calls(reading):
            units.extend(u for u in map(_assemble.call_unit, calls) if u is not None)
        found.append(units)
    return found


def _unshared(unit: Unit) -> Unit:
    """The unit with a copy of each message: no two units (nor its input and history) share
    a message object, so that nothing is found by identity."""
    sent = [m.model_copy() for m in unit.sent]
    history = [m.model_copy() for m in unit.history]
    return Unit(unit.trace_id, unit.span_id, unit.start_ns, sent, history)


def test_chains_found_by_identity_are_the_hashed_ones(readings: list[_Reading]) -> None:
    linked = 0
    for units in _units(readings):
        chain = _stitch._Chains()
        for unit in units:
            node = _stitch._node(unit, chain)
            plain = _stitch._node(unit, _stitch._chain)
            assert (node.prefixes, node.end, node.users) == (plain.prefixes, plain.end, plain.users)
            linked += len(node.prefixes)
        if units:  # the placements too, against units that share no message
            assert _stitch.stitch(units) == _stitch.stitch([_unshared(u) for u in units])
    assert linked > 500


def test_usage_read_for_a_listing_makes_the_same_metrics(readings: list[_Reading]) -> None:
    """A call's `Usage` keeps what a listing read (`plain`) for the `Metrics` its answer
    makes later: the same `Metrics` (values and fields set) as reading the span again."""
    timed = 0
    for reading in readings:
        for span in reading.index.spans.values():
            expected = usage_of(span)
            listed, direct = Usage(span), Usage(span)
            assert listed.plain() == plain_usage(span)
            for usage in (listed, direct):
                made = usage.metrics()
                assert made.model_dump() == expected.model_dump()
                assert made.model_fields_set == expected.model_fields_set
                assert usage.plain() == plain_usage(span)
            timed += expected.time_to_first_token is not None
    assert timed > 0

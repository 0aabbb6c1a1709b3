"""The reading side's faster ways give what the plain ways they replace give.

`SpanGraph.check` follows parent links once per span with spans as their own keys; here it is
compared with the plain walk it replaced (a path and a set per span, a tuple key per step) on
random graphs: dangling parents, chains, loops, self-loops, spans in several files.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from definable_trace._loading._graph import SpanGraph, SpanIndex
from definable_trace._loading._records import Shape, SpanRecord, TraceWarning
from definable_trace._loading._store import TextStore

_SHAPE = Shape((), frozenset(), TextStore())
Key = tuple[str, str]


def _span(trace: str, span: str, parent: str | None, path: str, line: int) -> SpanRecord:
    return SpanRecord(
        f"span {span}", trace, span, parent, 0, 0, 0, 0, None, None, _SHAPE, (), path, line
    )


def _plain_check(graph: SpanGraph) -> list[TraceWarning]:
    """The walk `check` replaced, kept as the judge."""
    first: dict[str, SpanRecord] = {}
    count: dict[str, int] = {}
    for span in graph.spans.values():
        if span.parent_span_id is not None and (span.trace_id, span.parent_span_id) not in (
            graph.spans
        ):
            first.setdefault(span.path, span)
            count[span.path] = count.get(span.path, 0) + 1
    warnings = [
        TraceWarning(
            path,
            span.line,
            f"{count[path]} span(s) name a parent that is not in the input (first: "
            f"{span.name!r}, parent {span.parent_span_id}); they are read as roots",
        )
        for path, span in first.items()
    ]
    done: set[Key] = set()
    for key in graph.spans:
        path: list[Key] = []
        on_path: set[Key] = set()
        current: Key | None = key
        while current is not None and current not in done:
            if current in on_path:
                warnings.append(graph._cut_at(current))
                break
            on_path.add(current)
            path.append(current)
            parent = graph.parent(graph.spans[current])
            current = (parent.trace_id, parent.span_id) if parent is not None else None
        done.update(path)
    return warnings


_IDS = [f"{n:016x}" for n in range(12)]


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["t1", "t2"]),
            st.sampled_from(_IDS),
            st.none() | st.sampled_from([*_IDS, "ffffffffffffffff"]),
            st.sampled_from(["a.jsonl", "b.jsonl"]),
        ),
        max_size=30,
    )
)
def test_the_graph_check_warns_and_cuts_as_the_plain_walk(
    spans: list[tuple[str, str, str | None, str]],
) -> None:
    def graph() -> SpanGraph:
        index = SpanIndex()
        for line, (trace, span, parent, path) in enumerate(spans, 1):
            index.add(_span(trace, span, parent, path, line))
        return SpanGraph(index)

    fast, plain = graph(), graph()
    assert fast.check() == _plain_check(plain)
    assert fast._cut == plain._cut
    for key, span in fast.spans.items():
        expected = plain.parent(plain.spans[key])
        found = fast.parent(span)
        assert (found and found.span_id) == (expected and expected.span_id)


def test_a_long_chain_and_a_long_loop_are_walked_once() -> None:
    """Ten thousand links up, then the same closed into a loop: one warning, no deep walk
    per span (each span is followed once)."""
    ids = [f"{n:016x}" for n in range(10_000)]
    index = SpanIndex()
    for i, span in enumerate(ids):
        index.add(_span("t", span, ids[i + 1] if i + 1 < len(ids) else None, "f", i + 1))
    assert SpanGraph(index).check() == []
    index = SpanIndex()
    for i, span in enumerate(ids):
        index.add(_span("t", span, ids[(i + 1) % len(ids)], "f", i + 1))
    graph = SpanGraph(index)
    warnings = graph.check()
    assert len(warnings) == 1 and "cycle" in warnings[0].message
    assert graph._cut == {("t", ids[0])}


def test_a_span_read_by_the_general_path_reads_back() -> None:
    """Strings, integers (as OTLP/JSON writes them) and arrays read back as attributes, the
    record untracked by the collector, repeated names read as the last one."""
    import gc

    from definable_trace._loading._decode import SpanDecoder

    store = TextStore()
    decoder = SpanDecoder(store)
    attributes = [
        {"key": "a", "value": {"stringValue": "x"}},
        {"key": "n", "value": {"intValue": "7"}},
        {"key": "a", "value": {"stringValue": "y"}},
        {"key": "l", "value": {"arrayValue": {"values": [{"boolValue": True}]}}},
    ]
    span = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "s", "attributes": attributes}
    record = decoder.record(span, None, "f", 1)
    assert not gc.is_tracked(record)
    assert record.attributes == {"a": "y", "n": 7, "l": (True,)}
    assert (record.get("a"), record.integer("n"), record.text("n"), record.get("z", 0)) == (
        "y",
        7,
        None,
        0,
    )
    assert "l" in record and "z" not in record
    empty = decoder.record({**span, "attributes": []}, None, "f", 2)
    assert empty.attributes == {}


def test_a_span_with_more_attributes_than_any_convention_writes() -> None:
    """600 attributes read back like any other."""
    from definable_trace._loading._decode import SpanDecoder

    attributes = [{"key": f"k{i}", "value": {"intValue": str(i)}} for i in range(600)]
    span = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "s", "attributes": attributes}
    record = SpanDecoder(TextStore()).record(span, None, "f", 1)
    assert record.attributes == {f"k{i}": i for i in range(600)}
    assert record.integer("k599") == 599 and record.get("k600") is None


def _first_session(span: SpanRecord) -> str | None:
    """What `session_attribute` replaced: `get` of each session key in turn."""
    from definable_trace._semconv import SESSION_KEYS

    for key in SESSION_KEYS:
        value = span.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def test_the_session_attribute_is_the_first_session_key_get_finds() -> None:
    """On every span of the committed traces, and on spans naming several session keys, an
    empty one, one that is not a string, and one repeated (the last copy is the value)."""
    from loading_mutations import SOURCES

    from definable_trace._loading._load import _Reading

    checked = 0
    for source in SOURCES:
        reading = _Reading()
        reading.source(str(source))
        for span in reading.index.spans.values():
            assert span.session_attribute() == _first_session(span)
            checked += span.session_attribute() is not None
    assert checked > 50
    from definable_trace._loading._decode import SpanDecoder

    decoder = SpanDecoder(TextStore())
    cases = [
        [("session.id", {"stringValue": "b"}), ("gen_ai.conversation.id", {"stringValue": "a"})],
        [("gen_ai.conversation.id", {"stringValue": ""}), ("session.id", {"stringValue": "b"})],
        [("gen_ai.conversation.id", {"intValue": "3"}), ("session.id", {"stringValue": "b"})],
        [("session.id", {"stringValue": "x"}), ("k", {}), ("session.id", {"stringValue": "y"})],
        [("k", {"stringValue": "v"})],
    ]
    found = []
    for n, case in enumerate(cases):
        attributes = [{"key": key, "value": value} for key, value in case]
        span = {"traceId": "ab" * 16, "spanId": f"{n:016x}", "attributes": attributes}
        record = decoder.record(span, None, "f", n)
        assert record.session_attribute() == _first_session(record)
        found.append(record.session_attribute())
    assert found == ["a", "b", "b", "y", None]

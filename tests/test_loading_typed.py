"""The typed fast path (`_typed`) reads every line it accepts exactly as the general path does.

Each line is read three ways with fresh stores: the general path (generic JSON, then the dict
walk of `SpanDecoder.spans`), the typed path (msgspec `Struct`s), and the typed path with string
values kept raw (what long lines take, forced here on every ASCII line). Where a typed path
accepts a line, its records must equal the general path's, attribute by attribute, and the
general path must have had nothing to warn about; a line it refuses is read by the general path
alone (that is the fallback). Real files, then the fuzz test's damaged versions of them.
"""

from __future__ import annotations

import gc
import random
import weakref
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading_mutations import MUTATIONS, SOURCES, mutate
from test_loading_support import Reply, conversation

from definable_trace._loading import _typed
from definable_trace._loading._decode import SpanDecoder
from definable_trace._loading._otlp import _loads, _requests
from definable_trace._loading._records import SpanRecord
from definable_trace._loading._store import TextStore
from definable_trace.loading import load_traces


class _Warnings:
    def __init__(self) -> None:
        self.found: list[str] = []

    def warn(self, line: int | None, message: str, kind: str | None = None) -> None:
        self.found.append(message)


def _facts(record: SpanRecord) -> tuple[Any, ...]:
    return (
        record.name,
        record.trace_id,
        record.span_id,
        record.parent_span_id,
        record.kind,
        record.start_ns,
        record.end_ns,
        record.status_code,
        record.status_message,
        record.scope,
        record.path,
        record.line,
        record.attribute_names,
        record.attributes,  # shared texts read back from the store
    )


def _general(line: bytes) -> tuple[list[tuple[Any, ...]], list[str]] | None:
    try:
        value = _loads(line)
    except ValueError:
        return None
    decoder, warnings = SpanDecoder(TextStore()), _Warnings()
    records = [
        _facts(record)
        for request in _requests(value)
        for record in decoder.spans(request, "f.jsonl", 1, warnings)
    ]
    return records, warnings.found


def _typed_way(line: bytes, raw_from: int | None) -> list[tuple[Any, ...]] | None:
    request = _typed.decode_typed(line, raw_from)
    if request is None:
        return None
    records = SpanDecoder(TextStore()).typed_spans(request, "f.jsonl", 1)
    return None if records is None else [_facts(r) for r in records]


def _check(line: bytes) -> tuple[bool, bool]:
    """Both typed ways against the general path; whether each accepted the line."""
    accepted = []
    for raw_from in (None, 0):
        typed = _typed_way(line, raw_from)
        if typed is not None:
            general = _general(line)
            assert general is not None, "the typed path read a line that is not JSON"
            records, warnings = general
            assert warnings == [], "the typed path read a line the general path warns about"
            assert typed == records
        accepted.append(typed is not None)
    return accepted[0], accepted[1]


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_real_lines_read_the_same_on_every_path(path: Path) -> None:
    lines = _lines(path)
    results = [_check(line) for line in lines]
    spans = [line for line in lines if b'"resourceSpans"' in line]
    # Every line of spans the real writers wrote takes both typed ways (ASCII: `\u` escapes).
    assert [r for r, line in zip(results, lines, strict=True) if line in spans] == [
        (True, True)
    ] * len(spans)


def test_a_line_with_raw_utf8_is_checked_whole_then_kept_raw() -> None:
    """`Raw` leaves UTF-8 unchecked, so a line that is not ASCII (UTF-8 as orjson writes it)
    is checked whole first; then it keeps its strings raw like an ASCII one, and a line that
    is not UTF-8 goes to the general path."""
    line = next(line for line in _lines(SOURCES[0]) if b'"resourceSpans"' in line)
    line = line.replace(b'"chat ', '"chat été '.encode(), 1)
    assert not line.isascii()
    assert isinstance(_typed.decode_typed(line, 0), _typed.RawRequest)
    assert isinstance(_typed.decode_typed(line), _typed.Request)  # short: typed, not raw
    assert _check(line) == (True, True)
    assert _typed.decode_typed(line.replace("été".encode(), b"\xff\xfe", 1), 0) is None


def test_other_shapes_go_to_the_general_path() -> None:
    line = next(line for line in _lines(SOURCES[0]) if b'"resourceSpans"' in line)
    at = line.index(b'"stringValue":"', line.index(b'"spans":['))  # a span's attribute
    for other in (
        line.replace(b'"resourceSpans"', b'"batches"', 1),  # Tempo
        line.replace(b'"scopeSpans"', b'"instrumentationLibrarySpans"', 1),
        b'{"result":' + line + b"}",  # an API answer wrapping the request
        b"[" + line + b"]",
        line.replace(b'"traceId"', b'"trace"', 1),  # a malformed span: warned about
        b'{"resourceLogs":[]}',
        b'{"resourceSpans":[]}',
    ):
        assert _check(other) == (False, False)
    # A string value of the wrong type: refused typed; kept raw, it reads as the general
    # path reads it (the number), which `_check` compares. (The rest of the old string goes
    # to another field of `AnyValue`: an unknown field would send the line to the general
    # path on both typed ways, as the next line checks.)
    wrong = line[:at] + b'"stringValue":1,"bytesValue":"' + line[at + 15 :]
    assert _check(wrong) == (False, True)
    assert _check(line[:at] + b'"stringValue":1,"x":"' + line[at + 15 :]) == (False, False)
    assert _check(line.replace(b'"spanId"', b'"unknownField":1,"spanId"', 1)) == (False, False)


_FUZZ = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_STRUCTURAL = sorted(MUTATIONS)


@_FUZZ
@given(
    source=st.sampled_from(SOURCES),
    kinds=st.lists(st.sampled_from(_STRUCTURAL), min_size=1, max_size=2),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_damaged_lines_read_the_same_or_fall_back(
    source: Path, kinds: list[str], seed: int
) -> None:
    """On damaged lines a typed path either gives exactly the general path's records (and the
    general path has nothing to warn about), or refuses the line."""
    data = mutate(source.read_bytes(), kinds, seed)
    lines = [line for line in data.splitlines() if line.strip()]
    for line in random.Random(seed).sample(lines, min(len(lines), 4)):
        _check(line)


def _summary(path: Path) -> list[Any]:
    traces = load_traces(path)
    return [
        [str(w) for w in traces.warnings],
        [
            (
                s.id,
                s.message_count,
                s.messages,
                [(t.index, t.messages, t.history_count) for t in s.turns],
                s.metrics,
            )
            for s in traces
        ],
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_whole_files_load_the_same_with_raw_strings(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every line read the way long lines are (message lists shared in escaped form and
    decoded when read): the same sessions, messages and counts as the default reading."""
    expected = _summary(path)
    monkeypatch.setattr(_typed, "RAW_FROM", 0)
    assert _summary(path) == expected


def _read_all(path: Path) -> list[weakref.ref[Any]]:
    """Load and read every part of every session; weak references to the sessions."""
    traces = load_traces(path)
    for session in traces:
        _ = (session.messages, session.message_count, session.metrics, session.models)
        for turn in session.turns:
            _ = (turn.model_calls, turn.spans, turn.tool_calls, turn.messages, turn.error)
    return [weakref.ref(session) for session in traces]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_loaded_sessions_are_freed_without_the_cycle_collector(path: Path) -> None:
    """Span records and several sources are `Struct`s the garbage collector does not track,
    which is safe only while no reference cycle runs through them: then everything loaded,
    and everything read from it, is freed by reference counting alone."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        alive = _read_all(path)
        assert [ref() for ref in alive] == [None] * len(alive)
    finally:
        if enabled:
            gc.enable()


def _line_with_history() -> bytes:
    """A line of our spans whose chat span holds a message list (what the store shares)."""
    return next(
        line
        for path in SOURCES
        for line in _lines(path)
        if b'"resourceSpans"' in line and b'"gen_ai.input.messages"' in line
    )


def test_raw_utf8_is_checked_where_it_is_kept_or_decoded() -> None:
    """A long line that is not ASCII keeps its strings raw without a whole-line check: the
    message lists are checked where the store keeps them, every other byte is decoded (so
    checked) by msgspec. Invalid UTF-8 anywhere sends the line to the general path."""
    line = _line_with_history()
    at = line.index(b"parts", line.index(b'"gen_ai.input.messages"'))
    utf8 = line[:at] + "naïve 東京 ".encode() + line[at:]  # inside the message list's text
    assert not utf8.isascii()
    assert isinstance(_typed.decode_typed(utf8, 0), _typed.UncheckedRawRequest)
    assert _check(utf8) == (True, True)
    bad_list = utf8.replace("東".encode(), b"\xff\xfe", 1)  # in a list the store keeps
    assert isinstance(_typed.decode_typed(bad_list, 0), _typed.UncheckedRawRequest)
    assert _typed_way(bad_list, 0) is None and _typed_way(bad_list, None) is None
    bad_field = utf8.replace(b'"spanId"', b'"events":[{"name":"\xff"}],"spanId"', 1)
    assert _typed_way(bad_field, 0) is None and _typed_way(bad_field, None) is None
    general = _general(bad_list)
    assert general is None or general[1]  # the general path refuses or warns


def test_the_store_checks_only_the_utf8_it_keeps() -> None:
    """`share_escaped` with `check_utf8`: a new chain and a chain's new bytes are checked; a
    list the chain already holds (a prefix) is not read again."""
    entry = '{"role":"user","parts":[{"type":"text","content":"été 東京 naïve"}]}'
    first = "[" + ",".join([entry] * 8) + "]"
    longer = "[" + ",".join([entry] * 9) + "]"
    store = TextStore()
    kept = store.share_escaped("s", "k", msgspec.Raw(orjson.dumps(first)), check_utf8=True)
    grown = store.share_escaped("s", "k", msgspec.Raw(orjson.dumps(longer)), check_utf8=True)
    again = store.share_escaped("s", "k", msgspec.Raw(orjson.dumps(first)), check_utf8=True)
    assert kept is not None and grown is not None and again is not None
    assert [store.text(v) for v in (kept, grown, again)] == [first, longer, first]
    bad_tail = orjson.dumps(longer).replace("東".encode(), b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):  # the new bytes of a chain (its last entry)
        TextStore().share_escaped("s", "k", msgspec.Raw(bad_tail), check_utf8=True)
    store = TextStore()
    store.share_escaped("s", "k", msgspec.Raw(orjson.dumps(first)), check_utf8=True)
    extended = orjson.dumps(longer)
    cut = extended.rindex("東".encode())
    bad_extension = extended[:cut] + b"\xff" + extended[cut + 3 :]
    with pytest.raises(UnicodeDecodeError):
        store.share_escaped("s", "k", msgspec.Raw(bad_extension), check_utf8=True)


def test_a_utf8_conversation_loads_the_same_with_raw_strings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our exporter writes UTF-8 (orjson): a conversation in French and Japanese, read the
    way long lines are (raw strings, lists checked where kept), equals the default reading."""
    path = tmp_path / "utf8.jsonl"
    replies = [Reply(f"Réponse {n} : 東京 est loin, naïve question ? ✓") for n in range(5)]
    inputs = [f"Question {n} : où est 東京 ? Ça va ✓" for n in range(5)]
    outputs = conversation(path, replies, inputs, tools=())
    assert not path.read_bytes().isascii()
    expected = _summary(path)
    monkeypatch.setattr(_typed, "RAW_FROM", 0)
    assert _summary(path) == expected
    assert load_traces(path).session("s1").messages == outputs[-1].messages

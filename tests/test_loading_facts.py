"""What a listing reads of a session is read without a `Metrics` per call, and never differs.

`Session.metrics` and `Session.models` are gathered in one pass that sums plain ints (our
chats' counts read from their meta entry as pydantic would read it, `_rebuild._plain_metrics`);
`message_count` and `history_count` count without building messages. Each is compared here
with the slow way, on a load of its own (so that nothing the slow way reads is cached for the
fast one): every call's `Metrics` added up, every call's models, the built histories. On every
committed trace, on traces our agent writes now (the one meta list, counts left to the chat
span, forks that keep their inherited counts, streamed calls, a failed call, compact mode, no
content), on a replicated file of a few MB (bench/_replicate.py) and on damaged files.
"""

from __future__ import annotations

import gc
import math
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from functools import reduce
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading_mutations import MUTATIONS, SOURCES, mutate
from test_loading_support import FIXTURES, Reply, ToolCallReply, replicated, weather

from definable_trace import (
    DefinableTraceError,
    Metrics,
    OpenAIChat,
    configure_tracing,
    flush_tracing,
)
from definable_trace import _semconv as sc
from definable_trace._loading import _calls
from definable_trace._loading._calls import plain_usage, usage_of
from definable_trace._loading._rebuild import Chat, _plain_metrics, usage_of_chat
from definable_trace._loading._records import EXACT_INT
from definable_trace._loading._sessions import Session, plain_of
from definable_trace.agent import Agent, RunCompleted
from definable_trace.loading import SpanRecord, TraceSet, load_traces
from definable_trace.replay import ForkOptions, fork
from definable_trace.testing import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent
LOGS = FIXTURES / "openai_v2_events.logs.jsonl"
COMMITTED = [p for p in SOURCES if not p.name.endswith(".logs.jsonl")]


def _fast(session: Session) -> list[Any]:
    """What a listing reads, read first (nothing else of the session read before)."""
    metrics = session.metrics
    return [
        len(session.turns),
        session.message_count,
        [t.history_count for t in session.turns],
        metrics,
        repr(metrics),
        metrics.model_fields_set,
        session.models,
        session.metrics,  # a second read: its own copy, equal
    ]


def _slow(session: Session) -> list[Any]:
    """The same, the slow way: every call's `Metrics` added up, the built histories."""
    calls = [c.metrics for t in session.turns for c in t.model_calls]
    metrics = reduce(Metrics.__add__, calls, Metrics()).model_copy(
        update={"duration": sum(t.duration for t in session.turns)}
    )
    models: dict[str, None] = {}
    for turn in session.turns:
        for call in turn.model_calls:
            model = call.response_model or call.request_model
            if model:
                models.setdefault(model)
    return [
        len(session.turns),
        len(session.messages),
        [len(t.history) for t in session.turns],
        metrics,
        repr(metrics),
        metrics.model_fields_set,
        list(models),
        metrics,
    ]


def _same_facts(load: Callable[[], TraceSet]) -> TraceSet:
    """Two loads of the same input: the fast facts of one equal the slow ones of the other,
    and summing the tokens tells the same warnings (an unreadable list or metrics) as
    asking every call for its `Metrics` did."""
    fast, slow = load(), load()
    assert [s.id for s in fast] == [s.id for s in slow]
    for session in fast:
        _ = session.metrics
    for session in slow:
        _ = [c.metrics for t in session.turns for c in t.model_calls]
    assert [str(w) for w in fast.warnings] == [str(w) for w in slow.warnings]
    fast, slow = load(), load()
    for a, b in zip(fast, slow, strict=True):
        assert _fast(a) == _slow(b), a.id
    first = fast.sessions[0].metrics if len(fast) else None
    assert first is None or first is not fast.sessions[0].metrics  # each read its own copy
    # A turn whose calls were read before sums them (`ModelCall.gather`): the same facts,
    # the same warnings, and its calls are those kept.
    called, slow = load(), load()
    kept = [[t.model_calls for t in s.turns] for s in called]
    for a, b in zip(called, slow, strict=True):
        _ = (a.metrics, [c.metrics for t in b.turns for c in t.model_calls])
    assert [str(w) for w in called.warnings] == [str(w) for w in slow.warnings]
    for a, b in zip(called, slow, strict=True):
        assert _fast(a) == _slow(b), a.id
    assert all(
        calls is turn.model_calls
        for s, turns in zip(called, kept, strict=True)
        for turn, calls in zip(s.turns, turns, strict=True)
    )
    return fast


def _chats(traces: TraceSet) -> list[Chat]:
    return [
        c
        for s in traces
        if s.convention == "definable"
        for t in s.turns
        for c in t._source._made_chats()  # type: ignore[attr-defined]
    ]


def _plainly_read(traces: TraceSet) -> int:
    """Every chat of ours: its plainly read usage (when it has one) is its `metrics()`'s.
    How many were read plainly."""
    plain = 0
    for chat in _chats(traces):
        usage = usage_of_chat(chat.span, chat.messages)
        if usage is None:
            continue
        metrics = chat.metrics()
        counts, first_token = usage
        assert counts == (
            metrics.input_tokens,
            metrics.output_tokens,
            metrics.total_tokens,
            metrics.cache_read_tokens,
            metrics.cache_write_tokens,
            metrics.reasoning_tokens,
        )
        assert first_token == metrics.time_to_first_token
        plain += 1
    return plain


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_listing_facts_of_every_committed_trace_are_the_slow_ones(path: Path) -> None:
    sources = [path, LOGS] if path.name == "openai_v2_events.jsonl" else [path]
    traces = _same_facts(lambda: load_traces(*sources))
    if any(s.convention == "definable" for s in traces):
        assert _plainly_read(load_traces(*sources)) > 0  # the fast path was taken


# --- traces our agent writes now: the one meta list, counts left to the chat span ---------


def _script() -> list[Reply]:
    return [
        Reply(
            tool_calls=[ToolCallReply("weather", {"city": "Oslo"})],
            prompt_tokens=9,
            completion_tokens=4,
            cached_tokens=3,
            model="gpt-4o-2024",
        ),
        Reply(content="Cold.", prompt_tokens=11, completion_tokens=2, reasoning_tokens=1),
        Reply(content="Yes.", prompt_tokens=15, completion_tokens=1, model="gpt-4o-mini"),
        Reply(content="No.", prompt_tokens=17, completion_tokens=1),
        Reply(status=500, error_message="overloaded"),
    ]


def _write(path: Path, **tracing: Any) -> None:
    """Two sessions (one with a failed last call, one streamed), then (with content) a
    recorded fork of the first, whose inherited answers keep their counts in its list."""
    configure_tracing(path, **tracing)
    with FakeOpenAIServer(_script() + _script()) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model, "Be brief.", tools=[weather])
        messages = None
        for text in ["weather in Oslo?", "sure?", "really?"]:
            messages = agent.run(text, messages=messages, session_id="plain").messages
        with pytest.raises(Exception, match="overloaded"):
            agent.run("again?", messages=messages, session_id="plain")
        messages = None
        for text in ["weather in Oslo?", "sure?", "really?"]:
            last = list(agent.run_stream(text, messages=messages, session_id="streamed"))[-1]
            assert isinstance(last, RunCompleted)
            messages = last.output.messages
    flush_tracing()
    if tracing.get("capture_content") is False:
        return  # no content: nothing to fork
    session = load_traces(path, session="plain").session("plain")
    configure_tracing(path, **tracing)
    fork(session, ForkOptions(at=2, recorded=True, session_id="forked"))
    flush_tracing()


@pytest.mark.parametrize(
    "tracing",
    [{}, {"capture_content": False}, {"history": "delta"}],
    ids=["full", "no-content", "compact"],
)
def test_listing_facts_of_traces_written_now_are_the_slow_ones(
    tmp_path: Path, tracing: dict[str, Any]
) -> None:
    path = tmp_path / "t.jsonl"
    _write(path, **tracing)
    traces = _same_facts(lambda: load_traces(path))
    forked = set() if tracing.get("capture_content") is False else {"forked"}
    assert {"plain", "streamed", *forked} <= {s.id for s in traces}
    streamed = traces.session("streamed").metrics
    assert streamed.time_to_first_token is not None
    assert traces.session("plain").models == ["gpt-4o-2024", "gpt-4o", "gpt-4o-mini"]
    assert traces.session("plain").metrics.cache_read_tokens == 3
    assert _plainly_read(load_traces(path)) > 0


def test_listing_facts_of_a_replicated_file_are_the_slow_ones(tmp_path: Path) -> None:
    """Real traces, ours and foreign, copied with fresh ids to a few MB (what the bench's
    many-short file is made of): every one of our calls is read plainly."""
    path = tmp_path / "many.jsonl"
    replicated(path, 3)
    traces = _same_facts(lambda: load_traces(path))
    assert len(traces) > 100
    chats = load_traces(path)
    assert _plainly_read(chats) == len(_chats(chats)) > 100


# --- damaged files: the fast facts are the slow ones whatever a mutation did --------------


@settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    source=st.sampled_from(COMMITTED),
    kinds=st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=2),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_listing_facts_of_damaged_files_are_the_slow_ones(
    source: Path, kinds: list[str], seed: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / source.name
        path.write_bytes(mutate(source.read_bytes(), kinds, seed))
        try:
            load_traces(path)
        except DefinableTraceError:
            return  # refused as a whole: nothing to list
        _same_facts(lambda: load_traces(path))


# --- `_plain_metrics` against pydantic: the hand-written reading of a meta entry ----------


@pytest.fixture(scope="module")
def chat_spans(tmp_path_factory: pytest.TempPathFactory) -> list[SpanRecord]:
    """Chat spans with and without cache and reasoning counts in their usage."""
    path = tmp_path_factory.mktemp("spans") / "t.jsonl"
    _write(path)
    return [c.span for c in _chats(load_traces(path))]


def _library(data: dict[str, Any], span: SpanRecord) -> Any:
    """What `Chat.metrics` makes of an answer's meta metrics: pydantic's `Metrics`, or None
    where it falls back to the span's usage (a validation error, a count beyond 2**53)."""
    try:
        metrics = sc.metrics_from_meta(
            sc.usage_into_meta({"metrics": data}, span.integer)["metrics"]
        )
    except ValueError:
        return None
    counts = (
        metrics.input_tokens,
        metrics.output_tokens,
        metrics.total_tokens,
        metrics.cache_read_tokens,
        metrics.cache_write_tokens,
        metrics.reasoning_tokens,
    )
    if not all(-EXACT_INT < n < EXACT_INT for n in counts):
        return None
    return counts, metrics.time_to_first_token


def _equal(a: Any, b: Any) -> bool:
    """Equal, NaN times included."""
    (counts_a, time_a), (counts_b, time_b) = a, b
    both_nan = isinstance(time_a, float) and isinstance(time_b, float)
    both_nan = both_nan and math.isnan(time_a) and math.isnan(time_b)
    return bool(counts_a == counts_b and (time_a == time_b or both_nan))


_FIELDS = [
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "duration",
    "time_to_first_token",
    "other",
]
_VALUES = st.one_of(
    st.integers(min_value=-(2**60), max_value=2**60),
    st.sampled_from([0, 1, 2**53 - 1, 2**53, -(2**53), 10**400, True, False, None]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["5", "0.5", "", "x", [], {}, [1]]),
)


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(data=st.dictionaries(st.sampled_from(_FIELDS), _VALUES), which=st.integers(0, 100))
def test_plain_metrics_reads_as_pydantic_does_or_not_at_all(
    chat_spans: list[SpanRecord], data: dict[str, Any], which: int
) -> None:
    span = chat_spans[which % len(chat_spans)]
    fast = _plain_metrics(data, span)
    if fast is not None:
        library = _library(data, span)
        assert library is not None and _equal(fast, library), (data, fast, library)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"duration": 0.25},
        {"duration": 0.1234567, "time_to_first_token": None},
        {"duration": 1, "time_to_first_token": 0.5},
        {"input_tokens": 9, "output_tokens": 4, "total_tokens": 20, "duration": 0.3},
        {"input_tokens": 9, "output_tokens": 4, "cache_read_tokens": 3, "reasoning_tokens": 1},
        {"output_tokens": 0, "time_to_first_token": 2},
    ],
)
def test_plain_metrics_reads_what_writers_write(
    chat_spans: list[SpanRecord], data: dict[str, Any]
) -> None:
    """The shapes `sc.metrics_dict` writes are read plainly, as pydantic reads them."""
    for span in chat_spans:
        fast = _plain_metrics(data, span)
        assert fast is not None and _equal(fast, _library(data, span))


_OUTPUT_META = re.compile(
    rb'"key":"definable_trace\.output\.messages\.meta","value":\{"stringValue":"[^"\\]*(?:\\.[^"\\]*)*"'
)
_TIMES = re.compile(rb',\\"(?:duration|time_to_first_token)\\":[-+0-9.eE]+')


def test_a_first_call_without_times_leaves_the_first_token_time_to_the_next(
    tmp_path: Path,
) -> None:
    """A session's first token time is its first call's that has one (`sum_metrics`): the
    first answer's entry, its times cut out, has none."""
    data = (ROOT / "sample_traces" / "math_tutor.jsonl").read_bytes()
    first = _OUTPUT_META.search(data)
    assert first is not None
    cut = _TIMES.sub(b"", first.group())
    assert cut != first.group()
    path = tmp_path / "t.jsonl"
    path.write_bytes(data[: first.start()] + cut + data[first.end() :])
    traces = _same_facts(lambda: load_traces(path))
    cases = [
        s
        for s in traces
        if s.turns[0].model_calls[0].metrics.time_to_first_token is None
        and s.metrics.time_to_first_token is not None
    ]
    assert cases


# --- other instrumentations' calls: usage read as plain ints, against their `Metrics` -------


def _every_span(traces: TraceSet) -> list[SpanRecord]:
    return [span for s in traces for t in s.turns for span in t.spans]


def _plain_usage_is_the_metrics(traces: TraceSet) -> int:
    """Every span placed: `plain_usage` reads what `usage_of`'s `Metrics` holds (or both
    raise alike); every foreign call's source gives its `metrics`' values. How many calls
    were read plainly."""
    for span in _every_span(traces):
        try:
            library = plain_of(usage_of(span))
        except Exception as exc:  # whatever it is, the plain read raises it too
            with pytest.raises(type(exc)):
                plain_usage(span)
            continue
        assert _equal(plain_usage(span), library), span
    plain = 0
    for session in traces:
        for turn in session.turns:
            for call in turn.model_calls:
                source = call._source
                if callable(getattr(source, "plain_usage", None)):
                    assert _equal(source.plain_usage(), plain_of(call.metrics))
                    # Asked again once the `Metrics` is made: read from it, the same.
                    assert _equal(source.plain_usage(), plain_of(call.metrics))
                    plain += 1
    return plain


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_plain_usage_of_every_committed_trace_is_its_metrics(path: Path) -> None:
    sources = [path, LOGS] if path.name == "openai_v2_events.jsonl" else [path]
    traces = load_traces(*sources)
    plain = _plain_usage_is_the_metrics(traces)
    if any(s.convention != "definable" for s in traces):
        assert plain > 0


_FOREIGN = ("openai_v2", "openllmetry", "openinference")
_USAGE_NAMES = sorted(
    {
        *(n for names in _calls._USAGE for n in names),
        *(n for names in sc.USAGE_COUNTS.values() for n in names),
    }
)


def _double(value: float) -> dict[str, Any]:
    """As OTLP JSON writes a double (the protobuf JSON mapping: NaN and infinities as strings)."""
    if math.isnan(value):
        return {"doubleValue": "NaN"}
    if math.isinf(value):
        return {"doubleValue": "Infinity" if value > 0 else "-Infinity"}
    return {"doubleValue": value}


_ANY_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64).map(lambda n: {"intValue": str(n)}),
    st.integers(min_value=-5, max_value=10**6).map(lambda n: {"intValue": n}),
    st.floats(allow_nan=True, allow_infinity=True).map(_double),
    st.floats(min_value=0, max_value=10).map(_double),  # times, to be kept to the microsecond
    st.sampled_from([0.1234567, 2.5e-7, 1e-7, 0.0000005, 1.0000005]).map(_double),
    st.sampled_from(["5", " 7", "0x10", "1e3", "", "x", "-3", "9" * 30]).map(
        lambda s: {"stringValue": s}
    ),
    st.booleans().map(lambda b: {"boolValue": b}),
    st.just({"arrayValue": {"values": [{"intValue": "3"}]}}),
    st.just({}),
)


def _with_usage(line: bytes, values: dict[str, Any]) -> bytes:
    """A span line whose usage attributes are `values` (added where absent)."""
    data = orjson.loads(line)
    for resource in data.get("resourceSpans", ()):
        for scope in resource.get("scopeSpans", ()):
            for span in scope.get("spans", ()):
                kept = [a for a in span.get("attributes", ()) if a["key"] not in values]
                span["attributes"] = kept + [{"key": k, "value": v} for k, v in values.items()]
    return orjson.dumps(data) + b"\n"


@settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    source=st.sampled_from([p for p in COMMITTED if p.name.startswith(_FOREIGN)]),
    values=st.dictionaries(st.sampled_from(_USAGE_NAMES), _ANY_VALUES, min_size=1, max_size=8),
)
def test_plain_usage_of_any_usage_values_is_their_metrics(
    source: Path, values: dict[str, Any]
) -> None:
    """Usage attributes of every name the readers know, of every type and size OTLP JSON
    can give them: the plain read is the `Metrics`' (or fails alike), and so are the sums."""
    lines = [line for line in source.read_bytes().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / source.name
        path.write_bytes(b"".join(_with_usage(line, values) for line in lines))
        try:
            traces = load_traces(path)
        except DefinableTraceError:
            return  # refused as a whole: nothing to list
        assert _plain_usage_is_the_metrics(traces) > 0
        if "NaN" not in repr(values):  # a NaN time is unequal to itself: compared above
            _same_facts(lambda: load_traces(path))


def _tracked() -> Counter[str]:
    gc.collect()
    return Counter(type(o).__name__ for o in gc.get_objects())


def _list(traces: TraceSet) -> None:
    for session in traces:
        _ = (session.metrics, session.models, session.start, session.end, session.lineage)
        _ = (len(session.turns), session.message_count)


def test_a_listing_keeps_no_object_per_call(tmp_path: Path) -> None:
    """What a listing reads of every session leaves nothing behind for the garbage collector
    to scan on every later pass but a few objects for the whole load: no `ModelCall`,
    `Metrics` or list per call or turn (counted, not timed)."""
    path = tmp_path / "many.jsonl"
    replicated(path, 3)
    traces = load_traces(path)
    calls = sum(len(t.model_calls) for s in load_traces(path) for t in s.turns)
    assert {s.convention for s in traces} == {
        "definable",
        "openai-v2",
        "openinference",
        "openllmetry",
    }
    _list(load_traces(path))  # what a first listing sets up once (imports, caches)
    before = _tracked()
    _list(traces)
    after = _tracked()
    grown = {name: n - before[name] for name, n in after.items() if n > before[name]}
    assert not {"ModelCall", "Metrics", "Chat"} & set(grown), grown
    # Only what is kept for the whole load (the store's few parsed lists; pytest's own).
    assert sum(grown.values()) < len(traces) < calls, grown


def test_a_sessions_metrics_are_a_new_copy_to_change_at_each_read() -> None:
    """A listing's `Metrics` are copies of one kept inside: changing one (its values, its
    fields set) changes neither the session's next read nor any other session's."""
    traces = load_traces(ROOT / "sample_traces" / "math_tutor.jsonl", FIXTURES / "openai_v2.jsonl")
    before = [(s.metrics.model_dump(), set(s.metrics.model_fields_set)) for s in traces]
    assert len(before) > 1
    for session in traces:
        metrics = session.metrics
        metrics.input_tokens = 10**6
        metrics.time_to_first_token = 9.0
        metrics.model_fields_set.clear()
    after = [(s.metrics.model_dump(), set(s.metrics.model_fields_set)) for s in traces]
    assert after == before
    assert all(fields == set(Metrics.model_fields) for _, fields in after)


def test_a_load_keeps_no_function_per_session(tmp_path: Path) -> None:
    """A session's parts refer to each other by plain references, not closures: a function
    and its cells per session would be scanned by every collection after the load. Nor is
    a run's record of its spans tracked (`OurRun`: it leads back to nothing)."""
    path = tmp_path / "many.jsonl"
    replicated(path, 3)
    load_traces(path)  # what a first load sets up once (imports, caches)
    before = _tracked()
    traces = load_traces(path)
    after = _tracked()
    assert len(traces) > 100
    for kind in ("function", "cell", "OurRun"):
        assert after[kind] - before[kind] < len(traces) // 10, kind

"""Other instrumentations' calls take shortcuts that must give what the general path gives.

Each shortcut is run beside the plain code it stands in for, on every span of the committed
traces (ours and the real foreign instrumentations') and of damaged versions of them (the fuzz
test's mutations), read by the real reader:

- `classify` asks conventions that decide by names alone once per shape of span;
- flattened messages are gathered by a per-shape plan (`_flat._planner`, read here through
  `test_loading_support.span_unflatten`) instead of a scan of every attribute
  (`_flat.unflatten`), and rebuilt once per distinct fields;
- a message list attribute is parsed and built once per distinct JSON string (`Memo`);
- message ids hash each message's body JSON made once per load, not the whole triple.

The same answers, or the same error, whether the shortcut is taken or not.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from loading_mutations import SOURCES, damaged_copies
from test_loading_support import FIXTURES, span_unflatten

from definable_trace import DefinableTraceError
from definable_trace import _semconv as sc
from definable_trace._loading import _conventions as conv
from definable_trace._loading._calls import CallData, Memo
from definable_trace._loading._flat import unflatten
from definable_trace._loading._foreign import _Canon
from definable_trace._loading._load import _Reading
from definable_trace._loading._logs import LogIndex
from definable_trace._loading._records import SpanRecord
from definable_trace.loading import load_traces
from definable_trace.model import Message

ROOT = Path(__file__).parent.parent
_PREFIXES = (
    sc.LLM_INPUT_MESSAGES_PREFIX,
    sc.LLM_OUTPUT_MESSAGES_PREFIX,
    sc.LEGACY_GEN_AI_PROMPT_PREFIX,
    sc.LEGACY_GEN_AI_COMPLETION_PREFIX,
    "tool_calls.",
)
_MUTANTS_PER_SOURCE = 12


def _files(tmp: Path) -> Iterator[Path]:
    """The committed traces, then damaged versions of each (the same ones every run)."""
    return damaged_copies(tmp, _MUTANTS_PER_SOURCE, seed=20261129)


def _read(*paths: Path) -> tuple[list[SpanRecord], LogIndex]:
    reading = _Reading()
    for path in paths:
        with contextlib.suppress(DefinableTraceError):  # what was read before the damage stays
            reading.source(path)
    return list(reading.index.spans.values()), reading.logs


def _outcome(run: Any, *args: Any) -> Any:
    """What `run(*args)` gives, or the error it raises (type and text)."""
    try:
        return ("ok", run(*args))
    except (ValueError, TypeError) as exc:
        return ("raised", type(exc).__name__, str(exc))


def _naive_classify(span: SpanRecord) -> tuple[str, str | None] | None:
    for convention in conv.CONVENTIONS:
        if convention.claims(span):
            return convention.name, convention.role_of(span)
    return None


def _call_facts(data: CallData) -> tuple[Any, ...]:
    def dump(messages: list[Message] | None) -> Any:
        return None if messages is None else [m.model_dump(mode="json") for m in messages]

    return (
        data.convention,
        dump(data.input),
        dump(data.output),
        data.metrics.model_dump(),
        data.request_model,
        data.response_model,
        data.response_id,
        data.finish_reason,
        data.error,
    )


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[list[SpanRecord], LogIndex]]:
    tmp = tmp_path_factory.mktemp("mutants")
    files = list(_files(tmp))
    # Content in log records: the spans' file read with the logs' file (and its mutants).
    spans = FIXTURES / "openai_v2_events.jsonl"
    logs = [f for f in files if f.name.startswith("openai_v2_events.logs")]
    return [*(_read(path) for path in files), *(_read(spans, f) for f in logs)]


def test_classify_per_shape_is_classify_per_span(
    records: list[tuple[list[SpanRecord], LogIndex]],
) -> None:
    checked = set()
    for spans, _ in records:
        for span in spans:
            found = conv.classify(span)
            assert found == _naive_classify(span)
            checked.add(found)
    # every convention and role of the fixtures was met
    assert {c[0] for c in checked if c} == {c.name for c in conv.CONVENTIONS}


def test_the_per_shape_plan_unflattens_as_the_scan_does(
    records: list[tuple[list[SpanRecord], LogIndex]],
) -> None:
    found = 0
    for spans, _ in records:
        for span in spans:
            for prefix in _PREFIXES:
                planned = _outcome(span_unflatten, span, prefix)
                assert planned == _outcome(unflatten, span.attributes, prefix)
                found += bool(planned[0] == "ok" and planned[1])
    assert found > 100


def test_awkward_flattened_names_unflatten_alike(tmp_path: Path) -> None:
    """Indexes written twice (`01` and `1`), out of order, with nothing after them, in other
    digits than ASCII, and names repeated after `message.` is taken off."""
    names = [
        ("llm.input_messages.1.message.role", "user"),
        ("llm.input_messages.01.message.role", "assistant"),
        ("llm.input_messages.0.message.content", "first"),
        ("llm.input_messages.0.role", "system"),
        ("llm.input_messages.0.message.role", "user"),
        ("llm.input_messages.2", "no field"),
        ("llm.input_messages.x.message.role", "no index"),
        ("llm.input_messages.\u0663.message.content", "arabic-indic three"),
        ("llm.output_messages.0.message.role", "assistant"),
        ("llm.output_messages.0.message.tool_calls.1.tool_call.id", "b"),
        ("llm.output_messages.0.message.tool_calls.0.tool_call.id", "a"),
        ("openinference.span.kind", "LLM"),
    ]
    path = tmp_path / "awkward.jsonl"
    path.write_bytes(_line(names, "s-awkward") + b"\n" + _line([*names[:2], *names[-1:]], "s2"))
    spans, _ = _read(path)
    assert len(spans) == 2
    for span in spans:
        for prefix in _PREFIXES:
            assert span_unflatten(span, prefix) == unflatten(span.attributes, prefix)
    plan = span_unflatten(spans[0], sc.LLM_INPUT_MESSAGES_PREFIX)
    assert [list(d) for d in plan][:2] == [
        ["message.content", "role", "message.role"],
        ["message.role"],
    ]
    assert load_traces(path).session("s-awkward").messages  # and the loader reads them


def test_a_superscript_index_fails_alike(tmp_path: Path) -> None:
    """`isdigit` holds for "²" but `int` refuses it: both ways raise the same error, and the
    loader warns about the span (the plan is not remembered for a shape it could not make)."""
    names = [("llm.input_messages.\u00b2.message.role", "user"), ("openinference.span.kind", "LLM")]
    path = tmp_path / "superscript.jsonl"
    path.write_bytes(_line(names, "s1") + b"\n" + _line(names, "s2"))
    spans, _ = _read(path)
    for span in spans:
        prefix = sc.LLM_INPUT_MESSAGES_PREFIX
        planned = _outcome(span_unflatten, span, prefix)
        assert planned[0] == "raised"
        assert planned == _outcome(unflatten, span.attributes, prefix)
    assert sum("unreadable" in w.message for w in load_traces(path).warnings) == 2


def _line(attributes: list[tuple[str, str]], session: str) -> bytes:
    trace = hashlib.md5(session.encode()).hexdigest()
    span = {
        "traceId": trace,
        "spanId": trace[:16],
        "name": "ChatCompletion",
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [
            *({"key": k, "value": {"stringValue": v}} for k, v in attributes),
            {"key": "session.id", "value": {"stringValue": session}},
        ],
    }
    request = {"resourceSpans": [{"scopeSpans": [{"scope": {"name": "x"}, "spans": [span]}]}]}
    return orjson.dumps(request)


def test_calls_read_with_one_memo_are_calls_read_alone(
    records: list[tuple[list[SpanRecord], LogIndex]],
) -> None:
    """One memo shared by every call of a file (as a load shares it): the messages, usage and
    facts of each call, or its error, are what the call read on its own gives."""
    calls = remembered = from_logs = 0
    for spans, logs in records:
        memo = Memo()
        for span in spans:
            found = conv.classify(span)
            if found is None or found[1] != "call":
                continue
            content = logs.content(span.trace_id, span.span_id)
            shared = _outcome(_read_call, span, found[0], content, memo)
            alone = _outcome(_read_call, span, found[0], content, None)
            assert shared == alone
            calls += 1
        remembered += len(memo.lists) + len(memo.messages)
        from_logs += sum(isinstance(k, bytes) for k in memo.lists)
    assert calls > 300
    assert remembered > 100  # and the memo was used
    assert from_logs > 10  # lists read from log records too


def _read_call(span: SpanRecord, convention: str, logs: Any, memo: Memo | None) -> Any:
    return _call_facts(conv.call_data(span, convention, logs, memo))


def test_a_resent_list_gives_fresh_lists_of_shared_messages() -> None:
    spans, _ = _read(FIXTURES / "openai_v2.jsonl")
    memo = Memo()
    chats = [s for s in spans if sc.INPUT_MESSAGES in s]
    first = conv.call_data(chats[0], conv.OPENAI_V2, None, memo)
    again = conv.call_data(chats[0], conv.OPENAI_V2, None, memo)
    assert first.input is not None and again.input is not None
    assert first.input is not again.input  # a caller may keep (or change) its list
    assert all(a is b for a, b in zip(first.input, again.input, strict=True))
    assert chats[0].text(sc.INPUT_MESSAGES) in memo.lists


def test_ids_hashed_from_body_json_are_the_general_ones() -> None:
    sessions = ["s1", "é \u6771\u4eac", 'quote " and \\ back', "\ud800 lone surrogate"]
    messages = [m for s in load_traces(*SOURCES) for t in s.turns for m in t.history]
    messages.append(Message(role="tool", content="x", tool_calls=[{"id": b"\x00"}]))
    assert len(messages) > 100
    bodies: dict[int, tuple[Message, bytes]] = {}
    for session in sessions:
        canon = _Canon(session, bodies)
        for position, message in enumerate(messages):
            expected = _outcome(canon._fingerprint, position % 7, message)
            assert _outcome(canon.fingerprint, position % 7, message) == expected


@pytest.mark.parametrize("copies", [3])
def test_sessions_that_resend_the_same_messages_keep_their_own_ids(
    tmp_path: Path, copies: int
) -> None:
    """Copies of the same conversations in one file share rebuilt messages and their body
    JSON; each session's ids still hash its own id (pydantic's dump, as in
    test_loading_speed), and no message object is shared between sessions."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from _replicate import replicate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    path = tmp_path / "copies.jsonl"
    lines = [line for p in SOURCES for line in p.read_bytes().splitlines() if line.strip()]
    megabytes = sum(len(line) + 1 for line in lines) * copies / 1_000_000
    replicate(path, megabytes)
    traces = load_traces(path)
    owner: dict[int, str] = {}
    checked = 0
    for session in traces:
        if session.convention == "definable" or session.lineage is not None:
            continue
        for turn in session.turns:
            for position, message in enumerate(turn.history):
                body = message.model_dump(mode="json", exclude={"id", "created_at", "metrics"})
                data = orjson.dumps([session.id, position, body], option=orjson.OPT_SORT_KEYS)
                assert message.id == hashlib.blake2b(data, digest_size=16).hexdigest()
                assert owner.setdefault(id(message), session.id) == session.id
                checked += 1
    assert checked > 100
    assert len({s.id for s in traces}) == len(traces)


# --- canonical messages made when first read --------------------------------------------


def _foreign_traces(tmp: Path) -> Iterator[Any]:
    for path in _files(tmp):
        try:
            traces = load_traces(path)
        except DefinableTraceError:
            continue
        yield traces


def _everything(traces: Any, order: str) -> list[Any]:
    """Every session read in one of two orders: histories first, or counts, errors, tool
    calls and calls' facts and messages first (what a listing, then `show`, reads)."""
    out: list[Any] = []
    for session in traces:
        if order == "calls first":
            out.append(("count", session.message_count))
            for turn in session.turns:
                out.append(_calls_of(turn))
        out.append(_dump(session.messages))
        for turn in session.turns:
            out.append((_dump(turn.history), _dump(turn.messages), _dump(turn.history_before)))
            if order != "calls first":
                out.append(_calls_of(turn))
        if order != "calls first":
            out.append(("count", session.message_count))
    return sorted(map(repr, out))


def _calls_of(turn: Any) -> list[Any]:
    out: list[Any] = [turn.error, [repr(c) for c in turn.tool_calls]]
    for call in turn.model_calls:
        facts = (call.request_model, call.response_model, call.response_id, call.finish_reason)
        out.append((facts, call.error, call.metrics.model_dump()))
        out.append((_dump(call.input_messages), _dump([call.output_message])))
    return out


def _dump(messages: list[Message | None] | None) -> Any:
    if messages is None:
        return None
    return [
        None if m is None else (m.model_dump(mode="json"), m.model_fields_set) for m in messages
    ]


def test_messages_read_in_any_order_are_the_same(tmp_path: Path) -> None:
    for traces in _foreign_traces(tmp_path):
        again = load_traces(*traces.paths)
        assert _everything(traces, "histories first") == _everything(again, "calls first")


def test_the_count_without_messages_is_the_number_of_messages(tmp_path: Path) -> None:
    """`message_count` of other instrumentations' sessions follows `merged_history` on the
    messages' ids without making them: on every committed trace and damaged versions (some
    with histories that do not extend each other: lines shuffled, repeated, cut)."""
    counted = 0
    for traces in _foreign_traces(tmp_path):
        for session in traces:
            assert session.message_count == len(session.messages)
            counted += session.convention != "definable"
    assert counted > 100


def test_a_message_is_one_object_wherever_it_is_read(tmp_path: Path) -> None:
    """The history of a turn, the messages its calls sent and their answers are the same
    `Message` objects (made once), and an answer's `metrics` is the `Metrics` of the call
    that first gave it (the same object: changing one changes the other, as before)."""
    own = 0
    for traces in _foreign_traces(tmp_path):
        for session in traces:
            if session.convention in ("definable", "mixed"):
                continue
            calls = [c for t in session.turns for c in t.model_calls]
            for turn in session.turns:
                history = {m.id: m for m in turn.history}
                for call in turn.model_calls:
                    answer = call.output_message
                    for message in [*(call.input_messages or ()), answer]:
                        if message is not None and message.id in history:
                            assert history[message.id] is message
                    if answer is not None and answer.metrics is not None:
                        assert any(answer.metrics is c.metrics for c in calls)
                        own += answer.metrics is call.metrics
    assert own > 100


def test_copies_of_one_conversation_without_sessions_are_one_session_each(
    tmp_path: Path,
) -> None:
    """Stitching with many units that end with the same history (the same conversation had
    by many users: each continuation claims the earliest unit not yet continued, found from
    where the last search stopped instead of from the start): every copy is a session of its
    own, shaped as the conversation read alone (the copies' first calls, which send what an
    earlier one sent, are branches of it: regenerated first answers)."""
    from test_loading_stitch import sessionless

    [alone] = sessionless(tmp_path / "one", "openinference")
    lines = alone.read_bytes().splitlines()
    copies = tmp_path / "copies.jsonl"
    with copies.open("wb") as out:
        for line in lines:  # interleaved, as many users' calls are written
            for k in range(30):
                out.write(_renamed(line, k) + b"\n")

    def shapes(path: Path) -> list[list[tuple[str, str | None]]]:
        return sorted([(m.role, m.content) for m in s.messages] for s in load_traces(path))

    traces = load_traces(copies)
    assert all(s.stitched for s in traces)
    assert shapes(copies) == sorted(shapes(alone) * 30)
    assert len(traces) == 30 * len(load_traces(alone))


def _renamed(line: bytes, k: int) -> bytes:
    value = orjson.loads(line)
    for resource in value["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = f"{k:04x}{span[key][4:]}"
    return orjson.dumps(value)

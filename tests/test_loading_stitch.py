"""Conversations that name no session, stitched together by the continuity of their histories.

The session-less files are the real fixtures with what names a session taken away: the session
attributes, the grouping spans (agent, workflow) that carried them, and the trace that tied a
turn's calls together: each call becomes its own root trace, as `OpenAIInstrumentor().
instrument()` alone writes them (`openai_v2_sessionless.jsonl` is that, written for real).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_loading_foreign import CALL_TOKENS, WEATHER_HISTORY, shape
from test_loading_support import FIXTURES, Reply, conversation, request_of
from test_loading_support import spans_of as spans_of_file

import definable_trace as dt
from definable_trace.agent import Agent
from definable_trace.loading import Session, TraceSet, load_traces
from definable_trace.testing import FakeOpenAIServer

_SESSION_KEYS = {"gen_ai.conversation.id", "session.id", "langfuse.session.id"}
SOURCES = {
    "openai-v2": ["openai_v2.jsonl"],
    "openai-v2-real": ["openai_v2_sessionless.jsonl"],
    "openai-v2-events": ["openai_v2_events.jsonl", "openai_v2_events.logs.jsonl"],
    "openai-v2-legacy-events": ["openai_v2_legacy_events.jsonl"],
    "openllmetry": ["openllmetry.jsonl"],
    "openllmetry-old": ["openllmetry_old.jsonl"],
    "openinference": ["openinference.jsonl"],
}


def _is_call(span: dict[str, Any]) -> bool:
    return not (span["name"].startswith("invoke_agent") or span["name"].endswith(".workflow"))


def _own_trace(span: dict[str, Any]) -> dict[str, Any]:
    """The span as a root of a trace of its own, naming no session."""
    trace = hashlib.md5(span["spanId"].encode()).hexdigest()  # an id, not security
    attributes = [
        a
        for a in span["attributes"]
        if a["key"] not in _SESSION_KEYS and not a["key"].startswith("traceloop.association.")
    ]
    return {**span, "traceId": trace, "parentSpanId": "", "attributes": attributes}


def sessionless(tmp_path: Path, name: str, *, seed: int | None = None) -> list[Path]:
    """The fixture(s) of `SOURCES[name]` without sessions: one span per line, shuffled by
    `seed`; log lines keep their records but follow their spans into the new traces."""
    new_trace: dict[str, str] = {}
    span_lines: list[bytes] = []
    log_lines: list[bytes] = []
    for file in SOURCES[name]:
        for line in (FIXTURES / file).read_bytes().splitlines():
            value = orjson.loads(line)
            if "resourceLogs" in value:
                log_lines.append(line)
                continue
            for _, span in spans_of_line(value):
                if _is_call(span):
                    moved = _own_trace(span)
                    new_trace[span["spanId"]] = moved["traceId"]
                    span_lines.append(request_of([moved]))
    log_lines = [_retrace_logs(line, new_trace) for line in log_lines]
    if seed is not None:
        random.Random(seed).shuffle(span_lines)
        random.Random(seed).shuffle(log_lines)
    tmp_path.mkdir(parents=True, exist_ok=True)
    spans = tmp_path / f"{name}.jsonl"
    spans.write_bytes(b"\n".join(span_lines) + b"\n")
    if not log_lines:
        return [spans]
    logs = tmp_path / f"{name}.logs.jsonl"
    logs.write_bytes(b"\n".join(log_lines) + b"\n")
    return [spans, logs]


def spans_of_line(value: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        (scope, span)
        for resource in value["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def _retrace_logs(line: bytes, new_trace: dict[str, str]) -> bytes:
    value = orjson.loads(line)
    for resource in value["resourceLogs"]:
        for scope in resource["scopeLogs"]:
            for record in scope["logRecords"]:
                record["traceId"] = new_trace.get(record["spanId"], record["traceId"])
    return orjson.dumps(value)


def weather_and_hello(traces: TraceSet) -> tuple[Session, Session]:
    weather = next(s for s in traces if len(s.turns) == 2)
    hello = next(s for s in traces if s is not weather)
    return weather, hello


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_calls_without_a_session_are_stitched_into_their_conversations(
    tmp_path: Path, name: str
) -> None:
    traces = load_traces(*sessionless(tmp_path, name))
    assert len(traces) == 2
    weather, hello = weather_and_hello(traces)
    for session in (weather, hello):
        assert session.inferred and session.stitched and session.id.startswith("inferred-")
        assert session.lineage is None and session.has_content
    assert shape(weather) == WEATHER_HISTORY
    assert [t.index for t in weather.turns] == [1, 2]
    tokens = [
        [(c.metrics.input_tokens, c.metrics.output_tokens) for c in t.model_calls]
        for t in weather.turns
    ]
    assert tokens == CALL_TOKENS
    assert len({c.span.trace_id for t in weather.turns for c in t.model_calls}) == 3
    assert [(m.role, m.content) for m in hello.messages] == [
        ("user", "Say hi."),
        ("assistant", "Hi!"),
    ]
    [warning] = traces.warnings
    assert "2 session(s) stitched together" in warning.message


@pytest.mark.parametrize("name", ["openai-v2", "openllmetry", "openinference", "openai-v2-events"])
def test_stitching_does_not_depend_on_the_order_of_spans(tmp_path: Path, name: str) -> None:
    ordered = load_traces(*sessionless(tmp_path / "a", name))
    for seed in (1, 2, 3):
        shuffled = load_traces(*sessionless(tmp_path / f"s{seed}", name, seed=seed))
        assert [s.id for s in shuffled] == [s.id for s in ordered]
        assert [s.messages for s in shuffled] == [s.messages for s in ordered]


def test_stitched_ids_are_stable(tmp_path: Path) -> None:
    files = sessionless(tmp_path, "openinference")
    once, again = load_traces(*files), load_traces(*files)
    assert [s.id for s in once] == [s.id for s in again]
    assert [s.messages for s in once] == [s.messages for s in again]


def test_an_explicit_session_id_wins(tmp_path: Path) -> None:
    [path] = sessionless(tmp_path, "openai-v2")
    lines = path.read_bytes().splitlines()
    hello = orjson.loads(lines[-1])  # the last call: "Say hi."
    [(_, span)] = spans_of_line(hello)
    span["attributes"].append({"key": "session.id", "value": {"stringValue": "named"}})
    path.write_bytes(b"\n".join([*lines[:-1], orjson.dumps(hello)]) + b"\n")
    traces = load_traces(path)
    assert traces.session("named").messages[0].content == "Say hi."
    assert not traces.session("named").inferred
    [stitched] = [s for s in traces if s.stitched]
    assert shape(stitched) == WEATHER_HISTORY


def test_a_regenerated_answer_is_a_branch_with_lineage(tmp_path: Path) -> None:
    """The streamed turn-2 call sent again, answered differently: a branch at turn 2."""
    [path] = sessionless(tmp_path, "openai-v2")
    lines = path.read_bytes().splitlines()
    value = orjson.loads(lines[2])  # the third call: turn 2 of the weather conversation
    [(_, span)] = spans_of_line(value)
    assert span["attributes"][0]["value"]["stringValue"] == "chat"
    regenerated = _regenerate(span, "Snowy in Tōkyō, -2 °C.")
    path.write_bytes(b"\n".join([*lines, request_of([regenerated])]) + b"\n")
    traces = load_traces(path)
    assert len(traces) == 3
    weather = next(s for s in traces if len(s.turns) == 2)
    [branch] = [s for s in traces if s.lineage is not None]
    assert (branch.lineage.kind, branch.lineage.parent_session, branch.lineage.turn) == (
        "branch",
        weather.id,
        2,
    )
    assert shape(weather) == WEATHER_HISTORY  # the first answer stays in the main line
    assert [t.index for t in branch.turns] == [2]
    assert branch.messages[-1].content == "Snowy in Tōkyō, -2 °C."
    # the shared history keeps its ids (times and usage are those the branch's own calls saw)
    assert [m.id for m in branch.messages[:-1]] == [m.id for m in weather.messages[:-1]]
    assert shape(branch)[:-1] == WEATHER_HISTORY[:-1]
    before = branch.history(before_turn=2)
    assert [m.id for m in before] == [m.id for m in weather.history(before_turn=2)]


def _regenerate(span: dict[str, Any], answer: str) -> dict[str, Any]:
    later = int(span["endTimeUnixNano"]) + 1_000_000_000
    attributes = []
    for a in span["attributes"]:
        if a["key"] == "gen_ai.output.messages":
            output = [{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]
            a = {"key": a["key"], "value": {"stringValue": orjson.dumps(output).decode()}}
        attributes.append(a)
    span_id = "ab" * 8
    return {
        **span,
        "spanId": span_id,
        "traceId": "cd" * 16,
        "startTimeUnixNano": str(later),
        "endTimeUnixNano": str(later + 1000),
        "attributes": attributes,
    }


# --- our own agent, run without a session id ---------------------------------------------


def _agent(server: FakeOpenAIServer) -> Agent:
    model = dt.OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
    return Agent(model, "Be brief.", name="tester")


def test_two_interleaved_conversations_of_ours_never_merge(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    dt.configure_tracing(path)
    script = [Reply(content=c) for c in ("a1", "b1", "a2", "b2", "a3")]
    with FakeOpenAIServer(script) as server:
        agent = _agent(server)
        a1 = agent.run("alpha?")
        b1 = agent.run("beta?")
        a2 = agent.run("alpha again", messages=a1.messages)
        b2 = agent.run("beta again", messages=b1.messages)
        a3 = agent.run("alpha thrice", messages=a2.messages)
    dt.flush_tracing()
    traces = load_traces(path)
    assert len(traces) == 2
    alpha, beta = traces.sessions  # by start
    assert alpha.messages == a3.messages and beta.messages == b2.messages
    assert [t.index for t in alpha.turns] == [1, 2, 3]
    assert all(s.stitched and s.convention == "definable" for s in traces)


def test_a_regenerated_turn_of_ours_branches_off_at_that_turn(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    dt.configure_tracing(path)
    script = [Reply(content=c) for c in ("one", "two", "two again", "three")]
    with FakeOpenAIServer(script) as server:
        agent = _agent(server)
        first = agent.run("q1")
        second = agent.run("q2", messages=first.messages)
        again = agent.run("q2", messages=first.messages)  # regenerate turn 2
        third = agent.run("q3", messages=again.messages)  # and go on from there
    dt.flush_tracing()
    traces = load_traces(path)
    main, branch = traces.sessions
    assert main.messages == second.messages
    assert branch.messages == third.messages
    assert branch.lineage is not None
    assert (branch.lineage.kind, branch.lineage.parent_session, branch.lineage.turn) == (
        "branch",
        main.id,
        2,
    )
    assert [t.index for t in branch.turns] == [2, 3]
    assert branch.history(before_turn=2) == main.history(before_turn=2)


def test_independent_runs_stay_apart(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    conversation(path, [Reply(content="x"), Reply(content="y")], ["a", "b"], session_id=None)
    one = load_traces(path)
    assert len(one) == 1  # the second run continues the first: one conversation
    path2 = tmp_path / "u.jsonl"
    dt.configure_tracing(path2)
    with FakeOpenAIServer([Reply(content="x"), Reply(content="y")]) as server:
        agent = _agent(server)
        agent.run("a")
        agent.run("b")  # no history passed: a new conversation
    dt.flush_tracing()
    assert len(load_traces(path2)) == 2


def test_a_conversation_continued_under_another_convention_is_one_session(
    tmp_path: Path,
) -> None:
    """Turn 1 written by OpenInference, turn 2 by openai-v2: the same messages compare equal
    (tool call arguments as a string in one, an object in the other)."""
    [oi] = sessionless(tmp_path / "oi", "openinference")
    [v2] = sessionless(tmp_path / "v2", "openai-v2")
    oi_lines = oi.read_bytes().splitlines()
    v2_lines = v2.read_bytes().splitlines()
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"\n".join([*oi_lines[:2], v2_lines[2]]) + b"\n")
    [session] = load_traces(mixed)
    assert session.stitched and session.convention == "mixed"
    assert shape(session) == WEATHER_HISTORY


def test_calls_under_agent_spans_without_an_id_keep_their_agent(tmp_path: Path) -> None:
    """An agent layer that sets no conversation id: each turn one trace, stitched by history."""
    spans = []
    for _, span in spans_of_file(FIXTURES / "openai_v2.jsonl"):
        span["attributes"] = [a for a in span["attributes"] if a["key"] not in _SESSION_KEYS]
        spans.append(span)
    path = tmp_path / "agents.jsonl"
    path.write_bytes(b"\n".join(request_of([s]) for s in reversed(spans)) + b"\n")
    traces = load_traces(path)
    weather, _ = weather_and_hello(traces)
    assert weather.stitched and shape(weather) == WEATHER_HISTORY
    assert weather.agent_name == "weather-bot"
    assert any(s.name == "invoke_agent weather-bot" for s in weather.turns[0].spans)
    assert len({s.trace_id for t in weather.turns for s in t.spans}) == 2


def test_a_regenerated_first_answer_is_a_branch_at_turn_1(tmp_path: Path) -> None:
    """The same first input sent twice (no answer before it to continue)."""
    [path] = sessionless(tmp_path, "openai-v2")
    lines = path.read_bytes().splitlines()
    [(_, hello)] = spans_of_line(orjson.loads(lines[-1]))  # "Say hi." -> "Hi!"
    again = _regenerate(hello, "Hello there!")
    path.write_bytes(b"\n".join([*lines, request_of([again])]) + b"\n")
    traces = load_traces(path)
    [branch] = [s for s in traces if s.lineage is not None]
    first = next(s for s in traces if s.messages[-1].content == "Hi!")
    assert branch.lineage is not None
    assert (branch.lineage.kind, branch.lineage.parent_session, branch.lineage.turn) == (
        "branch",
        first.id,
        1,
    )
    assert [(m.role, m.content) for m in branch.messages] == [
        ("user", "Say hi."),
        ("assistant", "Hello there!"),
    ]
    assert branch.messages[0].id == first.messages[0].id

"""Run → spans → file → `load_traces` gives back the run's history exactly, field by field.

Conversations go through our real `Agent`, the real `openai` SDK and a live `FakeOpenAIServer`,
and are written by the real tracing setup; `session.messages` must then equal the last
`output.messages` (ids, times and metrics floats included). Hypothesis generates the
conversations: turns of unicode or empty text, tool rounds with tools that work, fail or do not
exist, reasoning, streamed and async runs, and both history modes.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_loading_support import Reply, ToolCallReply, conversation, weather

import definable_trace as dt
from definable_trace import TurnNotFoundError
from definable_trace.agent import Agent
from definable_trace.loading import load_traces
from definable_trace.testing import FakeOpenAIServer


def boom(x: int) -> str:
    """A tool that always fails."""
    raise ValueError(f"kaboom {x}")


def test_plain_conversation_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    outputs = conversation(
        path, [Reply(content="Hello!"), Reply(content="Fine.")], ["hi", "how are you?"]
    )
    traces = load_traces(path)
    session = traces.session("s1")
    assert session.messages == outputs[-1].messages
    assert [t.index for t in session.turns] == [1, 2]
    assert [t.run_id for t in session.turns] == [o.run_id for o in outputs]
    assert session.turns[0].messages == outputs[0].messages[1:]
    assert session.turns[1].messages == outputs[1].messages[len(outputs[0].messages) :]
    assert session.turns[1].input == outputs[1].messages[-2]
    assert session.turns[1].history == outputs[1].messages
    assert session.history(before_turn=2) == outputs[0].messages
    assert session.history(before_turn=3) == outputs[1].messages
    assert session.convention == "definable" and session.has_content
    assert not session.id_inferred and session.agent_name == "tester"
    assert traces.warnings == []


def test_tools_including_a_failing_one_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    script = [
        Reply(
            tool_calls=[
                ToolCallReply("weather", {"city": "Paris"}),
                ToolCallReply("boom", {"x": 1}),
                ToolCallReply("missing", "{not json"),
            ]
        ),
        Reply(content="Sunny, and one tool broke."),
    ]
    outputs = conversation(path, script, ["weather?"], tools=[weather, boom])
    session = load_traces(path).session("s1")
    assert session.messages == outputs[-1].messages
    turn = session.turns[0]
    assert [c.name for c in turn.tool_calls] == ["weather", "boom", "missing"]
    assert turn.tool_calls[0].result == "sunny in Paris" and turn.tool_calls[0].error is None
    assert turn.tool_calls[1].error == "ValueError"
    assert turn.tool_calls[2].arguments == "{not json"
    assert turn.error is None  # a failing tool does not fail the turn
    assert [c.finish_reason for c in turn.model_calls] == ["tool_calls", "stop"]
    assert turn.model_calls[1].input_messages == outputs[-1].messages[:-1]
    assert turn.model_calls[0].output_message == outputs[-1].messages[2]


def test_usage_and_timing_match_the_run(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    script = [
        Reply(tool_calls=[ToolCallReply("weather", {"city": "Oslo"})], prompt_tokens=11),
        Reply(content="Cold.", prompt_tokens=20, completion_tokens=3, cached_tokens=4),
    ]
    [output] = conversation(path, script, ["weather in Oslo?"])
    session = load_traces(path).session("s1")
    turn = session.turns[0]
    assert turn.metrics == output.metrics
    assert session.metrics.input_tokens == output.metrics.input_tokens == 31
    assert session.metrics.cache_read_tokens == 4
    assert session.metrics.duration == pytest.approx(turn.duration)
    assert session.model_calls == 2 and session.models == ["gpt-4o"]
    assert [c.metrics for c in turn.model_calls] == [
        m.metrics for m in output.messages if m.role == "assistant"
    ]
    assert session.start <= turn.model_calls[0].start <= session.end
    assert 0 <= session.duration < 60


def test_streamed_and_async_runs_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    dt.configure_tracing(path)
    script = [
        Reply(content="streamed ✓", reasoning_content="let me think"),
        Reply(tool_calls=[ToolCallReply("weather", {"city": "Rome"})]),
        Reply(content="async answer"),
    ]
    with FakeOpenAIServer(script) as server:
        agent = _agent(server)
        events = list(agent.run_stream("first", session_id="s1"))
        first = events[-1].output
        second = asyncio.run(agent.arun("second", messages=first.messages, session_id="s1"))
    dt.flush_tracing()
    session = load_traces(path).session("s1")
    assert session.messages == second.messages
    assert session.messages[2].reasoning_content == "let me think"
    assert session.turns[0].model_calls[0].metrics.time_to_first_token is not None


def test_unicode_empty_content_and_names_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    script = [Reply(content=""), Reply(content="日本語 🌸 \u2028 \x00 end")]
    outputs = conversation(path, script, ["", 'Ünïcödé "quotes" \\ and\nnewlines 🌸'])
    session = load_traces(path).session("s1")
    assert session.messages == outputs[-1].messages
    assert session.messages[2].content == ""


def test_media_references_round_trip(tmp_path: Path) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"\x89PNG fake")
    path = tmp_path / "t.jsonl"
    dt.configure_tracing(path)
    media: dict[str, Any] = {
        "images": [
            dt.Image(url="https://example.com/a.png", detail="low"),
            dt.Image(filepath=str(picture), mime_type="image/png"),
        ],
        "audio": [dt.Audio(content=b"RIFF....WAVE", format="wav", mime_type="audio/wav")],
        "videos": [dt.Video(url="https://example.com/v.mp4")],
        "files": [dt.File(file_id="file-123", filename="report.pdf")],
    }
    with FakeOpenAIServer([Reply(content="Nice cat.")]) as server:
        output = _agent(server).run("look", session_id="s1", **media)
    dt.flush_tracing()
    session = load_traces(path).session("s1")
    assert session.messages == output.messages
    assert session.turns[0].input == output.messages[1]
    assert session.turns[0].input.images[1].filepath == str(picture)


def test_compact_history_mode_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    script = [
        Reply(content="one"),
        Reply(tool_calls=[ToolCallReply("weather", {"city": "Lima"})]),
        Reply(content="two"),
        Reply(content="three"),
    ]
    outputs = conversation(path, script, ["a", "b", "c"], history="delta")
    assert "definable_trace.input.messages.offset" in path.read_text()
    session = load_traces(path).session("s1")
    assert session.messages == outputs[-1].messages
    assert [t.messages for t in session.turns] == [
        outputs[0].messages[1:],
        outputs[1].messages[len(outputs[0].messages) :],
        outputs[2].messages[len(outputs[1].messages) :],
    ]
    call = session.turns[1].model_calls[1]
    assert call.input_messages == outputs[1].messages[:-1]


def test_content_off_is_reported_not_passed_off_as_a_conversation(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    outputs = conversation(path, [Reply(content="secret")], ["hush"], capture_content=False)
    traces = load_traces(path)
    session = traces.session("s1")
    assert not session.has_content
    assert [m.content for m in session.messages] == [None, None, None]
    assert [(m.role, m.id, m.metrics) for m in session.messages] == [
        (m.role, m.id, m.metrics) for m in outputs[-1].messages
    ]
    assert session.metrics.output_tokens == outputs[-1].metrics.output_tokens
    assert len(session.turns) == 1 and session.model_calls == 1
    [warning] = traces.warnings
    assert warning.path == str(path) and warning.line == 1
    assert "no message content" in warning.message and "s1" in warning.message


def test_a_fork_starts_at_its_turn_with_the_inherited_history(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    dt.configure_tracing(path)
    lineage = {
        "definable_trace.lineage.kind": "fork",
        "definable_trace.lineage.parent_session": "s1",
        "definable_trace.lineage.turn": 3,
    }
    script = [Reply(content="a1"), Reply(content="a2"), Reply(content="forked")]
    with FakeOpenAIServer(script) as server:
        agent = _agent(server)
        first = agent.run("q1", session_id="s1")
        second = agent.run("q2", messages=first.messages, session_id="s1")
        fork = agent.run(
            "q3", messages=second.messages, session_id="s1-fork", trace_attributes=lineage
        )
    dt.flush_tracing()
    traces = load_traces(path)
    forked = traces.session("s1-fork")
    assert [t.index for t in forked.turns] == [3]
    assert forked.messages == fork.messages
    assert forked.history(before_turn=3) == second.messages
    assert forked.history(before_turn=2) == first.messages
    assert forked.history(before_turn=1) == first.messages[:1]
    assert forked.lineage is not None and forked.lineage.kind == "fork"
    assert (forked.lineage.parent_session, forked.lineage.turn) == ("s1", 3)
    assert traces.session("s1").lineage is None
    with pytest.raises(TurnNotFoundError, match="no turn 7"):
        forked.history(before_turn=7)


def test_runs_without_a_session_are_stitched_into_one_conversation(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    outputs = conversation(
        path, [Reply(content="x"), Reply(content="y")], ["a", "b"], session_id=None
    )
    traces = load_traces(path)
    [session] = traces  # the second run sent the first one's history: its continuation
    assert session.inferred and session.stitched and session.id.startswith("inferred-")
    assert session.messages == outputs[-1].messages
    assert [t.index for t in session.turns] == [1, 2]
    [warning] = traces.warnings
    assert warning.line == 1 and "stitched together" in warning.message


def test_a_failed_model_call_is_a_turn_with_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    dt.configure_tracing(path)
    with FakeOpenAIServer([Reply(content="ok"), Reply(status=500)]) as server:
        agent = _agent(server)
        first = agent.run("one", session_id="s1")
        with pytest.raises(dt.ModelError):
            agent.run("two", messages=first.messages, session_id="s1")
    dt.flush_tracing()
    session = load_traces(path).session("s1")
    assert [t.index for t in session.turns] == [1, 2]
    failed = session.turns[1]
    assert failed.error and "500" in failed.error
    assert failed.model_calls[0].output_message is None
    assert failed.model_calls[0].error
    assert session.history(before_turn=2) == first.messages
    assert failed.input is not None and failed.input.content == "two"


def _agent(server: FakeOpenAIServer, **options: Any) -> Agent:
    model = dt.OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
    return Agent(model, "Be brief.", tools=[weather, boom], name="tester", **options)


# --------------------------------------------------------------------------- property


_TEXT = st.text(max_size=40)
_CALL = st.one_of(
    st.builds(lambda c: ToolCallReply("weather", {"city": c}), _TEXT),
    st.builds(lambda x: ToolCallReply("boom", {"x": x}), st.integers(-5, 5)),
    st.builds(lambda a: ToolCallReply("nope", a), _TEXT),
)
_ANSWER = st.builds(
    Reply,
    content=st.one_of(st.none(), _TEXT),
    reasoning_content=st.one_of(st.none(), _TEXT),
    prompt_tokens=st.one_of(st.none(), st.integers(0, 10_000)),
    completion_tokens=st.one_of(st.none(), st.integers(0, 10_000)),
    cached_tokens=st.integers(0, 50),
)
_TURN = st.tuples(
    _TEXT,
    st.lists(st.lists(_CALL, min_size=1, max_size=2), max_size=2),
    _ANSWER,
    st.sampled_from(["run", "run_stream", "arun", "arun_stream"]),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    turns=st.lists(_TURN, min_size=1, max_size=4),
    history=st.sampled_from(["full", "delta"]),
    instructions=st.one_of(st.none(), _TEXT),
)
def test_any_conversation_round_trips(
    turns: list[tuple[str, list[list[ToolCallReply]], Reply, str]],
    history: str,
    instructions: str | None,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.jsonl"
        dt.configure_tracing(path, history=history)
        outputs = []
        with FakeOpenAIServer() as server:
            model = dt.OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
            agent = Agent(model, instructions, tools=[weather, boom], name="prop")
            messages = None
            for text, rounds, answer, mode in turns:
                server.add(*(Reply(tool_calls=calls) for calls in rounds), answer)
                output = _drive(agent, mode, text, messages)
                outputs.append(output)
                messages = output.messages
        dt.flush_tracing()
        session = load_traces(path).session("prop-s")
    assert session.messages == outputs[-1].messages
    assert [t.index for t in session.turns] == list(range(1, len(turns) + 1))
    before = 0 if instructions is None else 1  # the system prompt comes before turn 1
    for turn, output in zip(session.turns, outputs, strict=True):
        assert turn.messages == output.messages[before:]
        assert turn.history == output.messages
        assert turn.metrics.output_tokens == output.metrics.output_tokens
        before = len(output.messages)


def _drive(agent: Agent, mode: str, text: str, messages: Any) -> Any:
    options = {"messages": messages, "session_id": "prop-s"}
    if mode == "run_stream":
        return list(agent.run_stream(text, **options))[-1].output
    if mode == "arun":
        return asyncio.run(agent.arun(text, **options))
    if mode == "arun_stream":

        async def last() -> Any:
            return [e async for e in agent.arun_stream(text, **options)][-1].output

        return asyncio.run(last())
    return agent.run(text, **options)


def test_a_message_edited_between_runs_is_recorded_as_edited(tmp_path: Path) -> None:
    """Span JSON is reused across calls only while a message is unchanged."""
    path = tmp_path / "t.jsonl"
    dt.configure_tracing(path)
    with FakeOpenAIServer() as server:
        agent = _agent(server)
        first = agent.run("hi", session_id="edit")
        first.messages[1].name = "alice"
        second = agent.run("again", messages=first.messages, session_id="edit")
    dt.flush_tracing()
    session = load_traces(path).session("edit")
    assert session.messages == second.messages
    assert session.messages[1].name == "alice"


def test_a_system_message_with_a_name_round_trips(tmp_path: Path) -> None:
    """`gen_ai.system_instructions` holds text only; a richer system message is kept whole."""
    path = tmp_path / "t.jsonl"
    dt.configure_tracing(path)
    system = dt.Message(role="system", content="You are terse.", name="policy")
    with FakeOpenAIServer() as server:
        model = dt.OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        output = Agent(model, name="tester").run("hi", messages=[system], session_id="sys")
    dt.flush_tracing()
    session = load_traces(path).session("sys")
    assert session.messages == output.messages
    assert session.messages[0].name == "policy"

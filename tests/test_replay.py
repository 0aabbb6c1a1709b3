"""The replay library (`definable_trace.replay`) on real traces: recorded model, tools, diff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from definable_trace import (
    Agent,
    InvalidInputError,
    Message,
    OpenAIChat,
    configure_tracing,
    flush_tracing,
    load_traces,
)
from definable_trace.agent import RunContent
from definable_trace.model import Model, ModelDelta, ModelResponse
from definable_trace.replay import (
    DivergenceError,
    ForkOptions,
    RecordedModel,
    ReplayError,
    ReplayOptions,
    ReplayOutcome,
    areplay_all,
    diff_sessions,
    fork,
    load_tools,
    replay,
    session_views,
)
from definable_trace.testing import FakeOpenAIServer, Reply

SAMPLES = Path(__file__).resolve().parent.parent / "sample_traces"


def sample(name: str, session_id: str):  # type: ignore[no-untyped-def]
    return load_traces(SAMPLES / name).session(session_id)


def test_recorded_model_answers_as_recorded_and_streams() -> None:
    session = sample("math_tutor.jsonl", "math-tutor")
    model = RecordedModel(session)
    agent = Agent(model)
    first = agent.run(session.turns[0].input, messages=session.history(before_turn=1))
    assert first.content == "15 * 23 = 345"
    assert first.messages[-1].metrics == session.turns[0].messages[-1].metrics
    events = list(agent.run_stream(session.turns[1].input, messages=first.messages, session_id="x"))
    assert "".join(e.content or "" for e in events if isinstance(e, RunContent)) == "345 / 5 = 69"


def test_recorded_model_names_the_turn_and_the_difference() -> None:
    session = sample("math_tutor.jsonl", "math-tutor")
    agent = Agent(RecordedModel(session))
    history = session.history(before_turn=2)
    with pytest.raises(DivergenceError) as caught:
        agent.run("Now divide that by 7.", messages=history)
    assert caught.value.turn == 2
    assert caught.value.detail == (
        "model call 1: message 4 (user) differs: "
        "recorded 'Now divide that by 5.', now 'Now divide that by 7.'"
    )


def test_recorded_replay_reproduces_the_conversation() -> None:
    session = sample("tools.jsonl", "weather")
    result = replay(session, ReplayOptions(recorded=True, session_id="again"))
    assert result.session_id == "again" and result.recorded
    assert [(m.role, m.content, m.tool_calls) for m in result.history] == [
        (m.role, m.content, m.tool_calls) for m in session.messages
    ]
    assert all(t.status == "same" for t in result.comparison)


def test_replay_until_turn_and_of_a_fork() -> None:
    session = sample("lineage.jsonl", "lisbon-fork-rainy")
    result = replay(session, ReplayOptions(recorded=True))
    assert [t.index for t in result.turns] == [2]  # a fork's session starts at its fork point
    assert result.history[-1].content == session.messages[-1].content
    result = replay(
        sample("math_tutor.jsonl", "math-tutor"), ReplayOptions(recorded=True, until_turn=2)
    )
    assert [t.index for t in result.turns] == [1, 2]


def test_replay_lineage_is_in_every_span(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    configure_tracing(out)
    fork(sample("math_tutor.jsonl", "math-tutor"), ForkOptions(at=3, recorded=True, tag="t"))
    flush_tracing()
    [forked] = load_traces(out).sessions
    assert forked.id == "math-tutor-fork-t"
    assert forked.lineage is not None and forked.lineage.turn == 3
    assert all(
        span.get("definable_trace.lineage.parent_session") == "math-tutor"
        for turn in forked.turns
        for span in turn.spans
    )


def test_replay_all_keeps_order_and_isolates_failures(
    tmp_path: Path, server: FakeOpenAIServer
) -> None:
    source = tmp_path / "edited.jsonl"
    configure_tracing(source)
    agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url))
    first = agent.run("hi", session_id="edited")
    edited = first.messages[-1].model_copy(update={"content": "edited"})
    agent.run("more", messages=[*first.messages[:-1], edited], session_id="edited")
    flush_tracing()
    sessions = [
        load_traces(source).session("edited"),
        sample("math_tutor.jsonl", "math-tutor"),
        sample("streamed.jsonl", "streamed"),
    ]
    finished: list[ReplayOutcome] = []
    outcomes = asyncio.run(
        areplay_all(sessions, ReplayOptions(recorded=True), concurrency=2, on_done=finished.append)
    )
    assert [o.session for o in outcomes] == ["edited", "math-tutor", "streamed"]
    assert isinstance(outcomes[0].error, DivergenceError) and outcomes[0].error.turn == 2
    assert [o.error for o in outcomes[1:]] == [None, None]
    assert sorted(o.session for o in finished) == ["edited", "math-tutor", "streamed"]
    with pytest.raises(ReplayError, match="one new session id"):
        asyncio.run(areplay_all(sessions, ReplayOptions(session_id="x")))


def test_live_replay_uses_the_server(server: FakeOpenAIServer) -> None:
    server.add(Reply("Hi!"), Reply("More."))
    session = sample("streamed.jsonl", "streamed")
    result = replay(session, ReplayOptions(base_url=server.base_url, model="small"))
    assert [t.content for t in result.turns] == ["Hi!", "More."]
    assert [t.model for t in result.turns] == ["small", "small"]
    assert [d.status for d in result.comparison] == ["changed", "changed"]


def test_diff_sessions_sees_the_inherited_turns() -> None:
    traces = load_traces(SAMPLES / "lineage.jsonl")
    fork_views = session_views(traces.session("lisbon-fork-rainy"))
    assert [(v.index, v.inherited) for v in fork_views] == [(1, True), (2, False)]
    result = diff_sessions(traces.session("lisbon"), traces.session("lisbon-fork-rainy"))
    assert [t.status for t in result.turns] == ["same", "changed", "only_a"]
    assert result.first_difference == 2


def test_load_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "replay_tools_mod.py").write_text(
        "def a(x: int) -> int:\n    return x\n\n"
        "def b() -> str:\n    return 'b'\n\n"
        "TOOLS = [a, b]\nBY_NAME = {'a': a}\nNOT_A_TOOL = 3\n"
        "import threading\n\ndef c(lock: threading.Lock) -> None:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [t.name for t in load_tools(["replay_tools_mod:TOOLS"])] == ["a", "b"]
    assert [t.name for t in load_tools(["replay_tools_mod:BY_NAME", "replay_tools_mod:b"])] == [
        "a",
        "b",
    ]
    for spec, message in [
        ("replay_tools_mod", "expected module:attr"),
        ("replay_tools_mod:missing", "cannot import"),
        ("replay_tools_mod:NOT_A_TOOL", "not a function"),
        ("replay_tools_mod:c", "tools 'replay_tools_mod:c': c cannot be a tool: "),
    ]:
        with pytest.raises(ReplayError, match=message):
            load_tools([spec])


class CannedModel(Model):
    """A provider of our own: answers every call with a fixed text, and remembers being closed."""

    provider = "canned"

    def __init__(self, id: str, answer: str) -> None:
        self.id = id
        self.answer = answer
        self.calls = 0
        self.closed = False

    def invoke(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ModelResponse:
        self.calls += 1
        message = Message(role="assistant", content=f"{self.answer} #{self.calls}")
        return ModelResponse(message, response_model=self.id, finish_reason="stop")

    async def ainvoke(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> ModelResponse:
        return self.invoke(messages, tools)

    def invoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> Iterator[ModelDelta | ModelResponse]:
        yield self.invoke(messages, tools)

    async def ainvoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> AsyncIterator[ModelDelta | ModelResponse]:
        yield self.invoke(messages, tools)

    def close(self) -> None:
        self.closed = True


def test_replay_and_fork_with_any_model_from_a_factory(tmp_path: Path) -> None:
    built: list[CannedModel] = []

    def factory(model_id: str) -> CannedModel:
        built.append(CannedModel(f"canned-{model_id}", "canned"))
        return built[-1]

    out = tmp_path / "out.jsonl"
    configure_tracing(out)
    session = sample("math_tutor.jsonl", "math-tutor")
    result = replay(session, ReplayOptions(model_factory=factory, session_id="canned"))
    assert [t.content for t in result.turns] == [f"canned #{i}" for i in range(1, 5)]
    assert [t.model for t in result.turns] == ["canned-gpt-4o"] * 4
    assert len(built) == 1 and built[0].closed  # one model per model id, closed at the end
    forked = fork(session, ForkOptions(at=2, model="other", model_factory=factory))
    assert forked.turns[0].content == "canned #1" and built[-1].id == "canned-other"
    flush_tracing()
    replayed = load_traces(out).session("canned")
    calls = [c for t in replayed.turns for c in t.model_calls]
    assert [c.span.get("gen_ai.provider.name") for c in calls] == ["canned"] * 4
    assert [c.request_model for c in calls] == ["canned-gpt-4o"] * 4


def test_a_factory_of_openai_models_talks_to_the_server(server: FakeOpenAIServer) -> None:
    server.add(Reply("Hi!"), Reply("More."))
    models: list[OpenAIChat] = []

    def factory(model_id: str) -> OpenAIChat:
        headers = {"X-Replay": "yes"}
        models.append(OpenAIChat(model_id, base_url=server.base_url, default_headers=headers))
        return models[-1]

    result = replay(sample("streamed.jsonl", "streamed"), ReplayOptions(model_factory=factory))
    assert [t.content for t in result.turns] == ["Hi!", "More."]
    assert [r.headers["x-replay"] for r in server.requests] == ["yes", "yes"]


def test_factory_misuse_is_a_clear_error() -> None:
    session = sample("streamed.jsonl", "streamed")
    with pytest.raises(InvalidInputError, match="base_url configures the default OpenAIChat"):
        replay(session, ReplayOptions(model_factory=lambda m: CannedModel(m, "x"), base_url="u"))
    with pytest.raises(InvalidInputError, match=r"model_factory\('.*'\) returned str, not a Model"):
        replay(session, ReplayOptions(model_factory=lambda m: m))  # type: ignore[arg-type, return-value]

"""Spans on every path, exactly what was sent, and nothing private when content is off.

The model calls go over HTTP to a `FakeOpenAIServer`, except where the test needs a model that
misbehaves in a way no server can (a stream with no final answer, an interrupt mid-call):
those are small `Model` subclasses, i.e. what a user plugging in a custom provider writes.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from conftest import MODES, TraceFile, drive
from otlp_helpers import STATUS_ERROR, STATUS_UNSET, Span, json_attr, named, one

from definable_trace import File, Image, Message, OpenAIChat, load_traces
from definable_trace._errors import ModelAuthenticationError, ModelResponseError
from definable_trace.agent import Agent
from definable_trace.model import Model, ModelDelta, ModelResponse
from definable_trace.testing import FakeOpenAIServer, Reply, ToolCallReply


def attrs(span: Span) -> dict[str, Any]:
    return span["attributes"]  # type: ignore[no-any-return]


def exception_events(span: Span) -> list[dict[str, Any]]:
    return [e["attributes"] for e in span["events"] if e["name"] == "exception"]


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class ScriptedModel(Model):
    """A custom provider: answers "ok", or does what the test asks at the call it asks."""

    def __init__(self, behaviour: str = "ok") -> None:
        self.id = "custom-1"
        self.behaviour = behaviour
        self.started = threading.Event()

    def _answer(self) -> ModelResponse:
        if self.behaviour == "interrupt":
            raise KeyboardInterrupt
        if self.behaviour == "not a response":
            return "text"  # type: ignore[return-value]
        return ModelResponse(Message(role="assistant", content="ok"), finish_reason="stop")

    def invoke(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ModelResponse:
        return self._answer()

    async def ainvoke(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> ModelResponse:
        if self.behaviour == "hang":
            self.started.set()
            await asyncio.Event().wait()
        return self._answer()

    def invoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> Iterator[ModelDelta | ModelResponse]:
        yield ModelDelta(content="o")
        if self.behaviour != "no final":
            yield self._answer()

    async def ainvoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> AsyncIterator[ModelDelta | ModelResponse]:
        yield ModelDelta(content="o")
        if self.behaviour != "no final":
            yield await self.ainvoke(messages, tools)


def all_ended_with_error(spans: list[Span], *names: str) -> None:
    """Every span was exported (so ended), and those named failed with an exception event."""
    for name in names:
        span = one(spans, name)
        assert span["status_code"] == STATUS_ERROR, name
        assert span["end_ns"] >= span["start_ns"]
        assert exception_events(span), name


# --- exact traces ---------------------------------------------------------------------------


def test_in_place_edit_between_runs_is_what_the_trace_records(
    server: FakeOpenAIServer, model: OpenAIChat, trace_file: TraceFile
) -> None:
    server.add(Reply(tool_calls=[ToolCallReply("add", {"a": 2, "b": 3}, id="c1")]), Reply("5"))
    first = Agent(model, tools=[add]).run("2+3?", session_id="s")
    call = first.messages[1].tool_calls[0]  # type: ignore[index]
    call["function"]["arguments"] = '{"a":20,"b":30}'  # edited in place, same objects
    first.messages[0].content = "20+30?"
    Agent(model, tools=[add]).run("again", messages=first.messages, session_id="s")
    sent = server.requests[-1].body["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == '{"a":20,"b":30}'
    last_chat = named(trace_file(), "chat")[-1]
    recorded = json_attr(last_chat, "gen_ai.input.messages")
    assert recorded[0]["parts"] == [{"type": "text", "content": "20+30?"}]
    assert recorded[1]["parts"][0]["arguments"] == {"a": 20, "b": 30}
    # And the loader rebuilds the history as sent.
    session = load_traces(trace_file.path).session("s")
    sent_again = [*first.messages, session.messages[-2]]
    assert session.turns[1].model_calls[0].input_messages == sent_again


def test_a_run_without_input_keeps_its_turn_exact(
    server: FakeOpenAIServer, model: OpenAIChat, trace_file: TraceFile
) -> None:
    """No new message (the history already ends with the user's): the run span says so."""
    history = [Message(role="user", content="hello")]
    output = Agent(model).run(messages=history, session_id="s")
    run = one(trace_file(), "invoke_agent")
    assert json_attr(run, "definable_trace.messages") == []
    session = load_traces(trace_file.path).session("s")
    assert session.messages == output.messages
    assert session.turns[0].history_before == history


# --- every span ends, with an error where it failed ----------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_tool_raising_keyboard_interrupt_ends_every_span(mode: str, trace_file: TraceFile) -> None:
    def stop(x: int) -> int:
        """Interrupted."""
        raise KeyboardInterrupt

    with FakeOpenAIServer([Reply(tool_calls=[ToolCallReply("stop", {"x": 1})])]) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        with pytest.raises(KeyboardInterrupt):
            drive(Agent(model, tools=[stop]), mode, "go")
    spans = trace_file()
    all_ended_with_error(spans, "execute_tool stop", "invoke_agent")
    assert attrs(one(spans, "execute_tool stop"))["error.type"] == "KeyboardInterrupt"
    assert one(spans, "chat")["status_code"] == STATUS_UNSET  # the model call itself succeeded


def test_cancelled_async_tool_ends_every_span(trace_file: TraceFile) -> None:
    started = asyncio.Event()

    async def wait_forever(x: int) -> int:
        """Never returns."""
        started.set()
        await asyncio.Event().wait()
        return x

    async def cancel_mid_tool(agent: Agent) -> None:
        task = asyncio.create_task(agent.arun("go"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with FakeOpenAIServer([Reply(tool_calls=[ToolCallReply("wait_forever", {"x": 1})])]) as srv:
        model = OpenAIChat("gpt-4o", base_url=srv.base_url, api_key="k", max_retries=0)
        asyncio.run(cancel_mid_tool(Agent(model, tools=[wait_forever])))
    spans = trace_file()
    all_ended_with_error(spans, "execute_tool wait_forever", "invoke_agent")
    assert attrs(one(spans, "invoke_agent"))["error.type"] == "CancelledError"


def test_cancelled_model_call_ends_every_span(trace_file: TraceFile) -> None:
    model = ScriptedModel("hang")

    async def cancel_mid_call() -> None:
        task = asyncio.create_task(Agent(model).arun("go"))
        while not model.started.is_set():
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_mid_call())
    spans = trace_file()
    all_ended_with_error(spans, "chat custom-1", "invoke_agent")


@pytest.mark.parametrize("mode", MODES)
def test_keyboard_interrupt_in_the_model_call(mode: str, trace_file: TraceFile) -> None:
    with pytest.raises(KeyboardInterrupt):
        drive(Agent(ScriptedModel("interrupt")), mode, "go")
    spans = trace_file()
    all_ended_with_error(spans, "chat custom-1", "invoke_agent")
    assert attrs(one(spans, "chat"))["error.type"] == "KeyboardInterrupt"


@pytest.mark.parametrize("mode", ["run_stream", "arun_stream"])
def test_stream_without_a_final_response(mode: str, trace_file: TraceFile) -> None:
    with pytest.raises(ModelResponseError, match="ended without a final ModelResponse"):
        drive(Agent(ScriptedModel("no final")), mode, "go")
    spans = trace_file()
    all_ended_with_error(spans, "chat custom-1", "invoke_agent")
    assert attrs(one(spans, "chat"))["error.type"] == "ModelResponseError"


def test_a_model_returning_something_else(trace_file: TraceFile) -> None:
    with pytest.raises(ModelResponseError, match="returned a str, expected a ModelResponse"):
        Agent(ScriptedModel("not a response")).run("go")
    all_ended_with_error(trace_file(), "chat custom-1", "invoke_agent")


def test_unknown_tool_span_fails_and_run_goes_on(
    server: FakeOpenAIServer, model: OpenAIChat, trace_file: TraceFile
) -> None:
    server.add(Reply(tool_calls=[ToolCallReply("nope", {}, id="c9")]), Reply("ok"))
    assert Agent(model, tools=[add]).run("x").content == "ok"
    spans = trace_file()
    assert one(spans, "execute_tool nope")["status_code"] == STATUS_ERROR
    assert one(spans, "invoke_agent")["status_code"] == STATUS_UNSET


# --- privacy ----------------------------------------------------------------------------------

KEY_ECHO = "Incorrect API key provided: ECHOED-9f8e7d"


def failing_runs(trace_file: TraceFile, **tracing: Any) -> None:
    """A server error that echoes a key, a tool interrupted with a secret message, media."""

    def secret_stop(x: int) -> int:
        """Interrupted with a message."""
        raise KeyboardInterrupt("SECRET-TOOL-WORDS")

    trace_file.configure(**tracing)
    script = [
        Reply(status=401, error_message=KEY_ECHO),
        Reply(tool_calls=[ToolCallReply("secret_stop", {"x": 1})]),
    ]
    with FakeOpenAIServer(script) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model, tools=[secret_stop])
        with pytest.raises(ModelAuthenticationError):
            agent.run(
                "see attached",
                files=[File(content=b"%PDF-1.4 SECRETBYTES", filename="SECRET-report.pdf")],
                images=[Image(url="https://cdn.example/cat.png?token=SECRET-TOKEN")],
            )
        with pytest.raises(KeyboardInterrupt):
            agent.run(Message(role="user", content="go", name="SECRET-NAME"))


def test_capture_off_records_no_error_text_filename_or_media(trace_file: TraceFile) -> None:
    failing_runs(trace_file, capture_content=False)
    text = trace_file.text()
    for secret in ("ECHOED-9f8e7d", "Incorrect API key", "SECRET", "cat.png", "JVBERi0"):
        assert secret not in text, secret
    spans = trace_file()
    chat = named(spans, "chat")[0]
    assert chat["status_code"] == STATUS_ERROR
    assert chat["status_message"] == "401" == attrs(chat)["error.type"]
    [event] = exception_events(chat)
    assert event == {"exception.type": "definable_trace._errors.ModelAuthenticationError"}
    tool = one(spans, "execute_tool secret_stop")
    assert exception_events(tool) == [{"exception.type": "builtins.KeyboardInterrupt"}]
    meta = json_attr(chat, "definable_trace.messages")
    assert meta[0]["media"] == [{"kind": "image"}, {"kind": "file"}]  # no name, no source


def test_capture_on_records_error_texts(trace_file: TraceFile) -> None:
    failing_runs(trace_file)
    spans = trace_file()
    chat = named(spans, "chat")[0]
    assert "ECHOED-9f8e7d" in chat["status_message"]
    [event] = exception_events(chat)
    assert "ECHOED-9f8e7d" in event["exception.message"]
    assert "Traceback" in event["exception.stacktrace"]
    tool = one(spans, "execute_tool secret_stop")
    assert exception_events(tool)[0]["exception.message"] == "SECRET-TOOL-WORDS"


def test_redact_sees_every_string_that_can_carry_user_data(trace_file: TraceFile) -> None:
    seen: list[str] = []

    def redact(text: str) -> str:
        seen.append(text)
        hidden = "SECRET" in text or "ECHOED" in text or text.startswith("JVBERi0")
        return "[R]" if hidden else text

    failing_runs(trace_file, redact=redact)
    text = trace_file.text()
    assert "SECRET" not in text and "ECHOED-9f8e7d" not in text
    # What redact was shown: the error message and stack trace, the media URL with its
    # token, the file name, the inline bytes (base64), the message name, the tool's error.
    assert any(KEY_ECHO in s for s in seen)
    assert any("Traceback" in s and "ECHOED-9f8e7d" in s for s in seen)
    assert "https://cdn.example/cat.png?token=SECRET-TOKEN" in seen
    assert "SECRET-report.pdf" in seen
    assert any(s.startswith("JVBERi0") for s in seen)  # base64 of "%PDF-1..."
    assert "SECRET-NAME" in seen
    assert "SECRET-TOOL-WORDS" in seen
    spans = trace_file()
    chat = named(spans, "chat")[0]
    assert chat["status_message"] == "[R]"
    parts = json_attr(chat, "gen_ai.input.messages")[0]["parts"]
    assert [p.get("uri", p.get("content")) for p in parts] == ["see attached", "[R]", "[R]"]
    meta = json_attr(chat, "definable_trace.messages")
    assert meta[0]["media"][1]["filename"] == "[R]"
    second = named(spans, "chat")[1]
    assert json_attr(second, "gen_ai.input.messages")[0]["name"] == "[R]"


# --- sessions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_every_run_has_a_session(
    mode: str, server: FakeOpenAIServer, model: OpenAIChat, trace_file: TraceFile
) -> None:
    agent = Agent(model, "sys")
    first = drive(agent, mode, "one")
    second = drive(agent, mode, "two", messages=first.messages)
    other = drive(agent, mode, "elsewhere")
    assert re.fullmatch("[0-9a-f]{16}", first.session_id)  # generated: 64 bits, as span ids
    assert second.session_id == first.session_id
    assert other.session_id not in (None, first.session_id)
    spans = trace_file()
    assert {attrs(s)["session.id"] for s in spans} == {first.session_id, other.session_id}
    assert all(attrs(s)["gen_ai.conversation.id"] == attrs(s)["session.id"] for s in spans)


def test_a_fork_keeps_the_original_session_of_its_history(
    server: FakeOpenAIServer, model: OpenAIChat
) -> None:
    agent = Agent(model)
    base = agent.run("one")
    fork = agent.run("two", messages=base.messages, session_id="fork-1")
    assert fork.session_id == "fork-1"
    assert agent.run("three", messages=fork.messages).session_id == "fork-1"
    assert agent.run("again", messages=base.messages).session_id == base.session_id


def test_history_as_dicts_continues_by_message_id(
    server: FakeOpenAIServer, model: OpenAIChat
) -> None:
    agent = Agent(model)
    first = agent.run("one")
    dicts = [m.model_dump() for m in first.messages]
    assert agent.run("two", messages=dicts).session_id == first.session_id
    fresh = [{"role": "user", "content": "unknown here"}]
    assert agent.run(messages=fresh).session_id != first.session_id


def test_metrics_in_meta_leave_out_what_reading_restores() -> None:
    from definable_trace._semconv import metrics_dict, metrics_from_meta
    from definable_trace.model import Metrics

    cases = {
        "empty": (Metrics(), {}),
        "not streamed": (
            Metrics(
                input_tokens=3,
                output_tokens=4,
                total_tokens=7,
                duration=0.25,
                time_to_first_token=0.25,
            ),
            {"input_tokens": 3, "output_tokens": 4, "duration": 0.25},
        ),
        "streamed": (
            Metrics(
                input_tokens=3,
                output_tokens=4,
                total_tokens=9,
                duration=0.5,
                time_to_first_token=0.125,
                cache_read_tokens=2,
                reasoning_tokens=1,
            ),
            {
                "input_tokens": 3,
                "output_tokens": 4,
                "total_tokens": 9,
                "duration": 0.5,
                "time_to_first_token": 0.125,
                "cache_read_tokens": 2,
                "reasoning_tokens": 1,
            },
        ),
        "no total, no first token": (
            Metrics(input_tokens=5, duration=0.0),
            {"input_tokens": 5, "total_tokens": 0, "duration": 0.0, "time_to_first_token": None},
        ),
        "first token only": (
            Metrics(time_to_first_token=0.0, cache_write_tokens=5),
            {"time_to_first_token": 0.0, "cache_write_tokens": 5},
        ),
    }
    for name, (metrics, written) in cases.items():
        assert metrics_dict(metrics) == written, name
        assert metrics_from_meta(metrics_dict(metrics)) == metrics, name
    # Entries written before (every non-default field) read as they always did.
    for metrics, _ in cases.values():
        assert metrics_from_meta(metrics.model_dump(exclude_defaults=True)).input_tokens == (
            metrics.input_tokens
        )
    full = Metrics(
        input_tokens=1, output_tokens=2, total_tokens=3, duration=1.0, time_to_first_token=0.5
    )
    assert metrics_from_meta(full.model_dump(exclude_defaults=True)) == full


def test_a_fork_hitting_an_unrecorded_tool_call_writes_a_failed_tool_span(
    trace_file: TraceFile,
) -> None:
    from definable_trace._errors import ToolNotRecordedError
    from definable_trace.replay import ForkOptions, fork

    script = [
        Reply(tool_calls=[ToolCallReply("add", {"a": 2, "b": 3}, id="c1")]),
        Reply("5"),
        Reply(tool_calls=[ToolCallReply("add", {"a": 7, "b": 8}, id="c2")]),  # in the fork
    ]
    with FakeOpenAIServer(script) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        Agent(model, tools=[add]).run("2+3?", session_id="orig")
        trace_file()
        session = load_traces(trace_file.path).session("orig")
        options = ForkOptions(at=1, message="7+8?", base_url=server.base_url, session_id="f")
        with pytest.raises(ToolNotRecordedError):
            fork(session, options)
    spans = [s for s in trace_file() if attrs(s)["session.id"] == "f"]
    tool = one(spans, "execute_tool add")
    assert tool["status_code"] == STATUS_ERROR
    assert attrs(tool)["error.type"] == "ToolNotRecordedError"
    assert one(spans, "invoke_agent")["status_code"] == STATUS_ERROR


def test_the_run_summary_is_short_plain_text(
    server: FakeOpenAIServer, model: OpenAIChat, trace_file: TraceFile
) -> None:
    long = "word " * 600  # 3,000 characters
    output = Agent(model).run(long, session_id="s")
    run = attrs(one(trace_file(), "invoke_agent"))
    assert len(run["input.value"]) == 1_000 and run["input.value"].endswith("…")
    assert long.startswith(run["input.value"][:-1])
    assert run["output.value"] == output.content[:999] + "…"
    # The chat span still holds the whole message: the summary is for viewers' lists.
    chat = one(trace_file(), "chat")
    assert json_attr(chat, "gen_ai.input.messages")[0]["parts"][0]["content"] == long

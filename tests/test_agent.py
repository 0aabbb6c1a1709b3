"""The agent's behaviour through its four faces (run, arun, run_stream, arun_stream).

Every model call is a real HTTP request to a `FakeOpenAIServer`; assertions are on what the
agent returns, on what it sent (`server.requests`), and, for tools, on the exported spans.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import MODES, TraceFile, closed_port, drive
from otlp_helpers import STATUS_ERROR, STATUS_UNSET, named, one

from definable_trace import Audio, File, Image, Message, OpenAIChat, Video
from definable_trace._errors import (
    DefinableTraceError,
    MaxToolRoundsExceeded,
    ModelAuthenticationError,
    ModelConfigurationError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelResponseError,
)
from definable_trace.agent import Agent, RunEvent
from definable_trace.testing import FakeOpenAIServer, Reply, ToolCallReply


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def weather(city: str) -> dict[str, Any]:
    """The weather in a city."""
    await asyncio.sleep(0)
    return {"city": city, "temp": 21}


def boom(x: int) -> int:
    """Always fails."""
    raise ValueError(f"kaboom {x}")


def summary(output: Any) -> list[tuple[Any, ...]]:
    """What must not depend on the face: roles, texts, tool calls and token counts."""
    rows = []
    for m in output.messages:
        calls = [
            (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in m.tool_calls or ()
        ]
        tokens = None
        if m.metrics is not None:
            tokens = (m.metrics.input_tokens, m.metrics.output_tokens, m.metrics.total_tokens)
        rows.append((m.role, m.content, calls, m.tool_call_id, m.reasoning_content, tokens))
    return rows


def kinds(events: list[RunEvent]) -> list[str]:
    return [e.event for e in events]


# --- parity ---------------------------------------------------------------------------------


def tool_script() -> list[Reply]:
    return [
        Reply(tool_calls=[ToolCallReply("add", {"a": 2, "b": 3}, id="call_a")]),
        Reply("The sum is 5.", reasoning_content="2 plus 3", prompt_tokens=30),
    ]


def test_four_faces_agree() -> None:
    results = {}
    for mode in MODES:
        with FakeOpenAIServer(tool_script(), chunk_size=4) as server:
            model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
            agent = Agent(model, "Be brief.", tools=[add])
            events: list[RunEvent] = []
            output = drive(agent, mode, "What is 2 + 3?", events=events, session_id="s1")
            results[mode] = (summary(output), [r.body["messages"] for r in server.requests])
            assert output.content == "The sum is 5."
            assert output.session_id == "s1" and output.model == "gpt-4o"
            assert output.status == "completed" and output.last_message is output.messages[-1]
            if mode.endswith("stream"):
                assert all(e.run_id == output.run_id for e in events)
                assert kinds(events)[:3] == ["RunStarted", "ToolCallStarted", "ToolCallCompleted"]
                assert kinds(events)[-1] == "RunCompleted"
                text = "".join(e.content or "" for e in events if e.event == "RunContent")
                assert text == "The sum is 5."
    first = results["run"]
    assert first[0][-2] == ("tool", "5", [], "call_a", None, None)
    for mode in MODES[1:]:
        assert results[mode] == first, mode


@pytest.mark.parametrize("mode", MODES)
def test_sync_and_async_tools(mode: str, server: FakeOpenAIServer, model: OpenAIChat) -> None:
    calls: list[tuple[str, Any]] = []

    def record_add(a: int, b: int) -> int:
        """Add."""
        calls.append(("add", (a, b)))
        return a + b

    async def lookup(city: str) -> dict[str, Any]:
        """Weather."""
        calls.append(("lookup", city))
        return await weather(city)

    server.add(
        Reply(
            tool_calls=[
                ToolCallReply("record_add", {"a": 1, "b": 41}, id="c1"),
                ToolCallReply("lookup", {"city": "Paris"}, id="c2"),
            ]
        ),
        Reply("Done."),
    )
    agent = Agent(model, tools=[record_add, lookup])
    output = drive(agent, mode, "go")
    assert sorted(calls, key=str) == [("add", (1, 41)), ("lookup", "Paris")]
    tools = [m for m in output.messages if m.role == "tool"]
    assert [(m.tool_call_id, m.content) for m in tools] == [
        ("c1", "42"),
        ("c2", '{"city":"Paris","temp":21}'),
    ]
    sent = server.requests[0].body["tools"]
    assert [t["function"]["name"] for t in sent] == ["record_add", "lookup"]
    assert sent[0]["function"]["parameters"]["properties"] == {
        "a": {"type": "integer"},
        "b": {"type": "integer"},
    }
    assert sent[0]["function"]["description"] == "Add."
    # The second request carries the assistant's calls and both results.
    second = server.requests[1].body["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in second[1]["tool_calls"]] == ["c1", "c2"]


@pytest.mark.parametrize("mode", ["run", "arun_stream"])
def test_failing_tool_is_reported_and_run_goes_on(
    mode: str, server: FakeOpenAIServer, model: OpenAIChat, trace_file: TraceFile
) -> None:
    server.add(Reply(tool_calls=[ToolCallReply("boom", {"x": 7}, id="c1")]), Reply("Sorry."))
    events: list[RunEvent] = []
    output = drive(Agent(model, tools=[boom]), mode, "try", events=events)
    assert output.content == "Sorry."
    tool = output.messages[2]
    assert tool.role == "tool" and tool.tool_call_id == "c1"
    assert tool.content == "Error running tool boom: ValueError: kaboom 7"
    assert server.requests[1].body["messages"][-1]["content"] == tool.content
    if events:
        completed = [e for e in events if e.event == "ToolCallCompleted"]
        assert completed[0].error == "ValueError" and completed[0].result == tool
    spans = trace_file()
    span = one(spans, "execute_tool boom")
    assert span["attributes"]["error.type"] == "ValueError"
    assert span["status_code"] == STATUS_ERROR
    assert one(spans, "invoke_agent")["status_code"] == STATUS_UNSET


def test_unknown_tool(server: FakeOpenAIServer, model: OpenAIChat, trace_file: TraceFile) -> None:
    server.add(Reply(tool_calls=[ToolCallReply("nope", {}, id="c9")]), Reply("ok"))
    output = Agent(model, tools=[add]).run("x")
    assert output.messages[2].content == "Error: there is no tool named 'nope'"
    assert output.messages[2].tool_call_id == "c9"
    assert output.content == "ok"
    span = one(trace_file(), "execute_tool nope")
    assert span["attributes"]["error.type"] == "ToolNotFound"
    assert span["status_code"] == STATUS_ERROR


@pytest.mark.parametrize(
    ("arguments", "expected", "error_type"),
    [
        (
            {"a": "not a number", "b": 1},
            "Error running tool add: invalid arguments: ",
            "ValidationError",
        ),
        ({"a": 1}, "Error running tool add: invalid arguments: ", "ValidationError"),
        ("{not json", "Error running tool add: arguments are not valid JSON: ", "JSONDecodeError"),
        ("[1, 2]", "Error running tool add: ValueError: tool arguments must be", "ValueError"),
    ],
)
def test_bad_tool_arguments(
    arguments: Any,
    expected: str,
    error_type: str,
    server: FakeOpenAIServer,
    model: OpenAIChat,
    trace_file: TraceFile,
) -> None:
    server.add(Reply(tool_calls=[ToolCallReply("add", arguments)]), Reply("ok"))
    output = Agent(model, tools=[add]).run("x")
    assert output.messages[2].content.startswith(expected), output.messages[2].content
    assert output.content == "ok"
    assert one(trace_file(), "execute_tool add")["attributes"]["error.type"] == error_type


def test_tool_without_arguments(server: FakeOpenAIServer, model: OpenAIChat) -> None:
    def now() -> str:
        """The time."""
        return "noon"

    server.add(Reply(tool_calls=[ToolCallReply("now", "")]), Reply("It is noon."))
    output = Agent(model, tools=[now]).run("time?")
    assert output.messages[2].content == "noon"


@pytest.mark.parametrize("mode", MODES)
def test_max_tool_rounds(mode: str, trace_file: TraceFile) -> None:
    def always_calls(body: dict[str, Any]) -> Reply:
        return Reply(tool_calls=[ToolCallReply("add", {"a": 1, "b": 1})])

    with FakeOpenAIServer(always_calls) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        events: list[RunEvent] = []
        with pytest.raises(MaxToolRoundsExceeded, match="after 2 rounds"):
            drive(Agent(model, tools=[add], max_tool_rounds=2), mode, "loop", events=events)
        assert len(server.requests) == 3  # two rounds of tools, then the third call is refused
    spans = trace_file()
    assert len(named(spans, "execute_tool")) == 2
    run = one(spans, "invoke_agent")
    assert run["attributes"]["error.type"] == "MaxToolRoundsExceeded"
    if mode.endswith("stream"):
        assert kinds(events)[-1] == "RunError"
        assert isinstance(events[-1].exception, MaxToolRoundsExceeded)


def test_streamed_tool_call_deltas_are_merged() -> None:
    """Two parallel calls, their arguments cut into 2-character pieces, rebuilt exactly."""
    long_text = "a fairly long argument, with punctuation: {}[]\"' and unicode é ✓"
    script = [
        Reply(
            "Let me check.",
            tool_calls=[
                ToolCallReply("echo", {"text": long_text}, id="call_one"),
                ToolCallReply("add", {"a": 20, "b": 22}, id="call_two"),
            ],
        ),
        Reply("All done."),
    ]
    received: list[str] = []

    def echo(text: str) -> str:
        """Echo."""
        received.append(text)
        return text

    outputs = {}
    for mode in ("run", "run_stream"):
        with FakeOpenAIServer(list(script), chunk_size=2) as server:
            model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
            outputs[mode] = drive(Agent(model, tools=[echo, add]), mode, "go")
    streamed = outputs["run_stream"].messages[1]
    assert streamed.content == "Let me check."
    assert streamed.tool_calls == [
        {
            "id": "call_one",
            "type": "function",
            "function": {
                "name": "echo",
                "arguments": json.dumps(
                    {"text": long_text}, separators=(",", ":"), ensure_ascii=False
                ),
            },
        },
        {
            "id": "call_two",
            "type": "function",
            "function": {"name": "add", "arguments": '{"a":20,"b":22}'},
        },
    ]
    assert outputs["run"].messages[1].tool_calls == streamed.tool_calls
    assert received == [long_text, long_text]
    assert [m.content for m in outputs["run_stream"].messages if m.role == "tool"] == [
        long_text,
        "42",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_reasoning_content(mode: str, server: FakeOpenAIServer, model: OpenAIChat) -> None:
    server.add(Reply("42", reasoning_content="six times seven is forty-two"))
    events: list[RunEvent] = []
    output = drive(Agent(model), mode, "6*7?", events=events)
    assert output.content == "42"
    assert output.messages[-1].reasoning_content == "six times seven is forty-two"
    if mode.endswith("stream"):
        parts = [e for e in events if e.event == "RunContent"]
        assert "".join(e.reasoning_content or "" for e in parts) == "six times seven is forty-two"
        assert "".join(e.content or "" for e in parts) == "42"
        # Reasoning streams first, as providers send it.
        assert parts[0].reasoning_content and not parts[0].content


# --- media ----------------------------------------------------------------------------------


def test_media_goes_to_the_request_as_content_parts(
    server: FakeOpenAIServer, model: OpenAIChat, tmp_path: Path
) -> None:
    png = tmp_path / "pixel.png"
    png.write_bytes(b"\x89PNG fake")
    output = Agent(model).run(
        "Describe these.",
        images=[
            Image(url="https://example.com/cat.jpg", detail="low"),
            Image(content=b"jpegbytes", mime_type="image/jpeg"),
            Image(filepath=str(png)),
        ],
        audio=[Audio(content=b"RIFFwav", format="wav"), Audio(content=b"ID3", format="mp3")],
        files=[
            File(file_id="file-abc"),
            File(content=b"%PDF-1.4", mime_type="application/pdf", filename="doc.pdf"),
        ],
        videos=[Video(url="https://example.com/v.mp4")],
    )

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    content = server.requests[0].body["messages"][-1]["content"]
    assert content == [
        {"type": "text", "text": "Describe these."},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{b64(b'jpegbytes')}"}},
        {
            "type": "image_url",
            "image_url": {"url": f"data:image/png;base64,{b64(png.read_bytes())}"},
        },
        {"type": "input_audio", "input_audio": {"data": b64(b"RIFFwav"), "format": "wav"}},
        {"type": "input_audio", "input_audio": {"data": b64(b"ID3"), "format": "mp3"}},
        {"type": "file", "file": {"file_id": "file-abc"}},
        {
            "type": "file",
            "file": {
                "filename": "doc.pdf",
                "file_data": f"data:application/pdf;base64,{b64(b'%PDF-1.4')}",
            },
        },
    ]
    user = output.messages[0]
    assert user.role == "user" and user.content == "Describe these."
    assert [
        len(user.images or ()),
        len(user.audio or ()),
        len(user.files or ()),
        len(user.videos or ()),
    ] == [3, 2, 2, 1]


def test_media_without_text_and_in_history(server: FakeOpenAIServer, model: OpenAIChat) -> None:
    agent = Agent(model)
    first = agent.run(images=[Image(url="https://example.com/a.png")])
    assert first.messages[0].content is None
    agent.run("And now?", messages=first.messages)
    sent = server.requests[1].body["messages"]
    assert sent[0]["content"] == [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    ]
    assert sent[-1] == {"role": "user", "content": "And now?"}


# --- metrics --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_per_message_metrics(mode: str, server: FakeOpenAIServer, model: OpenAIChat) -> None:
    server.add(
        Reply(
            tool_calls=[ToolCallReply("add", {"a": 1, "b": 2})],
            prompt_tokens=100,
            completion_tokens=10,
            cached_tokens=60,
            latency=0.01,
        ),
        Reply(
            "3",
            reasoning_content="easy",
            prompt_tokens=130,
            completion_tokens=7,
            cached_tokens=100,
            reasoning_tokens=5,
            latency=0.01,
        ),
    )
    output = drive(Agent(model, tools=[add]), mode, "1+2?")
    first, second = (m for m in output.messages if m.role == "assistant")
    assert (first.metrics.input_tokens, first.metrics.output_tokens) == (100, 10)
    assert (first.metrics.total_tokens, first.metrics.cache_read_tokens) == (110, 60)
    assert first.metrics.reasoning_tokens == 0
    assert (second.metrics.input_tokens, second.metrics.output_tokens) == (130, 7)
    assert (second.metrics.cache_read_tokens, second.metrics.reasoning_tokens) == (100, 5)
    for m in (first, second):
        assert m.metrics.duration > 0
        assert 0 < m.metrics.time_to_first_token <= m.metrics.duration
    for m in output.messages:
        if m.role != "assistant":
            assert m.metrics is None
    total = output.metrics
    assert (total.input_tokens, total.output_tokens, total.total_tokens) == (230, 17, 247)
    assert (total.cache_read_tokens, total.reasoning_tokens) == (160, 5)
    assert total.duration == pytest.approx(first.metrics.duration + second.metrics.duration)
    assert total.time_to_first_token == first.metrics.time_to_first_token


def test_streamed_time_to_first_token_is_before_the_end() -> None:
    """A slow stream: the first chunk comes after the latency, the rest right after."""
    with FakeOpenAIServer([Reply("word " * 50)], chunk_size=1, latency=0.05) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        output = drive(Agent(model), "run_stream", "talk")
    metrics = output.messages[-1].metrics
    assert metrics.time_to_first_token >= 0.05
    assert metrics.duration >= metrics.time_to_first_token


# --- history --------------------------------------------------------------------------------


def test_instructions_replace_a_leading_system_message(
    server: FakeOpenAIServer, model: OpenAIChat
) -> None:
    history = [
        {"role": "system", "content": "You are old."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
    output = Agent(model, "You are new.").run("again", messages=history)
    assert [(m.role, m.content) for m in output.messages] == [
        ("system", "You are new."),
        ("user", "hi"),
        ("assistant", "hello"),
        ("user", "again"),
        ("assistant", "You said: again"),
    ]
    sent = server.requests[0].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[0]["content"] == "You are new."


def test_unchanged_system_message_is_kept(model: OpenAIChat) -> None:
    agent = Agent(model, "Be kind.")
    first = agent.run("one")
    second = agent.run("two", messages=first.messages)
    third = agent.run("three", messages=second.messages)
    assert [m.role for m in third.messages].count("system") == 1
    assert third.messages[0].id == first.messages[0].id
    assert third.messages[:5] == second.messages


def test_no_instructions_keeps_the_passed_system_message(
    server: FakeOpenAIServer, model: OpenAIChat
) -> None:
    history = [Message(role="system", content="Passed in."), Message(role="user", content="a")]
    output = Agent(model).run("b", messages=history)
    assert output.messages[0].content == "Passed in."
    assert [m["role"] for m in server.requests[0].body["messages"]] == ["system", "user", "user"]
    assert Agent(model).run("c").messages[0].role == "user"  # and none is invented


def test_message_as_input(server: FakeOpenAIServer, model: OpenAIChat) -> None:
    output = Agent(model).run(Message(role="user", content="as a message", name="alice"))
    assert server.requests[0].body["messages"] == [
        {"role": "user", "content": "as a message", "name": "alice"}
    ]
    assert output.messages[0].name == "alice"


def test_caller_history_is_not_modified(model: OpenAIChat) -> None:
    agent = Agent(model, "sys")
    first = agent.run("one")
    snapshot = list(first.messages)
    agent.run("two", messages=first.messages)
    assert first.messages == snapshot


# --- errors ---------------------------------------------------------------------------------


def agent_for(server: FakeOpenAIServer, **model_options: Any) -> Agent:
    model_options.setdefault("max_retries", 0)
    return Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", **model_options))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, ModelRateLimitError),
        (500, ModelResponseError),
        (503, ModelResponseError),
        (400, ModelResponseError),
        (401, ModelAuthenticationError),
    ],
)
def test_error_status(
    mode: str, status: int, error: type[ModelError], server: FakeOpenAIServer
) -> None:
    server.add(Reply(status=status, error_message="the server says no"))
    events: list[RunEvent] = []
    with pytest.raises(error, match="the server says no") as caught:
        drive(agent_for(server), mode, "hi", events=events)
    exc = caught.value
    assert exc.status_code == status
    assert isinstance(exc, DefinableTraceError)
    assert isinstance(exc.__cause__, openai.APIStatusError)
    if mode.endswith("stream"):
        assert kinds(events) == ["RunStarted", "RunError"]
        assert events[-1].exception is exc and events[-1].error == str(exc)


def test_retries_are_the_sdks(server: FakeOpenAIServer) -> None:
    server.add(Reply(status=429), Reply(status=500), Reply("finally"))
    assert agent_for(server, max_retries=2).run("hi").content == "finally"
    assert len(server.requests) == 3


@pytest.mark.parametrize("mode", MODES)
def test_unreachable_server(mode: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    agent = Agent(OpenAIChat("gpt-4o", base_url=url, api_key="k", max_retries=0))
    events: list[RunEvent] = []
    with pytest.raises(ModelConnectionError, match="cannot reach the model server"):
        drive(agent, mode, "hi", events=events)
    if mode.endswith("stream"):
        assert kinds(events) == ["RunStarted", "RunError"]


def test_timeout_is_a_connection_error() -> None:
    with FakeOpenAIServer([Reply("late", latency=1.0)]) as server:
        agent = agent_for(server, timeout=0.1)
        with pytest.raises(ModelConnectionError):
            agent.run("hi")


@pytest.mark.parametrize("mode", MODES)
def test_no_api_key(mode: str) -> None:
    agent = Agent(OpenAIChat(id="gpt-4o"))
    events: list[RunEvent] = []
    with pytest.raises(ModelConfigurationError) as caught:
        drive(agent, mode, "hi", events=events)
    message = str(caught.value)
    assert "No OpenAI API key" in message and "OPENAI_API_KEY" in message
    if mode.endswith("stream"):
        assert kinds(events) == ["RunStarted", "RunError"]
        assert events[-1].exception is caught.value


def test_local_server_needs_no_key(server: FakeOpenAIServer) -> None:
    output = Agent(OpenAIChat("gpt-4o", base_url=server.base_url)).run("hi")
    assert output.content == "You said: hi"
    assert server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(api_key="env-key") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "env-key")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        assert Agent(OpenAIChat("gpt-4o")).run("hi").content == "You said: hi"
    assert repr(OpenAIChat("gpt-4o", api_key="secret")).count("secret") == 0


def test_model_error_in_second_round(server: FakeOpenAIServer) -> None:
    server.add(Reply(tool_calls=[ToolCallReply("add", {"a": 1, "b": 1})]), Reply(status=500))
    events: list[RunEvent] = []
    with pytest.raises(ModelResponseError):
        drive(Agent(agent_for(server).model, tools=[add]), "run_stream", "x", events=events)
    assert kinds(events) == [
        "RunStarted",
        "ToolCallStarted",
        "ToolCallCompleted",
        "RunError",
    ]


def test_abandoned_stream_stops_cleanly(server: FakeOpenAIServer, model: OpenAIChat) -> None:
    server.add(Reply("one two three four five six", latency=0.01))
    stream = Agent(model).run_stream("talk")
    for event in stream:
        if event.event == "RunContent":
            break
    stream.close()  # no exception, no hang
    assert Agent(model).run("after").content == "You said: after"


def test_arun_in_successive_event_loops(model: OpenAIChat) -> None:
    agent = Agent(model)
    first = asyncio.run(agent.arun("one"))
    second = asyncio.run(agent.arun("two", messages=first.messages))
    assert second.content == "You said: two"


# --- typed faces and bad input ------------------------------------------------------------------


def test_the_four_faces_take_the_same_keyword_options() -> None:
    import inspect

    signatures = [inspect.signature(getattr(Agent, face)) for face in MODES]
    params = [list(s.parameters.values()) for s in signatures]
    assert all(p == params[0] for p in params)
    names = [p.name for p in params[0]]
    assert names == [
        "self",
        "input",
        "messages",
        "session_id",
        "run_id",
        "user_id",
        "images",
        "audio",
        "videos",
        "files",
        "trace_attributes",
    ]
    assert all(p.kind is p.KEYWORD_ONLY for p in params[0][2:])


@pytest.mark.parametrize("mode", MODES)
def test_a_misspelt_option_is_refused_by_the_face(mode: str, model: OpenAIChat) -> None:
    with pytest.raises(TypeError, match="sesion_id"):
        drive(Agent(model), mode, "hi", sesion_id="s")


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([Message(role="user", content="a"), 42], r"messages\[1\] is a int; expected a Message"),
        ([("user", "hi")], r"messages\[0\] is a tuple"),
        ([{"role": "wizard", "content": "x"}], r"messages\[0\]: role: Input should be"),
        ([{"role": "user", "content": 3}], r"messages\[0\]: content: Input should be"),
        ([{"content": "no role"}], r"messages\[0\]: role: Field required"),
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_bad_history_items(
    mode: str, messages: list[Any], expected: str, server: FakeOpenAIServer, model: OpenAIChat
) -> None:
    from definable_trace import InvalidInputError

    with pytest.raises(InvalidInputError, match=expected) as caught:
        drive(Agent(model), mode, "hi", messages=messages)
    assert not isinstance(caught.value.__cause__, Exception)  # no pydantic error chained in
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, DefinableTraceError)
    assert server.requests == []


def test_bad_input_and_options(model: OpenAIChat) -> None:
    from definable_trace import InvalidInputError

    agent = Agent(model)
    with pytest.raises(InvalidInputError, match="input is a int; expected text"):
        agent.run(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"images\.0"):
        agent.run("look", images=["cat.png"])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="session_id must be a non-empty string"):
        agent.run("hi", session_id="")
    with pytest.raises(InvalidInputError, match="trace_attributes is a list"):
        agent.run("hi", trace_attributes=[("a", 1)])  # type: ignore[arg-type]


def test_trace_attributes_take_any_mapping(model: OpenAIChat, trace_file: TraceFile) -> None:
    from types import MappingProxyType

    plain: dict[str, str] = {"app.tenant": "acme"}
    Agent(model).run("hi", trace_attributes=plain)
    Agent(model).run("hi", trace_attributes=MappingProxyType({"app.tier": 2}))
    runs = named(trace_file(), "invoke_agent")
    assert [r["attributes"].get("app.tenant") for r in runs] == ["acme", None]
    assert runs[1]["attributes"]["app.tier"] == 2


class _Opaque:
    pass


def _opaque_tool(thing: _Opaque) -> str:
    """Takes something no JSON schema describes."""
    return "x"


def _star_tool(*names: str) -> str:
    """Takes positional arguments only."""
    return ""


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        (_opaque_tool, r"tool '_opaque_tool': parameter 'thing' has a type with no JSON schema"),
        (_star_tool, r"tool '_star_tool': parameter 'names' cannot be passed by name"),
        ("not a function", r"a tool must be a function, got a str"),
    ],
)
def test_unsupported_tools_are_refused_when_the_agent_is_made(
    tool: Any, expected: str, model: OpenAIChat
) -> None:
    from definable_trace import InvalidInputError

    with pytest.raises(InvalidInputError, match=expected):
        Agent(model, tools=[tool])

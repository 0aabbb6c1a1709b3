"""The spans a run emits and the OTLP/JSON file they land in.

Runs go to a real `FakeOpenAIServer`; spans are read back from the file the official OTLP/JSON
file exporter wrote (decoded by `otlp_helpers`, not by the package's own loader). What must hold
in a fresh interpreter (the application's global provider, flushing at exit) runs in a
subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import MODES, TraceFile, closed_port, drive
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider
from otlp_helpers import (
    KIND_CLIENT,
    KIND_INTERNAL,
    STATUS_ERROR,
    STATUS_UNSET,
    Span,
    json_attr,
    named,
    one,
    read_spans,
)

from definable_trace import OpenAIChat, configure_tracing, flush_tracing
from definable_trace._errors import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelResponseError,
)
from definable_trace.agent import Agent
from definable_trace.model import Image
from definable_trace.testing import FakeOpenAIServer, Reply, ToolCallReply

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def tool_round(answer: str = "The sum is 5.", reasoning: str | None = "2 and 3") -> list[Reply]:
    return [
        Reply(
            tool_calls=[ToolCallReply("add", {"a": 2, "b": 3}, id="call_a")],
            prompt_tokens=100,
            completion_tokens=10,
            cached_tokens=40,
            model="gpt-4o-2024-08-06",
        ),
        Reply(
            answer,
            reasoning_content=reasoning,
            prompt_tokens=130,
            completion_tokens=7,
            cached_tokens=100,
            reasoning_tokens=5,
            model="gpt-4o-2024-08-06",
        ),
    ]


def attrs(span: Span) -> dict[str, Any]:
    return span["attributes"]


# --- span tree and attributes -----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_span_tree(mode: str, trace_file: TraceFile) -> None:
    with FakeOpenAIServer(tool_round()) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        drive(Agent(model, "Be brief.", tools=[add], name="calc"), mode, "2+3?")
    spans = trace_file()
    assert [s["name"] for s in spans] == [
        "invoke_agent calc",
        "chat gpt-4o",
        "execute_tool add",
        "chat gpt-4o",
    ]
    run = spans[0]
    assert run["kind"] == KIND_INTERNAL and run["parent_span_id"] is None
    assert [s["kind"] for s in spans[1:]] == [KIND_CLIENT, KIND_INTERNAL, KIND_CLIENT]
    assert all(s["parent_span_id"] == run["span_id"] for s in spans[1:])
    assert {s["trace_id"] for s in spans} == {run["trace_id"]}
    assert all(run["start_ns"] <= s["start_ns"] <= s["end_ns"] <= run["end_ns"] for s in spans)
    assert [attrs(s)["gen_ai.operation.name"] for s in spans] == [
        "invoke_agent",
        "chat",
        "execute_tool",
        "chat",
    ]
    streamed = [attrs(s).get("gen_ai.request.stream", False) for s in named(spans, "chat")]
    assert streamed == [mode.endswith("stream")] * 2
    assert all(s["status_code"] == STATUS_UNSET for s in spans)
    assert {s["scope"] for s in spans} == {"definable_trace"}
    assert run["resource"]["service.name"] == "definable"


def test_unnamed_agent_span(model: OpenAIChat, trace_file: TraceFile) -> None:
    Agent(model).run("hi")
    run = one(trace_file(), "invoke_agent")
    assert run["name"] == "invoke_agent"
    assert "gen_ai.agent.name" not in attrs(run)


def test_semconv_attributes(trace_file: TraceFile) -> None:
    with FakeOpenAIServer(tool_round()) as server:
        model = OpenAIChat(
            "gpt-4o",
            base_url=server.base_url,
            api_key="k",
            max_retries=0,
            temperature=0.25,
            max_tokens=256,
            seed=7,
            top_p=0.9,
        )
        output = Agent(model, "Be brief.", tools=[add], name="calc").run(
            "2+3?",
            session_id="conv-1",
            user_id="user-7",
            trace_attributes={"app.tenant": "acme", "app.priority": 3},
        )
        port = server.port
    spans = trace_file()
    for span in spans:
        a = attrs(span)
        assert a["gen_ai.provider.name"] == "openai"
        assert a["gen_ai.conversation.id"] == "conv-1"
        assert a["session.id"] == "conv-1"
        assert a["user.id"] == "user-7"
        assert a["gen_ai.agent.name"] == "calc"
        assert (a["app.tenant"], a["app.priority"]) == ("acme", 3)
    run, chat1, tool, chat2 = spans
    # The run's id is the run span's span id (16 hex digits), written by no span; the turn
    # number is on the run span (and tool spans); a chat or tool span is found under its run by
    # its parent span id.
    assert output.run_id == run["span_id"] and re.fullmatch("[0-9a-f]{16}", output.run_id)
    for span in (run, tool):
        assert "definable_trace.run.id" not in attrs(span)
        assert attrs(span)["definable_trace.turn.index"] == 1
    for child in (chat1, tool, chat2):
        assert child["parent_span_id"] == run["span_id"]
    for chat in (chat1, chat2):
        assert not {"definable_trace.run.id", "definable_trace.turn.index"} & set(attrs(chat))
    # The model and usage are the chat spans': on the run span Phoenix would count them twice.
    assert not [k for k in attrs(run) if k.startswith("gen_ai.usage.") or ".model" in k]
    for chat, response_id, finish in (
        (chat1, "chatcmpl-1", "tool_calls"),
        (chat2, "chatcmpl-2", "stop"),
    ):
        a = attrs(chat)
        assert a["gen_ai.request.model"] == "gpt-4o"
        assert a["gen_ai.response.model"] == "gpt-4o-2024-08-06"
        assert a["gen_ai.response.id"] == response_id
        assert a["gen_ai.response.finish_reasons"] == [finish]
        assert a["server.address"] == "127.0.0.1"
        assert a["server.port"] == port
        assert a["gen_ai.request.temperature"] == 0.25
        assert a["gen_ai.request.max_tokens"] == 256
        assert a["gen_ai.request.seed"] == 7
        assert a["gen_ai.request.top_p"] == 0.9
        assert "gen_ai.request.stream" not in a  # written when streamed
        assert "gen_ai.response.time_to_first_chunk" not in a  # streamed calls only
    usage = ("input_tokens", "output_tokens", "cache_read.input_tokens", "reasoning.output_tokens")
    assert [attrs(chat1).get(f"gen_ai.usage.{k}") for k in usage] == [100, 10, 40, None]
    assert [attrs(chat2)[f"gen_ai.usage.{k}"] for k in usage] == [130, 7, 100, 5]
    # Zero counts are left out (a missing count reads as 0); none was reported here.
    assert not any("cache_write" in k or "cache_creation" in k for k in attrs(chat2))
    t = attrs(tool)
    assert (t["gen_ai.tool.name"], t["gen_ai.tool.call.id"]) == ("add", "call_a")
    assert t["gen_ai.tool.type"] == "function"
    assert json.loads(t["gen_ai.tool.call.arguments"]) == {"a": 2, "b": 3}
    assert t["gen_ai.tool.call.result"] == "5"
    assert "error.type" not in t


def test_turn_index_over_three_turns(model: OpenAIChat, trace_file: TraceFile) -> None:
    agent = Agent(model, "sys", tools=[add])
    messages: list[Any] = []
    for text in ("one", "use the tool", "three"):  # the second turn has a tool round
        messages = agent.run(text, messages=messages, session_id="s").messages
    spans = trace_file()
    runs = named(spans, "invoke_agent")
    assert [attrs(s)["definable_trace.turn.index"] for s in runs] == [1, 2, 3]
    by_run = {s["span_id"]: attrs(s)["definable_trace.turn.index"] for s in runs}
    children = [s for s in spans if s["parent_span_id"]]
    assert len(children) == 5  # chat, chat + tool + chat, chat
    assert {s["parent_span_id"] for s in children} == set(by_run)
    tools = [s for s in children if s["name"].startswith("execute_tool")]
    assert [attrs(s)["definable_trace.turn.index"] for s in tools] == [2]
    assert by_run[tools[0]["parent_span_id"]] == 2
    assert not [s for s in spans if "definable_trace.run.id" in attrs(s)]  # span ids say it
    assert {attrs(s)["session.id"] for s in spans} == {"s"}


def test_a_tools_own_spans_nest_under_execute_tool(trace_file: TraceFile) -> None:
    """A tool's own spans (made with the configured tracer) nest under its execute_tool span."""
    tracer = trace_file.settings.tracer

    def traced(x: int) -> int:
        """Traced tool."""
        with tracer.start_as_current_span("inner work"):
            return x * 2

    with FakeOpenAIServer(
        [Reply(tool_calls=[ToolCallReply("traced", {"x": 4})]), Reply("8")]
    ) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        Agent(model, tools=[traced]).run("go")
    spans = trace_file()
    assert one(spans, "inner work")["parent_span_id"] == one(spans, "execute_tool")["span_id"]


# --- content ----------------------------------------------------------------------------------


def test_content_attributes_are_semconv_parts(trace_file: TraceFile) -> None:
    with FakeOpenAIServer(tool_round()) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        output = Agent(model, "Be brief.", tools=[add], name="calc").run("2+3?")
    run, chat1, _, chat2 = trace_file()
    system = [{"type": "text", "content": "Be brief."}]
    user = {"role": "user", "parts": [{"type": "text", "content": "2+3?"}]}
    call = {
        "role": "assistant",
        "parts": [
            {"type": "tool_call", "id": "call_a", "name": "add", "arguments": {"a": 2, "b": 3}}
        ],
    }
    result = {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_a", "response": "5"}],
    }
    answer = {
        "role": "assistant",
        "parts": [
            {"type": "reasoning", "content": "2 and 3"},
            {"type": "text", "content": "The sum is 5."},
        ],
    }
    assert json_attr(chat1, "gen_ai.system_instructions") == system
    assert json_attr(chat1, "gen_ai.input.messages") == [user]
    assert json_attr(chat1, "gen_ai.output.messages") == [{**call, "finish_reason": "tool_call"}]
    assert json_attr(chat2, "gen_ai.input.messages") == [user, call, result]
    assert json_attr(chat2, "gen_ai.output.messages") == [{**answer, "finish_reason": "stop"}]
    assert json_attr(chat1, "gen_ai.tool.definitions") == [
        {
            "type": "function",
            "name": "add",
            "description": "Add two integers.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
                "additionalProperties": False,
            },
        }
    ]
    # The run span carries the plain-text summary viewers list; the messages are the chats'.
    r = attrs(run)
    assert (r["input.value"], r["output.value"]) == ("2+3?", "The sum is 5.")
    # No mime types: viewers read an unset one as plain text.
    assert not {"input.mime_type", "output.mime_type"} & set(r)
    assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(r)
    # One meta list per chat span: the messages sent, then the answer, one to one, with the ids
    # of the returned history (16 hex digits when generated).
    ids = [m.id for m in output.messages]
    assert all(re.fullmatch("[0-9a-f]{16}", i) for i in ids)
    assert not {"definable_trace.input.messages.meta", "definable_trace.output.messages.meta"} & (
        set(attrs(chat2))
    )
    meta = json_attr(chat2, "definable_trace.messages")
    assert [m["id"] for m in meta] == ids
    assert not [m for m in meta if "role" in m]  # with content, the parts say the roles
    # The answer's entry is in the form the next call's list gives it, so that this list is a
    # prefix of the next one; the span's usage says it is the answer, and holds its token
    # counts (an answer of the session leaves them to its chat span in every list).
    assert not {"input_tokens", "output_tokens"} & set(meta[4]["metrics"])
    assert not {"input_tokens", "output_tokens"} & set(meta[2]["metrics"])  # chat1's answer
    assert attrs(chat2)["gen_ai.usage.input_tokens"] == 130
    assert meta[4]["metrics"]["duration"] == output.messages[4].metrics.duration
    # An entry whose time repeats the one before it leaves it out; the first has it.
    times = [m.created_at for m in output.messages]
    assert meta[0]["ts"] == times[0]
    for entry, time, before in zip(meta[1:], times[1:], times[:-1], strict=True):
        assert entry.get("ts") == (None if time == before else time)
    assert "definable_trace.messages" not in r  # one user message: the chats say it


def test_media_parts_in_spans(model: OpenAIChat, trace_file: TraceFile) -> None:
    Agent(model).run(
        "look",
        images=[
            Image(url="https://example.com/cat.jpg"),
            Image(content=b"abc", mime_type="image/png"),
        ],
    )
    parts = json_attr(one(trace_file(), "chat"), "gen_ai.input.messages")[0]["parts"]
    assert parts == [
        {"type": "text", "content": "look"},
        {
            "type": "uri",
            "modality": "image",
            "mime_type": None,
            "uri": "https://example.com/cat.jpg",
        },
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "YWJj"},
    ]


SECRETS = {
    "system": "SYSTEMWORD",
    "user": "USERWORD",
    "args": "ARGWORD",
    "result": "RESULTWORD",
    "answer": "ANSWERWORD",
    "reasoning": "REASONWORD",
}


def echo(text: str) -> str:
    """Echo with a suffix."""
    return f"{text} {SECRETS['result']}"


def secret_run(capture_setup: Any = None) -> Any:
    script = [
        Reply(tool_calls=[ToolCallReply("echo", {"text": SECRETS["args"]}, id="c1")]),
        Reply(f"Here: {SECRETS['answer']}", reasoning_content=SECRETS["reasoning"]),
    ]
    with FakeOpenAIServer(script) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        return Agent(model, f"Say {SECRETS['system']}", tools=[echo]).run(
            f"Please {SECRETS['user']}", session_id="sess"
        )


CONTENT_KEYS = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
)


@pytest.mark.parametrize("how", ["argument", "NO_CONTENT", "false"])
def test_content_capture_off(
    how: str, trace_file: TraceFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    if how == "argument":
        trace_file.configure(capture_content=False)
    else:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", how)
        trace_file.configure()
    output = secret_run()
    assert output.content == f"Here: {SECRETS['answer']}"  # the run itself is untouched
    text = trace_file.text()
    for word in SECRETS.values():
        assert word not in text
    assert "Please" not in text and "Echo with a suffix" not in text
    spans = trace_file()
    assert len(spans) == 4
    for span in spans:
        assert not set(CONTENT_KEYS) & set(attrs(span))
    run, _, tool, chat2 = spans
    meta = json_attr(chat2, "definable_trace.messages")
    assert [(m["role"], m["id"]) for m in meta] == [(m.role, m.id) for m in output.messages]
    assert meta[3]["tool_call_id"] == "c1"
    assert not {"input.value", "output.value"} & set(attrs(run))
    assert attrs(chat2)["gen_ai.usage.output_tokens"] > 0
    assert attrs(tool)["gen_ai.tool.call.id"] == "c1"


@pytest.mark.parametrize("value", ["SPAN_ONLY", "SPAN_AND_EVENT", None])
def test_content_capture_on(
    value: str | None, trace_file: TraceFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is not None:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    trace_file.configure()
    secret_run()
    text = trace_file.text()
    for word in SECRETS.values():
        assert word in text


def test_redaction_hook(trace_file: TraceFile) -> None:
    seen: list[str] = []

    def redact(text: str) -> str:
        seen.append(text)
        for word in SECRETS.values():
            text = text.replace(word, "[REDACTED]")
        return text

    trace_file.configure(redact=redact)
    output = secret_run()
    assert SECRETS["answer"] in output.content  # only the trace is redacted
    text = trace_file.text()
    for word in SECRETS.values():
        assert word not in text
    run, chat1, tool, chat2 = trace_file()
    assert json_attr(chat1, "gen_ai.system_instructions") == [
        {"type": "text", "content": "Say [REDACTED]"}
    ]
    assert (
        json_attr(chat1, "gen_ai.input.messages")[0]["parts"][0]["content"] == "Please [REDACTED]"
    )
    call = json_attr(chat1, "gen_ai.output.messages")[0]["parts"][0]
    assert call["type"] == "tool_call" and "[REDACTED]" in call["arguments"]
    assert "[REDACTED]" in attrs(tool)["gen_ai.tool.call.arguments"]
    assert attrs(tool)["gen_ai.tool.call.result"] == "[REDACTED] [REDACTED]"
    answer = json_attr(chat2, "gen_ai.output.messages")[0]["parts"]
    assert answer == [
        {"type": "reasoning", "content": "[REDACTED]"},
        {"type": "text", "content": "Here: [REDACTED]"},
    ]
    assert attrs(run)["input.value"] == "Please [REDACTED]"
    assert attrs(run)["output.value"] == "Here: [REDACTED]"
    assert any(SECRETS["result"] in s for s in seen)


def test_api_key_never_in_the_file(trace_file: TraceFile, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-proj-DISTINCTIVE-7c1f2e9a"
    wrong = "sk-proj-WRONGKEY-3b8d"
    with FakeOpenAIServer(api_key=key) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key=key, max_retries=0)
        agent = Agent(model, "sys", tools=[add])
        agent.run("use the tool")
        list(agent.run_stream("and stream"))
        monkeypatch.setenv("OPENAI_API_KEY", key)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        Agent(OpenAIChat("gpt-4o", max_retries=0)).run("from the environment")
        bad = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key=wrong, max_retries=0))
        with pytest.raises(ModelAuthenticationError, match="credentials"):
            bad.run("refused")
    assert all(
        r.headers["authorization"] in (f"Bearer {key}", f"Bearer {wrong}") for r in server.requests
    )
    text = trace_file.text()
    assert len(named(trace_file(), "invoke_agent")) == 4
    assert key not in text and wrong not in text
    assert "DISTINCTIVE" not in text and "WRONGKEY" not in text


# --- where spans go ---------------------------------------------------------------------------


def test_definable_trace_file_variable(
    model: OpenAIChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere" / "run.jsonl"
    monkeypatch.setenv("DEFINABLE_TRACE_FILE", str(target))
    settings = configure_tracing()
    assert settings.file == target
    Agent(model).run("hi")
    flush_tracing()
    assert [s["name"] for s in read_spans(target)] == ["invoke_agent", "chat gpt-4o"]
    assert not (tmp_path / "definable-trace").exists()  # the default file was not used


def test_explicit_provider_is_used(model: OpenAIChat) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    configure_tracing(tracer_provider=provider)
    Agent(model).run("hi")
    assert [s.name for s in exporter.get_finished_spans()] == ["chat gpt-4o", "invoke_agent"]


def test_tracing_off_with_a_noop_provider(model: OpenAIChat, tmp_path: Path) -> None:
    configure_tracing(tracer_provider=NoOpTracerProvider())
    assert Agent(model).run("hi").content == "You said: hi"
    assert list(tmp_path.iterdir()) == []


def test_noop_provider_with_trace_file_variable(
    model: OpenAIChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFINABLE_TRACE_FILE", str(tmp_path / "t.jsonl"))
    configure_tracing(tracer_provider=NoOpTracerProvider())
    assert Agent(model).run("hi").content == "You said: hi"


def test_default_file_under_xdg_data_home(model: OpenAIChat, tmp_path: Path) -> None:
    settings = configure_tracing()
    assert settings.file == tmp_path / "definable-trace" / "traces.jsonl"
    Agent(model).run("hi")
    flush_tracing()
    assert len(read_spans(settings.file)) == 2


@pytest.mark.parametrize("value", ["off", "0", "false", ""])
def test_definable_trace_file_off(
    value: str, model: OpenAIChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFINABLE_TRACE_FILE", value)
    assert configure_tracing().file is None
    assert Agent(model).run("hi").content == "You said: hi"
    assert not (tmp_path / "definable-trace").exists()
    assert list(tmp_path.iterdir()) == []


def test_every_line_is_otlp_json(model: OpenAIChat, trace_file: TraceFile) -> None:
    agent = Agent(model, "sys", tools=[add])
    for text in ("first", "use the tool", "third"):
        agent.run(text, session_id="s")
        trace_file.documents()  # flush: one export request per line
    raw = trace_file.path.read_text(encoding="utf-8")
    assert raw.endswith("\n")
    lines = raw.splitlines()
    assert len(lines) >= 3
    span_count = 0
    for line in lines:
        document = json.loads(line)
        assert isinstance(document, dict) and set(document) == {"resourceSpans"}
        for resource_spans in document["resourceSpans"]:
            assert "attributes" in resource_spans["resource"]
            for scope_spans in resource_spans["scopeSpans"]:
                assert scope_spans["scope"]["name"] == "definable_trace"
                for span in scope_spans["spans"]:
                    span_count += 1
                    assert HEX32.match(span["traceId"]) and HEX16.match(span["spanId"])
                    if "parentSpanId" in span:
                        assert HEX16.match(span["parentSpanId"])
                    assert isinstance(span["kind"], int)
                    for key in ("startTimeUnixNano", "endTimeUnixNano"):
                        assert isinstance(span[key], str) and span[key].isdigit()
                    assert isinstance(span.get("status", {}).get("code", 0), int)
                    for attribute in span["attributes"]:
                        (kind, value), *_ = attribute["value"].items()
                        assert kind in {
                            "stringValue",
                            "intValue",
                            "boolValue",
                            "doubleValue",
                            "arrayValue",
                        }
                        if kind == "intValue":
                            assert isinstance(value, str) and value.lstrip("-").isdigit()
    assert span_count == len(trace_file()) == 2 + 4 + 2


# --- metrics ----------------------------------------------------------------------------------


def points(reader: InMemoryMetricReader, name: str) -> tuple[Any, list[HistogramDataPoint]]:
    data = reader.get_metrics_data()
    assert data is not None
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    return metric, list(metric.data.data_points)
    raise AssertionError(f"no metric {name}")


def test_metrics(trace_file: TraceFile) -> None:
    reader = InMemoryMetricReader()
    trace_file.configure(meter_provider=MeterProvider(metric_readers=[reader]))
    with FakeOpenAIServer([*tool_round(), Reply(status=500)]) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model, tools=[add])
        agent.run("2+3?")
        with pytest.raises(ModelResponseError):
            agent.run("fail")
    metric, tokens = points(reader, "gen_ai.client.token.usage")
    assert metric.unit == "{token}"
    by_type = {p.attributes["gen_ai.token.type"]: p for p in tokens}
    assert set(by_type) == {"input", "output"}
    assert (by_type["input"].count, by_type["input"].sum) == (2, 230)
    assert (by_type["output"].count, by_type["output"].sum) == (2, 17)
    assert list(by_type["input"].explicit_bounds) == [4**i for i in range(14)]
    for point in tokens:
        assert dict(point.attributes) == {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.token.type": point.attributes["gen_ai.token.type"],
        }
    metric, durations = points(reader, "gen_ai.client.operation.duration")
    assert metric.unit == "s"
    ok = [p for p in durations if "error.type" not in p.attributes]
    failed = [p for p in durations if "error.type" in p.attributes]
    assert len(ok) == 1 and ok[0].count == 2 and ok[0].sum > 0
    assert ok[0].attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert list(ok[0].explicit_bounds) == pytest.approx([0.01 * 2**i for i in range(14)])
    assert len(failed) == 1 and failed[0].count == 1
    assert failed[0].attributes["error.type"] == "500"


# --- errors -----------------------------------------------------------------------------------


def test_failed_model_call_marks_spans(trace_file: TraceFile) -> None:
    with FakeOpenAIServer([Reply(status=500, error_message="overloaded")]) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        with pytest.raises(ModelResponseError):
            Agent(model).run("hi")
    run, chat = trace_file()
    for span in (run, chat):
        assert attrs(span)["error.type"] == "500"
        assert span["status_code"] == STATUS_ERROR
        assert "overloaded" in span["status_message"]
    (event,) = chat["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"].endswith("ModelResponseError")
    assert "gen_ai.output.messages" not in attrs(chat)


@pytest.mark.parametrize("mode", ["run", "arun_stream"])
def test_connection_error_marks_spans(mode: str, trace_file: TraceFile) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    agent = Agent(OpenAIChat("gpt-4o", base_url=url, api_key="k", max_retries=0))
    with pytest.raises(ModelConnectionError):
        drive(agent, mode, "hi")
    run, chat = trace_file()
    assert attrs(run)["error.type"] == attrs(chat)["error.type"] == "ModelConnectionError"
    assert run["status_code"] == chat["status_code"] == STATUS_ERROR


def test_abandoned_stream_ends_its_spans(
    model: OpenAIChat, server: FakeOpenAIServer, trace_file: TraceFile
) -> None:
    server.add(Reply("many words " * 20))
    stream = Agent(model).run_stream("talk")
    for event in stream:
        if event.event == "RunContent":
            break
    stream.close()
    run, chat = trace_file()
    assert run["status_code"] == STATUS_ERROR
    assert chat["end_ns"] <= run["end_ns"]


# --- exporters that fail ----------------------------------------------------------------------


def warnings_from(
    caplog: pytest.LogCaptureFixture, minimum: int = logging.WARNING
) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= minimum]


def test_exporter_that_raises(
    model: OpenAIChat,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A collector that refuses connections: the OTLP exporter raises on every batch.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    configure_tracing()
    agent = Agent(model)
    with caplog.at_level(logging.WARNING):
        for text in ("one", "two", "three"):
            assert agent.run(text).content == f"You said: {text}"
            flush_tracing()  # one export (and one failure) per turn
    records = warnings_from(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].name == "definable_trace" and "connection refused" in records[0].getMessage()


def test_full_disk_costs_one_warning(model: OpenAIChat, caplog: pytest.LogCaptureFixture) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    configure_tracing("/dev/full")
    agent = Agent(model)
    with caplog.at_level(logging.WARNING):
        for text in ("one", "two"):
            assert agent.run(text).content == f"You said: {text}"
            flush_tracing()
    records = warnings_from(caplog)
    assert [(r.name, r.levelno) for r in records] == [("definable_trace", logging.WARNING)]


def test_unwritable_path(
    model: OpenAIChat, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    with caplog.at_level(logging.WARNING):
        configure_tracing(blocker / "traces.jsonl")
        assert Agent(model).run("hi").content == "You said: hi"
        assert Agent(model).run("again").content == "You said: again"
    records = warnings_from(caplog)
    assert len(records) == 1 and records[0].name == "definable_trace"
    assert "cannot write traces" in records[0].getMessage()
    assert blocker.read_text() == "a file where a directory should be"


def test_unreachable_collector(
    model: OpenAIChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    settings = configure_tracing()
    assert settings.file is None  # a collector replaces the default file
    agent = Agent(model)
    output = agent.run("hi", session_id="s")
    output = agent.run("again", messages=output.messages, session_id="s")
    assert output.content == "You said: again"
    assert not (tmp_path / "definable-trace").exists()


# --- a fresh interpreter ----------------------------------------------------------------------


def run_script(tmp_path: Path, code: str, **env: str) -> dict[str, Any]:
    """Run `code` in a new interpreter; it prints one JSON object on its last line."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code), encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


SERVER_PRELUDE = """
import json
from definable_trace.agent import Agent
from definable_trace.model import OpenAIChat
from definable_trace.testing import FakeOpenAIServer

server = FakeOpenAIServer().start()
agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k"), "sys")
"""


def test_spans_are_flushed_at_exit(tmp_path: Path) -> None:
    target = tmp_path / "exit.jsonl"
    result = run_script(
        tmp_path,
        SERVER_PRELUDE
        + """
output = agent.run("hello", session_id="bye")
print(json.dumps({"run_id": output.run_id}))
""",
        DEFINABLE_TRACE_FILE=str(target),
    )
    spans = read_spans(target)
    assert [s["name"] for s in spans] == ["invoke_agent", "chat gpt-4o"]
    assert spans[0]["span_id"] == result["run_id"]
    assert spans[1]["parent_span_id"] == spans[0]["span_id"]
    assert {attrs(s)["session.id"] for s in spans} == {"bye"}


APPLICATION_PROVIDER = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

memory = InMemorySpanExporter()
app_provider = TracerProvider()
app_provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(app_provider)
"""


def test_application_provider_is_used_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "app.jsonl"
    result = run_script(
        tmp_path,
        APPLICATION_PROVIDER
        + SERVER_PRELUDE
        + """
with trace.get_tracer("app").start_as_current_span("request") as request:
    agent.run("hello", session_id="app-session")
spans = memory.get_finished_spans()
by_name = {s.name: s for s in spans}
print(json.dumps({
    "same_provider": trace.get_tracer_provider() is app_provider,
    "names": [s.name for s in spans],
    "run_parent": by_name["invoke_agent"].parent.span_id,
    "request_id": request.get_span_context().span_id,
    "chat_session": by_name["chat gpt-4o"].attributes["session.id"],
}))
""",
        DEFINABLE_TRACE_FILE=str(target),
    )
    assert result["same_provider"] is True
    assert sorted(result["names"]) == ["chat gpt-4o", "invoke_agent", "request"]
    assert result["run_parent"] == result["request_id"]  # the run nests in the app's trace
    assert result["chat_session"] == "app-session"
    # The file asked for was added to the application's provider, flushed at its exit.
    assert sorted(s["name"] for s in read_spans(target)) == [
        "chat gpt-4o",
        "invoke_agent",
        "request",
    ]


def test_flush_tracing_with_application_provider(tmp_path: Path) -> None:
    target = tmp_path / "flushed.jsonl"
    result = run_script(
        tmp_path,
        APPLICATION_PROVIDER
        + SERVER_PRELUDE
        + f"""
from definable_trace import configure_tracing, flush_tracing
from pathlib import Path
configure_tracing({str(target)!r})
agent.run("hello")
flush_tracing()
print(json.dumps({{"size": Path({str(target)!r}).stat().st_size}}))
""",
    )
    assert result["size"] > 0

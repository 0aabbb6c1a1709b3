"""The fake server, driven through the real `openai` SDK so that what passes here works for users.

Every test talks HTTP to a live `FakeOpenAIServer`; nothing is mocked, which is the point: the
SDK's own parsing, streaming and error mapping are what the rest of the project relies on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from definable_trace.testing import FakeOpenAIServer, Reply, ToolCallReply

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "metric": {"type": "boolean"},
                "extra": {"type": "object"},
            },
        },
    },
}


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


def connect(server: FakeOpenAIServer, api_key: str = "test", retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=api_key, max_retries=retries)


@pytest.fixture
def client(server: FakeOpenAIServer) -> Iterator[openai.OpenAI]:
    with connect(server) as sdk:
        yield sdk


def ask(client: openai.OpenAI, text: str = "hi", **kwargs: Any) -> Any:
    """One chat request; `messages=` in kwargs replaces the single user message."""
    kwargs.setdefault("messages", user(text))
    return client.chat.completions.create(model="m", **kwargs)


def test_plain_reply_with_usage(server: FakeOpenAIServer, client: openai.OpenAI) -> None:
    server.add(Reply(content="hello", cached_tokens=4, reasoning_tokens=2, prompt_tokens=10))
    completion = ask(client, "one two three")
    assert completion.id.startswith("chatcmpl-") and completion.object == "chat.completion"
    assert completion.model == "m"
    assert completion.choices[0].message.content == "hello"
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (10, 1)
    assert usage.total_tokens == 11
    assert usage.prompt_tokens_details and usage.prompt_tokens_details.cached_tokens == 4
    assert usage.completion_tokens_details
    assert usage.completion_tokens_details.reasoning_tokens == 2


def test_computed_usage_counts_words() -> None:
    parts = [{"type": "text", "text": "one two"}, {"type": "text", "text": "three"}]
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": parts}]
    fake = FakeOpenAIServer([Reply(content="a b c", model="other")])
    with fake as server, connect(server) as sdk:
        completion = ask(sdk, messages=messages)
    assert completion.model == "other"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2 + 3 + 6, 3)


def test_script_order_then_default(server: FakeOpenAIServer, client: openai.OpenAI) -> None:
    server.add(Reply(content="first"), Reply(content="second"))
    answers = [ask(client, f"q{i}").choices[0].message.content for i in range(3)]
    assert answers == ["first", "second", "You said: q2"]


def test_default_responder_tool_round_trip(client: openai.OpenAI) -> None:
    call = ask(client, "Use the TOOL please", tools=[WEATHER_TOOL])
    assert call.choices[0].finish_reason == "tool_calls"
    tool_calls = call.choices[0].message.tool_calls
    assert tool_calls is not None and len(tool_calls) == 1
    assert tool_calls[0].id == "call_1" and tool_calls[0].function.name == "get_weather"
    expected = {"city": "x", "days": 1, "metric": True, "extra": None}
    assert json.loads(tool_calls[0].function.arguments) == expected
    messages = [
        *user("Use the TOOL please"),
        call.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    answer = ask(client, messages=messages, tools=[WEATHER_TOOL])
    assert answer.choices[0].message.content == "Tool said: sunny"
    assert (
        ask(client, "no trigger here", tools=[WEATHER_TOOL]).choices[0].message.tool_calls is None
    )


def collect(chunks: Any) -> tuple[str, dict[int, dict[str, str]], list[ChatCompletionChunk]]:
    """Reassemble a stream the way an agent does: concatenate content and argument deltas."""
    content, calls, seen = "", {}, []
    for chunk in chunks:
        seen.append(chunk)
        for choice in chunk.choices:
            content += choice.delta.content or ""
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                call["name"] += (delta.function and delta.function.name) or ""
                call["arguments"] += (delta.function and delta.function.arguments) or ""
    return content, calls, seen


def test_stream_with_usage(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    arguments = {"city": "Paris", "days": 3}
    tool_call = ToolCallReply("get_weather", arguments, id="call_x")
    server.add(Reply(content="Checking the weather now.", tool_calls=[tool_call]))
    stream = ask(client, stream=True, stream_options={"include_usage": True})
    content, calls, chunks = collect(stream)
    assert content == "Checking the weather now."
    assert list(calls) == [0] and json.loads(calls[0].pop("arguments")) == arguments
    assert calls[0] == {"id": "call_x", "name": "get_weather"}
    assert chunks[0].choices[0].delta.role == "assistant"
    argument_deltas = [c for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert len(argument_deltas) >= 3  # the opening delta plus at least two argument pieces
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_usage_and_chunk_size() -> None:
    fake = FakeOpenAIServer([Reply(content="abcdefghij")], chunk_size=3)
    with fake as server, connect(server) as sdk:
        content, calls, chunks = collect(ask(sdk, stream=True))
    assert content == "abcdefghij" and calls == {}
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert pieces == ["abc", "def", "ghi", "j"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_reasoning_content(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    server.add(Reply(content="42", reasoning_content="think hard"), Reply(reasoning_content="hm"))
    message = ask(client).choices[0].message
    assert (message.model_extra or {}).get("reasoning_content") == "think hard"
    chunks = list(ask(client, stream=True))
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks
    )
    assert reasoning == "hm"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (400, openai.BadRequestError),
    ],
)
def test_error_status(
    client: openai.OpenAI, server: FakeOpenAIServer, status: int, error: type[Exception]
) -> None:
    server.add(Reply(status=status, error_message="boom"))
    with pytest.raises(error, match="boom") as caught:
        ask(client)
    assert isinstance(caught.value, openai.APIStatusError)
    assert caught.value.status_code == status


def test_retry_after_makes_sdk_retries_instant(
    server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Behaviour, not a stopwatch: three attempts, each retry waiting the server's 1 ms."""
    server.add(Reply(status=429), Reply(status=503), Reply(content="ok"))
    with caplog.at_level(logging.INFO, logger="openai"), connect(server, retries=2) as sdk:
        assert ask(sdk).choices[0].message.content == "ok"
    attempts = [r.headers.get("x-stainless-retry-count") for r in server.requests]
    assert attempts == ["0", "1", "2"]
    # The SDK logs the delay it chose before each retry; its own backoff would be >= 0.375 s.
    delays = [float(d) for d in re.findall(r"in ([0-9.]+) seconds", caplog.text)]
    assert delays == [0.001, 0.001]


def test_error_replies_tell_the_sdk_to_retry_at_once(server: FakeOpenAIServer) -> None:
    server.add(Reply(status=500))
    with connect(server) as sdk, pytest.raises(openai.InternalServerError) as caught:
        ask(sdk)
    assert caught.value.response.headers["retry-after-ms"] == "1"
    assert caught.value.response.headers["retry-after"] == "0"


def test_hanging_reply_never_answers_until_stopped() -> None:
    server = FakeOpenAIServer([Reply(hang=True)]).start()
    try:
        with connect(server) as sdk, pytest.raises(openai.APITimeoutError):
            sdk.chat.completions.create(model="m", messages=user("x"), timeout=0.2)
        assert len(server.requests) == 1  # it was received, and never answered
    finally:
        server.stop()  # releases the waiting handler: stop() returns


def test_recorded_request_keeps_headers_and_query() -> None:
    with FakeOpenAIServer() as server:
        options: dict[str, Any] = {"default_headers": {"X-Team": "blue"}}
        options["default_query"] = {"api-version": "2"}
        with openai.OpenAI(base_url=server.base_url, api_key="k", **options) as sdk:
            ask(sdk)
    [request] = server.requests
    assert request.headers["x-team"] == "blue" and request.query == {"api-version": "2"}
    assert "X-Team" not in json.dumps(request.body)


def test_api_key_enforced() -> None:
    with FakeOpenAIServer(api_key="secret") as server:
        with connect(server, api_key="nope") as wrong, pytest.raises(openai.AuthenticationError):
            ask(wrong)
        with connect(server, api_key="secret") as right:
            assert ask(right, "hey").choices[0].message.content == "You said: hey"
    assert len(server.requests) == 2  # the rejected request is recorded too


def test_callable_responder_and_recorded_requests() -> None:
    seen: list[dict[str, Any]] = []

    def responder(body: dict[str, Any]) -> Reply:
        seen.append(body)
        return Reply(content=f"{len(body['messages'])} message(s) to {body['model']}")

    with FakeOpenAIServer(responder) as server, connect(server) as sdk:
        assert ask(sdk, temperature=0.5).choices[0].message.content == "1 message(s) to m"
        assert [model.id for model in sdk.models.list()] == ["fake-model"]
    assert seen[0]["temperature"] == 0.5
    chat, models = server.requests
    assert chat.path == "/v1/chat/completions" and models.path == "/v1/models"
    assert chat.headers["authorization"] == "Bearer test"
    assert all(key == key.lower() for key in chat.headers)
    assert chat.body == seen[0]


def test_unknown_path_and_invalid_json(server: FakeOpenAIServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.get("/nope", cast_to=object)
    request = urllib.request.Request(f"{server.base_url}/chat/completions", data=b"{not json")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"]["type"] == "invalid_request_error"


def test_async_concurrency_with_latency() -> None:
    async def run(server: FakeOpenAIServer) -> tuple[list[str], float]:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="t", max_retries=0) as sdk:
            started = time.perf_counter()
            results = await asyncio.gather(
                *(sdk.chat.completions.create(model="m", messages=user(f"n{i}")) for i in range(16))
            )
            elapsed = time.perf_counter() - started
            return [result.choices[0].message.content or "" for result in results], elapsed

    with FakeOpenAIServer(latency=0.2) as server:
        answers, elapsed = asyncio.run(run(server))
    assert sorted(answers) == sorted(f"You said: n{i}" for i in range(16))
    assert 0.2 <= elapsed < 1.6  # serial handling would take 16 × 0.2 s = 3.2 s


def test_async_stream_and_reply_latency() -> None:
    async def run(server: FakeOpenAIServer) -> tuple[str, float]:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="t", max_retries=0) as sdk:
            started = time.perf_counter()
            stream = await sdk.chat.completions.create(model="m", messages=user("x"), stream=True)
            content = "".join([c.choices[0].delta.content or "" async for c in stream])
            return content, time.perf_counter() - started

    with FakeOpenAIServer([Reply(content="slow answer", latency=0.3)]) as server:
        content, elapsed = asyncio.run(run(server))
    assert content == "slow answer" and elapsed >= 0.3

"""Offline stand-ins for an LLM provider: a real OpenAI-compatible HTTP server on localhost.

Why this exists: tests, the sample traces shipped in the repository and the benchmarks all need
a model that answers instantly, deterministically and without an API key or network access,
while still going through the real `openai` SDK (its HTTP transport, streaming parser, retries
and error classes) so that the traces they produce are exactly what a real provider would give.
Users get the same benefit: point an agent's `base_url` at the server and test it without a key.

    from openai import OpenAI
    from definable_trace.testing import FakeOpenAIServer, Reply, ToolCallReply

    script = [Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Paris"})]),
              Reply(content="It is sunny.")]
    with FakeOpenAIServer(script) as server:
        client = OpenAI(base_url=server.base_url, api_key="test")
        ...

Without a script the server echoes (`"You said: ..."`), calls the first offered tool when the
user message mentions "tool", and answers tool results with `"Tool said: ..."`.
"""

from definable_trace.testing._server import (
    FAKE_MODEL,
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    Responder,
    ToolCallReply,
    default_reply,
)

__all__ = [
    "FAKE_MODEL",
    "FakeOpenAIServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ToolCallReply",
    "default_reply",
]

"""Run our agent for a few sessions, in its own process, exporting where the environment says.

    python agent_session.py SESSION_ID TURNS [SESSION_ID TURNS ...]

Only the standard variables decide where spans go (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_RESOURCE_ATTRIBUTES`, and `DEFINABLE_TRACE_FILE` for the local copy of the same spans):
a subprocess keeps the test's own environment and tracer out of it. The model is a
`FakeOpenAIServer` on 127.0.0.1; every third turn asks for a tool (a full tool-call round trip).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from definable_trace import Agent, OpenAIChat, flush_tracing
from definable_trace.testing import FakeOpenAIServer


def lookup(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def run_sessions(base_url: str, sessions: Sequence[tuple[str, int]]) -> None:
    """Each (session id, turns): a conversation with our agent, spans where tracing says."""
    model = OpenAIChat("gpt-4o", base_url=base_url, api_key="test-key")
    agent = Agent(model, "You are terse.", tools=[lookup])
    for session_id, turns in sessions:
        messages = None
        for turn in range(1, turns + 1):
            text = f"use the tool for turn {turn}" if turn % 3 == 0 else f"question {turn}"
            output = agent.run(text, messages=messages, session_id=session_id)
            messages = output.messages
    flush_tracing()


def main(argv: list[str]) -> None:
    pairs = list(zip(argv[::2], map(int, argv[1::2]), strict=True))
    with FakeOpenAIServer() as server:
        run_sessions(server.base_url, pairs)


if __name__ == "__main__":
    main(sys.argv[1:])

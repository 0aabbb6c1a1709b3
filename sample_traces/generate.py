"""Regenerate the sample traces: real runs of our agent against the local fake OpenAI server.

    python sample_traces/generate.py

Writes, next to this script (each file replaced):

- `math_tutor.jsonl`   the seed's math-tutor conversation, four turns
- `tools.jsonl`        a conversation whose turns call tools (one turn calls two in a row)
- `streamed.jsonl`     the seed's streaming loop (`run_stream`), two turns
- `lineage.jsonl`      an original, a fork of it at turn 2 and a recorded replay of it

Answers are scripted (keyed by the last message the model sees) so the conversations read
like real ones; session and run ids are fixed. What cannot be fixed are the span ids and the
times, so a regenerated file differs from the committed one only in those.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from definable_trace import Agent, OpenAIChat, configure_tracing, flush_tracing, load_traces
from definable_trace.agent import RunCompleted, RunContent
from definable_trace.model import Message
from definable_trace.replay import ForkOptions, ReplayOptions, fork, replay
from definable_trace.testing import FakeOpenAIServer, Reply, ToolCallReply, default_reply

HERE = Path(__file__).resolve().parent
MODEL = "gpt-4o"
LATENCY = 0.03  # seconds per answer: durations in the samples look like a (fast) real model

ANSWERS: Mapping[str, Reply] = {
    # math-tutor (the seed's conversation, continued)
    "What is 15 * 23?": Reply("15 * 23 = 345"),
    "Now divide that by 5.": Reply("345 / 5 = 69"),
    "Is 69 a prime number?": Reply("No. 69 = 3 × 23, so it has divisors other than 1 and 69."),
    "Summarise what we computed.": Reply(
        "We multiplied 15 by 23 to get 345, divided 345 by 5 to get 69, "
        "and found that 69 = 3 × 23 is not prime."
    ),
    # tools
    "What's the weather in Paris?": Reply(
        tool_calls=[ToolCallReply("get_weather", {"city": "Paris"}, id="call_paris")]
    ),
    "Paris: 18 °C, sunny": Reply("It is 18 °C and sunny in Paris."),
    "And in Oslo, in Fahrenheit?": Reply(
        tool_calls=[ToolCallReply("get_weather", {"city": "Oslo"}, id="call_oslo")]
    ),
    "Oslo: 7 °C, cloudy": Reply(
        tool_calls=[ToolCallReply("celsius_to_fahrenheit", {"celsius": 7}, id="call_convert")]
    ),
    "44.6": Reply("It is 7 °C (44.6 °F) and cloudy in Oslo."),
    "Thanks! Which city is warmer?": Reply("Paris is warmer: 18 °C against 7 °C in Oslo."),
    # streamed (the seed's streaming loop)
    "Hello!": Reply("Hello! How can I help you today?"),
    "Tell me more.": Reply(
        "I can answer questions, explain ideas step by step, and keep track of our conversation."
    ),
    # lineage: an original, then its fork at turn 2
    "Plan a day in Lisbon.": Reply(
        "Morning: Belém Tower and pastéis de nata. Afternoon: Alfama by tram 28. "
        "Evening: fado in Bairro Alto."
    ),
    "Make it cheaper.": Reply("Walk instead of taking tram 28, and pick a free miradouro at dusk."),
    "What should I pack?": Reply("Comfortable shoes for the hills, a light jacket, sunscreen."),
    "Make it a rainy-day plan instead.": Reply(
        "Morning: the Gulbenkian Museum. Afternoon: the Oceanário. Evening: fado indoors."
    ),
}


def answer(body: dict[str, Any]) -> Reply:
    """The scripted answer to the last message (user text or tool result), else the echo."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    content = last.get("content")
    return (
        ANSWERS.get(content, default_reply(body))
        if isinstance(content, str)
        else default_reply(body)
    )


def get_weather(city: str) -> str:
    """The current weather in a city."""
    return {"Paris": "Paris: 18 °C, sunny", "Oslo": "Oslo: 7 °C, cloudy"}.get(city, "unknown")


def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert a temperature from degrees Celsius to degrees Fahrenheit."""
    return round(celsius * 9 / 5 + 32, 1)


def conversation(agent: Agent, session_id: str, inputs: list[str]) -> list[Message]:
    """The seed's loop: each turn continues the previous one's messages."""
    messages: list[Message] = []
    for turn, text in enumerate(inputs, start=1):
        output = agent.run(
            text, messages=messages, session_id=session_id, run_id=f"{session_id}-{turn}"
        )
        messages = output.messages
    return messages


def streamed(agent: Agent, session_id: str, inputs: list[str]) -> None:
    """The seed's streaming loop: carry `RunCompleted.output.messages` into the next turn."""
    messages: list[Message] = []
    for turn, text in enumerate(inputs, start=1):
        run_id = f"{session_id}-{turn}"
        for event in agent.run_stream(
            text, messages=messages, session_id=session_id, run_id=run_id
        ):
            if isinstance(event, RunContent):
                pass  # a terminal would print event.content here
            elif isinstance(event, RunCompleted):
                messages = event.output.messages


def lineage(model: OpenAIChat, base_url: str, path: Path) -> None:
    """An original, then a live fork at turn 2 and a recorded replay, all in one file."""
    agent = Agent(model, "You are a travel planner.", name="travel-planner")
    conversation(
        agent, "lisbon", ["Plan a day in Lisbon.", "Make it cheaper.", "What should I pack?"]
    )
    flush_tracing()
    original = load_traces(path).session("lisbon")
    fork(
        original,
        ForkOptions(
            at=2,
            message="Make it a rainy-day plan instead.",
            base_url=base_url,
            session_id="lisbon-fork-rainy",
        ),
    )
    replay(original, ReplayOptions(recorded=True, session_id="lisbon-replay"))


def write(name: str, produce: Callable[[Path], None]) -> None:
    path = HERE / name
    path.unlink(missing_ok=True)
    configure_tracing(path)
    produce(path)
    flush_tracing()
    print(f"wrote {path}")


def main() -> int:
    with FakeOpenAIServer(answer, latency=LATENCY) as server:
        model = OpenAIChat(MODEL, base_url=server.base_url)
        model.client()  # import the SDK now, so the first turn's duration doesn't include it
        tutor = Agent(model, "You are a math tutor.", name="math-tutor")
        helper = Agent(
            model,
            "You are a travel helper. Use the tools for facts.",
            tools=[get_weather, celsius_to_fahrenheit],
            name="travel-helper",
        )
        chat = Agent(model, "You are a helpful assistant.", name="assistant")
        math_inputs = [
            "What is 15 * 23?",
            "Now divide that by 5.",
            "Is 69 a prime number?",
            "Summarise what we computed.",
        ]
        tool_inputs = [
            "What's the weather in Paris?",
            "And in Oslo, in Fahrenheit?",
            "Thanks! Which city is warmer?",
        ]
        write("math_tutor.jsonl", lambda _: conversation(tutor, "math-tutor", math_inputs))
        write("tools.jsonl", lambda _: conversation(helper, "weather", tool_inputs))
        write("streamed.jsonl", lambda _: streamed(chat, "streamed", ["Hello!", "Tell me more."]))
        write("lineage.jsonl", lambda path: lineage(model, server.base_url, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())

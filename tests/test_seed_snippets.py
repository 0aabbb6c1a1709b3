"""The seed page's five snippets ("Multi-Turn Conversations"), run as written.

Each snippet below is the page's code block unchanged except for its import lines
(`definable` → `definable_trace`). The model is literally `OpenAIChat(id="gpt-4o")`: it reaches
the fake server through `OPENAI_BASE_URL` / `OPENAI_API_KEY`, as a user's would reach OpenAI.
`test_snippets_are_the_seed_page` checks the copies against the page, which lives in the
`shared/seed/` folder beside the repository (`../shared` in CI; the nearest ancestor folder
holding `shared/seed/` elsewhere): the test fails when it cannot find it, never skips.

Each snippet, run as written (no `session_id` in four of them), leaves exactly one session per
conversation in the trace, as `load_traces` reads it.
"""

from __future__ import annotations

import asyncio
import builtins
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TraceFile
from otlp_helpers import json_attr, named

from definable_trace import load_traces
from definable_trace.testing import FakeOpenAIServer, Reply

ROOT = Path(__file__).resolve().parent.parent
SEED_NAME = Path("shared", "seed", "multi-turn-conversations.md")
SEED_IMPORTS = {
    "from definable.agent import Agent": "from definable_trace.agent import Agent",
    "from definable.model import OpenAIChat": "from definable_trace.model import OpenAIChat",
}

TWO_TURNS = """\
from definable_trace.agent import Agent
from definable_trace.model import OpenAIChat

agent = Agent(
    model=OpenAIChat(id="gpt-4o"),
    instructions="You are a math tutor.",
)

# First turn
output1 = agent.run("What is 15 * 23?")
print(output1.content)  # "15 * 23 = 345"

# Second turn — pass previous messages to maintain context
output2 = agent.run(
    "Now divide that by 5.",
    messages=output1.messages,
)
print(output2.content)  # "345 / 5 = 69"
"""

SESSION_IDS = """\
session = "user-123-chat-abc"

output1 = agent.run("Hello!", session_id=session)
output2 = agent.run("Tell me more.", messages=output1.messages, session_id=session)
"""

INPUT_LOOP = """\
agent = Agent(
    model=OpenAIChat(id="gpt-4o"),
    instructions="You are a helpful assistant.",
)

messages = []
while True:
    user_input = input("You: ")
    if user_input.lower() in ("quit", "exit"):
        break

    output = agent.run(user_input, messages=messages)
    print(f"Agent: {output.content}")

    # Carry forward the updated message history
    messages = output.messages
"""

ASYNC_LOOP = """\
messages = []

async def chat(user_input: str) -> str:
    global messages
    output = await agent.arun(user_input, messages=messages)
    messages = output.messages
    return output.content
"""

STREAMING = """\
messages = []

for event in agent.run_stream("Hello!", messages=messages):
    if event.event == "RunContent":
        print(event.content, end="", flush=True)
    elif event.event == "RunCompleted":
        messages = event.output.messages

print()

# Next turn with full history
for event in agent.run_stream("Tell me more.", messages=messages):
    if event.event == "RunContent":
        print(event.content, end="", flush=True)
    elif event.event == "RunCompleted":
        messages = event.output.messages
"""

IMPORTS = "from definable_trace.agent import Agent\nfrom definable_trace.model import OpenAIChat\n"


@pytest.fixture
def seed_env(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAIServer:
    """The environment a user of the seed page has: a base URL and a key in the environment."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "seed-key")
    return server


def run_snippet(code: str, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    namespace = {"__name__": "seed_snippet"} if namespace is None else namespace
    exec(compile(code, "<seed snippet>", "exec"), namespace)
    return namespace


def scripted_input(monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> list[str]:
    """Feed `input()` from `lines`; returns the prompts it was called with."""
    prompts: list[str] = []
    feed: Iterator[str] = iter(lines)

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(feed)

    monkeypatch.setattr(builtins, "input", fake_input)
    return prompts


def roles(messages: list[Any]) -> list[str]:
    return [m.role for m in messages]


def request_roles(server: FakeOpenAIServer) -> list[list[str]]:
    return [[m["role"] for m in r.body["messages"]] for r in server.requests]


def seed_page() -> Path:
    """`../shared/seed/...` beside the repository (a git worktree may sit one level deeper)."""
    for folder in ROOT.parents:
        if (folder / SEED_NAME).is_file():
            return folder / SEED_NAME
    raise AssertionError(
        f"the seed page {SEED_NAME} is not beside the repository ({ROOT.parent / SEED_NAME})"
        " nor in any folder above it: check out `shared/` beside the repository"
    )


def one_session(trace_file: TraceFile, session_id: str, messages: list[Any], turns: int) -> None:
    """The trace holds exactly one session, the runs' own, with their whole history."""
    trace_file()  # flushes
    traces = load_traces(trace_file.path)
    [session] = traces
    assert session.id == session_id and not session.id_inferred and not traces.warnings
    assert session.messages == messages
    assert len(session.turns) == turns


def test_snippets_are_the_seed_page() -> None:
    page = seed_page()
    blocks = re.findall(r"```python[^\n]*\n(.*?)```", page.read_text(), re.DOTALL)
    for old, new in SEED_IMPORTS.items():
        blocks = [b.replace(old, new) for b in blocks]
    ours = [TWO_TURNS, SESSION_IDS, INPUT_LOOP, ASYNC_LOOP, STREAMING]
    assert [b.strip() for b in blocks] == [s.strip() for s in ours]


def test_two_turns(
    seed_env: FakeOpenAIServer, trace_file: TraceFile, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_env.add(Reply("15 * 23 = 345"), Reply("345 / 5 = 69"))
    ns = run_snippet(TWO_TURNS)
    assert capsys.readouterr().out == "15 * 23 = 345\n345 / 5 = 69\n"
    output1, output2 = ns["output1"], ns["output2"]
    assert roles(output1.messages) == ["system", "user", "assistant"]
    assert roles(output2.messages) == ["system", "user", "assistant", "user", "assistant"]
    assert output2.messages[0].content == "You are a math tutor."
    assert [m.content for m in output2.messages[1:]] == [
        "What is 15 * 23?",
        "15 * 23 = 345",
        "Now divide that by 5.",
        "345 / 5 = 69",
    ]
    # The first turn's messages are carried over as they were (same ids).
    assert [m.id for m in output2.messages[:3]] == [m.id for m in output1.messages]
    # The model saw the whole history on the second turn, with one system prompt.
    assert request_roles(seed_env) == [
        ["system", "user"],
        ["system", "user", "assistant", "user"],
    ]
    assert seed_env.requests[1].headers["authorization"] == "Bearer seed-key"
    assert seed_env.requests[1].body["model"] == "gpt-4o"
    runs = named(trace_file(), "invoke_agent")
    assert [s["attributes"]["definable_trace.turn.index"] for s in runs] == [1, 2]
    # No session was given: the second run continued the first one's (a generated id).
    assert output1.session_id == output2.session_id
    for span in trace_file():
        assert span["attributes"]["session.id"] == output1.session_id
        assert span["attributes"]["gen_ai.conversation.id"] == output1.session_id
    one_session(trace_file, output1.session_id, output2.messages, 2)


def test_session_ids(seed_env: FakeOpenAIServer, trace_file: TraceFile) -> None:
    ns = run_snippet(TWO_TURNS)
    first = ns["output2"]
    before = {s["span_id"] for s in trace_file()}
    run_snippet(SESSION_IDS, ns)
    assert ns["output2"].content == "You said: Tell me more."
    assert ns["output1"].session_id == ns["output2"].session_id == "user-123-chat-abc"
    assert roles(ns["output2"].messages) == ["system", "user", "assistant", "user", "assistant"]
    spans = [s for s in trace_file() if s["span_id"] not in before]
    assert len(spans) == 4  # two runs, each an invoke_agent span and a chat span
    for span in spans:
        assert span["attributes"]["session.id"] == "user-123-chat-abc"
        assert span["attributes"]["gen_ai.conversation.id"] == "user-123-chat-abc"
    runs = {s["span_id"] for s in spans if s["name"].startswith("invoke_agent")}
    assert runs == {ns["output1"].run_id, ns["output2"].run_id}  # a run's id: its span's
    assert len({s["trace_id"] for s in spans}) == 2  # each run is its own trace
    # Two conversations in the file (the first snippet's and this one): one session each.
    sessions = load_traces(trace_file.path)
    assert sorted(s.id for s in sessions) == sorted([first.session_id, "user-123-chat-abc"])
    assert sessions.session(first.session_id).messages == first.messages
    assert sessions.session("user-123-chat-abc").messages == ns["output2"].messages


def test_input_loop(
    seed_env: FakeOpenAIServer,
    trace_file: TraceFile,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prompts = scripted_input(monkeypatch, ["Hi there", "What did I say?", "and then", "quit"])
    ns = run_snippet(IMPORTS + INPUT_LOOP)
    assert prompts == ["You: "] * 4
    assert capsys.readouterr().out.splitlines() == [
        "Agent: You said: Hi there",
        "Agent: You said: What did I say?",
        "Agent: You said: and then",
    ]
    messages = ns["messages"]
    assert roles(messages) == ["system"] + ["user", "assistant"] * 3
    assert messages[0].content == "You are a helpful assistant."
    assert request_roles(seed_env)[-1] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    runs = named(trace_file(), "invoke_agent")
    assert [s["attributes"]["definable_trace.turn.index"] for s in runs] == [1, 2, 3]
    chats = named(trace_file(), "chat")
    last_input = json_attr(chats[-1], "gen_ai.input.messages")
    assert [m["role"] for m in last_input] == ["user", "assistant", "user", "assistant", "user"]
    assert json_attr(chats[-1], "gen_ai.system_instructions") == [
        {"type": "text", "content": "You are a helpful assistant."}
    ]
    one_session(trace_file, ns["output"].session_id, messages, 3)


def test_input_loop_exits_at_once(
    seed_env: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_input(monkeypatch, ["EXIT"])
    ns = run_snippet(IMPORTS + INPUT_LOOP)
    assert ns["messages"] == [] and seed_env.requests == []


def test_async_loop(
    seed_env: FakeOpenAIServer, trace_file: TraceFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_input(monkeypatch, ["quit"])  # builds the page's `agent`, no turn taken
    ns = run_snippet(IMPORTS + INPUT_LOOP)
    run_snippet(ASYNC_LOOP, ns)

    async def conversation() -> list[str]:
        return [await ns["chat"]("Hello!"), await ns["chat"]("Tell me more.")]

    assert asyncio.run(conversation()) == ["You said: Hello!", "You said: Tell me more."]
    assert roles(ns["messages"]) == ["system", "user", "assistant", "user", "assistant"]
    assert sum(m.role == "system" for m in ns["messages"]) == 1
    assert request_roles(seed_env)[1] == ["system", "user", "assistant", "user"]
    runs = named(trace_file(), "invoke_agent")
    assert [s["attributes"]["definable_trace.turn.index"] for s in runs] == [1, 2]
    [session_id] = {s["attributes"]["session.id"] for s in trace_file()}
    one_session(trace_file, session_id, ns["messages"], 2)


def test_streaming(
    seed_env: FakeOpenAIServer,
    trace_file: TraceFile,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scripted_input(monkeypatch, ["quit"])  # builds the page's `agent`, no turn taken
    ns = run_snippet(IMPORTS + INPUT_LOOP)
    seed_env.add(
        Reply("Hello! How can I help you today?"),
        Reply("Streaming carries the whole history forward."),
    )
    capsys.readouterr()
    run_snippet(STREAMING, ns)
    assert capsys.readouterr().out == (
        "Hello! How can I help you today?\nStreaming carries the whole history forward."
    )
    messages = ns["messages"]
    assert roles(messages) == ["system", "user", "assistant", "user", "assistant"]
    assert [m.content for m in messages[1:]] == [
        "Hello!",
        "Hello! How can I help you today?",
        "Tell me more.",
        "Streaming carries the whole history forward.",
    ]
    assert all(r.body.get("stream") is True for r in seed_env.requests)
    assert request_roles(seed_env)[1] == ["system", "user", "assistant", "user"]
    chats = named(trace_file(), "chat")
    assert [c["attributes"]["gen_ai.request.stream"] for c in chats] == [True, True]
    runs = {s["span_id"]: s for s in named(trace_file(), "invoke_agent")}
    turns = [runs[c["parent_span_id"]]["attributes"]["definable_trace.turn.index"] for c in chats]
    assert turns == [1, 2]
    [session_id] = {s["attributes"]["gen_ai.conversation.id"] for s in trace_file()}
    one_session(trace_file, session_id, messages, 2)

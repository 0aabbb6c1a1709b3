"""The run loop, written once, without I/O: it yields steps and receives their results.

`run_steps` is a generator that yields `ModelStep` (call the model on this history),
`ToolStep` (run this tool call) and events, and is sent back the `ModelResponse` or the tool
`Message`. The sync and async drivers in `_agent` perform the steps (and wrap them in spans), so
`run`, `arun`, `run_stream` and `arun_stream` share every decision made here: how the history
is built, when tools run, when the loop stops.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._errors import MaxToolRoundsExceeded
from ._events import (
    RunCompleted,
    RunEvent,
    RunOutput,
    RunStarted,
    ToolCallCompleted,
    ToolCallStarted,
)
from ._messages import Message, Metrics
from ._models._base import ModelResponse
from ._tools import Tool

__all__ = ["ModelStep", "RunState", "ToolStep", "prepare_history", "run_steps"]


@dataclass(frozen=True)
class ModelStep:
    history: list[Message]
    tools: list[dict[str, Any]]


@dataclass(frozen=True)
class ToolStep:
    call: dict[str, Any]
    tool: Tool | None


@dataclass
class RunState:
    """The inputs of one run, resolved: ids, the history so far and the new messages."""

    run_id: str
    session_id: str | None
    user_id: str | None
    model_id: str
    agent_name: str | None
    history: list[Message]
    new_messages: list[Message]
    tools: dict[str, Tool]
    max_tool_rounds: int
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def turn_index(self) -> int:
        """1-based: one more than the user messages already in the history passed in."""
        return 1 + sum(1 for m in self.history if m.role == "user")


Step = ModelStep | ToolStep | RunEvent


def prepare_history(
    passed: Sequence[Message | dict[str, Any]] | None, instructions: str | None
) -> list[Message]:
    """The history a run starts from: the messages passed in, with one system prompt.

    The agent's current instructions replace a leading system message, so feeding
    `output.messages` back never yields two system prompts. An unchanged system message is
    kept as is (same id), so histories stay stable across turns.
    """
    history = [m if isinstance(m, Message) else Message.model_validate(m) for m in passed or ()]
    if instructions is None:
        return history
    if history and history[0].role == "system":
        if history[0].content == instructions:
            return history
        history = history[1:]
    return [Message(role="system", content=instructions), *history]


def run_steps(state: RunState) -> Generator[Step, Any, RunOutput]:
    """The agent's decisions for one run; see the module docstring for the protocol."""
    messages = [*state.history, *state.new_messages]
    yield RunStarted(state.run_id, state.session_id, model=state.model_id)
    definitions = [t.definition() for t in state.tools.values()]
    rounds = 0
    while True:
        response: ModelResponse = yield ModelStep(list(messages), definitions)
        answer = response.message
        messages.append(answer)
        if answer.metrics is not None:
            state.metrics = state.metrics + answer.metrics
        if not answer.tool_calls:
            break
        rounds += 1
        if rounds > state.max_tool_rounds:
            raise MaxToolRoundsExceeded(
                f"the model still called tools after {state.max_tool_rounds} rounds"
            )
        for call in answer.tool_calls:
            messages.append((yield from _tool_call(state, call)))
    output = RunOutput(
        content=answer.content,
        messages=messages,
        metrics=state.metrics,
        run_id=state.run_id,
        session_id=state.session_id,
        model=state.model_id,
        user_id=state.user_id,
        agent_name=state.agent_name,
    )
    yield RunCompleted(state.run_id, state.session_id, content=answer.content, output=output)
    return output


def _tool_call(state: RunState, call: dict[str, Any]) -> Generator[Step, Any, Message]:
    yield ToolCallStarted(state.run_id, state.session_id, tool_call=call)
    name = (call.get("function") or {}).get("name", "")
    result: Message
    error: str | None
    result, error = yield ToolStep(call, state.tools.get(name))
    yield ToolCallCompleted(
        state.run_id, state.session_id, tool_call=call, result=result, error=error
    )
    return result

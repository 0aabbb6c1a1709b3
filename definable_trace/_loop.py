"""The run loop, written once, without I/O: it yields steps and receives their results.

`run_steps` is a generator that yields `ModelStep` (call the model on this history),
`ToolStep` (run this tool call) and events, and is sent back the `ModelResponse` or the tool
`Message`. The sync and async drivers in `_agent` perform the steps (and wrap them in spans), so
`run`, `arun`, `run_stream` and `arun_stream` share every decision made here: how the history
is built, when tools run, when the loop stops.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ._errors import InvalidInputError, MaxToolRoundsExceeded
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
from ._semconv import ToolCallPart
from ._tools import Tool

__all__ = [
    "ModelStep",
    "RunState",
    "ToolStep",
    "new_session_id",
    "prepare_history",
    "remember_session",
    "resolve_session",
    "run_steps",
]


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
    session_id: str
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
    passed: Sequence[Message | Mapping[str, Any]] | None, instructions: str | None
) -> list[Message]:
    """The history a run starts from: the messages passed in, with one system prompt.

    The agent's current instructions replace a leading system message, so feeding
    `output.messages` back never yields two system prompts. An unchanged system message is
    kept as is (same id), so histories stay stable across turns. An item that is neither a
    `Message` nor a mapping, or a mapping that is not a valid message, is an
    `InvalidInputError` naming its index (and the field).
    """
    history = [_as_message(i, m) for i, m in enumerate(passed or ())]
    if instructions is None:
        return history
    if history and history[0].role == "system":
        if history[0].content == instructions:
            return history
        history = history[1:]
    return [Message(role="system", content=instructions), *history]


def _as_message(index: int, item: object) -> Message:
    if isinstance(item, Message):
        return item
    if not isinstance(item, Mapping):
        raise InvalidInputError(
            f"messages[{index}] is a {type(item).__name__}; expected a Message or a dict"
        )
    try:
        return Message.model_validate(item)
    except ValidationError as exc:
        raise InvalidInputError(f"messages[{index}]: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    """`field: what was wrong` for the first problem pydantic found (and how many more)."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "value"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


class _SessionMemory:
    """Which session each message a run produced belongs to, by message id.

    A run given no `session_id` continues the session of the last message of its history
    that a run of this process added (input, answer, tool result); so feeding `output.messages` back
    keeps one conversation in one session, as the seed page's snippets do. Keyed by message id
    rather than stored on the message: ids survive copies and dicts, and a `Message` compares
    equal to its rebuild from a trace. Bounded (the oldest entries are forgotten first); an
    entry is two short strings.
    """

    def __init__(self, size: int = 65_536) -> None:
        self._size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, history: Sequence[Message]) -> str | None:
        items = self._items
        for message in reversed(history):
            session = items.get(message.id)
            if session is not None:
                return session
        return None

    def put(self, messages: Sequence[Message], session_id: str) -> None:
        with self._lock:
            items = self._items
            for message in messages:  # a message stays in the session it was first seen in
                items.setdefault(message.id, session_id)
            while len(items) > self._size:
                items.popitem(last=False)


_SESSIONS = _SessionMemory()


def resolve_session(explicit: object, history: Sequence[Message]) -> str:
    """The run's session: the one asked for, else the history's, else a new one (`explicit`
    is checked at run time: callers need not be type-checked)."""
    if explicit is not None:
        if not isinstance(explicit, str) or not explicit:
            raise InvalidInputError(f"session_id must be a non-empty string, got {explicit!r}")
        return explicit
    return _SESSIONS.find(history) or new_session_id()


def new_session_id() -> str:
    """A generated session id: 16 lowercase hex digits (64 random bits), like a span id.
    Every span of the session repeats it twice (`gen_ai.conversation.id`, `session.id`), so
    its length counts; 64 bits is ample for ids that only have to differ between one
    application's sessions. A `session_id` the caller gives is used as it is."""
    return secrets.token_hex(8)


def remember_session(messages: Sequence[Message], session_id: str) -> None:
    """Tie the messages a run added (its input, answers, tool results) to its session, so a
    next run given them continues there. Only the run's own: the cost stays per run, not per
    history, and a history forked into a new session (an explicit `session_id`) still leads
    back to its own session when passed again alone. A message already tied keeps its session.
    """
    _SESSIONS.put(messages, session_id)


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
    remember_session(messages[len(state.history) :], state.session_id)  # this run's own
    yield RunCompleted(state.run_id, state.session_id, content=answer.content, output=output)
    return output


def _tool_call(state: RunState, call: dict[str, Any]) -> Generator[Step, Any, Message]:
    yield ToolCallStarted(state.run_id, state.session_id, tool_call=call)
    name = ToolCallPart.from_openai(call).name or ""
    result: Message
    error: str | None
    result, error = yield ToolStep(call, state.tools.get(name))
    yield ToolCallCompleted(
        state.run_id, state.session_id, tool_call=call, result=result, error=error
    )
    return result

"""Replay a recorded session, or fork it at a turn: new runs of our agent, traced as new sessions.

A replay re-runs the recorded user turns in order, building a fresh history from the new
answers; a fork keeps turns 1..N-1 exactly as recorded (same messages, same ids: the fork
shares its parent's prefix) and runs turn N with a new or the recorded input. Either way the
answers come from a live model (`OpenAIChat`) or, offline, from the recording itself through
`RecordedModel`, which checks that every request is the one recorded and stops at the first
that is not. Every span of the new runs carries the lineage attributes below, which the
loader exposes as `Session.lineage`.

Tool calls are answered from the recording when a recorded call had the same name and the same
arguments; otherwise by the user's own functions (`load_tools("module:attr")`) when given;
otherwise the run stops with `ToolNotRecordedError`, because inventing a result would make the
replay say something the recording never did.

Errors, all `DefinableTraceError`s:

    ReplayError            the replay cannot start: no content recorded, a turn out of range,
                           tools that cannot be imported (bad usage)
    DivergenceError        a recorded replay sent a request the recording never answered
    ToolNotRecordedError   a tool call with no recorded result and no live tool to run it

Sync functions (`replay`, `fork`, `replay_all`) run their async twins in `asyncio.run`, so
there is one implementation; call the async ones from async code.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson

from ._agent import Agent
from ._diff import (
    TurnDiff,
    TurnView,
    canonical_arguments,
    compare_turns,
    turn_view,
    view_of_messages,
)
from ._errors import DefinableTraceError, ModelConfigurationError, ModelResponseError
from ._loop import prepare_history
from ._messages import Message, Metrics
from ._models._base import Model, ModelDelta, ModelResponse
from ._models._openai import OpenAIChat
from ._semconv import TOOL_DEFINITIONS
from ._tools import Tool, ToolResult, as_tool

if TYPE_CHECKING:
    from ._loading import ModelCall, Session, ToolCall, Turn

__all__ = [
    "LINEAGE_KIND",
    "LINEAGE_PARENT",
    "LINEAGE_TURN",
    "DivergenceError",
    "ForkOptions",
    "RecordedModel",
    "ReplayError",
    "ReplayOptions",
    "ReplayOutcome",
    "ReplayResult",
    "ReplayedTurn",
    "RunOptions",
    "ToolNotRecordedError",
    "afork",
    "areplay",
    "areplay_all",
    "fork",
    "load_tools",
    "new_session_id",
    "replay",
    "replay_all",
]

LINEAGE_KIND = "definable_trace.lineage.kind"
LINEAGE_PARENT = "definable_trace.lineage.parent_session"
LINEAGE_TURN = "definable_trace.lineage.turn"

Kind = Literal["replay", "fork"]


# --- errors -------------------------------------------------------------------------------------


class ReplayError(DefinableTraceError):
    """The replay or fork cannot start as asked (the session, the turn or the tools are wrong)."""


class DivergenceError(DefinableTraceError):
    """A recorded replay asked the model something the recording has no answer for."""

    def __init__(self, turn: int, detail: str) -> None:
        super().__init__(f"diverged at turn {turn}: {detail}")
        self.turn = turn
        self.detail = detail


class ToolNotRecordedError(DefinableTraceError):
    """The model called a tool in a way the recording never saw, and no live tool was given."""

    def __init__(self, turn: int | None, name: str, arguments: str) -> None:
        where = f"turn {turn}: " if turn is not None else ""
        super().__init__(
            f"{where}the model called {name}({arguments}), which has no recorded result; "
            "give the tool functions to run them live (deftrace: --tools module:attr)"
        )
        self.turn = turn
        self.name = name
        self.arguments = arguments


# --- options and results ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How the new turns are answered; shared by replays and forks.

    `model` None means the model each turn recorded. `recorded=True` answers from the recording
    (no network, no key). `tools` run the tool calls the recording cannot answer. The new
    session is `session_id`, or `<parent>-<kind>-<tag>` (`tag` random when None).
    """

    model: str | None = None
    base_url: str | None = None
    recorded: bool = False
    tools: tuple[Tool, ...] = ()
    session_id: str | None = None
    tag: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReplayOptions(RunOptions):
    """`until_turn`: replay turns up to this index only."""

    until_turn: int | None = None


@dataclass(frozen=True, kw_only=True)
class ForkOptions(RunOptions):
    """Fork at turn `at` with `message` (None: the recorded input of turn `at`).

    `instructions` replace the recorded system prompt for the new turn.
    """

    at: int
    message: str | None = None
    instructions: str | None = None


@dataclass(frozen=True)
class ReplayedTurn:
    """One turn of the new session: the messages it added (input first) and their usage."""

    index: int
    run_id: str
    model: str
    messages: list[Message]
    metrics: Metrics

    @property
    def content(self) -> str | None:
        answer = next((m for m in reversed(self.messages) if m.role == "assistant"), None)
        return answer.content if answer else None


@dataclass(frozen=True)
class ReplayResult:
    """A finished replay or fork, and its turn-by-turn comparison with the original."""

    kind: Kind
    parent: str
    session_id: str
    recorded: bool
    turns: list[ReplayedTurn]
    history: list[Message]
    comparison: list[TurnDiff]
    skipped: list[int] = field(default_factory=list)  # recorded turns that failed: not re-run


@dataclass(frozen=True)
class ReplayOutcome:
    """One session of `replay_all`: its result, or the error that stopped it."""

    session: str
    result: ReplayResult | None
    error: DefinableTraceError | None = None


# --- the recorded model -------------------------------------------------------------------------


class RecordedModel(Model):
    """A model that answers each call with the recorded answer, once the request matches.

    The turn being replayed is set with `begin_turn` (the replay does it); without it, the turn
    is the number of user messages in the request, as the agent counts turns. Its calls are
    answered in recorded order; the request is compared with the recorded one on roles, text,
    tool calls (name and arguments) and attachments, never on ids or times. The answer keeps
    the recorded usage, so a recorded replay reports the original tokens.
    """

    provider = "openai"

    def __init__(self, session: Session) -> None:
        self.id = session.models[0] if session.models else "recorded"
        self._calls = {t.index: list(t.model_calls) for t in session.turns}
        self._turn: int | None = None
        self._used: dict[int, int] = {}

    def begin_turn(self, index: int) -> None:
        """Answer the next calls from recorded turn `index`, from its first model call."""
        self._turn = index
        self._used[index] = 0

    def invoke(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ModelResponse:
        turn = self._turn if self._turn is not None else _user_count(messages)
        calls = self._calls.get(turn, [])
        position = self._used.get(turn, 0)
        if position >= len(calls):
            recorded = f"{len(calls)} model call{'s' if len(calls) != 1 else ''}"
            raise DivergenceError(turn, f"the recording has only {recorded} in this turn")
        self._used[turn] = position + 1
        call = calls[position]
        difference = _request_difference(call.input_messages or [], messages)
        if difference is not None:
            raise DivergenceError(turn, f"model call {position + 1}: {difference}")
        return _recorded_response(turn, call)

    async def ainvoke(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> ModelResponse:
        return self.invoke(messages, tools)

    def invoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> Iterator[ModelDelta | ModelResponse]:
        response = self.invoke(messages, tools)
        answer = response.message
        if answer.content or answer.reasoning_content:
            yield ModelDelta(answer.content, answer.reasoning_content)
        yield response

    async def ainvoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> AsyncIterator[ModelDelta | ModelResponse]:
        for item in self.invoke_stream(messages, tools):
            yield item


def _user_count(messages: Sequence[Message]) -> int:
    return sum(1 for m in messages if m.role == "user")


def _recorded_response(turn: int, call: ModelCall) -> ModelResponse:
    if call.output_message is None:
        raise ModelResponseError(f"turn {turn}: the recorded model call failed: {call.error}")
    message = call.output_message.model_copy(update={"id": _new_id(), "created_at": _now()})
    return ModelResponse(message, call.response_id, call.response_model, call.finish_reason)


def _request_difference(expected: Sequence[Message], got: Sequence[Message]) -> str | None:
    """What first differs between the recorded request and this one, or None."""
    for position, (old, new) in enumerate(zip(expected, got, strict=False), start=1):
        if _message_key(old) != _message_key(new):
            return (
                f"message {position} ({new.role}) differs: "
                f"recorded {_describe(old)}, now {_describe(new)}"
            )
    if len(expected) != len(got):
        return f"the request has {len(got)} messages, the recording {len(expected)}"
    return None


def _message_key(message: Message) -> tuple[Any, ...]:
    return (message.role, message.content or "", _calls_key(message), len(message.media()))


def _calls_key(message: Message) -> tuple[tuple[str, str], ...]:
    return tuple(_call_key(call) for call in message.tool_calls or ())


def _call_key(call: dict[str, Any]) -> tuple[str, str]:
    function = call.get("function") or {}
    name = str(function.get("name") or "")
    return name, canonical_arguments(str(function.get("arguments") or ""))


def _describe(message: Message) -> str:
    calls = _calls_key(message)
    if calls:
        return ", ".join(f"{name}({arguments})" for name, arguments in calls)
    text = message.content or ""
    return repr(text if len(text) <= 80 else text[:77] + "...")


# --- tools --------------------------------------------------------------------------------------


class _ToolRecording:
    """Recorded tool results by (name, canonical arguments), each key's results in order.

    A key called more often than recorded gets its last result again: the same call, the same
    answer. `turn` is set by the runner so that errors can name the turn.
    """

    def __init__(self, calls: Iterable[ToolCall]) -> None:
        self._results: dict[tuple[str, str], list[ToolResult]] = {}
        self._used: dict[tuple[str, str], int] = {}
        self.turn: int | None = None
        for call in calls:
            key = (call.name, canonical_arguments(call.arguments or ""))
            result = ToolResult(call.result or "", error=call.error)
            self._results.setdefault(key, []).append(result)

    def take(self, name: str, arguments: str) -> ToolResult | None:
        key = (name, canonical_arguments(arguments))
        results = self._results.get(key)
        if not results:
            return None
        position = self._used.get(key, 0)
        self._used[key] = position + 1
        return results[min(position, len(results) - 1)]


def _not_recorded(**arguments: Any) -> str:
    """Stand-in function of a recorded tool; never called (`_ReplayTool` answers first)."""
    raise AssertionError("unreachable")


@dataclass
class _ReplayTool(Tool):
    """A tool offered to the model in a replay: recorded result first, then the live tool."""

    recording: _ToolRecording | None = field(default=None, kw_only=True)
    live: Tool | None = field(default=None, kw_only=True)

    def run(self, arguments: str) -> ToolResult:
        recorded = self._recorded(arguments)
        if recorded is not None:
            return recorded
        return self.live.run(arguments) if self.live else self._missing(arguments)

    async def arun(self, arguments: str) -> ToolResult:
        recorded = self._recorded(arguments)
        if recorded is not None:
            return recorded
        return await self.live.arun(arguments) if self.live else self._missing(arguments)

    def _recorded(self, arguments: str) -> ToolResult | None:
        return self.recording.take(self.name, arguments) if self.recording else None

    def _missing(self, arguments: str) -> ToolResult:
        turn = self.recording.turn if self.recording else None
        raise ToolNotRecordedError(turn, self.name, arguments)


def _replay_tools(session: Session, recording: _ToolRecording, live: Sequence[Tool]) -> list[Tool]:
    """The recorded tools (their recorded definitions) and the live ones, by name."""
    by_name = {tool.name: tool for tool in live}
    definitions = _recorded_definitions(session)
    tools: list[Tool] = []
    for name in [*definitions, *(n for n in by_name if n not in definitions)]:
        own = by_name.get(name)
        function = definitions.get(name) or {}
        tools.append(
            _ReplayTool(
                function=own.function if own else _not_recorded,
                name=name,
                description=own.description if own else function.get("description"),
                parameters=own.parameters if own else _parameters(function),
                recording=recording,
                live=own,
            )
        )
    return tools


def _recorded_definitions(session: Session) -> dict[str, dict[str, Any]]:
    """Tool definitions as the model calls recorded them (`gen_ai.tool.definitions`), then
    any tool that was called without a recorded definition (by name only)."""
    definitions: dict[str, dict[str, Any]] = {}
    for turn in session.turns:
        for call in turn.model_calls:
            for definition in _span_definitions(call.span.text(TOOL_DEFINITIONS)):
                definitions.setdefault(definition["name"], definition)
        for tool_call in turn.tool_calls:
            definitions.setdefault(tool_call.name, {"name": tool_call.name})
    return definitions


def _span_definitions(raw: str | None) -> list[dict[str, Any]]:
    """The semconv tool definitions (`{"type", "name", "description"?, "parameters"?}`);
    the OpenAI nesting under "function" is accepted too."""
    try:
        parsed = orjson.loads(raw) if raw else []
    except orjson.JSONDecodeError:
        return []
    found = []
    for item in parsed if isinstance(parsed, list) else []:
        function = item.get("function", item) if isinstance(item, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found.append(function)
    return found


def _parameters(function: dict[str, Any]) -> dict[str, Any]:
    parameters = function.get("parameters")
    return parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}}


def load_tools(specs: Iterable[str]) -> list[Tool]:
    """Import tool functions named `module:attr`.

    The attribute may be a function, a `Tool`, or a list, tuple or dict of them. The current
    directory is importable, as with `python -m`, so a user's `tools.py` is found.
    """
    tools: list[Tool] = []
    for spec in specs:
        tools.extend(as_tool(item) for item in _import_tools(spec))
    return tools


def _import_tools(spec: str) -> list[Any]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ReplayError(f"--tools {spec!r}: expected module:attr, e.g. my_tools:TOOLS")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        value = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ReplayError(f"--tools {spec!r}: cannot import it: {exc}") from exc
    if isinstance(value, dict):
        value = list(value.values())
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not all(callable(item) or isinstance(item, Tool) for item in items):
        raise ReplayError(f"--tools {spec!r}: not a function or a list of functions")
    return items


# --- running the new turns ----------------------------------------------------------------------


class _LiveModels:
    """`OpenAIChat` per model id, shared by every session of a batch so connections are reused."""

    def __init__(self, base_url: str | None) -> None:
        self._base_url = base_url
        self._models: dict[str, OpenAIChat] = {}

    def get(self, model_id: str) -> OpenAIChat:
        if model_id not in self._models:
            self._models[model_id] = OpenAIChat(model_id, base_url=self._base_url)
        return self._models[model_id]

    async def aclose(self) -> None:
        """Close the SDK clients inside the loop that used them (no unclosed transports)."""
        for model in self._models.values():
            try:
                client = model.async_client()
            except ModelConfigurationError:
                continue  # it could not be built (no key): there is nothing to close
            await client.close()


@dataclass
class _Runner:
    """One new session being run: its ids, models, tools, and the lineage on every span."""

    session: Session
    options: RunOptions
    session_id: str
    lineage: dict[str, str | int]
    live: _LiveModels
    recording: _ToolRecording
    tools: list[Tool]
    recorded_model: RecordedModel | None

    @classmethod
    def create(
        cls, session: Session, options: RunOptions, kind: Kind, turn: int, live: _LiveModels
    ) -> _Runner:
        _require_content(session)
        recording = _ToolRecording(call for t in session.turns for call in t.tool_calls)
        tag = options.tag or uuid.uuid4().hex[:8]
        return cls(
            session=session,
            options=options,
            session_id=options.session_id or new_session_id(session.id, kind, tag),
            lineage={LINEAGE_KIND: kind, LINEAGE_PARENT: session.id, LINEAGE_TURN: turn},
            live=live,
            recording=recording,
            tools=_replay_tools(session, recording, options.tools),
            recorded_model=RecordedModel(session) if options.recorded else None,
        )

    def model_for(self, index: int) -> Model:
        recorded_id = _recorded_model_id(self.session, index)
        if self.recorded_model is not None:
            self.recorded_model.begin_turn(index)
            self.recorded_model.id = recorded_id or self.recorded_model.id
            return self.recorded_model
        model_id = self.options.model or recorded_id
        if model_id is None:
            raise ReplayError(f"session {self.session.id} records no model: pass a model")
        return self.live.get(model_id)

    async def run_turn(
        self,
        index: int,
        input: Message | None,
        history: list[Message],
        instructions: str | None = None,
    ) -> tuple[ReplayedTurn, list[Message]]:
        """Run turn `index` on `history`; returns the turn and the history after it."""
        self.recording.turn = index
        model = self.model_for(index)
        agent = Agent(model, instructions, tools=self.tools, name=self.session.agent_name)
        start = len(prepare_history(history, instructions))
        run_id = f"{self.session_id}-{index}"
        output = await agent.arun(
            input,
            messages=history,
            session_id=self.session_id,
            run_id=run_id,
            trace_attributes=self.lineage,
        )
        added = output.messages[start:]
        return ReplayedTurn(index, run_id, model.id, added, output.metrics), output.messages


def new_session_id(parent: str, kind: Kind, tag: str) -> str:
    """The id a replay or fork of `parent` gets when none is chosen: `<parent>-<kind>-<tag>`."""
    return f"{parent}-{kind}-{tag}"


def _require_content(session: Session) -> None:
    if not session.has_content:
        raise ReplayError(
            f"session {session.id} was recorded without message content "
            "(content capture was off): there is nothing to replay"
        )


def _recorded_model_id(session: Session, index: int) -> str | None:
    """The model turn `index` asked for; for a turn after the last, the last turn's model."""
    candidates = [t for t in session.turns if t.index <= index and t.model_calls]
    if candidates:
        return candidates[-1].model_calls[0].request_model
    return session.models[0] if session.models else None


def _fresh(message: Message) -> Message:
    """A recorded input as a new message of the new session (its own id and time)."""
    return message.model_copy(update={"id": _new_id(), "created_at": _now()})


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> int:
    return int(time.time())


def _views(turns: Iterable[ReplayedTurn]) -> list[TurnView]:
    return [view_of_messages(t.index, t.messages, t.model) for t in turns]


# --- replay -------------------------------------------------------------------------------------


async def areplay(
    session: Session, options: ReplayOptions | None = None, *, _live: _LiveModels | None = None
) -> ReplayResult:
    """Re-run the recorded user turns of `session` in order, as a new session."""
    options = options or ReplayOptions()
    turns = [
        t for t in session.turns if options.until_turn is None or t.index <= options.until_turn
    ]
    if not turns:
        raise ReplayError(f"session {session.id} has no turn to replay")
    live = _live or _LiveModels(options.base_url)
    try:
        runner = _Runner.create(session, options, "replay", turns[0].index, live)
        return await _replay_turns(runner, turns)
    finally:
        if _live is None:
            await live.aclose()


async def _replay_turns(runner: _Runner, turns: Sequence[Turn]) -> ReplayResult:
    history = runner.session.history(before_turn=turns[0].index)
    done: list[ReplayedTurn] = []
    replayed: list[Turn] = []
    skipped: list[int] = []
    for turn in turns:
        if turn.error is not None:
            skipped.append(turn.index)  # it failed: later turns never saw its messages
            continue
        new = _fresh(turn.input) if turn.input is not None else None
        result, history = await runner.run_turn(turn.index, new, history)
        done.append(result)
        replayed.append(turn)
    return ReplayResult(
        kind="replay",
        parent=runner.session.id,
        session_id=runner.session_id,
        recorded=runner.options.recorded,
        turns=done,
        history=history,
        comparison=compare_turns([turn_view(t) for t in replayed], _views(done)),
        skipped=skipped,
    )


def replay(session: Session, options: ReplayOptions | None = None) -> ReplayResult:
    """Sync `areplay`."""
    return asyncio.run(areplay(session, options))


async def areplay_all(
    sessions: Sequence[Session],
    options: ReplayOptions | None = None,
    *,
    concurrency: int = 4,
    on_done: Callable[[ReplayOutcome], None] | None = None,
) -> list[ReplayOutcome]:
    """Replay every session, at most `concurrency` at once; one failure never stops the rest.

    `on_done` is called as each session finishes (the CLI's progress bar). Outcomes come back
    in the order of `sessions`.
    """
    options = options or ReplayOptions()
    if options.session_id is not None and len(sessions) > 1:
        raise ReplayError("one new session id cannot name the replays of several sessions")
    live = _LiveModels(options.base_url)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(session: Session) -> ReplayOutcome:
        async with gate:
            try:
                outcome = ReplayOutcome(session.id, await areplay(session, options, _live=live))
            except DefinableTraceError as exc:
                outcome = ReplayOutcome(session.id, None, exc)
        if on_done is not None:
            on_done(outcome)
        return outcome

    try:
        return list(await asyncio.gather(*(one(s) for s in sessions)))
    finally:
        await live.aclose()


def replay_all(
    sessions: Sequence[Session],
    options: ReplayOptions | None = None,
    *,
    concurrency: int = 4,
    on_done: Callable[[ReplayOutcome], None] | None = None,
) -> list[ReplayOutcome]:
    """Sync `areplay_all`."""
    return asyncio.run(areplay_all(sessions, options, concurrency=concurrency, on_done=on_done))


# --- fork ---------------------------------------------------------------------------------------


async def afork(session: Session, options: ForkOptions) -> ReplayResult:
    """Keep turns before `options.at` as recorded and run turn `at` as a new session."""
    at = options.at
    original = next((t for t in session.turns if t.index == at), None)
    _check_fork_point(session, options, original)
    live = _LiveModels(options.base_url)
    try:
        runner = _Runner.create(session, options, "fork", at, live)
        history = session.history(before_turn=at)
        result, history = await runner.run_turn(
            at, _fork_input(session, options, original), history, options.instructions
        )
    finally:
        await live.aclose()
    before = [turn_view(original)] if original is not None else []
    return ReplayResult(
        kind="fork",
        parent=session.id,
        session_id=runner.session_id,
        recorded=options.recorded,
        turns=[result],
        history=history,
        comparison=compare_turns(before, _views([result])),
    )


def fork(session: Session, options: ForkOptions) -> ReplayResult:
    """Sync `afork`."""
    return asyncio.run(afork(session, options))


def _check_fork_point(session: Session, options: ForkOptions, original: Turn | None) -> None:
    if not session.turns:
        raise ReplayError(f"session {session.id} has no turns to fork")
    first, last = session.turns[0].index, session.turns[-1].index
    if not first <= options.at <= last + 1:
        raise ReplayError(
            f"cannot fork session {session.id} at turn {options.at}: it has turns "
            f"{first}..{last} (fork at {last + 1} to continue it)"
        )
    if options.recorded and original is None:
        raise ReplayError(
            f"--recorded needs a recorded turn {options.at}; session {session.id} ends at {last}"
        )


def _fork_input(session: Session, options: ForkOptions, original: Turn | None) -> Message:
    if options.message is not None:
        return Message(role="user", content=options.message)
    if original is None or original.input is None:
        raise ReplayError(
            f"turn {options.at} of session {session.id} has no recorded input: give a message"
        )
    return _fresh(original.input)

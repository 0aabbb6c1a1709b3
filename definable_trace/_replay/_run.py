"""Running new turns of a recorded session: replay (all turns) and fork (turn N)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from .._agent import Agent
from .._diff import (
    TurnView,
    compare_turns,
    turn_view,
    view_of_messages,
)
from .._errors import DefinableTraceError, InvalidInputError, ReplayError
from .._loop import prepare_history
from .._messages import Message
from .._models._base import Model
from .._models._openai import OpenAIChat
from .._tools import Tool
from ._recorded import RecordedModel
from ._tools import _replay_tools, _ToolRecording
from ._types import (
    LINEAGE_KIND,
    LINEAGE_PARENT,
    LINEAGE_TURN,
    ForkOptions,
    Kind,
    ReplayedTurn,
    ReplayOptions,
    ReplayOutcome,
    ReplayResult,
    RunOptions,
    _new_id,
    _now,
)

if TYPE_CHECKING:
    from .._loading import Session, Turn

# --- running the new turns ----------------------------------------------------------------------


class _LiveModels:
    """The live model per model id, shared by every session of a batch so connections are
    reused, and closed together when the batch ends."""

    def __init__(self, options: RunOptions) -> None:
        if options.model_factory is not None and options.base_url is not None:
            raise InvalidInputError(
                "base_url configures the default OpenAIChat; with model_factory, "
                "give the URL to the models the factory builds"
            )
        self._base_url = options.base_url
        self._factory = options.model_factory
        self._models: dict[str, Model] = {}

    def get(self, model_id: str) -> Model:
        if model_id not in self._models:
            self._models[model_id] = self._build(model_id)
        return self._models[model_id]

    def _build(self, model_id: str) -> Model:
        if self._factory is None:
            return OpenAIChat(model_id, base_url=self._base_url)
        model = cast(object, self._factory(model_id))  # checked: the factory is the caller's code
        if not isinstance(model, Model):
            raise InvalidInputError(
                f"model_factory({model_id!r}) returned {type(model).__name__}, not a Model"
            )
        return model

    async def aclose(self) -> None:
        """Close the models inside the loop that used them (no unclosed transports)."""
        models, self._models = list(self._models.values()), {}
        for model in models:
            await model.aclose()


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
    if not session.replayable:
        turn = next(t for t in session.turns if t.unreplayable)
        raise ReplayError(f"session {session.id}, turn {turn.index}: {turn.unreplayable}")


def _recorded_model_id(session: Session, index: int) -> str | None:
    """The model turn `index` asked for; for a turn after the last, the last turn's model."""
    candidates = [t for t in session.turns if t.index <= index and t.model_calls]
    if candidates:
        return candidates[-1].model_calls[0].request_model
    return session.models[0] if session.models else None


def _fresh(message: Message) -> Message:
    """A recorded input as a new message of the new session (its own id and time)."""
    return message.model_copy(update={"id": _new_id(), "created_at": _now()})


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
    live = _live or _LiveModels(options)
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
    live = _LiveModels(options)
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
    live = _LiveModels(options)
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
            f"a recorded fork needs a recorded turn {options.at}; "
            f"session {session.id} ends at turn {last}"
        )


def _fork_input(session: Session, options: ForkOptions, original: Turn | None) -> Message:
    if options.message is not None:
        return Message(role="user", content=options.message)
    if original is None or original.input is None:
        raise ReplayError(
            f"turn {options.at} of session {session.id} has no recorded input: give a message"
        )
    return _fresh(original.input)

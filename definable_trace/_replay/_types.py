"""Options and results of replays and forks (see the package docstring); errors: `_errors`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .._diff import TurnDiff
from .._errors import DefinableTraceError
from .._messages import Message, Metrics
from .._models._base import Model
from .._semconv import ATTR_LINEAGE_KIND, ATTR_LINEAGE_PARENT, ATTR_LINEAGE_TURN
from .._tools import Tool

LINEAGE_KIND = ATTR_LINEAGE_KIND
LINEAGE_PARENT = ATTR_LINEAGE_PARENT
LINEAGE_TURN = ATTR_LINEAGE_TURN

Kind = Literal["replay", "fork"]

ModelFactory = Callable[[str], Model]
"""Builds the model that answers live turns, given the model id the turn asks for."""


# --- options and results ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How the new turns are answered; shared by replays and forks.

    `model` None means the model each turn recorded. Live turns are answered by
    `model_factory(model_id)` when given (any `Model`: another provider, a local model, a test
    double), else by `OpenAIChat(model_id, base_url=base_url)`; each model id is built once per
    replay (once per batch for `replay_all`) and the models built are closed when it ends.
    `recorded=True` answers from the recording instead (no network, no key). `tools` run the
    tool calls the recording cannot answer. The new session is `session_id`, or
    `<parent>-<kind>-<tag>` (`tag` random when None).
    """

    model: str | None = None
    base_url: str | None = None
    model_factory: ModelFactory | None = None
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


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> int:
    return int(time.time())

"""Turn-by-turn comparison of two conversations, returned as data for the CLI to render.

Both sides are first reduced to `TurnView`s, which hold what a reader compares: the user's
input, the final answer, the tool calls with their results, the model and the tokens. Because
a view is built from plain messages, one comparison serves both `deftrace diff` (two recorded
sessions) and the report of a replay or fork (a recorded session against the runs just made,
before their spans are read back from a file).

A fork's session only records the turns it ran (its first turn is the fork point); the turns
before come from its parent and live in its history. `session_views` rebuilds them from that
history so that a fork diffs against its parent as "same up to turn N-1, then different",
instead of "turns 1..N-1 missing".
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import orjson

from ._messages import Message
from ._semconv import ToolCallPart

if TYPE_CHECKING:
    from ._loading import Session, Turn

__all__ = [
    "FieldChange",
    "SessionDiff",
    "ToolCallView",
    "TurnDiff",
    "TurnView",
    "canonical_arguments",
    "compare_turns",
    "diff_sessions",
    "field_lines",
    "session_views",
    "split_turns",
    "turn_view",
    "unified_diff",
    "view_of_messages",
]

TurnStatus = Literal["same", "changed", "only_a", "only_b"]
_COMPARED = ("input", "content", "tool_calls", "model")


@dataclass(frozen=True)
class ToolCallView:
    """One tool call of a turn: name, arguments (canonical JSON when they parse), result."""

    name: str
    arguments: str
    result: str | None = None


@dataclass(frozen=True)
class TurnView:
    """What two versions of a turn are compared on."""

    index: int
    input: str | None
    content: str | None
    tool_calls: tuple[ToolCallView, ...] = ()
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    inherited: bool = False  # rebuilt from a fork's inherited history, not run by this session


@dataclass(frozen=True)
class FieldChange:
    """One compared field that differs: its name and the value on each side."""

    field: str
    a: object
    b: object


@dataclass(frozen=True)
class TurnDiff:
    """Turn `index` on both sides; a side is None when that session has no such turn."""

    index: int
    a: TurnView | None
    b: TurnView | None
    changes: tuple[FieldChange, ...] = ()

    @property
    def status(self) -> TurnStatus:
        if self.b is None:
            return "only_a"
        if self.a is None:
            return "only_b"
        return "changed" if self.changes else "same"


@dataclass(frozen=True)
class SessionDiff:
    """Two sessions compared turn by turn (tokens are shown, but never count as a change)."""

    a: str
    b: str
    turns: list[TurnDiff] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return all(t.status == "same" for t in self.turns)

    @property
    def first_difference(self) -> int | None:
        """The index of the first turn that is not the same on both sides."""
        return next((t.index for t in self.turns if t.status != "same"), None)


def canonical_arguments(arguments: str) -> str:
    """Tool-call arguments in one spelling (sorted keys, no spaces) when they are JSON."""
    try:
        parsed = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        return arguments
    return orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS).decode()


def view_of_messages(
    index: int, messages: Sequence[Message], model: str | None = None, *, inherited: bool = False
) -> TurnView:
    """The view of one turn from the messages it added (the user's input first)."""
    results = {m.tool_call_id: m.content for m in messages if m.role == "tool"}
    calls: list[ToolCallView] = []
    input_tokens = output_tokens = 0
    for message in messages:
        if message.metrics is not None:
            input_tokens += message.metrics.input_tokens
            output_tokens += message.metrics.output_tokens
        for call in map(ToolCallPart.from_openai, message.tool_calls or ()):
            calls.append(
                ToolCallView(
                    name=call.name or "",
                    arguments=canonical_arguments(str(call.arguments or "")),
                    result=results.get(call.id),
                )
            )
    user = next((m for m in messages if m.role == "user"), None)
    answer = next((m for m in reversed(messages) if m.role == "assistant"), None)
    return TurnView(
        index=index,
        input=user.content if user else None,
        content=answer.content if answer else None,
        tool_calls=tuple(calls),
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        inherited=inherited,
    )


def turn_view(turn: Turn) -> TurnView:
    """The view of a recorded turn."""
    model = turn.model_calls[0].request_model if turn.model_calls else None
    return view_of_messages(turn.index, turn.messages, model)


def split_turns(history: Iterable[Message]) -> list[list[Message]]:
    """A history cut into turns, each starting at a user message (a leading system is dropped)."""
    turns: list[list[Message]] = []
    for message in history:
        if message.role == "user":
            turns.append([message])
        elif turns:
            turns[-1].append(message)
    return turns


def session_views(session: Session) -> list[TurnView]:
    """Every turn of a session, including those a fork inherited from its parent's history."""
    recorded = [turn_view(t) for t in session.turns]
    first = session.turns[0].index if session.turns else 1
    if first <= 1:
        return recorded
    inherited = split_turns(session.history(before_turn=first))
    start = first - len(inherited)
    views = [
        view_of_messages(start + i, messages, inherited=True)
        for i, messages in enumerate(inherited)
    ]
    return [*views, *recorded]


def compare_turns(a: Sequence[TurnView], b: Sequence[TurnView]) -> list[TurnDiff]:
    """Turns aligned by index; inherited turns carry no model, so models are not compared."""
    by_a = {v.index: v for v in a}
    by_b = {v.index: v for v in b}
    out: list[TurnDiff] = []
    for index in sorted(by_a.keys() | by_b.keys()):
        left, right = by_a.get(index), by_b.get(index)
        out.append(TurnDiff(index, left, right, _changes(left, right)))
    return out


def diff_sessions(a: Session, b: Session) -> SessionDiff:
    """Session `a` against session `b`, turn by turn."""
    return SessionDiff(a.id, b.id, compare_turns(session_views(a), session_views(b)))


def _changes(a: TurnView | None, b: TurnView | None) -> tuple[FieldChange, ...]:
    if a is None or b is None:
        return ()
    changes = []
    for name in _COMPARED:
        left, right = getattr(a, name), getattr(b, name)
        if name == "model" and (left is None or right is None):
            continue  # an inherited turn records no model call of its own
        if (left or None) != (right or None):
            changes.append(FieldChange(name, left, right))
    return tuple(changes)


def field_lines(value: object) -> list[str]:
    """A compared field as the lines a diff shows: text by its lines, a tool call per line."""
    if value is None:
        return []
    if isinstance(value, tuple):
        return [
            f"{c.name}({c.arguments})" + (f" -> {c.result}" if c.result is not None else "")
            for c in value
            if isinstance(c, ToolCallView)
        ]
    return str(value).split("\n")


def unified_diff(field: str, a: object, b: object, a_label: str, b_label: str) -> list[str]:
    """`difflib`'s unified diff of one field on both sides (headers, hunks; nothing clipped)."""
    return list(
        difflib.unified_diff(
            field_lines(a),
            field_lines(b),
            f"{a_label} {field}",
            f"{b_label} {field}",
            lineterm="",
        )
    )

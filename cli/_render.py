"""Terminal renderings with rich: transcripts, and the report of a replay or fork.

Functions return renderables and print nothing, so commands decide where output goes. Trace
content (message text, tool arguments, ids, model names) always goes through `_escape.text`:
control characters and bidi overrides are shown escaped and rich markup is never parsed, so a
message containing "[bold]" or an escape sequence is printed as written and obeyed by nothing.

Turn numbers are positions in the conversation. A fork at turn N records turns N.. itself; its
turns 1..N-1 are inherited from the parent's history: `show` prints them marked "inherited",
`diff` compares them, `export --before-turn` counts them, but a fork's turns, tokens and cost
count only what it ran (the inherited ones were paid in the parent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ._escape import text
from ._format import duration, iso, money, plural, token_kinds, tokens
from ._sessions_view import lineage_text, sessions_view

if TYPE_CHECKING:
    from definable_trace import Message, Metrics, Session, Turn
    from definable_trace._cost import Cost
    from definable_trace.replay import (
        ReplayOutcome,
        ReplayResult,
        TurnDiff,
        TurnView,
    )

__all__ = [
    "FOLD_LINES",
    "Shown",
    "outcomes_view",
    "replay_view",
    "sessions_view",
    "shown_turns",
    "transcript",
]

_ROLE_STYLE = {"system": "magenta", "user": "green", "assistant": "blue", "tool": "yellow"}
_STATUS = {
    "same": ("same", "green"),
    "changed": ("changed", "yellow"),
    "only_a": ("only in A", "red"),
    "only_b": ("only in B", "red"),
}
_CLIP = 72
FOLD_LINES = 20  # lines of one message shown before folding (`--full` shows all)
_FOLD_CHARS = 4000  # and characters, for a single very long line


# --- folding ------------------------------------------------------------------------------------


def _fold(value: str, full: bool) -> tuple[str, str | None]:
    """The part of `value` shown, and the note saying what was folded away (None: nothing)."""
    if full:
        return value, None
    lines = value.split("\n")
    if len(lines) > FOLD_LINES:
        hidden = len(lines) - FOLD_LINES
        return "\n".join(lines[:FOLD_LINES]), f"… {plural(hidden, 'more line')}, --full to expand"
    if len(value) > _FOLD_CHARS:
        hidden = len(value) - _FOLD_CHARS
        return value[:_FOLD_CHARS], f"… {hidden} more characters, --full to expand"
    return value, None


def _append_folded(body: Text, value: str, style: str, full: bool) -> None:
    shown, note = _fold(value, full)
    body.append_text(text(shown, style=style))
    if note:
        body.append(f"\n{note}", style="dim italic")


# --- transcripts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A turn as `show` prints it: a recorded turn, or one a fork inherited (messages only)."""

    index: int
    turn: Turn | None
    inherited_messages: tuple[Message, ...] = ()
    cost: Cost | None = None

    @property
    def inherited(self) -> bool:
        return self.turn is None

    @property
    def messages(self) -> list[Message]:
        """Read when printed, so that `--turn 40` does not rebuild the other 39."""
        return self.turn.messages if self.turn is not None else list(self.inherited_messages)


def shown_turns(session: Session, costs: Mapping[int, Cost]) -> list[Shown]:
    """Every turn of the conversation by its position, the inherited ones of a fork first."""
    from definable_trace._diff import split_turns

    first = session.turns[0].index if session.turns else 1
    out: list[Shown] = []
    if first > 1:
        inherited = split_turns(session.history(before_turn=first))
        start = first - len(inherited)
        out = [Shown(start + i, None, tuple(messages)) for i, messages in enumerate(inherited)]
    out.extend(Shown(t.index, t, (), costs.get(t.index)) for t in session.turns)
    return out


def _metrics_line(metrics: Metrics | None) -> Text | None:
    if metrics is None:
        return None
    parts = [f"{tokens(metrics)} tok"]
    if metrics.cache_read_tokens:
        parts.append(f"{metrics.cache_read_tokens} cached")
    if metrics.reasoning_tokens:
        parts.append(f"{metrics.reasoning_tokens} reasoning")
    if metrics.duration is not None:
        parts.append(duration(metrics.duration))
    if metrics.time_to_first_token is not None:
        parts.append(f"ttft {duration(metrics.time_to_first_token)}")
    return Text(" · ".join(parts), style="dim")


def _call_line(call: dict[str, object]) -> str:
    function = call.get("function") or {}
    assert isinstance(function, dict)
    return f"→ {function.get('name')}({function.get('arguments') or ''})"


def _message_body(message: Message, full: bool) -> Text:
    body = Text()
    if message.reasoning_content:
        body.append("reasoning: ", style="dim bold")
        _append_folded(body, message.reasoning_content, "dim italic", full)
        body.append("\n")
    if message.content:
        _append_folded(body, message.content, "", full)
    elif not message.tool_calls:
        body.append("(no content recorded)", style="dim")
    for call in message.tool_calls or ():
        body.append("\n" if body else "")
        _append_folded(body, _call_line(call), "cyan", full)
    for media in message.media():
        where = media.url or media.filepath or media.file_id or media.mime_type or ""
        body.append_text(text(f"\n[{getattr(media, 'kind', 'media')}: {where}]", style="dim"))
    return body


def _message_panel(message: Message, tool_names: dict[str, str], full: bool) -> Panel:
    """One message: role, reasoning, content, tool calls, attachments; its usage in the border."""
    title = text(message.role, style=f"bold {_ROLE_STYLE.get(message.role, '')}")
    if message.role == "tool" and message.tool_call_id in tool_names:
        title.append_text(text(f" ← {tool_names[message.tool_call_id]}"))
    return Panel(
        _message_body(message, full),
        title=title,
        title_align="left",
        subtitle=_metrics_line(message.metrics),
        subtitle_align="right",
        border_style=_ROLE_STYLE.get(message.role, ""),
    )


def _messages_view(messages: Iterable[Message], full: bool) -> list[RenderableType]:
    messages = list(messages)
    names = {
        str(call.get("id")): str((call.get("function") or {}).get("name"))
        for m in messages
        for call in m.tool_calls or ()
    }
    return [_message_panel(m, names, full) for m in messages]


def _turn_summary(turn: Turn, cost: Cost | None) -> Text:
    parts = [plural(len(turn.model_calls), "model call")]
    if turn.tool_calls:
        parts.append(plural(len(turn.tool_calls), "tool call"))
    parts.append(token_kinds(turn.metrics))
    if cost is not None:
        parts.append(money(cost))
    parts.append(duration(turn.duration))
    return Text(" · ".join(parts), style="dim")


def _turn_block(shown: Shown, parent: str | None, full: bool) -> list[RenderableType]:
    turn = shown.turn
    if turn is None:
        head = text(f"Turn {shown.index} · inherited from {parent or 'the history passed in'}")
        return [Rule(head, align="left", style="dim"), *_messages_view(shown.messages, full)]
    models = sorted({c.response_model or c.request_model or "" for c in turn.model_calls} - {""})
    title = text(f"Turn {turn.index}" + (f" · {', '.join(models)}" if models else ""))
    block: list[RenderableType] = [Rule(title, align="left")]
    block.extend(_messages_view(shown.messages, full))
    if turn.error:
        block.append(text(f"error: {turn.error}", style="bold red"))
    if turn.unreplayable:  # the loader's reason: a replay or fork at this turn is refused
        block.append(text(f"not replayable: {turn.unreplayable}", style="yellow"))
    block.append(_turn_summary(turn, shown.cost))
    return block


def _session_header(session: Session, total: Cost, inherited: int) -> Text:
    """Who, when, how long; then the totals of what the session itself ran."""
    header = text(f"Session {session.id}", style="bold")
    facts = [
        f"agent {session.agent_name}" if session.agent_name else "",
        plural(len(session.turns), "turn") + (f" (+{inherited} inherited)" if inherited else ""),
        ", ".join(session.models),
        lineage_text(session),
    ]
    header.append_text(text("\n" + " · ".join(f for f in facts if f), style="dim"))
    when = f"started {iso(session.start)} · took {duration(session.duration)}"
    header.append_text(text(f"\n{when}", style="dim"))
    header.append_text(text(f"\ntotal {token_kinds(session.metrics)} · {money(total)}", "dim"))
    if session.stitched:
        header.append("\nstitched from spans without a session id (inferred)", style="yellow")
    elif session.inferred:
        header.append("\nno span named the session: its id is the trace id", style="yellow")
    if not session.has_content:
        header.append("\nrecorded without message content", style="yellow")
    return header


def transcript(
    session: Session,
    turns: Sequence[Shown],
    total: Cost,
    *,
    full: bool = False,
    everything: bool = True,
) -> Group:
    """The conversation: the system prompt (when showing it all), then each turn chosen."""
    first = session.turns[0].index if session.turns else 1
    inherited = max(first - 1, 0)  # turn numbers before its first own turn
    parts: list[RenderableType] = [_session_header(session, total, inherited)]
    if everything and session.turns:
        before = session.history(before_turn=session.turns[0].index)
        parts.extend(_messages_view([m for m in before if m.role == "system"], full))
    parent = session.lineage.parent_session if session.lineage else None
    for shown in turns:
        parts.extend(_turn_block(shown, parent, full))
    return Group(*parts)


# --- replays and forks --------------------------------------------------------------------------


def _clip(value: str | None, width: int = _CLIP) -> str:
    value = " ".join((value or "").split())
    return value if len(value) <= width else value[: width - 1] + "…"


def _side(view: TurnView | None) -> Text:
    if view is None:
        return Text("—", style="dim")
    out = text(_clip(view.content))
    for call in view.tool_calls:
        out.append_text(text(f"\n→ {_clip(f'{call.name}({call.arguments})', 48)}", "cyan"))
    return out


def _clipped(turn: TurnDiff) -> bool:
    texts = [v.content for v in (turn.a, turn.b) if v is not None]
    return any(_clip(t) != " ".join((t or "").split()) for t in texts)


def _side_tokens(view: TurnView | None) -> str:
    return f"{view.input_tokens}/{view.output_tokens}" if view is not None else "—"


def _comparison_table(turns: Sequence[TurnDiff], a: str, b: str, title: str) -> Table:
    """Turn by turn: each side's answer (clipped with …; `deftrace diff` shows all), tokens."""
    table = Table(title=text(title), title_justify="left", show_lines=True)
    table.add_column("turn", justify="right")
    table.add_column(text(a), ratio=1)
    table.add_column(text(b), ratio=1)
    table.add_column("in/out tok", justify="right")
    table.add_column("status")
    for turn in turns:
        label, style = _STATUS[turn.status]
        status = Text(label, style=style)
        for change in turn.changes:
            status.append(f"\n{change.field}", style="bold")
        tokens_cell = f"{_side_tokens(turn.a)}\n{_side_tokens(turn.b)}"
        table.add_row(str(turn.index), _side(turn.a), _side(turn.b), tokens_cell, status)
    return table


def replay_view(result: ReplayResult) -> RenderableType:
    """A finished replay or fork: the new session, its turn (a fork), the comparison."""
    mode = "from the recording" if result.recorded else "live"
    head = text(f"{result.kind} of {result.parent} → {result.session_id}", style="bold")
    head.append(f"  ({mode})", style="dim")
    parts: list[RenderableType] = [head]
    if result.kind == "fork":
        for turn in result.turns:
            parts.append(Rule(text(f"Turn {turn.index} · {turn.model}"), align="left"))
            parts.extend(_messages_view(turn.messages, full=True))
    title = "compared with the original (tokens in/out: original above, new below)"
    parts.append(_comparison_table(result.comparison, "original", result.kind, title))
    same = sum(1 for t in result.comparison if t.status == "same")
    summary = f"{plural(len(result.turns), 'turn')} run: {same} same, "
    summary += f"{len(result.comparison) - same} different"
    if result.skipped:
        summary += f"; recorded turns that failed, not re-run: {result.skipped}"
    if any(_clipped(t) for t in result.comparison):
        summary += " (answers above are cut at …; `deftrace diff` shows them whole)"
    parts.append(Text(summary))
    return Group(*parts)


def outcomes_view(outcomes: Sequence[ReplayOutcome]) -> RenderableType:
    """`replay --all`: one row per session."""
    table = Table(title="replays", title_justify="left")
    for name in ("session", "new session", "turns", "different", "result"):
        table.add_column(name, overflow="fold")
    for outcome in outcomes:
        result = outcome.result
        if result is None:
            table.add_row(text(outcome.session), "—", "—", "—", text(outcome.error, "red"))
            continue
        changed = sum(1 for t in result.comparison if t.status != "same")
        table.add_row(
            text(outcome.session),
            text(result.session_id),
            str(len(result.turns)),
            str(changed),
            Text("ok", style="green"),
        )
    failed = sum(1 for o in outcomes if o.error is not None)
    summary = Text(f"{len(outcomes) - failed} replayed, {failed} failed")
    return Group(table, summary)

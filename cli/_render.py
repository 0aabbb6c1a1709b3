"""Terminal renderings with rich: the sessions table and lineage tree, transcripts, diffs.

Functions return renderables and print nothing, so commands decide where output goes. User
text (message content, tool arguments, ids) always enters rich as `Text`, never as markup, so
a message containing "[bold]" is printed as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:
    from definable_trace import Message, Metrics, Session, Turn
    from definable_trace.replay import (
        ReplayOutcome,
        ReplayResult,
        SessionDiff,
        TurnDiff,
        TurnView,
    )

__all__ = [
    "diff_view",
    "outcomes_view",
    "replay_view",
    "sessions_view",
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


# --- small formats ------------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _tokens(metrics: Metrics) -> str:
    return f"{metrics.input_tokens} in / {metrics.output_tokens} out"


def _clip(text: str | None, width: int = _CLIP) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _lineage(session: Session, short: bool = False) -> str:
    """`fork of P @ turn N` or `replay of P`; `short` leaves the parent out, for a row drawn
    under it."""
    lineage = session.lineage
    if lineage is None:
        return ""
    parent = "" if short else f" of {lineage.parent_session}"
    if lineage.kind == "fork":
        return f"fork{parent} @ turn {lineage.turn}"
    return f"{lineage.kind}{parent}"


def _lineage_mark(session: Session) -> str:
    """The table's compact lineage cell (`fork @2`, `replay`); the tree below spells it out."""
    lineage = session.lineage
    if lineage is None:
        return ""
    return f"fork @{lineage.turn}" if lineage.kind == "fork" else lineage.kind


# --- sessions -----------------------------------------------------------------------------------


def _tree_order(sessions: Sequence[Session]) -> list[tuple[Session, int]]:
    """Sessions depth-first under their parents (when the parent is among them)."""
    ids = {s.id for s in sessions}
    children: dict[str, list[Session]] = {}
    roots: list[Session] = []
    for session in sessions:
        parent = session.lineage.parent_session if session.lineage else None
        if parent in ids and parent != session.id:
            children.setdefault(parent, []).append(session)
        else:
            roots.append(session)
    ordered: list[tuple[Session, int]] = []
    seen: set[str] = set()

    def walk(session: Session, depth: int) -> None:
        if session.id in seen:
            return
        seen.add(session.id)
        ordered.append((session, depth))
        for child in children.get(session.id, []):
            walk(child, depth + 1)

    for session in [*roots, *sessions]:  # sessions again: a lineage cycle still gets listed
        walk(session, 0)
    return ordered


def sessions_view(sessions: Sequence[Session]) -> RenderableType:
    """One row per session, forks indented under their parent; a lineage tree when any."""
    table = Table(
        title=_plural(len(sessions), "session"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("session", no_wrap=True, overflow="fold")  # folded if need be, never cut
    for name in ("turns", "msgs", "tokens"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("models", no_wrap=True)
    table.add_column("start", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("lineage", no_wrap=True)
    ordered = _tree_order(sessions)
    for session, depth in ordered:
        metrics = session.metrics
        table.add_row(
            Text(("  " * (depth - 1) + "└─ " if depth else "") + session.id),
            str(len(session.turns)),
            str(len(session.messages)),
            f"{metrics.input_tokens}/{metrics.output_tokens}",
            Text(", ".join(session.models)),
            session.start.astimezone().strftime("%m-%d %H:%M"),
            _duration(session.duration),
            Text(_lineage_mark(session)),
        )
    if not any(depth for _, depth in ordered):
        return table
    return Group(table, _lineage_tree(ordered))


def _lineage_tree(ordered: Sequence[tuple[Session, int]]) -> Tree:
    tree = Tree(Text("lineage", style="bold"))
    stack: list[Tree] = [tree]
    for index, (session, depth) in enumerate(ordered):
        has_children = index + 1 < len(ordered) and ordered[index + 1][1] > depth
        if depth == 0 and not has_children:
            continue  # a session with no relatives adds nothing to the tree
        del stack[depth + 1 :]
        label = Text(session.id, style="bold" if depth == 0 else "")
        if depth:
            label.append(f"  {_lineage(session)}", style="dim")
        stack.append(stack[depth].add(label))
    return tree


# --- transcripts --------------------------------------------------------------------------------


def _metrics_line(metrics: Metrics | None) -> Text | None:
    if metrics is None:
        return None
    parts = [f"{_tokens(metrics)} tok"]
    if metrics.duration is not None:
        parts.append(_duration(metrics.duration))
    if metrics.time_to_first_token is not None:
        parts.append(f"ttft {_duration(metrics.time_to_first_token)}")
    return Text(" · ".join(parts), style="dim")


def _call_line(call: dict[str, object]) -> str:
    function = call.get("function") or {}
    assert isinstance(function, dict)
    return f"→ {function.get('name')}({function.get('arguments') or ''})"


def _message_panel(message: Message, tool_names: dict[str, str]) -> Panel:
    """One message: role, content, tool calls, attachments; its usage in the border."""
    body = Text(message.content or "", style="" if message.content else "dim")
    if message.content is None and not message.tool_calls:
        body.append("(no content recorded)")
    for call in message.tool_calls or ():
        body.append(("\n" if body else "") + _call_line(call), style="cyan")
    for media in message.media():
        where = media.url or media.filepath or media.file_id or media.mime_type or ""
        body.append(f"\n[{getattr(media, 'kind', 'media')}: {where}]", style="dim")
    title = Text(message.role, style=f"bold {_ROLE_STYLE.get(message.role, '')}")
    if message.role == "tool" and message.tool_call_id in tool_names:
        title.append(f" ← {tool_names[message.tool_call_id]}")
    return Panel(
        body,
        title=title,
        title_align="left",
        subtitle=_metrics_line(message.metrics),
        subtitle_align="right",
        border_style=_ROLE_STYLE.get(message.role, ""),
    )


def _messages_view(messages: Iterable[Message]) -> list[RenderableType]:
    messages = list(messages)
    names = {
        str(call.get("id")): str((call.get("function") or {}).get("name"))
        for m in messages
        for call in m.tool_calls or ()
    }
    return [_message_panel(m, names) for m in messages]


def _turn_summary(turn: Turn) -> Text:
    parts = [
        f"turn {turn.index}",
        _plural(len(turn.model_calls), "model call"),
        _plural(len(turn.tool_calls), "tool call"),
        f"{_tokens(turn.metrics)} tokens",
        _duration(turn.duration),
    ]
    return Text(" · ".join(parts), style="dim")


def _turn_block(turn: Turn) -> list[RenderableType]:
    models = sorted({c.response_model or c.request_model or "" for c in turn.model_calls} - {""})
    title = f"Turn {turn.index}" + (f" · {', '.join(models)}" if models else "")
    block: list[RenderableType] = [Rule(Text(title), align="left"), *_messages_view(turn.messages)]
    if turn.error:
        block.append(Text(f"error: {turn.error}", style="bold red"))
    block.append(_turn_summary(turn))
    return block


def _session_header(session: Session) -> Text:
    header = Text(f"Session {session.id}", style="bold")
    facts = [
        f"agent {session.agent_name}" if session.agent_name else "",
        _plural(len(session.turns), "turn"),
        ", ".join(session.models),
        session.start.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        _duration(session.duration),
        _lineage(session),
    ]
    header.append("  " + " · ".join(f for f in facts if f), style="dim")
    if not session.has_content:
        header.append("\nrecorded without message content", style="yellow")
    return header


def transcript(session: Session, turn_index: int | None = None) -> Group:
    """The conversation: the system prompt, then each turn's messages and a summary line."""
    parts: list[RenderableType] = [_session_header(session)]
    turns = [t for t in session.turns if turn_index is None or t.index == turn_index]
    if turn_index is None and session.turns:
        parts.extend(_prelude(session, session.turns[0].index))
    for turn in turns:
        parts.extend(_turn_block(turn))
    return Group(*parts)


def _prelude(session: Session, first: int) -> list[RenderableType]:
    """What comes before the first turn: the system prompt; for a fork, the inherited turns."""
    before = session.history(before_turn=first)
    system = [m for m in before if m.role == "system"]
    out: list[RenderableType] = _messages_view(system)
    inherited = len(before) - len(system)
    if inherited:
        source = session.lineage.parent_session if session.lineage else "the history passed in"
        turns = "turn 1" if first == 2 else f"turns 1–{first - 1}"
        text = f"… {_plural(inherited, 'message')} of {turns} inherited from {source}"
        out.append(Text(text, style="dim italic"))
    return out


# --- comparisons --------------------------------------------------------------------------------


def _side(view: TurnView | None) -> Text:
    if view is None:
        return Text("—", style="dim")
    text = Text(_clip(view.content))
    for call in view.tool_calls:
        text.append(f"\n→ {_clip(f'{call.name}({call.arguments})', 48)}", style="cyan")
    return text


def _side_tokens(view: TurnView | None) -> str:
    return f"{view.input_tokens}/{view.output_tokens}" if view is not None else "—"


def _changes(turn: TurnDiff) -> Text:
    text = Text()
    for change in turn.changes:
        if text:
            text.append("\n")
        text.append(f"{change.field}", style="bold")
    return text


def _comparison_table(turns: Sequence[TurnDiff], a: str, b: str, title: str) -> Table:
    """Turn by turn: each side's answer and tool calls, tokens (in/out), what changed."""
    table = Table(title=Text(title), title_justify="left", show_lines=True)
    table.add_column("turn", justify="right")
    table.add_column(Text(a), ratio=1)
    table.add_column(Text(b), ratio=1)
    table.add_column("tokens", justify="right")
    table.add_column("status")
    for turn in turns:
        label, style = _STATUS[turn.status]
        status = Text(label, style=style)
        if turn.changes:
            status.append("\n")
            status.append_text(_changes(turn))
        tokens = f"{_side_tokens(turn.a)}\n{_side_tokens(turn.b)}"
        table.add_row(str(turn.index), _side(turn.a), _side(turn.b), tokens, status)
    return table


def diff_view(diff: SessionDiff) -> RenderableType:
    verdict = (
        Text("identical", style="green")
        if diff.identical
        else Text(f"first difference at turn {diff.first_difference}", style="yellow")
    )
    title = f"A = {diff.a}   B = {diff.b}"
    return Group(_comparison_table(diff.turns, "A", "B", title), verdict)


def replay_view(result: ReplayResult) -> RenderableType:
    """A finished replay or fork: the new session, its turn (a fork), the comparison."""
    mode = "from the recording" if result.recorded else "live"
    head = Text(f"{result.kind} of {result.parent} → {result.session_id}", style="bold")
    head.append(f"  ({mode})", style="dim")
    parts: list[RenderableType] = [head]
    if result.kind == "fork":
        for turn in result.turns:
            parts.append(Rule(Text(f"Turn {turn.index} · {turn.model}"), align="left"))
            parts.extend(_messages_view(turn.messages))
    title = "compared with the original (tokens in/out: original above, new below)"
    parts.append(_comparison_table(result.comparison, "original", result.kind, title))
    same = sum(1 for t in result.comparison if t.status == "same")
    summary = f"{_plural(len(result.turns), 'turn')} run: {same} same, "
    summary += f"{len(result.comparison) - same} different"
    if result.skipped:
        summary += f"; recorded turns that failed, not re-run: {result.skipped}"
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
            table.add_row(Text(outcome.session), "—", "—", "—", Text(str(outcome.error), "red"))
            continue
        changed = sum(1 for t in result.comparison if t.status != "same")
        table.add_row(
            Text(outcome.session),
            Text(result.session_id),
            str(len(result.turns)),
            str(changed),
            Text("ok", style="green"),
        )
    failed = sum(1 for o in outcomes if o.error is not None)
    summary = Text(f"{len(outcomes) - failed} replayed, {failed} failed")
    return Group(table, summary)

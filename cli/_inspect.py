"""Read-only commands: `sessions`, `show`, `export`, `diff`. They never import the agent,
the `openai` SDK or the OpenTelemetry SDK.

Output follows where it goes: on a terminal, tables fitted to its width and `show` through a
pager; in a pipe, plain text (`sessions`: tab-separated rows with a header line); `--json`
everywhere. Trace content reaching a terminal is escaped (`_escape`); JSON is exact.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._common import console, emit_json, load, pick_session
from ._errors import UsageFailure
from ._options import files_argument, json_option, session_option
from ._select import SessionFilter, TimeSpec, TurnRange, TurnSpan, pick_turns, sort_sessions

if TYPE_CHECKING:
    from definable_trace import Message, Session
    from definable_trace._cost import Cost

__all__ = ["diff", "export", "sessions", "show"]


class _Money(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3 on
    name = "USD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self.fail(f"{value!r} is not an amount in USD (e.g. 0.01)", param, ctx)
        if not amount.is_finite() or amount < 0:
            self.fail(f"{value!r} is not an amount in USD (e.g. 0.01)", param, ctx)
        return amount


@click.command()
@files_argument
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Only sessions that used this model "
    "(exact or a glob such as 'gpt-4o*'; repeatable: any of them).",
)
@click.option(
    "--since",
    type=TimeSpec(),
    metavar="2d|ISO",
    help="Only sessions active since then (30m, 2h, 2d, 1w ago, or an ISO 8601 time).",
)
@click.option("--until", type=TimeSpec(), metavar="2d|ISO", help="Only sessions started by then.")
@click.option(
    "--grep", help="Only sessions whose messages contain TEXT (case-insensitive).", metavar="TEXT"
)
@click.option(
    "--min-cost",
    type=_Money(),
    help="Only sessions that cost at least this much "
    "(sessions of unpriced models have no known cost and are left out).",
)
@click.option(
    "--sort",
    "sort_key",
    type=click.Choice(["time", "cost"]),
    default="time",
    show_default=True,
    help="time: oldest first; cost: dearest first, unknown last.",
)
@json_option
def sessions(
    files: tuple[Path, ...],
    models: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    grep: str | None,
    min_cost: Decimal | None,
    sort_key: str,
    as_json: bool,
) -> None:
    """List the sessions in FILES: turns, messages, tokens, cost, models, start, lineage.

    On a terminal, a table fitted to its width (session ids are never cut: other columns are
    dropped first); in a pipe, tab-separated rows with a header line; --json for everything.
    """
    from definable_trace._cost import session_cost

    found = load(files).sessions
    costs = {s.id: session_cost(s) for s in found}
    where = SessionFilter(models, since, until, grep, min_cost)
    chosen = sort_sessions([s for s in found if where.keep(s, costs[s.id])], costs, sort_key)
    if as_json:
        from ._json import session_json

        emit_json([session_json(s, costs[s.id]) for s in chosen])
        return
    from ._pager import terminal_layout

    if not terminal_layout():
        from ._sessions_view import sessions_tsv

        click.echo(sessions_tsv(chosen, costs))
        return
    from ._sessions_view import sessions_view

    out = console()
    now = datetime.now(timezone.utc)
    tree = sort_key == "time"
    out.print(sessions_view(chosen, costs, out.width, now, of=len(found), tree=tree))


@click.command()
@files_argument
@session_option("Session id (optional when the files hold one).")
@click.option(
    "--turn",
    "span",
    type=TurnRange(),
    help="Only turn N, or turns A to B (e.g. --turn 3, --turn 2-5).",
)
@click.option("--last", type=click.IntRange(min=1), metavar="N", help="Only the last N turns.")
@click.option("--full", is_flag=True, help="Print long messages whole instead of folding them.")
@click.option(
    "--pager/--no-pager",
    default=True,
    show_default=True,
    help="Page through $PAGER (default less) when stdout is a terminal.",
)
@json_option
def show(
    files: tuple[Path, ...],
    session_id: str | None,
    span: TurnSpan | None,
    last: int | None,
    full: bool,
    pager: bool,
    as_json: bool,
) -> None:
    """Print a session as a transcript: messages, reasoning, tool calls, tokens, cost per turn.

    Turn numbers count from the start of the conversation: a fork's inherited turns are shown,
    marked as such, and are not counted in its tokens or cost.
    """
    from definable_trace._cost import sum_costs, turn_cost

    from ._render import shown_turns

    session = pick_session(load(files, session=session_id), session_id)
    costs = {t.index: turn_cost(t) for t in session.turns}
    every = shown_turns(session, costs)
    chosen = set(pick_turns(session.id, [t.index for t in every], span, last))
    selected = [t for t in every if t.index in chosen]
    total = sum_costs(costs.values())
    if as_json:
        from ._json import inherited_turn_json, session_json, turn_json

        turns = [
            turn_json(t.turn, t.cost)
            if t.turn is not None
            else inherited_turn_json(t.index, t.messages)
            for t in selected
        ]
        emit_json({"session": session_json(session, total), "turns": turns})
        return
    from ._pager import print_paged
    from ._render import transcript

    everything = span is None and last is None
    view = transcript(session, selected, total, full=full, everything=everything)
    print_paged(console(), view, pager)


@click.command()
@files_argument
@session_option("Session id (optional when the files hold one).")
@click.option(
    "--before-turn",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only the history before turn N (what turn N was sent; a fork's inherited turns count).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["definable", "openai", "text"]),
    default="definable",
    show_default=True,
    help="definable: Message list (loads back as messages=); openai: chat.completions messages; "
    "text: a plain transcript for reading (control characters escaped).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write to a file ('-': stdout, the default).",
)
@json_option
def export(
    files: tuple[Path, ...],
    session_id: str | None,
    before_turn: int | None,
    fmt: str,
    output: Path | None,
    as_json: bool,
) -> None:
    """Export a session's message history as JSON (or as plain text)."""
    session = pick_session(load(files, session=session_id), session_id)
    if not session.has_content:  # its messages are roles and usage only: not a history
        raise UsageFailure(f"session {session.id} was recorded without message content")
    try:
        messages = session.messages if before_turn is None else session.history(before_turn)
    except ValueError as exc:  # the loader's word for a turn the session does not have
        raise UsageFailure(f"--before-turn: {exc}") from exc
    data = _export_bytes(messages, fmt)
    if output is None or str(output) == "-":  # the export is JSON already: --json changes nothing
        click.echo(data.decode())
        return
    output.write_bytes(data + b"\n")
    if as_json:
        emit_json({"output": str(output), "format": fmt, "messages": len(messages)})
    else:
        from ._escape import safe

        click.echo(f"wrote {len(messages)} messages ({fmt}) to {safe(output)}")


def _export_bytes(messages: list[Message], fmt: str) -> bytes:
    import orjson

    from definable_trace._messages import MESSAGES_ADAPTER

    if fmt == "openai":
        from definable_trace._models._openai import to_openai_message

        payload = [to_openai_message(m) for m in messages]
        return orjson.dumps(payload, option=orjson.OPT_INDENT_2)
    if fmt == "text":
        return _plain_transcript(messages).encode()
    return MESSAGES_ADAPTER.dump_json(messages, indent=2, exclude_none=True)


def _plain_transcript(messages: list[Message]) -> str:
    """`[role]` then the text, tool calls as `→ name(arguments)`; every character escaped."""
    from ._escape import safe

    blocks = []
    for message in messages:
        lines = [
            f"[{message.role}]" + (f" ({message.tool_call_id})" if message.tool_call_id else "")
        ]
        if message.reasoning_content:
            lines.append(f"(reasoning) {message.reasoning_content}")
        if message.content:
            lines.append(message.content)
        for call in message.tool_calls or ():
            function = call.get("function") or {}
            lines.append(f"→ {function.get('name')}({function.get('arguments') or ''})")
        blocks.append(safe("\n".join(lines)))
    return "\n\n".join(blocks)


def _costs(session: Session) -> dict[int, Cost]:
    from definable_trace._cost import turn_cost

    return {t.index: turn_cost(t) for t in session.turns}


@click.command()
@files_argument
@session_option(
    "Give it twice: session A, then session B.", dest="session_ids", multiple=True, required=True
)
@click.option("--stat", is_flag=True, help="A summary per turn instead of the diffs.")
@json_option
@click.pass_context
def diff(
    ctx: click.Context,
    files: tuple[Path, ...],
    session_ids: tuple[str, ...],
    stat: bool,
    as_json: bool,
) -> None:
    """Compare two sessions turn by turn: inputs, answers, tool calls, models, as unified diffs.

    Exits 0 when they are the same, 1 when they differ (like diff(1)), 2 on bad input.
    Tokens and cost are shown but are never a difference. A fork's inherited turns are
    compared as its own.
    """
    if len(session_ids) != 2:
        raise UsageFailure(f"diff needs exactly two --session options, got {len(session_ids)}")
    from definable_trace._cost import sum_costs
    from definable_trace._diff import diff_sessions

    traces = load(files)
    a, b = traces.session(session_ids[0]), traces.session(session_ids[1])
    result = diff_sessions(a, b)
    costs_a, costs_b = _costs(a), _costs(b)
    totals = (sum_costs(costs_a.values()), sum_costs(costs_b.values()))
    if as_json:
        from ._json import diff_json

        emit_json(diff_json(result, costs_a, costs_b, totals))
    else:
        from ._diff_view import Costs, diff_view, stat_view

        costs = Costs(costs_a, costs_b, *totals)
        out = console()
        if stat:
            out.print(stat_view(result, costs, out.width))
        else:  # soft wrap: long diff lines stay one line each (a patch in a pipe, the
            out.print(diff_view(result, costs), soft_wrap=True)  # terminal wraps its own)
    ctx.exit(0 if result.identical else 1)

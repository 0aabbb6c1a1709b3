"""Read-only commands: `sessions`, `show`, `export`, `diff`. They never import the agent,
the `openai` SDK or the OpenTelemetry SDK."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._common import console, emit_json, load, pick_session
from ._errors import UsageFailure
from ._options import files_argument, json_option

if TYPE_CHECKING:
    from definable_trace import Message

__all__ = ["diff", "export", "sessions", "show"]


@click.command()
@files_argument
@json_option
def sessions(files: tuple[Path, ...], as_json: bool) -> None:
    """List the sessions in FILES: turns, messages, tokens, models, times, lineage."""
    traces = load(files)
    if as_json:
        from ._json import session_json

        emit_json([session_json(s) for s in traces.sessions])
        return
    from ._render import sessions_view

    console().print(sessions_view(traces.sessions))


@click.command()
@files_argument
@click.option("--session", "session_id", help="Session id (optional when the files hold one).")
@click.option("--turn", type=click.IntRange(min=1), help="Show only this turn.")
@json_option
def show(files: tuple[Path, ...], session_id: str | None, turn: int | None, as_json: bool) -> None:
    """Print a session as a transcript: messages, tool calls, tokens and timings per turn."""
    session = pick_session(load(files), session_id)
    if turn is not None and all(t.index != turn for t in session.turns):
        indexes = ", ".join(str(t.index) for t in session.turns) or "none"
        raise UsageFailure(f"session {session.id} has no turn {turn} (turns: {indexes})")
    if as_json:
        from ._json import session_json, turn_json

        turns = [turn_json(t) for t in session.turns if turn is None or t.index == turn]
        emit_json({"session": session_json(session), "turns": turns})
        return
    from ._render import transcript

    console().print(transcript(session, turn))


@click.command()
@files_argument
@click.option("--session", "session_id", required=True, help="Session id.")
@click.option(
    "--before-turn",
    type=click.IntRange(min=1),
    help="Only the history before this turn (what turn N was sent).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["definable", "openai"]),
    default="definable",
    show_default=True,
    help="definable: Message list (loads back as messages=); openai: chat.completions messages.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
@json_option
def export(
    files: tuple[Path, ...],
    session_id: str,
    before_turn: int | None,
    fmt: str,
    output: Path | None,
    as_json: bool,
) -> None:
    """Export a session's message history as JSON."""
    session = pick_session(load(files), session_id)
    if not session.has_content:  # its messages are roles and usage only: not a history
        raise UsageFailure(f"session {session.id} was recorded without message content")
    try:
        messages = session.messages if before_turn is None else session.history(before_turn)
    except ValueError as exc:  # the loader's word for a turn the session does not have
        raise UsageFailure(f"--before-turn: {exc}") from exc
    data = _export_bytes(messages, fmt)
    if output is None:  # the export is JSON already: --json changes nothing here
        click.echo(data.decode())
        return
    output.write_bytes(data + b"\n")
    if as_json:
        emit_json({"output": str(output), "format": fmt, "messages": len(messages)})
    else:
        click.echo(f"wrote {len(messages)} messages ({fmt}) to {output}")


def _export_bytes(messages: list[Message], fmt: str) -> bytes:
    import orjson

    from definable_trace._messages import MESSAGES_ADAPTER

    if fmt == "openai":
        from definable_trace._models._openai import to_openai_message

        payload = [to_openai_message(m) for m in messages]
        return orjson.dumps(payload, option=orjson.OPT_INDENT_2)
    return MESSAGES_ADAPTER.dump_json(messages, indent=2, exclude_none=True)


@click.command()
@files_argument
@click.option(
    "--session",
    "session_ids",
    multiple=True,
    required=True,
    help="Give it twice: session A, then session B.",
)
@json_option
def diff(files: tuple[Path, ...], session_ids: tuple[str, ...], as_json: bool) -> None:
    """Compare two sessions turn by turn (e.g. an original and its fork or replay)."""
    if len(session_ids) != 2:
        raise UsageFailure(f"diff needs exactly two --session options, got {len(session_ids)}")
    from definable_trace._diff import diff_sessions

    traces = load(files)
    result = diff_sessions(traces.session(session_ids[0]), traces.session(session_ids[1]))
    if as_json:
        from ._json import diff_json

        emit_json(diff_json(result))
        return
    from ._render import diff_view

    console().print(diff_view(result))

"""Commands that run the agent again: `replay` and `fork`.

They parse options, pick where the new spans go, call `definable_trace.replay` and render the
result; the replay logic itself is library code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._common import (
    console,
    emit_json,
    load,
    pick_session,
    resolve_trace_out,
    trace_files,
    tracing_to,
)
from ._errors import RunFailure, UsageFailure
from ._options import (
    files_argument,
    json_option,
    live_model_options,
    tools_option,
    trace_out_option,
)

if TYPE_CHECKING:
    from definable_trace import Session
    from definable_trace.replay import ReplayOptions, ReplayOutcome, ReplayResult, RunOptions

    Options = TypeVar("Options", bound=RunOptions)

__all__ = ["fork", "replay"]


@dataclass(frozen=True)
class _RunCommand:
    """What `replay` and `fork` share: the inputs, who answers (model, server, recording,
    tools), where the new spans go, and how the result is printed."""

    inputs: list[Path]
    model: str | None
    base_url: str | None
    recorded: bool
    tool_specs: tuple[str, ...]
    trace_out: Path | None
    as_json: bool
    short_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def options(self, kind: type[Options], **extra: Any) -> Options:
        """The library's options: these shared ones plus the command's own `extra`."""
        from definable_trace.replay import load_tools

        tools = tuple(load_tools(self.tool_specs))
        shared = {"model": self.model, "base_url": self.base_url, "recorded": self.recorded}
        return kind(**shared, tools=tools, tag=self.short_id, **extra)

    def spans_file(self, kind: str) -> Path:
        return resolve_trace_out(self.trace_out, self.inputs, kind, self.short_id)

    def announce(self, text: str) -> None:
        """A line before the run starts (on stderr under --json), so that a run that fails
        still said where its spans went."""
        click.echo(text, err=self.as_json)

    def report(self, result: ReplayResult, out: Path) -> None:
        if self.as_json:
            from ._json import replay_json

            emit_json(replay_json(result, str(out)))
        else:
            from ._render import replay_view

            console().print(replay_view(result))


recorded_option = click.option(
    "--recorded",
    is_flag=True,
    help="Answer from the recording: offline, no key; stops at the first differing request.",
)


@click.command()
@files_argument
@click.option("--session", "session_id", help="Session to replay (optional when only one).")
@live_model_options
@recorded_option
@click.option("--until-turn", type=click.IntRange(min=1), help="Replay turns up to this one.")
@click.option("--all", "replay_every", is_flag=True, help="Replay every session in FILES.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Sessions replayed at once with --all.",
)
@tools_option
@trace_out_option
@json_option
def replay(
    files: tuple[Path, ...],
    session_id: str | None,
    model: str | None,
    base_url: str | None,
    recorded: bool,
    until_turn: int | None,
    replay_every: bool,
    concurrency: int,
    tool_specs: tuple[str, ...],
    trace_out: Path | None,
    as_json: bool,
) -> None:
    """Re-run a session's recorded user turns in order and compare with the original."""
    if replay_every and session_id is not None:
        raise UsageFailure("--all replays every session: leave out --session")
    from definable_trace.replay import ReplayOptions

    inputs = trace_files(files)
    run = _RunCommand(inputs, model, base_url, recorded, tool_specs, trace_out, as_json)
    traces = load(inputs)
    options = run.options(ReplayOptions, until_turn=until_turn)
    if replay_every:
        _replay_all(run, traces.sessions, options, concurrency)
    else:
        _replay_one(run, pick_session(traces, session_id), options)


def _replay_one(run: _RunCommand, session: Session, options: ReplayOptions) -> None:
    from definable_trace.replay import new_session_id, replay

    out = run.spans_file("replay")
    mode = "from the recording" if options.recorded else "live"
    new_id = new_session_id(session.id, "replay", run.short_id)
    run.announce(f"replaying {session.id} {mode} as {new_id}; spans: {out}")
    with tracing_to(out):
        result = replay(session, options)
    run.report(result, out)


def _replay_all(
    run: _RunCommand, sessions: list[Session], options: ReplayOptions, concurrency: int
) -> None:
    from rich.progress import Progress

    from definable_trace.replay import replay_all

    out = run.spans_file("replay")
    run.announce(f"replaying {len(sessions)} sessions, {concurrency} at a time; spans: {out}")
    with tracing_to(out), Progress(console=console(stderr=True), transient=True) as progress:
        task = progress.add_task("replaying", total=len(sessions))

        def done(outcome: ReplayOutcome) -> None:
            progress.advance(task)

        outcomes = replay_all(sessions, options, concurrency=concurrency, on_done=done)
    _report_all(run, outcomes, out)


def _report_all(run: _RunCommand, outcomes: list[ReplayOutcome], out: Path) -> None:
    if run.as_json:
        from ._json import outcome_json

        emit_json(
            {"trace_out": str(out), "sessions": [outcome_json(o, str(out)) for o in outcomes]}
        )
    else:
        from ._render import outcomes_view

        console().print(outcomes_view(outcomes))
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        raise RunFailure(
            f"{len(failed)} of {len(outcomes)} replays failed; first: {failed[0].error}"
        )


@click.command()
@files_argument
@click.option("--session", "session_id", help="Session to fork (optional when only one).")
@click.option("--at", "at", type=click.IntRange(min=1), required=True, help="Turn to run anew.")
@click.option("--message", help="The new user message for turn N (default: the recorded one).")
@live_model_options
@click.option("--instructions", help="A new system prompt for the forked turn.")
@click.option("--session-id", "new_id", help="Id of the new session (default: <session>-fork-…).")
@recorded_option
@tools_option
@trace_out_option
@json_option
def fork(
    files: tuple[Path, ...],
    session_id: str | None,
    at: int,
    message: str | None,
    model: str | None,
    base_url: str | None,
    instructions: str | None,
    new_id: str | None,
    recorded: bool,
    tool_specs: tuple[str, ...],
    trace_out: Path | None,
    as_json: bool,
) -> None:
    """Keep turns 1..N-1 as recorded and run turn N (with --message, or as recorded)."""
    from definable_trace.replay import ForkOptions, fork, new_session_id

    inputs = trace_files(files)
    run = _RunCommand(inputs, model, base_url, recorded, tool_specs, trace_out, as_json)
    session = pick_session(load(inputs), session_id)
    new_id = new_id or new_session_id(session.id, "fork", run.short_id)
    options = run.options(
        ForkOptions, at=at, message=message, instructions=instructions, session_id=new_id
    )
    out = run.spans_file("fork")
    run.announce(f"forking {session.id} at turn {at} as {new_id}; spans: {out}")
    with tracing_to(out):
        result = fork(session, options)
    run.report(result, out)

"""Commands that run the agent again: `replay` and `fork`.

They parse and check options, pick where the new spans go, call `definable_trace.replay` and
render the result; the replay logic itself is library code. Everything that can be refused is
refused before the first request (exit 2) and before any file is created: the spans are staged
beside their destination and land there only once the run has ended (`staged_spans`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._common import (
    Inputs,
    console,
    done_with,
    emit_json,
    expand_inputs,
    load,
    pick_session,
    resolve_trace_out,
    staged_spans,
)
from ._errors import RunFailure, UsageFailure
from ._escape import safe
from ._options import (
    check_model_factory,
    files_argument,
    json_option,
    live_model_options,
    session_option,
    tools_option,
    trace_out_option,
    user_import,
    user_model_factory,
)
from ._stores import SourceInput, is_source, listed_sessions

if TYPE_CHECKING:
    from definable_trace import Session
    from definable_trace.model import Model
    from definable_trace.replay import ReplayOptions, ReplayOutcome, ReplayResult, RunOptions

    Options = TypeVar("Options", bound=RunOptions)

__all__ = ["fork", "replay"]

_PAGE = 50  # sessions of a store replayed per page: bounded memory, and concurrency kept busy


@dataclass(frozen=True)
class _RunCommand:
    """What `replay` and `fork` share: the inputs, who answers (model, server, recording,
    tools), where the new spans go, and how the result is printed."""

    inputs: Inputs
    model: str | None
    base_url: str | None
    timeout: float
    retries: int
    recorded: bool
    tool_specs: tuple[str, ...]
    trace_out: Path | None
    as_json: bool
    factory_spec: str | None = None
    short_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def options(self, kind: type[Options], **extra: Any) -> Options:
        """The library's options: these shared ones plus the command's own `extra`."""
        factory = None
        if not self.recorded:
            factory = user_model_factory(self.factory_spec) or self.live_model
        return kind(
            model=self.model,
            recorded=self.recorded,
            model_factory=factory,
            tools=_tools(self.tool_specs),
            tag=self.short_id,
            **extra,
        )

    def live_model(self, model_id: str) -> Model:
        """The model answering live turns: `OpenAIChat` with the command's server and limits."""
        from definable_trace import OpenAIChat

        return OpenAIChat(
            model_id, base_url=self.base_url, timeout=self.timeout, max_retries=self.retries
        )

    def spans_file(self, kind: str) -> Path:
        return resolve_trace_out(self.trace_out, self.inputs, kind, self.short_id)

    def announce(self, text: str) -> None:
        """A line before the run starts (on stderr under --json), so that a run that fails
        still said where its spans went. Escaped: it names session ids and paths, which a
        trace file or the command line may fill with escape sequences."""
        click.echo(safe(text), err=self.as_json)

    def report(self, result: ReplayResult, out: Path) -> None:
        if self.as_json:
            from ._json import replay_json

            emit_json(replay_json(result, str(out)))
        else:
            from ._render import replay_view

            console().print(replay_view(result))
            self.hint(out)

    def hint(self, out: Path) -> None:
        """How to see the new session beside the original (the runs directory is out of the
        way on purpose, so say where it is)."""
        import shlex

        sources = [str(f) for f in self.inputs.paths]
        if sources and out.exists():
            files = " ".join(shlex.quote(f) for f in [*sources[:3], str(out)])
            click.echo(f"see it beside the original: deftrace sessions {safe(files)}", err=True)


def _tools(specs: tuple[str, ...]) -> tuple[Any, ...]:
    """`--tools` imported; any failure of the user's module is one line and exit 2."""
    from definable_trace.replay import load_tools

    tools: list[Any] = []
    for spec in specs:
        tools.extend(user_import("--tools", spec, lambda one: load_tools([one])))
    return tuple(tools)


def _check_recorded(ctx: click.Context, recorded: bool) -> None:
    """`--recorded` answers from the file: options about a live model would be ignored."""
    if not recorded:
        check_model_factory(ctx)
        return
    for name, flag in _LIVE_FLAGS.items():
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            raise UsageFailure(f"--recorded answers from the recording: {flag} does not apply")


_LIVE_FLAGS = {
    "model": "--model",
    "base_url": "--base-url",
    "timeout": "--timeout",
    "retries": "--retries",
    "factory_spec": "--model-factory",
}


recorded_option = click.option(
    "--recorded",
    is_flag=True,
    help="Answer from the recording: offline, no key; stops at the first differing request.",
)


@click.command()
@files_argument
@session_option("Session to replay (optional when only one).")
@live_model_options()
@recorded_option
@click.option(
    "--until-turn", type=click.IntRange(min=1), metavar="N", help="Replay turns up to this one."
)
@click.option("--all", "replay_every", is_flag=True, help="Replay every session in FILES.")
@click.option(
    "--include-replays",
    is_flag=True,
    help="With --all, replay sessions that are themselves replays too (skipped by default).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    metavar="N",
    default=4,
    show_default=True,
    help="Sessions replayed at once with --all.",
)
@click.option(
    "--page-size",
    type=click.IntRange(min=1),
    metavar="N",
    default=_PAGE,
    show_default=True,
    help="With --all over trace stores: sessions fetched, replayed and let go at a time.",
)
@tools_option
@trace_out_option
@json_option
@click.pass_context
def replay(
    ctx: click.Context,
    files: tuple[str, ...],
    session_id: str | None,
    model: str | None,
    base_url: str | None,
    timeout: float,
    retries: int,
    recorded: bool,
    until_turn: int | None,
    replay_every: bool,
    include_replays: bool,
    concurrency: int,
    page_size: int,
    tool_specs: tuple[str, ...],
    trace_out: Path | None,
    as_json: bool,
    factory_spec: str | None,
) -> None:
    """Re-run a session's recorded user turns in order and compare with the original.

    New spans go to --trace-out, else DEFINABLE_TRACE_FILE when set, else a new file under
    $XDG_DATA_HOME/definable-trace/runs/; the input files are never written.
    """
    if replay_every and session_id is not None:
        raise UsageFailure("--all replays every session: leave out --session")
    _check_recorded(ctx, recorded)
    from definable_trace.replay import ReplayOptions

    inputs = expand_inputs(files)
    run = _RunCommand(
        inputs, model, base_url, timeout, retries, recorded, tool_specs, trace_out, as_json,
        factory_spec,
    )  # fmt: skip
    if replay_every and all(is_source(f) for f in inputs.files):
        stores = [f for f in inputs.files if isinstance(f, SourceInput)]
        pages = _Pages(inputs, listed_sessions(stores), page_size, include_replays, until_turn)
        _replay_pages(run, pages, run.options(ReplayOptions, until_turn=until_turn), concurrency)
        return
    traces = load(inputs, session=None if replay_every else session_id)
    if replay_every:
        sessions = _replayable(traces.sessions, include_replays)
        _check_until_turn(sessions, until_turn)
        _replay_all(run, sessions, run.options(ReplayOptions, until_turn=until_turn), concurrency)
    else:
        session = pick_session(traces, session_id)
        _check_until_turn([session], until_turn)
        _replay_one(run, session, run.options(ReplayOptions, until_turn=until_turn))


def _replayable(sessions: list[Session], include_replays: bool) -> list[Session]:
    """`--all`'s sessions: replays of replays only when asked (each run would add more)."""
    kept = _not_replays(sessions, include_replays)
    _say_skipped(len(sessions) - len(kept), len(kept))
    return kept


def _not_replays(sessions: list[Session], include_replays: bool) -> list[Session]:
    if include_replays:
        return sessions
    return [s for s in sessions if s.lineage is None or s.lineage.kind != "replay"]


def _say_skipped(skipped: int, kept: int) -> None:
    if skipped:
        click.echo(f"skipping {skipped} sessions that are replays (--include-replays)", err=True)
    if skipped and not kept:
        raise UsageFailure("every session in the files is a replay: pass --include-replays")


@dataclass
class _Pages:
    """`replay --all` over trace stores: the sessions they list, fetched `size` at a time."""

    inputs: Inputs
    ids: list[str]
    size: int
    include_replays: bool
    until_turn: int | None
    skipped: int = 0
    longest: int = 0  # the last turn of the longest session seen, for --until-turn's note

    def __iter__(self) -> Iterator[tuple[int, list[Session]]]:
        """(sessions listed so far, the replayable sessions of the page), page by page; each
        page's `TraceSet` is let go (its late warnings printed) once the next is asked for."""
        for start in range(0, len(self.ids), self.size):
            page = self.ids[start : start + self.size]
            traces = load(self.inputs, page=page)
            kept = _not_replays(traces.sessions, self.include_replays)
            self.skipped += len(traces.sessions) - len(kept)
            self.longest = max([self.longest, *(s.turns[-1].index for s in kept if s.turns)])
            yield start + len(page), kept
            done_with(traces)

    def finish(self, replayed: int) -> None:
        """What could only be said once every page was read."""
        _say_skipped(self.skipped, replayed)
        if self.until_turn is not None and self.until_turn > self.longest:
            click.echo(
                f"warning: --until-turn {self.until_turn}: no session has that turn "
                f"(the longest ends at turn {self.longest}); they were replayed whole",
                err=True,
            )


def _check_until_turn(sessions: list[Session], until_turn: int | None) -> None:
    """`--until-turn N` past the end is refused, as show/export/fork refuse a missing turn."""
    if until_turn is None or not sessions:
        return
    last = max((s.turns[-1].index for s in sessions if s.turns), default=0)
    if until_turn > last:
        which = f"session {sessions[0].id} has" if len(sessions) == 1 else "the sessions have"
        raise UsageFailure(f"--until-turn {until_turn}: {which} turns 1..{last}")


def _replay_one(run: _RunCommand, session: Session, options: ReplayOptions) -> None:
    from definable_trace.replay import new_session_id, replay

    out = run.spans_file("replay")
    mode = "from the recording" if options.recorded else "live"
    new_id = new_session_id(session.id, "replay", run.short_id)
    run.announce(f"replaying {session.id} {mode} as {new_id}; spans: {out}")
    with staged_spans(out):
        result = replay(session, options)
    run.report(result, out)


def _replay_all(
    run: _RunCommand, sessions: list[Session], options: ReplayOptions, concurrency: int
) -> None:
    from rich.progress import Progress

    from definable_trace.replay import replay_all

    out = run.spans_file("replay")
    run.announce(f"replaying {len(sessions)} sessions, {concurrency} at a time; spans: {out}")
    with staged_spans(out), Progress(console=console(stderr=True), transient=True) as progress:
        task = progress.add_task("replaying", total=len(sessions))

        def done(outcome: ReplayOutcome) -> None:
            progress.advance(task)

        outcomes = replay_all(sessions, options, concurrency=concurrency, on_done=done)
    _report_all(run, outcomes, out)


def _replay_pages(
    run: _RunCommand, pages: _Pages, options: ReplayOptions, concurrency: int
) -> None:
    """`replay --all` of trace stores, a page at a time: each page of sessions is fetched,
    replayed `concurrency` at once, and let go before the next is fetched, so memory follows
    the page, not the window. Every page's spans go to the one staged file."""
    from rich.progress import Progress

    from definable_trace.replay import replay_all

    if not pages.ids:
        raise UsageFailure(
            "the stores list no session in the time window: widen it with --since/--until"
        )
    out = run.spans_file("replay")
    run.announce(
        f"replaying the {len(pages.ids)} sessions of the window, {pages.size} fetched at a "
        f"time, {concurrency} at once; spans: {out}"
    )
    outcomes: list[ReplayOutcome] = []
    with staged_spans(out), Progress(console=console(stderr=True), transient=True) as progress:
        task = progress.add_task("replaying", total=len(pages.ids))

        def done(outcome: ReplayOutcome) -> None:
            progress.advance(task)

        for listed, sessions in pages:
            outcomes.extend(replay_all(sessions, options, concurrency=concurrency, on_done=done))
            progress.update(task, completed=listed)  # skipped replays count as done
    pages.finish(len(outcomes))
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
        run.hint(out)
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        raise RunFailure(
            f"{len(failed)} of {len(outcomes)} replays failed; first: {failed[0].error}"
        )


@click.command()
@files_argument
@session_option("Session to fork (optional when only one).")
@click.option(
    "--at", "at", type=click.IntRange(min=1), metavar="N", required=True, help="Turn to run anew."
)
@click.option("--message", help="The new user message for turn N (default: the recorded one).")
@live_model_options()
@click.option("--instructions", help="A new system prompt for the forked turn.")
@click.option(
    "--session-id",
    "new_id",
    help="Id of the new session (default: <session>-fork-…); not an id the files hold.",
)
@recorded_option
@tools_option
@trace_out_option
@json_option
@click.pass_context
def fork(
    ctx: click.Context,
    files: tuple[str, ...],
    session_id: str | None,
    at: int,
    message: str | None,
    model: str | None,
    base_url: str | None,
    timeout: float,
    retries: int,
    instructions: str | None,
    new_id: str | None,
    recorded: bool,
    tool_specs: tuple[str, ...],
    trace_out: Path | None,
    as_json: bool,
    factory_spec: str | None,
) -> None:
    """Keep turns 1..N-1 as recorded and run turn N (with --message, or as recorded).

    New spans go to --trace-out, else DEFINABLE_TRACE_FILE when set, else a new file under
    $XDG_DATA_HOME/definable-trace/runs/; the input files are never written.
    """
    _check_recorded(ctx, recorded)
    from definable_trace.replay import ForkOptions, fork, new_session_id

    inputs = expand_inputs(files)
    run = _RunCommand(
        inputs, model, base_url, timeout, retries, recorded, tool_specs, trace_out, as_json,
        factory_spec,
    )  # fmt: skip
    # A fork under its own --session-id is checked against every session of the files: only
    # without it is reading the one session enough.
    traces = load(inputs, session=session_id if new_id is None else None)
    session = pick_session(traces, session_id)
    _check_fork(session, at, new_id, [s.id for s in traces.sessions])
    new_id = new_id or new_session_id(session.id, "fork", run.short_id)
    options = run.options(
        ForkOptions, at=at, message=message, instructions=instructions, session_id=new_id
    )
    out = run.spans_file("fork")
    run.announce(f"forking {session.id} at turn {at} as {new_id}; spans: {out}")
    with staged_spans(out):
        result = fork(session, options)
    run.report(result, out)


def _check_fork(session: Session, at: int, new_id: str | None, known: list[str]) -> None:
    """A fork under an id the files already hold would be read back merged into that session
    (its parent's tokens grow, the lineage is gone): refused."""
    if new_id is not None and new_id == session.id:
        raise UsageFailure(f"--session-id {new_id}: a fork needs an id other than its parent's")
    if new_id is not None and new_id in known:
        raise UsageFailure(f"--session-id {new_id}: the files already hold a session so named")
    last = session.turns[-1].index if session.turns else 0
    if session.turns and at > last + 1:
        raise UsageFailure(
            f"--at {at}: session {session.id} has turns 1..{last} (--at {last + 1} continues it)"
        )

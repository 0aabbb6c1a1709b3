"""`deftrace chat`: the seed's interactive conversation loop, traced, optionally resuming a
recorded session.

Each line read is one turn; the answer streams as it comes. `quit`, `exit` or end of input
stops. Resuming continues the recorded session under its own id (its turns go on from N+1),
or, with `--session-id`, starts a fork of it at turn N+1.

The key and the server are checked before the first prompt (one GET /models). A turn that
fails is reported, marked failed in the trace (its spans end with an error status) and left
out of the history; the conversation goes on. Ctrl-C ends the open turn's spans, flushes them
and exits 130.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._common import Inputs, emit_json, load, resolve_trace_out, tracing_to
from ._errors import RunFailure, UsageFailure, translate
from ._escape import safe
from ._options import (
    check_model_factory,
    json_option,
    live_model_options,
    session_option,
    user_model_factory,
)

if TYPE_CHECKING:
    from definable_trace import Agent, DefinableTraceError, Message, OpenAIChat, RunOutput, Session
    from definable_trace.model import Model

__all__ = ["chat"]

_DEFAULT_MODEL = "gpt-4o"
_DEFAULT_INSTRUCTIONS = "You are a helpful assistant."
_QUIT = {"quit", "exit"}


@dataclass
class _Conversation:
    """The running chat: the history so far, its session id and what every span carries."""

    agent: Agent
    session_id: str
    messages: list[Message]
    attributes: dict[str, str | int | float | bool]
    as_json: bool
    turns: int = 0
    failed: int = 0

    def turn(self, text: str) -> None:
        """One turn; a failure is reported and the conversation goes on without it."""
        from definable_trace import DefinableTraceError

        self.turns += 1
        try:
            self._stream(text)
        except DefinableTraceError as exc:
            self.failed += 1
            self._report_failure(text, exc)

    def _stream(self, text: str) -> None:
        from definable_trace.agent import RunCompleted, RunContent

        if not self.as_json:
            click.echo("Agent: ", nl=False)
        events = self.agent.run_stream(
            text,
            messages=self.messages,
            session_id=self.session_id,
            trace_attributes=self.attributes,
        )
        streamed = False
        try:
            for event in events:
                if isinstance(event, RunContent) and event.content and not self.as_json:
                    click.echo(safe(event.content), nl=False)  # the model's words: untrusted
                    streamed = True
                elif isinstance(event, RunCompleted):
                    self.messages = event.output.messages
                    if self.as_json:
                        emit_json(_turn_json(event.output, text), line=True)
                    elif not streamed and event.output.content:  # a model that sent no deltas
                        click.echo(safe(event.output.content), nl=False)
        finally:
            # Closing the stream on any exit (Ctrl-C while printing included) ends its spans.
            close = getattr(events, "close", None)
            if close is not None:
                close()
        if not self.as_json:
            click.echo()

    def _report_failure(self, text: str, exc: DefinableTraceError) -> None:
        message = translate(exc).message
        if self.as_json:
            emit_json({"session_id": self.session_id, "input": text, "error": message}, line=True)
        else:
            click.echo()
            click.echo(
                f"Error: turn failed (marked failed in the trace): {safe(message)}", err=True
            )


def _turn_json(output: RunOutput, text: str) -> dict[str, object]:
    return {
        "session_id": output.session_id,
        "run_id": output.run_id,
        "input": text,
        "content": output.content,
    }


@click.command()
@live_model_options(
    model_help=f"Model id (default: {_DEFAULT_MODEL}; with --resume, the session's last model)."
)
@click.option("--instructions", help=f"System prompt (default: {_DEFAULT_INSTRUCTIONS!r}).")
@click.option("--session-id", "session_id", help="Session id of the conversation.")
@click.option(
    "--resume",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trace file holding the session to continue (with --session).",
)
@session_option("The recorded session to continue.", dest="resume_id")
@click.option(
    "--trace-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=(
        "File the spans are appended to (default: DEFINABLE_TRACE_FILE, else "
        "$XDG_DATA_HOME/definable-trace/traces.jsonl; with --resume, a new file under "
        "$XDG_DATA_HOME/definable-trace/runs/)."
    ),
)
@json_option
def chat(
    model: str | None,
    base_url: str | None,
    timeout: float,
    retries: int,
    factory_spec: str | None,
    instructions: str | None,
    session_id: str | None,
    resume: Path | None,
    resume_id: str | None,
    trace_out: Path | None,
    as_json: bool,
) -> None:
    """Chat with a model, one line per turn, every turn traced.

    The key and the server are checked before the first prompt. A failed turn is reported and
    marked failed in the trace; the chat goes on (exit 1 at the end if any turn failed).
    """
    if resume_id is not None and resume is None:
        raise UsageFailure("--session names the session to resume: give --resume FILE too")
    from definable_trace import Agent, OpenAIChat

    past = _resumed(resume, resume_id) if resume is not None else None
    chosen = model or (_last_model(past) if past is not None else _DEFAULT_MODEL)
    check_model_factory(click.get_current_context())
    factory = user_model_factory(factory_spec)
    if factory is not None:
        from definable_trace import Model as ModelBase

        made = factory(chosen)
        if not isinstance(made, ModelBase):
            raise UsageFailure(
                f"--model-factory {factory_spec!r} returned {type(made).__name__}, not a Model"
            )
        llm: Model = made
    else:
        llm = OpenAIChat(chosen, base_url=base_url, timeout=timeout, max_retries=retries)
    out = _spans_file(trace_out, resume)
    if isinstance(llm, OpenAIChat):  # a user's model has no standard way to be checked
        _check(llm)
    if past is not None:
        conversation = _resume(Agent(llm, instructions), past, session_id, as_json)
    else:
        agent = Agent(llm, instructions or _DEFAULT_INSTRUCTIONS)
        conversation = _Conversation(agent, session_id or uuid.uuid4().hex, [], {}, as_json)
    with _chat_spans(out) as written:
        if not as_json:
            where = f"session {conversation.session_id}; spans: {written}"
            click.echo(f"{safe(where)}; 'quit' ends")
        _loop(conversation)
    if conversation.failed:
        raise RunFailure(f"{conversation.failed} of {conversation.turns} turns failed")


def _spans_file(trace_out: Path | None, resume: Path | None) -> Path | None:
    """`--trace-out`, checked writable now; a resumed chat's own file; else the default."""
    from ._common import check_writable

    if resume is not None:
        inputs = Inputs([resume])
        return resolve_trace_out(trace_out, inputs, "chat", uuid.uuid4().hex[:8])
    if trace_out is not None:
        check_writable(trace_out)
    return trace_out


def _check(llm: OpenAIChat) -> None:
    """Key and server, before the first prompt: refused credentials are configuration (2)."""
    from definable_trace import ModelAuthenticationError, ModelError

    try:
        llm.check()
    except ModelAuthenticationError as exc:
        raise UsageFailure(translate(exc).message) from exc
    except ModelError as exc:
        raise translate(exc) from exc


@contextmanager
def _chat_spans(path: Path | None) -> Generator[Path | None, None, None]:
    """Where the chat's spans go (`tracing_to`), and no empty file left behind when the chat
    ended before its first turn (the file exporter creates its file when configured)."""
    from opentelemetry.trace import NoOpTracerProvider

    from definable_trace import configure_tracing

    written: Path | None = None
    empty_before = False
    try:
        with tracing_to(path) as written:
            empty_before = written is not None and written.stat().st_size == 0
            yield written
    finally:
        configure_tracing(tracer_provider=NoOpTracerProvider())  # closes the file
        if empty_before and written is not None and written.stat().st_size == 0:
            written.unlink()


def _resumed(path: Path, session_id: str | None) -> Session:
    from ._common import pick_session

    return pick_session(load([path], session=session_id), session_id)  # its lines only


def _last_model(session: Session) -> str:
    return session.models[-1] if session.models else _DEFAULT_MODEL


def _resume(agent: Agent, past: Session, new_id: str | None, as_json: bool) -> _Conversation:
    """Continue `past`: under its own id, or as a fork at the next turn under `new_id`."""
    from definable_trace._replay import LINEAGE_KIND, LINEAGE_PARENT, LINEAGE_TURN

    attributes: dict[str, str | int | float | bool] = {}
    if new_id is not None and new_id != past.id:
        next_turn = past.turns[-1].index + 1 if past.turns else 1
        attributes = {LINEAGE_KIND: "fork", LINEAGE_PARENT: past.id, LINEAGE_TURN: next_turn}
    return _Conversation(agent, new_id or past.id, list(past.messages), attributes, as_json)


def _loop(conversation: _Conversation) -> None:
    while True:
        if not conversation.as_json:
            click.echo("You: ", nl=False)
        line = sys.stdin.readline()
        if not line:  # end of input
            if not conversation.as_json:
                click.echo()
            return
        text = line.strip()
        if text.lower() in _QUIT:
            return
        if text:
            conversation.turn(text)

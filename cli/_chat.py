"""`deftrace chat`: the seed's interactive conversation loop, traced, optionally resuming a
recorded session.

Each line read is one turn; the answer streams as it comes. `quit`, `exit` or end of input
stops. Resuming continues the recorded session under its own id (its turns go on from N+1),
or, with `--session-id`, starts a fork of it at turn N+1.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._common import emit_json, load, resolve_trace_out, tracing_to
from ._errors import UsageFailure
from ._options import json_option, live_model_options, trace_out_option

if TYPE_CHECKING:
    from definable_trace import Agent, Message, RunOutput, Session

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
    attributes: dict[str, str | int]
    as_json: bool

    def turn(self, text: str) -> None:
        from definable_trace.agent import RunCompleted, RunContent

        if not self.as_json:
            click.echo("Agent: ", nl=False)
        events = self.agent.run_stream(
            text,
            messages=self.messages,
            session_id=self.session_id,
            trace_attributes=self.attributes,
        )
        for event in events:
            if isinstance(event, RunContent) and event.content and not self.as_json:
                click.echo(event.content, nl=False)
            elif isinstance(event, RunCompleted):
                self.messages = event.output.messages
                if self.as_json:
                    emit_json(_turn_json(event.output, text), line=True)
        if not self.as_json:
            click.echo()


def _turn_json(output: RunOutput, text: str) -> dict[str, object]:
    return {
        "session_id": output.session_id,
        "run_id": output.run_id,
        "input": text,
        "content": output.content,
    }


@click.command()
@live_model_options
@click.option("--instructions", help=f"System prompt (default: {_DEFAULT_INSTRUCTIONS!r}).")
@click.option("--session-id", "session_id", help="Session id of the conversation.")
@click.option(
    "--resume",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trace file holding the session to continue (with --session).",
)
@click.option("--session", "resume_id", help="The recorded session to continue.")
@trace_out_option
@json_option
def chat(
    model: str | None,
    base_url: str | None,
    instructions: str | None,
    session_id: str | None,
    resume: Path | None,
    resume_id: str | None,
    trace_out: Path | None,
    as_json: bool,
) -> None:
    """Chat with a model, one line per turn, every turn traced."""
    if resume_id is not None and resume is None:
        raise UsageFailure("--session names the session to resume: give --resume FILE too")
    from definable_trace import Agent, OpenAIChat

    conversation: _Conversation
    if resume is not None:
        past = _resumed(resume, resume_id)
        out: Path | None = resolve_trace_out(trace_out, [resume], "chat", uuid.uuid4().hex[:8])
        agent = Agent(OpenAIChat(model or _last_model(past), base_url=base_url), instructions)
        conversation = _resume(agent, past, session_id, as_json)
    else:
        out = trace_out
        agent = Agent(
            OpenAIChat(model or _DEFAULT_MODEL, base_url=base_url),
            instructions or _DEFAULT_INSTRUCTIONS,
        )
        new_id = session_id or uuid.uuid4().hex
        conversation = _Conversation(agent, new_id, [], {}, as_json)
    with tracing_to(out) as written:
        if not as_json:
            click.echo(f"session {conversation.session_id}; spans: {written}; 'quit' ends")
        _loop(conversation)


def _resumed(path: Path, session_id: str | None) -> Session:
    from ._common import pick_session

    return pick_session(load([path]), session_id)


def _last_model(session: Session) -> str:
    return session.models[-1] if session.models else _DEFAULT_MODEL


def _resume(agent: Agent, past: Session, new_id: str | None, as_json: bool) -> _Conversation:
    """Continue `past`: under its own id, or as a fork at the next turn under `new_id`."""
    from definable_trace._replay import LINEAGE_KIND, LINEAGE_PARENT, LINEAGE_TURN

    attributes: dict[str, str | int] = {}
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

"""`deftrace chat`: the seed's loop on stdin, traced; `--resume` continues a recorded session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner, Result
from deftrace_cli._app import cli

from definable_trace import load_traces
from definable_trace.testing import FakeOpenAIServer
from definable_trace.testing._server import RecordedRequest

TUTOR = Path(__file__).resolve().parent.parent / "sample_traces" / "math_tutor.jsonl"


def deftrace(*args: object, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def chat_requests(server: FakeOpenAIServer) -> list[RecordedRequest]:
    """The chat completions sent (the check before the first prompt is a GET /models)."""
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


def test_chat_streams_answers_and_traces_each_turn(
    tmp_path: Path, server: FakeOpenAIServer
) -> None:
    out = tmp_path / "chat.jsonl"
    args = ("chat", "--base-url", server.base_url, "--session-id", "c1", "--trace-out", out)
    result = deftrace(*args, input="Hello there\nHow are you?\nquit\n")
    assert result.exit_code == 0, result.output
    assert "Agent: You said: Hello there" in result.stdout
    assert "Agent: You said: How are you?" in result.stdout
    assert f"spans: {out}" in result.stdout
    assert all(r.body.get("stream") is True for r in chat_requests(server))
    session = load_traces(out).session("c1")
    assert [t.input.content for t in session.turns if t.input] == ["Hello there", "How are you?"]
    assert session.messages[0].content == "You are a helpful assistant."


def test_chat_json_prints_one_line_per_turn(tmp_path: Path, server: FakeOpenAIServer) -> None:
    out = tmp_path / "chat.jsonl"
    args = ("chat", "--json", "--base-url", server.base_url, "--model", "m1", "--trace-out", out)
    result = deftrace(*args, input="one\ntwo\n")  # end of input ends the chat too
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d["input"], d["content"]) for d in lines] == [
        ("one", "You said: one"),
        ("two", "You said: two"),
    ]
    assert lines[0]["session_id"] == lines[1]["session_id"]
    assert {r.body["model"] for r in chat_requests(server)} == {"m1"}


def test_chat_resume_continues_the_recorded_session(
    tmp_path: Path, server: FakeOpenAIServer
) -> None:
    source = tmp_path / "math_tutor.jsonl"
    shutil.copy(TUTOR, source)
    args = ("chat", "--resume", source, "--session", "math-tutor", "--base-url", server.base_url)
    result = deftrace(*args, input="And times 2?\n")
    assert result.exit_code == 0, result.output
    sent = chat_requests(server)[0].body["messages"]
    assert len(sent) == 10 and sent[4]["content"] == "345 / 5 = 69"
    [out] = (tmp_path / "definable-trace" / "runs").glob("math_tutor.chat-*.jsonl")
    whole = load_traces(source, out).session("math-tutor")
    assert [t.index for t in whole.turns] == [1, 2, 3, 4, 5]
    assert whole.turns[-1].messages[-1].content == "You said: And times 2?"


def test_chat_resume_under_a_new_id_is_a_fork(tmp_path: Path, server: FakeOpenAIServer) -> None:
    source = tmp_path / "math_tutor.jsonl"
    shutil.copy(TUTOR, source)
    out = tmp_path / "new.jsonl"
    args = ("chat", "--resume", source, "--session-id", "tutor-2", "--trace-out", out)
    result = deftrace(*args, "--base-url", server.base_url, input="More?\n")
    assert result.exit_code == 0, result.output
    forked = load_traces(out).session("tutor-2")
    assert forked.lineage is not None
    assert (forked.lineage.kind, forked.lineage.parent_session, forked.lineage.turn) == (
        "fork",
        "math-tutor",
        5,
    )


def test_chat_session_without_resume_is_a_usage_error() -> None:
    result = deftrace("chat", "--session", "x", input="")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --session names the session to resume: give --resume FILE too"
    )

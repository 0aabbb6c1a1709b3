"""`deftrace chat`: the seed's loop on stdin, traced; `--resume` continues a recorded session."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import shutil
import signal
from pathlib import Path

import pytest
from cli_helpers import DEFTRACE, wait_for
from click.testing import CliRunner, Result
from conftest import closed_port
from deftrace_cli._app import cli
from otlp_helpers import read_spans

from definable_trace import load_traces
from definable_trace.testing import FakeOpenAIServer, Reply
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


# --- checked before the first prompt ------------------------------------------------------------


def test_chat_without_a_key_says_so_in_cli_words_before_the_prompt() -> None:
    result = deftrace("chat", input="hello\n")
    assert result.exit_code == 2
    assert "You:" not in result.stdout
    assert result.stderr == (
        "Error: No OpenAI API key: set OPENAI_API_KEY; for a local OpenAI-compatible server "
        "pass --base-url (or set OPENAI_BASE_URL) instead\n"
    )


def test_chat_with_an_unreachable_server_exits_1_before_the_prompt() -> None:
    result = deftrace("chat", "--base-url", f"http://127.0.0.1:{closed_port()}/v1", input="hi\n")
    assert result.exit_code == 1
    assert "You:" not in result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: cannot reach the model server")


def test_chat_with_refused_credentials_is_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    with FakeOpenAIServer(api_key="right") as server:
        url = server.base_url
        result = deftrace("chat", "--base-url", url, input="hi\n")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: the server at {url} refused the credentials (401): Incorrect API key provided.\n"
    )


def test_chat_rejects_a_bad_base_url_and_an_unwritable_trace_out(tmp_path: Path) -> None:
    result = deftrace("chat", "--base-url", "not-a-url", input="")
    assert result.exit_code == 2
    assert "'not-a-url' is not an http(s) URL" in result.stderr
    result = deftrace("chat", "--trace-out", tmp_path / "no" / "t.jsonl", input="")
    assert result.exit_code == 2
    assert "no such directory" in result.stderr


def test_chat_help_is_right() -> None:
    text = CliRunner().invoke(cli, ["chat", "--help"], terminal_width=400).stdout
    flat = " ".join(text.split())
    assert "Model id (default: gpt-4o; with --resume, the session's last model)" in flat
    assert "$XDG_DATA_HOME/definable-trace/traces.jsonl" in flat
    assert "beside the first input" not in flat
    assert "--timeout SECONDS" in flat and "[default: 60.0" in flat


# --- failed turns -------------------------------------------------------------------------------


def test_chat_goes_on_after_a_failed_turn(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.add(Reply(status=400, error_message="context too long"))
    out = tmp_path / "chat.jsonl"
    args = ("chat", "--base-url", server.base_url, "--session-id", "c1", "--trace-out", out)
    result = deftrace(*args, input="one\ntwo\n")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: turn failed (marked failed in the trace): the model server at "
        f"{server.base_url} answered 400: context too long\n"
    )
    assert "Agent: You said: two" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "Error: 1 of 2 turns failed"
    second = chat_requests(server)[1].body["messages"]
    assert [m["content"] for m in second] == ["You are a helpful assistant.", "two"]
    session = load_traces(out).session("c1")
    assert [t.error is not None for t in session.turns] == [True, False]


def test_chat_json_reports_a_failed_turn_as_a_record(server: FakeOpenAIServer) -> None:
    server.add(Reply(status=400, error_message="no"))
    result = deftrace("chat", "--json", "--base-url", server.base_url, input="one\ntwo\n")
    assert result.exit_code == 1
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["input"] == "one" and "answered 400: no" in first["error"]
    assert second["content"] == "You said: two"


def test_chat_that_ends_before_any_turn_leaves_no_empty_file(
    tmp_path: Path, server: FakeOpenAIServer
) -> None:
    out = tmp_path / "chat.jsonl"
    result = deftrace("chat", "--base-url", server.base_url, "--trace-out", out, input="quit\n")
    assert result.exit_code == 0
    assert not out.exists()


# --- Ctrl-C in a terminal -----------------------------------------------------------------------


class Terminal:
    """`deftrace` in a pseudo-terminal, so that Ctrl-C is the terminal's, as a user's is."""

    def __init__(self, *args: object) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become deftrace, as a shell in a terminal starts it
            # with Ctrl-C's signals at their defaults: pytest run as a background job (`&`
            # from a script) passes them on ignored, and Ctrl-C would then do nothing.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGQUIT, signal.SIG_DFL)
            os.execve(DEFTRACE, [DEFTRACE, *map(str, args)], dict(os.environ))
        self.seen = b""
        self.status: int | None = None

    def read_until(self, text: bytes) -> None:
        def arrived() -> bool:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.fd, 4096)
                except OSError:  # the child closed the terminal
                    return True
            return text in self.seen

        wait_for(arrived, f"{text!r} on the terminal; saw {self.seen!r}")

    def type(self, text: bytes) -> None:
        os.write(self.fd, text)

    def exit_code(self) -> int:
        """The child's exit code; a child that does not exit fails the test (killed), not
        hangs it."""

        def exited() -> bool:
            ready, _, _ = select.select([self.fd], [], [], 0)
            if ready:  # read what it writes meanwhile, so that it never blocks on a full pty
                with contextlib.suppress(OSError):
                    self.seen += os.read(self.fd, 4096)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid != 0:
                self.status = status
            return pid != 0

        try:
            wait_for(exited, f"deftrace to exit; saw {self.seen!r}")
        except AssertionError:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            raise
        status = self.status
        assert status is not None
        try:
            while True:
                chunk = os.read(self.fd, 4096)
                if not chunk:
                    break
                self.seen += chunk
        except OSError:
            pass
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


def test_ctrl_c_during_an_answer_exits_130_with_every_span_ended(
    tmp_path: Path, server: FakeOpenAIServer
) -> None:
    server.add(Reply("first answer"), Reply("never sent", latency=600))
    out = tmp_path / "chat.jsonl"
    terminal = Terminal("chat", "--base-url", server.base_url, "--session-id", "c1",
                        "--trace-out", out)  # fmt: skip
    terminal.read_until(b"You: ")
    terminal.type(b"hello\r")
    terminal.read_until(b"first answer")
    terminal.read_until(b"You: ")
    terminal.type(b"and then?\r")
    wait_for(lambda: len(chat_requests(server)) == 2, "the second turn's request")
    terminal.type(b"\x03")  # Ctrl-C, through the terminal's line discipline
    assert terminal.exit_code() == 130
    assert f"interrupted: the turns answered so far are kept in {out}".encode() in terminal.seen
    assert b"Aborted!" not in terminal.seen and b"Traceback" not in terminal.seen
    session = load_traces(out).session("c1")
    assert [t.input.content for t in session.turns if t.input] == ["hello", "and then?"]
    assert session.turns[0].error is None
    assert session.turns[0].messages[-1].content == "first answer"
    assert session.turns[1].error is not None  # ended, as failed: no orphan span
    runs = [s for s in read_spans(out) if s["name"].startswith("invoke_agent")]
    assert len(runs) == 2


def test_ctrl_c_at_the_prompt_exits_130(tmp_path: Path, server: FakeOpenAIServer) -> None:
    out = tmp_path / "chat.jsonl"
    terminal = Terminal("chat", "--base-url", server.base_url, "--trace-out", out)
    terminal.read_until(b"You: ")
    terminal.type(b"\x03")
    assert terminal.exit_code() == 130
    assert not out.exists()


def test_sigterm_keeps_the_answered_turns(tmp_path: Path, server: FakeOpenAIServer) -> None:
    """`kill PID` on a chat waiting at its prompt: exit 143, every answered turn in the file
    (before, SIGTERM lost all of them: nothing was flushed)."""
    server.add(Reply("one"), Reply("two"))
    out = tmp_path / "chat.jsonl"
    terminal = Terminal("chat", "--base-url", server.base_url, "--session-id", "t1",
                        "--trace-out", out)  # fmt: skip
    for question, answer in ((b"first?\r", b"one"), (b"second?\r", b"two")):
        terminal.read_until(b"You: ")
        terminal.type(question)
        terminal.read_until(answer)
    terminal.read_until(b"You: ")
    os.kill(terminal.pid, signal.SIGTERM)
    assert terminal.exit_code() == 143
    assert b"Traceback" not in terminal.seen
    session = load_traces(out).session("t1")
    assert [t.input.content for t in session.turns if t.input] == ["first?", "second?"]
    assert [t.messages[-1].content for t in session.turns] == ["one", "two"]

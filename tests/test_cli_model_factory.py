"""`--model-factory MODULE:ATTR`: replay, fork and chat answered by any `Model`, not only
`OpenAIChat` (issue 7: "Replay, fork and chat accept any Model").

The factory is a real module written into the working directory, imported the way a user's
would be (the current directory is importable, as with `python -m`); its model is a small
provider of its own, and the trace the run wrote is read back with the loader.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from deftrace_cli._app import cli

from definable_trace import load_traces

MODULE = '''
from definable_trace.model import Model, ModelDelta, ModelResponse
from definable_trace import Message


class Echo(Model):
    """Answers with the last user message, shouted: a provider of the user's own."""

    provider = "echo"

    def __init__(self, id: str) -> None:
        self.id = id

    def invoke(self, messages, tools):
        last = [m for m in messages if m.role == "user"][-1]
        text = f"{self.id}: {(last.content or '').upper()}"
        return ModelResponse(Message(role="assistant", content=text), finish_reason="stop")

    async def ainvoke(self, messages, tools):
        return self.invoke(messages, tools)

    def invoke_stream(self, messages, tools):
        yield self.invoke(messages, tools)

    async def ainvoke_stream(self, messages, tools):
        yield self.invoke(messages, tools)


def make(model_id):
    return Echo(model_id)


NOT_A_MODEL = lambda model_id: "a string"  # noqa: E731
'''


def deftrace(*args: object, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    name = f"user_models_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.chdir(tmp_path)
    return tmp_path / name


def test_fork_answered_by_a_model_factory(samples: Path, user_module: Path, tmp_path: Path) -> None:
    out = tmp_path / "fork.jsonl"
    result = deftrace(
        "fork", samples / "math_tutor.jsonl", "--at", "3", "--message", "is 69 odd?",
        "--model-factory", f"{user_module.name}:make", "--trace-out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [fork] = [s for s in load_traces(out) if s.lineage is not None]
    assert fork.messages[-1].content == "gpt-4o: IS 69 ODD?"  # the recorded model's id, echoed
    assert fork.messages[-2].content == "is 69 odd?"


def test_chat_answered_by_a_model_factory(user_module: Path, tmp_path: Path) -> None:
    out = tmp_path / "chat.jsonl"
    result = deftrace(
        "chat", "--model", "local-echo", "--model-factory", f"{user_module.name}:Echo",
        "--trace-out", out, input="hello\nquit\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "local-echo: HELLO" in result.stdout
    [session] = load_traces(out)
    assert [m.content for m in session.messages if m.role != "system"] == [
        "hello",
        "local-echo: HELLO",
    ]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("--base-url", "http://127.0.0.1:9/v1"), "--model-factory builds the model: --base-url"),
        (("--timeout", "3"), "--model-factory builds the model: --timeout"),
        (("--recorded",), "--recorded answers from the recording: --model-factory"),
    ],
)
def test_options_that_would_be_ignored_are_refused(
    samples: Path, user_module: Path, extra: tuple[str, ...], expected: str
) -> None:
    result = deftrace(
        "fork", samples / "math_tutor.jsonl", "--at", "2",
        "--model-factory", f"{user_module.name}:make", *extra,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert expected in result.stderr


def test_a_factory_that_cannot_be_used_is_one_line_exit_2(samples: Path, user_module: Path) -> None:
    missing = deftrace(
        "replay", samples / "math_tutor.jsonl", "--model-factory", "no_such_module_x:make"
    )
    assert missing.exit_code == 2 and "cannot import it" in missing.stderr
    wrong = deftrace(
        "replay", samples / "math_tutor.jsonl",
        "--model-factory", f"{user_module.name}:NOT_A_MODEL",
    )  # fmt: skip
    assert wrong.exit_code == 2, wrong.output
    assert "Traceback" not in wrong.output
    chat = deftrace("chat", "--model-factory", f"{user_module.name}:NOT_A_MODEL", input="hi\n")
    assert chat.exit_code == 2 and "returned str, not a Model" in chat.stderr

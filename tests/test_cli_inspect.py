"""`deftrace sessions|show|export|diff` through click's CliRunner, on the committed sample traces.

The samples are real traces (our agent against the local fake server, `tests/fixtures/
make_samples.py`); each test works on copies in its own directory.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import openai
from click.testing import CliRunner, Result
from deftrace_cli._app import cli

from definable_trace import Agent, OpenAIChat, configure_tracing, flush_tracing, load_traces
from definable_trace._messages import MESSAGES_ADAPTER
from definable_trace.testing import FakeOpenAIServer


def deftrace(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


_SGR = re.compile(r"\x1b\[[0-9;]*m")


def on_terminal(columns: int, *args: object) -> Result:
    """As on a terminal `columns` wide (rich's TTY_COMPATIBLE); colour codes removed."""
    env = {"TTY_COMPATIBLE": "1", "COLUMNS": str(columns), "LINES": "50"}
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)
    result.stdout_bytes = _SGR.sub("", result.stdout).encode()
    return result


def one_line_error(result: Result, code: int) -> str:
    """The run failed with `code` and said why in one line on stderr, without a traceback."""
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("warning: ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[0]


# --- sessions -----------------------------------------------------------------------------------


def test_sessions_table_lists_every_session(samples: Path) -> None:
    result = on_terminal(120, "sessions", samples / "math_tutor.jsonl", samples / "tools.jsonl")
    assert result.exit_code == 0, result.output
    assert "2 sessions" in result.stdout
    assert "math-tutor" in result.stdout
    assert "weather" in result.stdout
    assert "gpt-4o" in result.stdout
    assert "└──" not in result.stdout  # no lineage tree without forks or replays


def test_sessions_of_a_directory(samples: Path, tmp_path: Path) -> None:
    """A directory stands for the trace files in it (the README's `deftrace sessions dir/`)."""
    result = deftrace("sessions", "--json", samples)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 6
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no trace files" in one_line_error(deftrace("sessions", empty), 2)


def test_sessions_json(samples: Path) -> None:
    result = deftrace("sessions", "--json", samples / "math_tutor.jsonl", samples / "tools.jsonl")
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    tutor = rows["math-tutor"]
    assert tutor["turns"] == 4
    assert tutor["messages"] == 9  # the system prompt, then a question and an answer per turn
    assert tutor["models"] == ["gpt-4o"]
    assert tutor["input_tokens"] > 0 and tutor["output_tokens"] > 0
    assert tutor["lineage"] is None
    assert tutor["duration"] > 0
    assert rows["weather"]["turns"] == 3
    assert rows["weather"]["model_calls"] == 6  # tool rounds are model calls too


def test_sessions_draws_the_lineage_tree(samples: Path) -> None:
    result = on_terminal(100, "sessions", samples / "lineage.jsonl")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "fork of lisbon @ turn 2" in out
    assert "replay of lisbon" in out
    tree = out[out.index("lineage\n") :]  # the tree after the table
    assert tree.index("lisbon") < tree.index("lisbon-fork-rainy")
    assert "└── lisbon-replay" in tree or "├── lisbon-replay" in tree


def test_sessions_json_lineage(samples: Path) -> None:
    result = deftrace("sessions", "--json", samples / "lineage.jsonl")
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert rows["lisbon"]["lineage"] is None
    assert (rows["lisbon-fork-rainy"]["turns"], rows["lisbon-fork-rainy"]["inherited_turns"]) == (
        1,
        1,
    )
    assert rows["lisbon-fork-rainy"]["lineage"] == {
        "kind": "fork",
        "parent_session": "lisbon",
        "turn": 2,
        "status": None,
    }
    assert rows["lisbon-replay"]["lineage"] == {
        "kind": "replay",
        "parent_session": "lisbon",
        "turn": 1,
        "status": None,
    }


# --- show ---------------------------------------------------------------------------------------


def test_show_prints_the_transcript(samples: Path) -> None:
    result = deftrace("show", samples / "math_tutor.jsonl")  # one session: no --session needed
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "You are a math tutor." in out
    for text in ("What is 15 * 23?", "15 * 23 = 345", "Now divide that by 5.", "345 / 5 = 69"):
        assert text in out
    assert out.index("15 * 23 = 345") < out.index("345 / 5 = 69")
    assert re.search(
        r"1 model call · 16 in \(0 cached\) / 5 out \(0 reasoning\) tok · \$0\.\d+ ", out
    )
    assert " in / " in out and "tok" in out  # per-message tokens in the panel border


def test_show_one_turn_with_tool_calls(samples: Path) -> None:
    result = deftrace("show", samples / "tools.jsonl", "--session", "weather", "--turn", "2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "What's the weather in Paris?" not in out
    assert "And in Oslo, in Fahrenheit?" in out
    assert '→ get_weather({"city":"Oslo"})' in out
    assert "tool ← get_weather" in out
    assert "Oslo: 7 °C, cloudy" in out
    assert "tool ← celsius_to_fahrenheit" in out
    assert "3 model calls · 2 tool calls · " in out


def test_show_streamed_session_reports_time_to_first_token(samples: Path) -> None:
    result = deftrace("show", samples / "streamed.jsonl")
    assert result.exit_code == 0, result.output
    assert "Hello! How can I help you today?" in result.stdout
    assert "ttft" in result.stdout


def test_show_json(samples: Path) -> None:
    result = deftrace("show", "--json", samples / "tools.jsonl", "--turn", "1")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["session"]["id"] == "weather"
    [turn] = data["turns"]
    assert turn["index"] == 1
    assert [m["role"] for m in turn["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert turn["tool_calls"][0]["name"] == "get_weather"
    assert turn["tool_calls"][0]["result"] == "Paris: 18 °C, sunny"
    assert [c["finish_reason"] for c in turn["model_calls"]] == ["tool_calls", "stop"]


def test_show_needs_a_session_when_the_files_hold_several(samples: Path) -> None:
    result = deftrace("show", samples / "lineage.jsonl")
    line = one_line_error(result, 2)
    assert "3 sessions" in line and "lisbon-fork-rainy" in line


def test_show_unknown_session_and_turn(samples: Path) -> None:
    line = one_line_error(deftrace("show", samples / "lineage.jsonl", "--session", "lisbn"), 2)
    assert "lisbn" in line and "lisbon" in line  # names the close matches
    line = one_line_error(deftrace("show", samples / "math_tutor.jsonl", "--turn", "9"), 2)
    assert "no turn 9" in line


def test_unreadable_input_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\x00\x01 this is not a trace\n")
    result = deftrace("sessions", bad)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert str(bad) in result.stderr


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = deftrace("sessions", tmp_path / "nope.jsonl")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


# --- export -------------------------------------------------------------------------------------


def test_export_definable_loads_back_as_messages(samples: Path, server: FakeOpenAIServer) -> None:
    result = deftrace("export", samples / "math_tutor.jsonl", "--session", "math-tutor")
    assert result.exit_code == 0, result.output
    messages = MESSAGES_ADAPTER.validate_json(result.stdout)
    original = load_traces(samples / "math_tutor.jsonl").session("math-tutor").messages
    assert [(m.role, m.content, m.id) for m in messages] == [
        (m.role, m.content, m.id) for m in original
    ]
    agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url), "You are a math tutor.")
    output = agent.run("And times two?", messages=messages)
    sent = server.requests[-1].body["messages"]
    assert len(sent) == 10 and sent[-1]["content"] == "And times two?"
    assert output.messages[: len(messages)] == messages  # the history went on unchanged


def test_export_before_turn(samples: Path) -> None:
    result = deftrace(
        "export", samples / "math_tutor.jsonl", "--session", "math-tutor", "--before-turn", "3"
    )
    assert result.exit_code == 0, result.output
    roles = [m["role"] for m in json.loads(result.stdout)]
    assert roles == ["system", "user", "assistant", "user", "assistant"]


def test_export_before_a_turn_the_session_lacks(samples: Path) -> None:
    args = ("export", samples / "math_tutor.jsonl", "--session", "math-tutor")
    line = one_line_error(deftrace(*args, "--before-turn", "9"), 2)
    assert "has no turn 9" in line


def test_content_free_session_shows_but_does_not_export(
    tmp_path: Path, server: FakeOpenAIServer
) -> None:
    source = tmp_path / "bare.jsonl"
    configure_tracing(source, capture_content=False)
    Agent(OpenAIChat("gpt-4o", base_url=server.base_url), "sys").run("secret", session_id="bare")
    flush_tracing()
    shown = deftrace("show", source)
    assert shown.exit_code == 0, shown.output
    assert "recorded without message content" in shown.stdout
    assert "secret" not in shown.stdout
    assert "8 in / 3 out tok" in shown.stdout
    line = one_line_error(deftrace("export", source, "--session", "bare"), 2)
    assert line == "Error: session bare was recorded without message content"


def test_export_openai_is_a_valid_request(samples: Path, server: FakeOpenAIServer) -> None:
    result = deftrace(
        "export", samples / "tools.jsonl", "--session", "weather", "--format", "openai"
    )
    assert result.exit_code == 0, result.output
    messages = json.loads(result.stdout)
    assert messages[0] == {
        "role": "system",
        "content": "You are a travel helper. Use the tools for facts.",
    }
    assert messages[2]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert messages[3] == {
        "role": "tool",
        "content": "Paris: 18 °C, sunny",
        "tool_call_id": "call_paris",
    }
    client = openai.OpenAI(base_url=server.base_url, api_key="test")
    client.chat.completions.create(model="gpt-4o", messages=messages)
    assert server.requests[-1].body["messages"] == messages
    client.close()


def test_export_to_a_file(samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "history.json"
    args = ("export", samples / "streamed.jsonl", "--session", "streamed", "-o", out)
    result = deftrace(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote 5 messages (definable) to {out}"
    assert len(MESSAGES_ADAPTER.validate_json(out.read_text())) == 5
    result = deftrace(*args, "--json", "--format", "openai")
    assert json.loads(result.stdout) == {"output": str(out), "format": "openai", "messages": 5}
    assert json.loads(out.read_text())[1] == {"role": "user", "content": "Hello!"}


# --- diff ---------------------------------------------------------------------------------------


def test_diff_of_a_fork(samples: Path) -> None:
    args = ("diff", samples / "lineage.jsonl", "--session", "lisbon")
    result = deftrace(*args, "--session", "lisbon-fork-rainy", "--json")
    assert result.exit_code == 1, result.output  # they differ: 1, like diff(1)
    data = json.loads(result.stdout)
    statuses = [(t["index"], t["status"]) for t in data["turns"]]
    assert statuses == [(1, "same"), (2, "changed"), (3, "only_a")]
    changed = {c["field"]: c for c in data["turns"][1]["changes"]}
    assert changed["input"]["b"] == "Make it a rainy-day plan instead."
    assert set(changed) == {"input", "content"}
    assert data["first_difference"] == 2 and not data["identical"]
    assert data["turns"][0]["b"]["inherited"] is True

    result = deftrace(*args, "--session", "lisbon-fork-rainy")
    assert "first difference at turn 2" in result.stdout
    assert "only in A" in result.stdout


def test_diff_of_a_recorded_replay_is_identical(samples: Path) -> None:
    args = ("diff", samples / "lineage.jsonl", "--session", "lisbon", "--session", "lisbon-replay")
    result = deftrace(*args)
    assert result.exit_code == 0, result.output
    assert "identical" in result.stdout
    assert json.loads(deftrace(*args, "--json").stdout)["identical"] is True


def test_diff_needs_two_sessions(samples: Path) -> None:
    line = one_line_error(deftrace("diff", samples / "lineage.jsonl", "--session", "lisbon"), 2)
    assert "exactly two" in line


# --- the application ----------------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = deftrace("--help")
    assert result.exit_code == 0
    for command in ("sessions", "show", "export", "replay", "fork", "diff", "chat"):
        assert f"  {command} " in result.stdout


def test_python_dash_m_and_lazy_imports() -> None:
    """`python -m definable_trace` is the CLI, and `--help` loads none of the heavy libraries."""
    run = subprocess.run(
        [sys.executable, "-m", "definable_trace", "sessions", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Usage: deftrace sessions" in run.stdout
    probe = (
        "import sys; from deftrace_cli._app import cli; "
        "heavy = ['openai', 'opentelemetry.sdk', 'rich', 'pydantic', 'definable_trace._agent']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.stdout.strip() == "[]", loaded.stderr

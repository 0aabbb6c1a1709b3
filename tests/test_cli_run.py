"""`deftrace replay` and `deftrace fork` through click's CliRunner, on real trace files.

Live runs go to the local fake OpenAI server (`server` fixture); `--recorded` runs have no
server and no API key at all. Each test checks the output, the `--json`, and the trace the run
wrote (read back with the loader), and that the source file is never touched.
"""

from __future__ import annotations

import json
import os
import socket
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from deftrace_cli._app import cli

from definable_trace import Agent, OpenAIChat, configure_tracing, flush_tracing, load_traces
from definable_trace.testing import FakeOpenAIServer, Reply, ToolCallReply


def deftrace(*args: object, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def one_line_error(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[-1]


def runs_dir() -> Path:
    """Where replays and forks write by default (conftest points XDG_DATA_HOME at tmp_path)."""
    return Path(os.environ["XDG_DATA_HOME"]) / "definable-trace" / "runs"


def written(pattern: str) -> Path:
    """The one new trace file matching `pattern`, in the default runs directory."""
    [path] = runs_dir().glob(pattern)
    return path


# --- replay -------------------------------------------------------------------------------------


def test_replay_recorded_needs_no_server(samples: Path) -> None:
    source = samples / "math_tutor.jsonl"
    before = source.read_bytes()
    result = deftrace("replay", source, "--recorded")
    assert result.exit_code == 0, result.output
    out = written("math_tutor.replay-*.jsonl")
    assert str(out) in result.stdout
    assert "replay of math-tutor → math-tutor-replay-" in result.stdout
    assert "4 turns run: 4 same, 0 different" in result.stdout
    assert source.read_bytes() == before

    original = load_traces(source).session("math-tutor")
    [replayed] = load_traces(out).sessions
    assert replayed.id.startswith("math-tutor-replay-")
    assert replayed.lineage is not None
    assert (replayed.lineage.kind, replayed.lineage.parent_session) == ("replay", "math-tutor")
    assert replayed.lineage.turn == 1
    assert [(m.role, m.content) for m in replayed.messages] == [
        (m.role, m.content) for m in original.messages
    ]
    assert replayed.metrics.input_tokens == original.metrics.input_tokens


def test_replay_recorded_json(samples: Path) -> None:
    result = deftrace("replay", samples / "tools.jsonl", "--recorded", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "replay" and data["recorded"] is True
    assert data["parent"] == "weather"
    assert Path(data["trace_out"]).parent == runs_dir()
    assert [t["status"] for t in data["comparison"]] == ["same", "same", "same"]
    assert data["turns"][1]["content"] == "It is 7 °C (44.6 °F) and cloudy in Oslo."
    tools = [m for m in data["turns"][1]["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tools] == ["Oslo: 7 °C, cloudy", "44.6"]  # from the recording
    assert "replaying weather" in result.stderr  # the announcement stays off stdout


def test_replay_live_builds_a_fresh_history(samples: Path, server: FakeOpenAIServer) -> None:
    source = samples / "math_tutor.jsonl"
    result = deftrace("replay", source, "--base-url", server.base_url, "--until-turn", "2")
    assert result.exit_code == 0, result.output
    assert "2 turns run: 0 same, 2 different" in result.stdout
    assert len(server.requests) == 2
    second = server.requests[1].body
    assert second["model"] == "gpt-4o"  # the recorded model
    assert [m["content"] for m in second["messages"]] == [
        "You are a math tutor.",
        "What is 15 * 23?",
        "You said: What is 15 * 23?",  # the new answer, not the recorded "15 * 23 = 345"
        "Now divide that by 5.",
    ]
    [replayed] = load_traces(written("math_tutor.replay-*.jsonl")).sessions
    assert [t.index for t in replayed.turns] == [1, 2]
    assert replayed.turns[1].messages[-1].content == "You said: Now divide that by 5."


def test_replay_live_with_another_model(samples: Path, server: FakeOpenAIServer) -> None:
    args = ("replay", samples / "streamed.jsonl", "--base-url", server.base_url)
    result = deftrace(*args, "--model", "gpt-4o-mini", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {r.body["model"] for r in server.requests} == {"gpt-4o-mini"}
    changes = {c["field"]: c for c in data["comparison"][0]["changes"]}
    assert changes["model"] == {"field": "model", "a": "gpt-4o", "b": "gpt-4o-mini"}
    [replayed] = load_traces(data["trace_out"]).sessions
    assert replayed.models == ["gpt-4o-mini"]


def _edited_history_trace(path: Path, server: FakeOpenAIServer) -> None:
    """A session whose turn 2 was sent an edited turn-1 answer: a recorded replay must stop."""
    configure_tracing(path)
    agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url), "Be brief.")
    first = agent.run("hi", session_id="edited")
    history = [*first.messages[:-1], first.messages[-1].model_copy(update={"content": "edited"})]
    agent.run("and then?", messages=history, session_id="edited")
    flush_tracing()


def test_replay_recorded_stops_where_it_diverges(tmp_path: Path, server: FakeOpenAIServer) -> None:
    source = tmp_path / "edited.jsonl"
    _edited_history_trace(source, server)
    server.stop()  # a recorded replay never calls a model
    result = deftrace("replay", source, "--recorded")
    line = one_line_error(result, 1)
    assert line.startswith("Error: diverged at turn 2: model call 1: message 3 (assistant)")
    assert "recorded 'edited', now 'You said: hi'" in line
    # The spans are written even so: turn 1 replayed, turn 2 failing with the divergence.
    [partial] = load_traces(written("edited.replay-*.jsonl")).sessions
    assert [t.index for t in partial.turns] == [1, 2]
    assert partial.turns[0].error is None
    assert "diverged at turn 2" in str(partial.turns[1].error)


def test_replay_all(samples: Path, server: FakeOpenAIServer) -> None:
    files = (samples / "lineage.jsonl", samples / "math_tutor.jsonl")
    args = ("replay", *files, "--all", "--recorded", "--concurrency", "2")
    result = deftrace(*args, "--include-replays")
    assert result.exit_code == 0, result.output
    assert "4 replayed, 0 failed" in result.stdout
    out = written("lineage.replay-*.jsonl")
    replays = load_traces(out).sessions
    parents = sorted(s.lineage.parent_session for s in replays if s.lineage)
    assert parents == ["lisbon", "lisbon-fork-rainy", "lisbon-replay", "math-tutor"]
    assert sorted(s.id for s in replays) == sorted(f"{p}-replay-{out.stem[-8:]}" for p in parents)

    live = ("--base-url", server.base_url, "--concurrency", "3", "--json")
    data = json.loads(deftrace("replay", samples / "lineage.jsonl", "--all", *live).stdout)
    assert [s["session"] for s in data["sessions"]] == ["lisbon", "lisbon-fork-rainy"]
    assert [s["ok"] for s in data["sessions"]] == [True, True]
    assert len(server.requests) == 3 + 1


def test_replay_all_skips_replays_unless_asked(samples: Path) -> None:
    files = (samples / "lineage.jsonl", samples / "math_tutor.jsonl")
    result = deftrace("replay", *files, "--all", "--recorded")
    assert result.exit_code == 0, result.output
    assert "skipping 1 sessions that are replays (--include-replays)" in result.stderr
    assert "3 replayed, 0 failed" in result.stdout
    replays = load_traces(written("lineage.replay-*")).sessions
    parents = {s.lineage.parent_session for s in replays if s.lineage}
    assert parents == {"lisbon", "lisbon-fork-rainy", "math-tutor"}


def test_replay_all_reports_failures_and_exits_1(tmp_path: Path, server: FakeOpenAIServer) -> None:
    source = tmp_path / "edited.jsonl"
    _edited_history_trace(source, server)
    result = deftrace("replay", source, "--all", "--recorded")
    assert result.exit_code == 1
    assert "0 replayed, 1 failed" in result.stdout
    assert "1 of 1 replays failed; first: diverged at turn 2" in result.stderr


def test_replay_unreachable_model_exits_1(samples: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ("replay", samples / "streamed.jsonl", "--base-url", f"http://127.0.0.1:{port}/v1")
    line = one_line_error(deftrace(*args), 1)
    assert "cannot reach the model server" in line


def test_replay_live_without_a_key_is_a_usage_error(samples: Path) -> None:
    line = one_line_error(deftrace("replay", samples / "streamed.jsonl"), 2)
    assert "set OPENAI_API_KEY; for a local OpenAI-compatible server pass --base-url" in line
    assert "OpenAIChat(" not in line and "base_url=" not in line  # CLI words, not library's


def test_replay_never_writes_into_an_input(samples: Path) -> None:
    source = samples / "streamed.jsonl"
    line = one_line_error(deftrace("replay", source, "--recorded", "--trace-out", source), 2)
    assert "is an input file" in line


def test_replay_of_content_free_trace_is_refused(tmp_path: Path, server: FakeOpenAIServer) -> None:
    source = tmp_path / "bare.jsonl"
    configure_tracing(source, capture_content=False)
    Agent(OpenAIChat("gpt-4o", base_url=server.base_url)).run("secret", session_id="bare")
    flush_tracing()
    line = one_line_error(deftrace("replay", source, "--recorded"), 2)
    assert "without message content" in line


# --- fork ---------------------------------------------------------------------------------------


def test_fork_recorded_shares_the_recorded_prefix(samples: Path) -> None:
    source = samples / "math_tutor.jsonl"
    result = deftrace("fork", source, "--at", "2", "--recorded", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "fork" and data["session_id"].startswith("math-tutor-fork-")
    assert [t["status"] for t in data["comparison"]] == ["same"]
    assert data["turns"][0]["content"] == "345 / 5 = 69"

    original = load_traces(source).session("math-tutor")
    [forked] = load_traces(data["trace_out"]).sessions
    assert forked.lineage is not None
    assert (forked.lineage.kind, forked.lineage.parent_session, forked.lineage.turn) == (
        "fork",
        "math-tutor",
        2,
    )
    assert [t.index for t in forked.turns] == [2]
    # Turns before the fork point are the recorded messages themselves, ids included.
    assert [m.id for m in forked.history(before_turn=2)] == [
        m.id for m in original.history(before_turn=2)
    ]


def test_fork_live_with_a_new_message(samples: Path, server: FakeOpenAIServer) -> None:
    source = samples / "math_tutor.jsonl"
    args = ("fork", source, "--at", "3", "--message", "Is 345 prime?", "--base-url")
    result = deftrace(*args, server.base_url, "--session-id", "tutor-prime")
    assert result.exit_code == 0, result.output
    assert "fork of math-tutor → tutor-prime" in result.stdout
    assert "You said: Is 345 prime?" in result.stdout
    [request] = server.requests
    assert [m["content"] for m in request.body["messages"]] == [
        "You are a math tutor.",
        "What is 15 * 23?",
        "15 * 23 = 345",
        "Now divide that by 5.",
        "345 / 5 = 69",
        "Is 345 prime?",
    ]
    out = written("math_tutor.fork-*.jsonl")
    rows = json.loads(deftrace("sessions", "--json", source, out).stdout)
    lineage = {row["id"]: row["lineage"] for row in rows}  # piped `sessions` prints no tree
    assert lineage["tutor-prime"] == {
        "kind": "fork",
        "parent_session": "math-tutor",
        "turn": 3,
        "status": None,
    }


def test_fork_with_new_instructions(samples: Path, server: FakeOpenAIServer) -> None:
    args = ("fork", samples / "streamed.jsonl", "--at", "2", "--base-url", server.base_url)
    result = deftrace(*args, "--instructions", "Answer in French.")
    assert result.exit_code == 0, result.output
    sent = server.requests[0].body["messages"]
    assert sent[0] == {"role": "system", "content": "Answer in French."}
    assert sent[-1] == {"role": "user", "content": "Tell me more."}  # the recorded turn-2 input


def test_fork_after_the_last_turn_continues(samples: Path, server: FakeOpenAIServer) -> None:
    args = ("fork", samples / "streamed.jsonl", "--at", "3", "--message", "Thanks")
    result = deftrace(*args, "--base-url", server.base_url, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["turns"][0]["index"] == 3
    assert [t["status"] for t in data["comparison"]] == ["only_b"]


def test_fork_recorded_with_another_message_diverges(samples: Path) -> None:
    args = ("fork", samples / "math_tutor.jsonl", "--at", "2", "--recorded")
    line = one_line_error(deftrace(*args, "--message", "Now add 5."), 1)
    assert "diverged at turn 2" in line
    assert "recorded 'Now divide that by 5.', now 'Now add 5.'" in line


def test_fork_out_of_range(samples: Path) -> None:
    line = one_line_error(deftrace("fork", samples / "math_tutor.jsonl", "--at", "7"), 2)
    assert "session math-tutor has turns 1..4 (--at 5 continues it)" in line
    args = ("fork", samples / "math_tutor.jsonl", "--at", "5", "--recorded")
    assert "needs a recorded turn 5" in one_line_error(deftrace(*args), 2)


def test_fork_identical_tool_call_gets_the_recorded_result(
    samples: Path, server: FakeOpenAIServer
) -> None:
    # Same call, spelled differently on the wire: still the recorded call.
    server.add(Reply(tool_calls=[ToolCallReply("get_weather", '{ "city": "Paris" }')]))
    args = ("fork", samples / "tools.jsonl", "--at", "1", "--base-url", server.base_url, "--json")
    result = deftrace(*args)
    assert result.exit_code == 0, result.output
    messages = json.loads(result.stdout)["turns"][0]["messages"]
    assert [m["content"] for m in messages if m["role"] == "tool"] == ["Paris: 18 °C, sunny"]
    offered = server.requests[0].body["tools"]
    assert [t["function"]["name"] for t in offered] == ["get_weather", "celsius_to_fahrenheit"]


def test_fork_new_tool_call_needs_live_tools(
    samples: Path, server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rome = Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Rome"})])
    server.add(rome)
    args = ("fork", samples / "tools.jsonl", "--at", "3", "--message", "And Rome?")
    args += ("--base-url", server.base_url)
    line = one_line_error(deftrace(*args), 1)
    assert 'get_weather({"city":"Rome"}), which has no recorded result' in line
    assert "--tools module:attr" in line

    (tmp_path / "cli_fork_tools.py").write_text(
        textwrap.dedent(
            '''
            def get_weather(city: str) -> str:
                """The weather in a city."""
                return f"{city}: 25 °C, clear"
            '''
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    server.add(rome, Reply("Rome is the warmest."))
    result = deftrace(*args, "--tools", "cli_fork_tools:get_weather", "--json")
    assert result.exit_code == 0, result.output
    messages = json.loads(result.stdout)["turns"][0]["messages"]
    assert [m["content"] for m in messages if m["role"] == "tool"] == ["Rome: 25 °C, clear"]


def test_fork_bad_tools_spec_is_a_usage_error(samples: Path) -> None:
    args = ("fork", samples / "tools.jsonl", "--at", "1", "--recorded")
    line = one_line_error(deftrace(*args, "--tools", "no_such_module_here:tools"), 2)
    assert "cannot import" in line

"""What the CLI does with what the loader reports and knows: warnings found only when messages
are read, the one-session read of `--session`, stitched and inferred sessions, branches and
unreplayable turns; and the quick start's sample folder, read without a warning.

Trace files are the committed samples and fixtures (copies), or recorded here by the real
agent against the fake OpenAI server, then damaged or stripped the way the loader's own tests
do it. Commands run through click's runner, whose stderr is separate from stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from deftrace_cli._app import cli
from test_cli_render import EVIL, assert_inert, evil  # noqa: F401 - `evil` is a fixture

from definable_trace import Agent, OpenAIChat, configure_tracing, flush_tracing, load_traces
from definable_trace.testing import FakeOpenAIServer, Reply

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_traces"
FIXTURES = REPO / "tests" / "fixtures"
LATE_WARNING = "gen_ai.output.messages is not a JSON list"


def run(*args: object, input: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def _spans(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        span
        for resource in request["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def _attributes(span: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["key"]: a["value"] for a in span.get("attributes", [])}


# --- 1. warnings found after loading ------------------------------------------------------------


@pytest.fixture
def cut_off(tmp_path: Path) -> Path:
    """The math tutor with turn 4's recorded answer cut off mid-JSON (a size limit did it):
    the loader only finds out when that turn's messages are first read."""
    request = orjson.loads((SAMPLES / "math_tutor.jsonl").read_bytes())
    cut = 0
    for span in _spans(request):
        attributes = _attributes(span)
        turn = attributes.get("definable_trace.turn.index", {}).get("intValue")
        if turn == "4" and "gen_ai.output.messages" in attributes:
            attributes["gen_ai.output.messages"]["stringValue"] = '[{"role": "assistant", "p'
            cut += 1
    assert cut
    path = tmp_path / "cut.jsonl"
    path.write_bytes(orjson.dumps(request) + b"\n")
    assert load_traces(path).take_warnings() == []  # nothing is known at load time
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("show", "--no-pager"),
        ("show", "--json"),
        ("export",),
        ("export", "--format", "text"),
    ],
)
def test_a_warning_found_while_reading_messages_is_printed(cut_off: Path, args: tuple[str]) -> None:
    result = run(args[0], cut_off, *args[1:])
    assert "Traceback" not in result.output
    warnings = [line for line in result.stderr.splitlines() if LATE_WARNING in line]
    assert len(warnings) == 1, result.stderr  # once, however often the messages were read
    assert warnings[0].startswith(f"warning: {cut_off}:1: span 'chat gpt-4o'")


def test_show_marks_the_cut_off_turn(cut_off: Path) -> None:
    result = run("show", cut_off, "--no-pager")
    assert result.exit_code == 0, result.output
    assert "(no content recorded)" in result.stdout
    assert "not replayable: gen_ai.output.messages was truncated" in result.stdout
    shown = json.loads(run("show", cut_off, "--json").stdout)
    assert [t["unreplayable"] is not None for t in shown["turns"]] == [False] * 3 + [True]


def test_a_command_ending_in_exit_1_still_prints_the_late_warnings(cut_off: Path) -> None:
    lineage = SAMPLES / "lineage.jsonl"
    result = run("diff", cut_off, lineage, "--session", "math-tutor", "--session", "lisbon")
    assert result.exit_code == 1, result.output  # the sessions differ
    assert sum(LATE_WARNING in line for line in result.stderr.splitlines()) == 1


def test_a_refused_run_says_why_without_reading_the_messages(cut_off: Path) -> None:
    result = run("replay", cut_off, "--recorded")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "Error: session math-tutor, turn 4: gen_ai.output.messages was truncated "
        "(25 bytes, not valid JSON)"
    ]


# --- 2. one session read alone ------------------------------------------------------------------


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Every sample's lines in one file, with a damaged line in the middle: a whole load warns
    about it, the one-session read of a session on other lines never reads it."""
    lines = [
        line
        for name in ("lineage.jsonl", "math_tutor.jsonl", "tools.jsonl", "streamed.jsonl")
        for line in (SAMPLES / name).read_bytes().splitlines()
        if line
    ]
    lines.insert(2, b"{not json")
    folder = tmp_path / "mixed"
    folder.mkdir()
    path = folder / "all.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_the_damaged_line_is_seen_by_a_whole_load(mixed: Path) -> None:
    result = run("sessions", mixed)
    assert result.exit_code == 0, result.output
    assert f"warning: {mixed}:3: not JSON" in result.stderr


@pytest.mark.parametrize("session", ["math-tutor", "weather", "lisbon-fork-rainy", "streamed"])
@pytest.mark.parametrize(
    "args",
    [
        ("show", "--json"),
        ("export",),
        ("export", "--format", "openai"),
        ("export", "--before-turn", "2"),
    ],
)
def test_one_session_is_the_same_as_from_the_whole_load(
    mixed: Path, session: str, args: tuple[str, ...]
) -> None:
    alone = run(args[0], mixed, "--session", session, *args[1:])
    # A directory is always loaded whole (the one-session read takes plain files only).
    whole = run(args[0], mixed.parent, "--session", session, *args[1:])
    assert alone.exit_code == whole.exit_code == 0, (alone.output, whole.output)
    assert alone.stdout == whole.stdout
    assert f"{mixed}:3: not JSON" in whole.stderr
    assert alone.stderr == ""  # the damaged line was never read: only this session's lines were


def test_replay_and_fork_of_one_session_read_it_alone(mixed: Path) -> None:
    replayed = run("replay", mixed, "--session", "weather", "--recorded", "--json")
    assert replayed.exit_code == 0, replayed.output
    assert "not JSON" not in replayed.stderr
    assert json.loads(replayed.stdout)["parent"] == "weather"
    forked = run("fork", mixed, "--session", "math-tutor", "--at", "3", "--recorded", "--json")
    assert forked.exit_code == 0, forked.output
    assert "not JSON" not in forked.stderr
    assert json.loads(forked.stdout)["parent"] == "math-tutor"


def test_a_fork_under_its_own_id_is_checked_against_every_session(mixed: Path) -> None:
    args = ("fork", mixed, "--session", "math-tutor", "--at", "2", "--recorded")
    result = run(*args, "--session-id", "weather")
    assert result.exit_code == 2
    assert "Error: --session-id weather: the files already hold a session so named" in (
        result.stderr
    )


def test_a_mistyped_session_still_names_the_close_ones(mixed: Path) -> None:
    for command in ("show", "export", "replay", "fork"):
        extra = ("--at", "2") if command == "fork" else ()
        result = run(command, mixed, "--session", "math-tutr", *extra)
        assert result.exit_code == 2, result.output
        assert "math-tutor" in result.stderr.splitlines()[-1], result.stderr


def test_a_session_no_line_names_is_an_error_without_a_whole_load(mixed: Path) -> None:
    for command in ("show", "export", "replay"):
        result = run(command, mixed, "--session", "no-such-session")
        assert result.exit_code == 2, result.output
        assert result.stderr.splitlines() == [
            "Error: no session 'no-such-session' (no line of the input names it)"
        ]  # and no warning about the damaged line 3: the rest of the file was not parsed


# --- 3. stitched, inferred, branches ------------------------------------------------------------


def test_stitched_sessions_are_marked(tmp_path: Path) -> None:
    path = FIXTURES / "openai_v2_sessionless.jsonl"
    traces = load_traces(path)
    listed = json.loads(run("sessions", path, "--json").stdout)
    assert [(r["id"], r["inferred"], r["stitched"]) for r in listed] == [
        (s.id, True, True) for s in traces.sessions
    ]
    assert [r["messages"] for r in listed] == [len(s.messages) for s in traces.sessions]
    piped = run("sessions", path).stdout.splitlines()[1:]
    assert all(row.split("\t")[-1] == "inferred" for row in piped)
    shown = run("show", path, "--session", traces.sessions[0].id, "--no-pager").stdout
    assert "stitched from spans without a session id (inferred)" in shown


def _strip_session_ids(path: Path) -> None:
    """Spans as an agent layer that names no session writes them (as `test_loading_stitch`)."""
    dropped = {"gen_ai.conversation.id", "session.id"}
    requests = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    for request in requests:
        for span in _spans(request):
            span["attributes"] = [a for a in span["attributes"] if a["key"] not in dropped]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in requests))


def test_a_regenerated_turn_is_shown_as_a_branch(tmp_path: Path) -> None:
    path = tmp_path / "regenerated.jsonl"
    configure_tracing(path)
    script = [Reply(content=c) for c in ("one", "two", "two again", "three")]
    with FakeOpenAIServer(script) as server:
        agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k"), "Be brief.")
        first = agent.run("q1")
        agent.run("q2", messages=first.messages)
        again = agent.run("q2", messages=first.messages)  # the user regenerates turn 2
        agent.run("q3", messages=again.messages)
    flush_tracing()
    _strip_session_ids(path)
    main, branch = load_traces(path).sessions
    rows = {r.split("\t")[0]: r.split("\t")[-1] for r in run("sessions", path).stdout.splitlines()}
    assert rows[main.id] == "inferred"
    assert rows[branch.id] == "branch @2, inferred"
    shown = run("show", path, "--session", branch.id, "--no-pager").stdout
    assert f"branch of {main.id} @ turn 2" in shown
    listed = {r["id"]: r["lineage"] for r in json.loads(run("sessions", path, "--json").stdout)}
    assert listed[branch.id] == {
        "kind": "branch",
        "parent_session": main.id,
        "turn": 2,
        "status": None,
    }


# --- 4. runs echo nothing raw -------------------------------------------------------------------


def test_replay_and_fork_print_no_escape_sequence(evil: Path) -> None:  # noqa: F811
    outputs = {
        "fork": run("fork", evil, "--at", "2", "--recorded"),
        "fork json": run("fork", evil, "--at", "2", "--recorded", "--json"),
        "replay": run("replay", evil, "--recorded"),
        "replay all": run("replay", evil, "--all", "--recorded"),
        "fork refused": run("fork", evil, "--at", "9", "--recorded"),
    }
    for name, result in outputs.items():
        assert "Traceback" not in result.output, name
        assert_inert(result.stdout)
        assert_inert(result.stderr)
    assert "forking evil\\x1b[31m-session at turn 2" in outputs["fork"].stdout


def test_chat_escapes_the_answer_and_the_session_id(
    tmp_path: Path, server: FakeOpenAIServer
) -> None:
    server.add(Reply(content=EVIL))
    out = tmp_path / "chat.jsonl"
    args = ("chat", "--base-url", server.base_url, "--trace-out", out)
    result = run(*args, "--session-id", "id\x1b]0;t\x07", input=b"hi\n")
    assert result.exit_code == 0, result.output
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    assert "Agent: \\x1b]0;pwned\\x07" in result.stdout
    assert "session id\\x1b]0;t\\x07;" in result.stdout
    # the trace keeps the answer exact: escaping is for the terminal only
    [turn] = load_traces(out).sessions[0].turns
    assert turn.messages[-1].content == EVIL


# --- 5. the quick start -------------------------------------------------------------------------


def test_the_sample_folder_lists_without_a_warning() -> None:
    result = run("sessions", SAMPLES)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert {row.split("\t")[0] for row in result.stdout.splitlines()[1:]} == {
        "math-tutor",
        "weather",
        "streamed",
        "lisbon",
        "lisbon-fork-rainy",
        "lisbon-replay",
    }

"""What `deftrace` prints: escaped trace content, tables that never cut ids, turn ranges and
folding, the pager, unified diffs and their exit codes, the filters of `sessions`.

Traces are recorded by the real agent against the fake OpenAI server; terminal output is
rendered as on a terminal of a given width (rich's `TTY_COMPATIBLE`, `COLUMNS`), piped output
as click's runner captures it, and the pager is exercised in a real pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from deftrace_cli._app import cli
from deftrace_cli._escape import cell, safe
from hypothesis import given
from hypothesis import strategies as st

from definable_trace import Agent, OpenAIChat, configure_tracing, flush_tracing
from definable_trace.testing import FakeOpenAIServer, Reply, ToolCallReply

_SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colour codes, the only escapes we emit

EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b[H[bold red]loud[/] \u202etxt.exe\x9b31m\x7f end"
EVIL_ID = "evil\x1b[31m-session"
EVIL_MODEL = "gpt-4o\x1b]0;model\x07"
FORBIDDEN = ("\x1b", "\x07", "\u202e", "\x9b", "\x7f")


def run(*args: object, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def on_terminal(columns: int, *args: object) -> str:
    """The output as a terminal `columns` wide would get it, with rich's SGR codes removed."""
    env = {"TTY_COMPATIBLE": "1", "COLUMNS": str(columns), "LINES": "50"}
    result = run(*args, env=env)
    assert result.exit_code in (0, 1), result.output
    return _SGR.sub("", result.stdout)


def lookup(query: str) -> str:
    """Look something up."""
    return f"found {query}"


@pytest.fixture
def evil(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    """A trace whose ids, model name, messages, reasoning and tool call carry escape sequences."""
    server.add(
        Reply(tool_calls=[ToolCallReply(name="lookup", arguments=json.dumps({"query": EVIL}))])
    )
    server.add(Reply(content=EVIL, reasoning_content=EVIL, model=EVIL_MODEL))
    server.add(Reply(content="calm answer", model=EVIL_MODEL))
    path = tmp_path / "evil.jsonl"
    configure_tracing(path)
    agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k"), EVIL, tools=[lookup])
    history = agent.run(EVIL, session_id=EVIL_ID).messages
    agent.run("second", messages=history, session_id=EVIL_ID)
    flush_tracing()
    return path


def assert_inert(output: str) -> None:
    for char in FORBIDDEN:
        assert char not in output, (char, output)


# --- untrusted content ------------------------------------------------------------------------


def test_escape_function() -> None:
    assert safe(EVIL) == (
        "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[H[bold red]loud[/] \\u202etxt.exe\\x9b31m\\x7f end"
    )
    assert safe("line 1\n\tline 2 — ünïcode ✓") == "line 1\n\tline 2 — ünïcode ✓"
    assert cell("a\tb\nc\rd") == "a\\tb\\nc\\rd"
    assert all(ch not in safe("".join(map(chr, range(0x20)))) for ch in "\x00\x1b\x08")


_DANGEROUS = {
    *range(0x20),
    0x7F,
    *range(0x80, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
}


@given(st.text())
def test_escape_leaves_nothing_a_terminal_obeys(value: str) -> None:
    shown = safe(value)
    assert all(ord(ch) not in _DANGEROUS - {0x09, 0x0A} for ch in shown)
    assert all(ord(ch) not in _DANGEROUS for ch in cell(value))
    if not any(ord(ch) in _DANGEROUS - {0x09, 0x0A} for ch in value):
        assert shown == value  # ordinary text, any script, is left as it is


def test_no_escape_sequence_reaches_the_terminal(evil: Path) -> None:
    outputs = {
        "sessions piped": run("sessions", evil).stdout,
        "sessions terminal": on_terminal(80, "sessions", evil),
        "show piped": run("show", evil, "--full").stdout,
        "show terminal": on_terminal(120, "show", evil),
        "diff": on_terminal(100, "diff", evil, "--session", EVIL_ID, "--session", EVIL_ID),
        "diff stat": run("diff", evil, "--session", EVIL_ID, "--session", EVIL_ID, "--stat").stdout,
        "export text": run("export", evil, "--format", "text").stdout,
    }
    for name, output in outputs.items():
        assert_inert(output)
        assert "\\x1b" in output, name  # shown, visibly escaped
    assert "\\x1b]0;pwned\\x07" in outputs["show piped"]
    assert "[bold red]loud[/]" in outputs["show piped"]  # markup printed, not interpreted
    assert "\\u202etxt.exe" in outputs["export text"]
    assert safe(EVIL_ID) in outputs["sessions piped"].splitlines()[1].split("\t")


def test_errors_quoting_trace_content_are_inert(evil: Path) -> None:
    result = run("show", evil, "--session", "evil")  # the error names the close ids
    assert result.exit_code == 2
    assert "evil\\x1b[31m-session" in result.stderr
    assert_inert(result.stderr)


def test_json_stays_exact(evil: Path) -> None:
    data = json.loads(run("show", "--json", evil).stdout)
    assert data["session"]["id"] == EVIL_ID
    messages = data["turns"][0]["messages"]
    assert messages[0]["content"] == EVIL
    assert messages[-1]["content"] == EVIL and messages[-1]["reasoning_content"] == EVIL
    assert EVIL_MODEL in data["session"]["models"]


def test_failed_run_error_with_escapes_is_inert(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.add(Reply(status=400, error_message=EVIL))
    path = tmp_path / "failed.jsonl"
    configure_tracing(path)
    agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0))
    with pytest.raises(Exception):  # noqa: B017 - the SDK's error type is not the point here
        agent.run("hi", session_id="failed")
    flush_tracing()
    shown = run("show", path)
    assert_inert(shown.stdout)
    assert "failed turn" in run("sessions", path).stdout


# --- tables -----------------------------------------------------------------------------------

DROP_ORDER = ["notes", "took s", "msgs", "started", "models", "in tok", "out tok", "turns"]
LONG_IDS = ["math-tutor-fork-a2a96bf5", "customer-support-2026-11-29-eu-west-1-a7c3e9"]


@pytest.fixture
def many(samples: Path, server: FakeOpenAIServer) -> Path:
    """The samples plus two sessions with long ids, one of them on gpt-4o-mini."""
    path = samples / "long.jsonl"
    configure_tracing(path)
    for session_id, model in zip(LONG_IDS, ("gpt-4o", "gpt-4o-mini"), strict=True):
        agent = Agent(OpenAIChat(model, base_url=server.base_url, api_key="k"), "sys")
        agent.run(f"hello from {model}: tell me about cats", session_id=session_id)
    flush_tracing()
    return samples


def all_ids(folder: Path) -> list[str]:
    return [row["id"] for row in json.loads(run("sessions", "--json", folder).stdout)]


@pytest.mark.parametrize("columns", [80, 120])
def test_table_never_cuts_ids(many: Path, columns: int) -> None:
    out = on_terminal(columns, "sessions", many)
    ids = all_ids(many)
    assert len(ids) == 8
    lines = out.splitlines()
    assert all(len(line) <= columns for line in lines), out
    for session_id in ids:
        assert any(re.search(rf"(^|\s){re.escape(session_id)}(\s|$)", ln) for ln in lines), out
    header = next(ln for ln in lines if ln.startswith("session"))
    assert "cost $" in header and "turns" in header
    dropped = [h for h in DROP_ORDER if h not in header]
    assert dropped == DROP_ORDER[: len(dropped)]  # whole columns, in the documented order
    if columns == 120:
        assert all(h in header for h in ("in tok", "out tok", "models", "started"))
    assert "…" not in out


def test_narrow_terminal_drops_columns_in_order(many: Path) -> None:
    header = next(
        ln for ln in on_terminal(60, "sessions", many).splitlines() if ln.startswith("session")
    )
    assert "notes" not in header and "took s" not in header and "msgs" not in header
    assert "cost $" in header
    tiny = on_terminal(20, "sessions", many)  # narrower than an id: it wraps, whole
    folded = "".join(tiny.split())
    for session_id in all_ids(many):
        assert session_id in folded


def test_piped_sessions_are_tab_separated(many: Path) -> None:
    lines = run("sessions", many).stdout.splitlines()
    header = lines[0].split("\t")
    assert header[:6] == ["session", "turns", "msgs", "in tok", "out tok", "cost $"]
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(row) == len(header) for row in rows)
    assert [row[0] for row in rows] == all_ids(many)
    start = header.index("start")
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", r[start]) for r in rows)


def test_installed_command_in_a_pipe(many: Path) -> None:
    """The console script itself, stdout a pipe: tab-separated whatever COLUMNS says."""
    deftrace = Path(sys.executable).with_name("deftrace")
    env = {**os.environ, "COLUMNS": "40", "FORCE_COLOR": "1"}  # colours asked, still a pipe
    piped = subprocess.run(
        [str(deftrace), "sessions", str(many)], env=env, capture_output=True, text=True
    )
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert lines[0].startswith("session\tturns\t")
    assert [line.split("\t")[0] for line in lines[1:]] == all_ids(many)
    assert "\x1b" not in piped.stdout


# --- sessions filters --------------------------------------------------------------------------


def ids_of(*args: object) -> list[str]:
    result = run("sessions", "--json", *args)
    assert result.exit_code == 0, result.output
    return [row["id"] for row in json.loads(result.stdout)]


def test_sessions_filters(many: Path) -> None:
    assert ids_of(many, "--model", "gpt-4o-mini") == [LONG_IDS[1]]
    assert len(ids_of(many, "--model", "GPT-4O")) == 7  # exact, case-insensitive
    assert len(ids_of(many, "--model", "gpt-4o*")) == 8
    assert ids_of(many, "--since", "1h") == LONG_IDS  # the samples were recorded long ago
    assert len(ids_of(many, "--until", "2026-11-24T00:00:00Z")) == 6
    assert set(ids_of(many, "--until", "1h")) == set(ids_of(many)) - set(LONG_IDS)
    assert ids_of(many, "--grep", "TELL ME ABOUT cats") == LONG_IDS
    assert ids_of(many, "--grep", "oslo") == ["weather"]


def test_sessions_cost_filter_and_sort(many: Path) -> None:
    rows = json.loads(run("sessions", "--json", many, "--sort", "cost").stdout)
    usd = [row["cost"]["usd"] for row in rows]
    assert usd == sorted(usd, reverse=True)
    floor = usd[2]
    dear = {row["id"] for row in rows if row["cost"]["usd"] >= floor}
    assert set(ids_of(many, "--min-cost", str(floor))) == dear
    assert 3 <= len(dear) < len(rows)
    assert all(row["sources"] for row in rows)
    assert any(src.endswith("long.jsonl") for row in rows for src in row["sources"])


def test_filtered_and_cost_sorted_tables(samples: Path) -> None:
    lineage = samples / "lineage.jsonl"
    out = on_terminal(100, "sessions", samples, "--grep", "lisbon")
    assert out.startswith("3 of 6 sessions")
    flat = on_terminal(100, "sessions", lineage, "--sort", "cost")
    assert "└─" not in flat  # a sort by cost is not regrouped under parents
    rows = [ln.split()[0] for ln in flat.splitlines()[3:] if ln.strip()]
    assert rows[-1] == "lisbon-fork-rainy"  # the cheapest last
    assert "--since 2d|ISO" in run("sessions", "--help").stdout


def test_bad_filter_values_are_usage_errors(many: Path) -> None:
    for option, value in (("--since", "yesterday"), ("--min-cost", "cheap"), ("--sort", "size")):
        result = run("sessions", many, option, value)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert option in result.stderr


# --- show -------------------------------------------------------------------------------------


def test_show_turn_ranges(samples: Path) -> None:
    tutor = samples / "math_tutor.jsonl"
    out = run("show", tutor, "--turn", "2-3").stdout
    assert "Turn 2" in out and "Turn 3" in out and "Turn 1" not in out and "Turn 4" not in out
    assert "You are a math tutor." not in out  # a part of the session: no system prompt
    out = run("show", tutor, "--last", "1").stdout
    assert "Turn 4" in out and "Turn 3" not in out
    for args, shown in (
        (("--turn", "3-9"), "3-9"),
        (("--turn", "0"), None),
        (("--last", "0"), None),
    ):
        result = run("show", tutor, *args)
        assert result.exit_code == 2, result.output
        if shown:
            assert f"no turn {shown} (valid: turns 1-4)" in result.stderr
    assert run("show", tutor, "--turn", "2", "--last", "1").exit_code == 2
    assert "--turn N|A-B" in run("show", "--help").stdout


def test_show_folds_long_content_and_shows_reasoning(
    tmp_path: Path, server: FakeOpenAIServer
) -> None:
    long_answer = "\n".join(f"line {i}" for i in range(1, 51))
    server.add(
        Reply(
            content=long_answer,
            reasoning_content="I think, therefore",
            cached_tokens=3,
            reasoning_tokens=7,
            prompt_tokens=20,
            completion_tokens=80,
        )
    )
    path = tmp_path / "long.jsonl"
    configure_tracing(path)
    Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k")).run("go", session_id="s")
    flush_tracing()
    folded = run("show", path).stdout
    assert "line 20" in folded and "line 21" not in folded
    assert "… 30 more lines, --full to expand" in folded
    assert "reasoning: I think, therefore" in folded
    assert "20 in (3 cached) / 80 out (7 reasoning) tok" in folded
    full = run("show", path, "--full").stdout
    assert "line 50" in full and "more lines" not in full


def test_show_of_a_fork_numbers_inherited_turns(samples: Path) -> None:
    lineage = samples / "lineage.jsonl"
    out = run("show", lineage, "--session", "lisbon-fork-rainy").stdout
    assert "Turn 1 · inherited from lisbon" in out
    assert "1 turn (+1 inherited)" in out
    data = json.loads(run("show", lineage, "--session", "lisbon-fork-rainy", "--json").stdout)
    assert [(t["index"], t["inherited"]) for t in data["turns"]] == [(1, True), (2, False)]
    parent = json.loads(run("show", lineage, "--session", "lisbon", "--json", "--turn", "1").stdout)
    assert data["turns"][0]["messages"] == parent["turns"][0]["messages"]
    # export counts the same way: the history before turn 2 is turn 1 in both
    before = ("export", lineage, "--before-turn", "2", "--session")
    assert run(*before, "lisbon-fork-rainy").stdout == run(*before, "lisbon").stdout
    only = run("show", lineage, "--session", "lisbon-fork-rainy", "--turn", "1").stdout
    assert "inherited from lisbon" in only and "Turn 2" not in only


PAGER_SCRIPT = "import sys; open(sys.argv[1], 'w').write(sys.stdin.read())"


def _in_pty(args: list[str], env: dict[str, str]) -> str:
    """Run `deftrace` with its stdout on a pseudo-terminal; what reached the terminal."""
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(args, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_show_pages_on_a_terminal_only(samples: Path, tmp_path: Path) -> None:
    paged = tmp_path / "paged.txt"
    pager = f'{sys.executable} -c "{PAGER_SCRIPT}" {paged}'
    env = {**os.environ, "PAGER": pager, "COLUMNS": "100"}
    env.pop("DEFTRACE_PAGER", None)
    command = [sys.executable, "-m", "definable_trace", "show", str(samples / "math_tutor.jsonl")]
    shown = _in_pty(command, env)
    assert "345 / 5 = 69" in _SGR.sub("", paged.read_text())
    assert "345 / 5 = 69" not in shown  # it went to the pager, not around it
    paged.unlink()
    direct = _in_pty([*command, "--no-pager"], env)
    assert "345 / 5 = 69" in _SGR.sub("", direct) and not paged.exists()
    piped = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "345 / 5 = 69" in piped.stdout and not paged.exists()  # never in a pipe
    assert "\x1b" not in piped.stdout


# --- diff -------------------------------------------------------------------------------------


def test_diff_shows_whole_unified_diffs_and_exits_like_diff(
    tmp_path: Path, server: FakeOpenAIServer
) -> None:
    a_text = "\n".join(f"step {i}" for i in range(1, 13))
    b_text = a_text.replace("step 11", "step eleven")
    server.add(Reply(content=a_text))
    server.add(Reply(content=b_text))
    path = tmp_path / "pair.jsonl"
    configure_tracing(path)
    agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k"))
    agent.run("plan", session_id="a")
    agent.run("plan", session_id="b")
    flush_tracing()
    result = run("diff", path, "--session", "a", "--session", "b")
    assert result.exit_code == 1
    out = result.stdout
    assert "--- A turn 1 content" in out and "+++ B turn 1 content" in out
    assert "-step 11" in out and "+step eleven" in out
    assert "first difference at turn 1" in out
    stat = run("diff", path, "--session", "a", "--session", "b", "--stat")
    assert stat.exit_code == 1
    assert re.search(r"1\s+changed\s+content\s+1\s+1", stat.stdout), stat.stdout
    same = run("diff", path, "--session", "a", "--session", "a")
    assert same.exit_code == 0 and "identical" in same.stdout
    data = json.loads(run("diff", path, "--session", "a", "--session", "b", "--json").stdout)
    assert data["cost_a"]["usd"] > 0 and data["cost_difference_usd"] is not None
    assert data["turns"][0]["cost_b"]["source"].startswith("genai-prices ")


# --- export -----------------------------------------------------------------------------------


def test_export_one_session_file_without_session_and_to_stdout(samples: Path) -> None:
    tutor = samples / "math_tutor.jsonl"
    plain = run("export", tutor)
    assert plain.exit_code == 0 and json.loads(plain.stdout)[0]["role"] == "system"
    dash = run("export", tutor, "-o", "-")
    assert dash.stdout == plain.stdout and not Path("-").exists()
    text = run("export", tutor, "--format", "text").stdout
    assert text.startswith("[system]\nYou are a math tutor.") and "[user]\nWhat is 15 * 23?" in text

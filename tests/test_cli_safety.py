"""Safe runs: timeouts, options refused before anything runs, outputs that are either absent or
marked, Ctrl-C and SIGTERM, and derived files kept out of the input folder.

Signals and hung servers are tested on the installed `deftrace` in a subprocess; option
checks through click's runner. Every run's trace is read back with the loader.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from cli_helpers import DEFTRACE, run_deftrace, runs_dir, silent_server, wait_for
from click.testing import CliRunner, Result
from deftrace_cli._app import cli

from definable_trace import load_traces
from definable_trace.testing import FakeOpenAIServer, Reply

SAMPLE_TRACES = Path(__file__).resolve().parent.parent / "sample_traces"


def deftrace(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def usage_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    line = result.stderr.strip().splitlines()[-1]  # click's usage errors print usage first
    assert line.startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return line


def no_runs() -> bool:
    """Nothing was written where runs go by default."""
    return not runs_dir().exists() or not any(runs_dir().iterdir())


# --- timeouts -----------------------------------------------------------------------------------


def test_a_server_that_never_answers_ends_the_run_at_the_timeout(samples: Path) -> None:
    with silent_server() as server:
        args = ("fork", samples / "streamed.jsonl", "--at", "2", "--base-url", server.url)
        done = run_deftrace(*args, "--timeout", "1", "--retries", "0")
        assert server.connections() == 1  # one attempt: given up after --timeout seconds
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line == (
        f"Error: the model server at {server.url} did not answer within 1 s (tried once); "
        "pass --timeout SECONDS to wait longer"
    )
    assert "Traceback" not in done.stderr
    # The failed run is in the trace, marked as such: error status and lineage status.
    [out] = runs_dir().glob("streamed.fork-*.jsonl")
    [forked] = load_traces(out).sessions
    assert forked.lineage is not None and forked.lineage.status == "failed"
    assert forked.turns[-1].error is not None


def test_timed_out_attempts_are_retried_as_asked(samples: Path) -> None:
    with silent_server() as server:
        args = ("replay", samples / "streamed.jsonl", "--base-url", server.url)
        done = run_deftrace(*args, "--timeout", "0.5", "--retries", "1")
        assert server.connections() == 2
    assert done.returncode == 1, done.stderr
    assert "did not answer within 0.5 s (tried 2 times)" in done.stderr


def test_timeout_must_be_positive(samples: Path) -> None:
    line = usage_error(deftrace("replay", samples / "streamed.jsonl", "--timeout", "0"))
    assert "--timeout" in line


# --- options refused before anything runs -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--recorded", "--model", "gpt-4o-mini"), "--model does not apply"),
        (("--recorded", "--base-url", "http://127.0.0.1:9/v1"), "--base-url does not apply"),
        (("--recorded", "--timeout", "5"), "--timeout does not apply"),
        (("--recorded", "--retries", "0"), "--retries does not apply"),
        (("--until-turn", "9"), "--until-turn 9: session math-tutor has turns 1..4"),
        (("--base-url", "not-a-url"), "'not-a-url' is not an http(s) URL"),
    ],
)
def test_replay_refuses_options_before_running(
    samples: Path, args: tuple[str, ...], expected: str
) -> None:
    result = deftrace("replay", samples / "math_tutor.jsonl", *args)
    assert expected in usage_error(result)
    assert no_runs()


def test_fork_may_not_reuse_an_id_of_the_files(samples: Path) -> None:
    tutor = samples / "math_tutor.jsonl"
    line = usage_error(deftrace("fork", tutor, "--at", "2", "--recorded", "--session-id",
                                "math-tutor"))  # fmt: skip
    assert line == "Error: --session-id math-tutor: a fork needs an id other than its parent's"
    both = (tutor, samples / "streamed.jsonl", "--session", "math-tutor")
    line = usage_error(deftrace("fork", *both, "--at", "2", "--recorded", "--session-id",
                                "streamed"))  # fmt: skip
    assert "the files already hold a session so named" in line
    assert no_runs()


def test_unwritable_trace_out_is_refused_before_the_run(
    samples: Path, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    args = ("replay", samples / "streamed.jsonl", "--base-url", server.base_url)
    line = usage_error(deftrace(*args, "--trace-out", tmp_path / "missing" / "out.jsonl"))
    assert "no such directory" in line
    (tmp_path / "adir").mkdir()
    assert usage_error(deftrace(*args, "--trace-out", tmp_path / "adir")).startswith("Error")
    assert server.requests == []  # nothing ran


def test_tools_that_fail_to_import_are_one_line(samples: Path, tmp_path: Path) -> None:
    (tmp_path / "broken_tools.py").write_text("raise RuntimeError('no database')\n")
    (tmp_path / "syntax_tools.py").write_text("def f(:\n")
    for spec, expected in (
        ("broken_tools:TOOLS", "RuntimeError: no database"),
        ("syntax_tools:TOOLS", "SyntaxError"),
    ):
        done = subprocess.run(
            [DEFTRACE, "fork", samples / "tools.jsonl", "--at", "1", "--recorded", "--tools", spec],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=dict(os.environ),
        )
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith(f"Error: --tools '{spec}': cannot import it: ")
        assert expected in line
    assert no_runs()


# --- outputs: nothing, or a marked trace --------------------------------------------------------


def test_a_refused_fork_leaves_no_file(samples: Path) -> None:
    args = ("fork", samples / "math_tutor.jsonl", "--at", "5", "--recorded")
    assert "a recorded fork needs a recorded turn 5" in usage_error(deftrace(*args))
    assert no_runs()


def test_a_diverged_fork_is_marked_in_its_trace(samples: Path) -> None:
    args = ("fork", samples / "math_tutor.jsonl", "--at", "2", "--recorded", "--message", "No.")
    result = deftrace(*args)
    assert result.exit_code == 1
    [out] = runs_dir().glob("math_tutor.fork-*.jsonl")
    [forked] = load_traces(out).sessions
    assert forked.lineage is not None
    assert (forked.lineage.kind, forked.lineage.status) == ("fork", "diverged")
    assert not list(runs_dir().glob(".*"))  # no staging file left behind
    # `sessions` says so, in the table and in --json.
    listing = deftrace("sessions", samples / "math_tutor.jsonl", out)
    [row] = [line for line in listing.stdout.splitlines() if "math-tutor-fork-" in line]
    assert row.endswith("fork @2, diverged, failed turn")
    rows = json.loads(deftrace("sessions", out, "--json").stdout)
    assert rows[0]["lineage"]["status"] == "diverged"


def test_a_completed_fork_has_no_status(samples: Path) -> None:
    assert deftrace("fork", samples / "math_tutor.jsonl", "--at", "2", "--recorded").exit_code == 0
    [out] = runs_dir().glob("math_tutor.fork-*.jsonl")
    [forked] = load_traces(out).sessions
    assert forked.lineage is not None and forked.lineage.status is None


def test_quick_start_leaves_the_sample_folder_unchanged(tmp_path: Path) -> None:
    """The README's commands, as written, in a copy of the repository's sample folder."""
    folder = tmp_path / "sample_traces"
    shutil.copytree(SAMPLE_TRACES, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def quick_start(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [DEFTRACE, *args], capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ)
        )
        assert done.returncode == 0, done.stderr
        return done

    listing = quick_start("sessions", "sample_traces/", "--json").stdout
    fork = quick_start(
        "fork", "sample_traces/math_tutor.jsonl", "--session", "math-tutor", "--at", "2",
        "--recorded",
    )  # fmt: skip
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert quick_start("sessions", "sample_traces/", "--json").stdout == listing
    [out] = runs_dir().glob("math_tutor.fork-*.jsonl")
    assert f"spans: {out}" in fork.stdout
    # It says how to see the fork beside its parent, and that command works.
    hint = f"see it beside the original: deftrace sessions sample_traces/math_tutor.jsonl {out}"
    assert fork.stderr.strip() == hint
    both = quick_start(*hint.split(": ", 1)[1].split()[1:], "--json").stdout
    assert sorted(row["id"][:15] for row in json.loads(both)) == ["math-tutor", "math-tutor-fork"]


def test_definable_trace_file_is_the_default_when_set(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "everything.jsonl"
    monkeypatch.setenv("DEFINABLE_TRACE_FILE", str(target))
    result = deftrace("fork", samples / "math_tutor.jsonl", "--at", "2", "--recorded")
    assert result.exit_code == 0, result.output
    assert f"spans: {target}" in result.stdout
    assert no_runs()
    [forked] = load_traces(target).sessions
    assert forked.lineage is not None and forked.lineage.parent_session == "math-tutor"


def test_trace_out_appends_to_an_existing_file(samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    for _ in range(2):
        args = ("fork", samples / "math_tutor.jsonl", "--at", "2", "--recorded")
        assert deftrace(*args, "--trace-out", out).exit_code == 0
    assert len(load_traces(out).sessions) == 2


# --- Ctrl-C and SIGTERM -------------------------------------------------------------------------


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for a background job of a script


def _default_sigint() -> None:
    """As a shell in a terminal starts a command, whatever the tests run under (pytest run as
    a background job passes SIGINT on ignored: Ctrl-C's case would then wait forever)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("sent", "code", "background"),
    [(signal.SIGINT, 130, False), (signal.SIGTERM, 143, False), (signal.SIGTERM, 143, True)],
)
def test_a_stopped_replay_keeps_the_answered_turns(
    samples: Path, server: FakeOpenAIServer, sent: signal.Signals, code: int, background: bool
) -> None:
    server.add(Reply("first answer"), Reply("never sent", latency=600))
    args = ("replay", samples / "math_tutor.jsonl", "--base-url", server.base_url)
    process = subprocess.Popen(
        [DEFTRACE, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        preexec_fn=_ignore_sigint if background else _default_sigint,
    )
    try:
        wait_for(lambda: len(server.requests) == 2, "the second request")
        process.send_signal(sent)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == code, stderr
    [out] = runs_dir().glob("math_tutor.replay-*.jsonl")
    word = "interrupted" if sent == signal.SIGINT else "terminated"
    assert stderr.strip().splitlines()[-1] == f"{word}: the turns answered so far are kept in {out}"
    assert "Traceback" not in stderr
    [replayed] = load_traces(out).sessions
    assert replayed.lineage is not None and replayed.lineage.status == "interrupted"
    assert [t.index for t in replayed.turns] == [1, 2]
    assert replayed.turns[0].error is None
    assert replayed.turns[0].messages[-1].content == "first answer"
    assert replayed.turns[1].error is not None  # the open turn's spans were ended, as failed

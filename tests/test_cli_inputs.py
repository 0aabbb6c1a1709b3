"""Inputs like other tools take them: directories (recursively, junk skipped with a warning),
`-` for standard input (plain or gzip), quoted globs, gzip files; `-o -` means stdout.

Through click's runner, on copies of the sample traces, plus one subprocess for a real pipe.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from cli_helpers import DEFTRACE
from click.testing import CliRunner, Result
from deftrace_cli._app import cli
from deftrace_cli._common import open_output

SAMPLES = Path(__file__).resolve().parent.parent / "sample_traces"


def deftrace(*args: object, input: bytes | str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def session_ids(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return sorted(row["id"] for row in json.loads(result.stdout))


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A folder as users have them: traces in subfolders, gzipped ones, and other files."""
    root = tmp_path / "traces"
    (root / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(SAMPLES / "math_tutor.jsonl", root)
    shutil.copy(SAMPLES / "tools.jsonl", root / "sub" / "deeper")
    (root / "sub" / "streamed.jsonl.gz").write_bytes(
        gzip.compress((SAMPLES / "streamed.jsonl").read_bytes())
    )
    (root / "history.json").write_text('[{"role": "user", "content": "hi"}]')  # an export
    (root / "sub" / "notes.jsonl").write_text("not json at all\n")
    (root / "README.md").write_text("# my traces\n")
    return root


def test_a_directory_is_read_recursively_and_junk_is_skipped(messy: Path) -> None:
    result = deftrace("sessions", messy, "--json")
    assert session_ids(result) == ["math-tutor", "streamed", "weather"]
    warnings = result.stderr.strip().splitlines()
    skipped = [messy / "README.md", messy / "history.json", messy / "sub" / "notes.jsonl"]
    assert len(warnings) == len(skipped)  # one line per file that is not a trace
    for line, path in zip(warnings, skipped, strict=True):
        assert line.startswith(f"warning: {path}:1: skipped: not ")


def test_a_file_named_explicitly_must_be_a_trace(messy: Path) -> None:
    result = deftrace("sessions", messy / "history.json")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {messy / 'history.json'}:1: not OTLP trace data")


def test_a_directory_without_traces_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    result = deftrace("show", tmp_path)
    assert result.exit_code == 2
    assert f"warning: {tmp_path}: directory holds no trace file" in result.stderr
    error = f"Error: {tmp_path}: no trace files in this directory or below it"
    assert result.stderr.strip().splitlines()[-1] == error


def test_quoted_globs_are_expanded(messy: Path) -> None:
    assert session_ids(deftrace("sessions", f"{messy}/**/*.gz", "--json")) == ["streamed"]
    result = deftrace("sessions", f"{messy}/**/*.jsonl", "--json")  # notes.jsonl: skipped
    assert session_ids(result) == ["math-tutor", "weather"]
    assert "skipped" in result.stderr
    nothing = deftrace("sessions", f"{messy}/*.nope")
    assert nothing.exit_code == 2
    assert nothing.stderr == f"Error: {messy}/*.nope: no file matches this pattern\n"


def test_stdin_plain_and_gzip() -> None:
    plain = (SAMPLES / "math_tutor.jsonl").read_bytes()
    assert session_ids(deftrace("sessions", "-", "--json", input=plain)) == ["math-tutor"]
    packed = gzip.compress((SAMPLES / "streamed.jsonl").read_bytes())
    both = deftrace("sessions", "-", SAMPLES / "tools.jsonl", "--json", input=packed)
    assert session_ids(both) == ["streamed", "weather"]


def test_stdin_errors_name_stdin() -> None:
    result = deftrace("sessions", "-", input=b'{"resourceSpans": [\n')
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: <stdin>:1: ")


def test_stdin_through_a_real_pipe_and_a_fork_from_it() -> None:
    source = (SAMPLES / "math_tutor.jsonl").read_bytes()
    done = subprocess.run(
        [DEFTRACE, "fork", "-", "--at", "2", "--recorded", "--json"],
        input=source,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert Path(data["trace_out"]).name.startswith("stdin.fork-")
    assert data["turns"][0]["content"] == "345 / 5 = 69"


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = deftrace("show", tmp_path / "nope.jsonl")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path / 'nope.jsonl'}: file or directory does not exist\n"


# --- outputs ------------------------------------------------------------------------------------


@click.command()
@click.option("-o", "--output", required=True)
@click.option("--fail", is_flag=True)
def _writer(output: str, fail: bool) -> None:
    """A command that writes through `open_output`, as `export -o` and `pull -o` do."""
    with open_output(output) as out:
        out.write(b'{"first": 1}\n')
        if fail:
            raise click.ClickException("stopped halfway")
        out.write(b'{"second": 2}\n')


def test_output_dash_is_stdout_and_never_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(_writer, ["-o", "-"])
    assert result.exit_code == 0, result.output
    assert result.stdout == '{"first": 1}\n{"second": 2}\n'
    assert list(tmp_path.iterdir()) == []


def test_output_file_is_whole_or_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    assert CliRunner().invoke(_writer, ["-o", str(target)]).exit_code == 0
    assert target.read_text() == '{"first": 1}\n{"second": 2}\n'
    failed = CliRunner().invoke(_writer, ["-o", str(target), "--fail"])
    assert failed.exit_code == 1
    assert target.read_text() == '{"first": 1}\n{"second": 2}\n'  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary left
    missing = CliRunner().invoke(_writer, ["-o", str(tmp_path / "no" / "x.json")])
    assert missing.exit_code == 2
    assert "no such directory" in missing.stderr

"""Shell completion through click's own mechanism, as the shell calls it: the installed
`deftrace` with `_DEFTRACE_COMPLETE` and COMP_WORDS/COMP_CWORD in its environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cli_helpers import DEFTRACE

SAMPLES = Path(__file__).resolve().parent.parent / "sample_traces"


def complete(line: str, cword: int | None = None) -> list[str]:
    """What bash would offer for word `cword` of `line` (default: the last one, empty after a
    trailing space)."""
    words = line.split(" ")
    env = {
        **os.environ,
        "_DEFTRACE_COMPLETE": "bash_complete",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1 if cword is None else cword),
    }
    done = subprocess.run([DEFTRACE], env=env, capture_output=True, text=True, cwd=SAMPLES.parent)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # completion never prints warnings into the user's prompt
    return [item.split(",", 1)[1] for item in done.stdout.splitlines() if item]


def test_commands_and_options() -> None:
    assert complete("deftrace s") == ["sessions", "show"]
    assert complete("deftrace fork --ti") == ["--timeout"]
    assert "--include-replays" in complete("deftrace replay --")


@pytest.mark.parametrize("command", ["show", "fork", "replay", "export", "diff"])
def test_session_ids_of_the_files_on_the_line(command: str) -> None:
    line = f"deftrace {command} sample_traces/lineage.jsonl --session "
    assert complete(line) == ["lisbon", "lisbon-fork-rainy", "lisbon-replay"]
    assert complete(f"deftrace {command} sample_traces/lineage.jsonl --session lisbon-f") == [
        "lisbon-fork-rainy"
    ]


def test_session_ids_of_a_directory_and_before_the_files() -> None:
    assert complete("deftrace show sample_traces --session m") == ["math-tutor"]
    assert complete("deftrace show --session w sample_traces/tools.jsonl", cword=3) == ["weather"]


def test_chat_resume_session() -> None:
    line = "deftrace chat --resume sample_traces/streamed.jsonl --session "
    assert complete(line) == ["streamed"]


def test_no_files_or_unreadable_files_offer_nothing(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n")
    assert complete("deftrace show --session ") == []
    assert complete(f"deftrace show {junk} --session ") == []


def test_the_shell_script_is_clicks() -> None:
    env = {**os.environ, "_DEFTRACE_COMPLETE": "bash_source"}
    done = subprocess.run([DEFTRACE], env=env, capture_output=True, text=True)
    assert "_deftrace_completion()" in done.stdout
    assert "complete -o nosort -F _deftrace_completion deftrace" in done.stdout

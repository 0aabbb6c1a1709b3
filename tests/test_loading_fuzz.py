"""Damaged input never ends in a foreign exception: only `TraceFormatError` or warnings.

Hypothesis mutates real trace files (the committed samples and fixtures, written by our agent
and by the real foreign instrumentations, plus a compact-history-mode trace made here) in the
ways files get damaged (see `loading_mutations`), then loads each mutant and reads every part
of every session, as `show`, `export` and `replay` would. The CLI runs on a sample of mutants:
exit 0 or 2, never a traceback. Derandomized, no example database: the same examples each run.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result
from deftrace_cli._app import cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading_mutations import MUTATIONS, SOURCES, mutate, touch_everything
from test_loading_support import Reply, ToolCallReply, conversation

from definable_trace import DefinableTraceError
from definable_trace.loading import load_traces

_KINDS = st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=2)
_SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
_FUZZ = settings(
    max_examples=500,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The committed traces, and one in the compact history mode (offsets between spans)."""
    compact = tmp_path_factory.mktemp("compact") / "compact.jsonl"
    script = [
        Reply(content="one"),
        Reply(tool_calls=[ToolCallReply("weather", {"city": "Lima"})]),
        Reply(content="two"),
        Reply(content="three"),
        Reply(content="four"),
    ]
    conversation(compact, script, ["a", "b", "c", "d"], history="delta")
    return [*SOURCES, compact]


def _load_and_read(path: Path) -> None:
    try:
        traces = load_traces(path)
    except DefinableTraceError:
        return  # the project's own answer: a clear error naming the file and line
    touch_everything(traces)
    for warning in traces.warnings:
        assert warning.path == str(path)
    for session in traces.sessions[:2]:  # the same session picked out of the damaged file
        alone = load_traces(path, session=session.id)
        touch_everything(alone)
        assert [s.id for s in alone] == [session.id]
        assert alone.session(session.id).messages == session.messages  # same, and stable


@_FUZZ
@given(data=st.data(), kinds=_KINDS, seed=_SEEDS)
def test_damaged_files_give_project_errors_or_warnings_only(
    sources: list[Path], tmp_path: Path, data: st.DataObject, kinds: list[str], seed: int
) -> None:
    source = data.draw(st.sampled_from(sources), label="source")
    path = tmp_path / "mutant.jsonl"
    path.write_bytes(mutate(source.read_bytes(), kinds, seed))
    _load_and_read(path)


@settings(_FUZZ, max_examples=100)
@given(data=st.data(), kinds=_KINDS, seed=_SEEDS)
def test_the_cli_on_damaged_files_exits_0_or_2_without_a_traceback(
    sources: list[Path], tmp_path: Path, data: st.DataObject, kinds: list[str], seed: int
) -> None:
    source = data.draw(st.sampled_from(sources), label="source")
    path = tmp_path / "mutant.jsonl"
    path.write_bytes(mutate(source.read_bytes(), kinds, seed))
    runner = CliRunner()
    listed = runner.invoke(cli, ["sessions", "--json", str(path)])
    _exited_cleanly(listed)
    ids = [s["id"] for s in orjson.loads(listed.stdout)] if listed.exit_code == 0 else [None]
    for session in ids[:2]:
        args = ["show", "--json", str(path)] + (["--session", session] if session else [])
        _exited_cleanly(runner.invoke(cli, args))


def _exited_cleanly(result: Result) -> None:
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    exception = result.exception
    assert exception is None or isinstance(exception, SystemExit), repr(exception)
    assert "Traceback" not in result.output

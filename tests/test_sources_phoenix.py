"""Sessions read back from a real Arize Phoenix (see tests/stores/phoenix.py for the server).

Our agent exports to Phoenix with only the standard OTEL_* variables and writes a local file in
the same run; every check compares what comes back through Phoenix's REST API with that file.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from deftrace_cli._app import cli
from stores.phoenix_server import PhoenixServer, phoenix  # noqa: F401 - the fixture

from definable_trace import load_traces
from definable_trace.sources import TimeWindow, open_source

pytestmark = pytest.mark.phoenix


def deftrace(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def exported(phoenix: PhoenixServer, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """Project `tests-a`: session `long` (7 turns, tool calls in turns 3 and 6) and `short`
    (2 turns); the local file holds the same spans."""
    local = tmp_path_factory.mktemp("exported") / "local.jsonl"
    phoenix.export("tests-a", local, ("long", 7), ("short", 2))
    return local


def _same_session(a_path: object, b_path: object, session_id: str) -> None:
    a = load_traces(a_path).session(session_id)  # type: ignore[arg-type]
    b = load_traces(b_path).session(session_id)  # type: ignore[arg-type]
    assert a.messages == b.messages
    assert [t.index for t in a.turns] == [t.index for t in b.turns]
    assert [t.metrics for t in a.turns] == [t.metrics for t in b.turns]
    assert [[c.name for c in t.tool_calls] for t in a.turns] == [
        [c.name for c in t.tool_calls] for t in b.turns
    ]


_TIMES = {"start", "end", "duration", "time_to_first_token"}


def _without_times(value: Any, times: list[tuple[str, Any]]) -> Any:
    """`value` without its timing fields, which are appended to `times` as (field, value),
    and without `sources`, which names where it was read from."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "sources":  # where the session was read from: the store vs the file
                continue
            if key in _TIMES and item is not None:
                times.append((key, item))
            else:
                out[key] = _without_times(item, times)
        return out
    if isinstance(value, list):
        return [_without_times(item, times) for item in value]
    return value


def test_library_fetch_rebuilds_the_local_history(phoenix: PhoenixServer, exported: Path) -> None:  # noqa: F811
    source = open_source(phoenix.address("tests-a"))
    traces = load_traces(source.fetch(["long"]))
    assert [s.id for s in traces.sessions] == ["long"]
    assert traces.warnings == []
    local = load_traces(exported).session("long")
    pulled = traces.session("long")
    assert pulled.messages == local.messages
    assert len(pulled.messages) == 1 + 7 * 2 + 2 * 2  # system, 7 turns, 2 tool round trips
    assert [t.metrics for t in pulled.turns] == [t.metrics for t in local.turns]
    summaries = {s.id: s for s in source.sessions(TimeWindow.of())}
    assert set(summaries) == {"long", "short"}
    assert summaries["long"].traces == 7


def test_pull_writes_otlp_lines_that_reload_exactly(
    phoenix: PhoenixServer,  # noqa: F811
    exported: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "pulled.jsonl"
    result = deftrace("pull", phoenix.address("tests-a"), "--session", "long", "-o", out)
    assert result.exit_code == 0, result.output
    assert "pulled 1 session(s)" in result.stderr
    for line in out.read_bytes().splitlines():  # real OTLP/JSON: camelCase, numeric enums
        span = json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        assert isinstance(span["kind"], int) and "traceId" in span and "trace_id" not in span
    _same_session(out, exported, "long")
    assert [s.id for s in load_traces(out).sessions] == ["long"]


def test_pull_to_stdout(phoenix: PhoenixServer, exported: Path, tmp_path: Path) -> None:  # noqa: F811
    result = deftrace("pull", phoenix.address("tests-a"), "--session", "short", "-o", "-")
    assert result.exit_code == 0, result.output
    out = tmp_path / "stdout.jsonl"
    out.write_bytes(result.stdout_bytes)
    _same_session(out, exported, "short")
    assert not (Path.cwd() / "-").exists()


def test_show_and_sessions_from_the_store_match_the_file(
    phoenix: PhoenixServer,  # noqa: F811
    exported: Path,
) -> None:
    address = phoenix.address("tests-a")
    from_store = deftrace("show", address, "--session", "long", "--json")
    from_file = deftrace("show", exported, "--session", "long", "--json")
    assert from_store.exit_code == 0, from_store.output
    store_times: list[tuple[str, Any]] = []
    file_times: list[tuple[str, Any]] = []
    store_view = _without_times(json.loads(from_store.stdout), store_times)
    file_view = _without_times(json.loads(from_file.stdout), file_times)
    assert store_view == file_view
    # Phoenix keeps times to the microsecond (our spans have nanoseconds), so each instant is
    # within 1 µs of the file's (compared as datetimes, exactly), and a duration in seconds (the
    # difference of two instants) within 2 µs, plus a nanosecond for float subtraction: 2 µs
    # can compute as 2.000000000002e-06.
    assert [key for key, _ in store_times] == [key for key, _ in file_times]
    for (key, a), (_, b) in zip(store_times, file_times, strict=True):
        if key in ("start", "end"):
            gap = datetime.fromisoformat(a) - datetime.fromisoformat(b)
            assert abs(gap) <= timedelta(microseconds=1), (key, a, b)
        else:
            assert abs(a - b) <= 2e-6 + 1e-9, (key, a, b)
    listed = deftrace("sessions", address, "--since", "2h", "--json")
    assert listed.exit_code == 0, listed.output
    assert {s["id"] for s in json.loads(listed.stdout)} == {"long", "short"}


def test_replay_and_fork_recorded_from_the_store(
    phoenix: PhoenixServer,  # noqa: F811
    exported: Path,
    tmp_path: Path,
) -> None:
    address = phoenix.address("tests-a")
    out = tmp_path / "replay.jsonl"
    replayed = deftrace("replay", address, "--session", "long", "--recorded", "--trace-out", out)
    assert replayed.exit_code == 0, replayed.output
    assert "7 turns run: 7 same, 0 different" in replayed.stdout
    [session] = load_traces(out).sessions
    assert session.lineage is not None and session.lineage.parent_session == "long"

    fork_out = tmp_path / "fork.jsonl"
    forked = deftrace(
        "fork", address, "--session", "long", "--at", "4", "--recorded",
        "--session-id", "long-fork", "--trace-out", fork_out,
    )  # fmt: skip
    assert forked.exit_code == 0, forked.output
    fork = load_traces(fork_out).session("long-fork")
    original = load_traces(exported).session("long")
    kept = original.history(before_turn=4)  # turns 1-3, exactly as Phoenix held them
    assert fork.messages[: len(kept)] == kept
    rerun = [(m.role, m.content) for m in fork.messages]  # turn 4 answered from the recording
    assert rerun == [(m.role, m.content) for m in original.history(before_turn=5)]
    assert fork.lineage is not None and fork.lineage.parent_session == "long"


def test_default_spans_file_for_a_store_session(
    phoenix: PhoenixServer,  # noqa: F811
    exported: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replay of a store's session writes where spans normally go (DEFINABLE_TRACE_FILE)."""
    target = tmp_path / "default.jsonl"
    monkeypatch.setenv("DEFINABLE_TRACE_FILE", str(target))
    result = deftrace("replay", phoenix.address("tests-a"), "--session", "short", "--recorded")
    assert result.exit_code == 0, result.output
    assert f"spans: {target}" in result.stdout
    assert load_traces(target).sessions[0].lineage.parent_session == "short"  # type: ignore[union-attr]


def test_session_ids_are_filtered_by_project(phoenix: PhoenixServer, tmp_path: Path) -> None:  # noqa: F811
    """Phoenix session ids are global across projects: the same id in two projects must come
    back as the project's own session only."""
    phoenix.export("tests-b", tmp_path / "b.jsonl", ("shared", 2))
    phoenix.export("tests-c", tmp_path / "c.jsonl", ("shared", 3))
    b = load_traces(open_source(phoenix.address("tests-b")).fetch(["shared"])).session("shared")
    c = load_traces(open_source(phoenix.address("tests-c")).fetch(["shared"])).session("shared")
    assert (len(b.turns), len(c.turns)) == (2, 3)
    assert b.messages == load_traces(tmp_path / "b.jsonl").session("shared").messages


def test_missing_session_project_and_store(phoenix: PhoenixServer, exported: Path) -> None:  # noqa: F811
    missing = deftrace("show", phoenix.address("tests-a"), "--session", "nope")
    assert missing.exit_code == 2
    assert "no session 'nope' in phoenix+http://127.0.0.1:" in missing.stderr
    no_project = deftrace("pull", phoenix.address("no-such-project"), "--session", "x")
    assert no_project.exit_code == 1
    assert "no project 'no-such-project' (HTTP 404)" in no_project.stderr
    assert "Traceback" not in no_project.output


def test_replay_all_sessions_of_the_window(
    phoenix: PhoenixServer,  # noqa: F811
    exported: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "all.jsonl"
    result = deftrace(
        "replay", phoenix.address("tests-a"), "--all", "--recorded", "--since", "2h",
        "--concurrency", "2", "--trace-out", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    replayed = load_traces(out).sessions
    assert sorted(s.lineage.parent_session for s in replayed if s.lineage) == ["long", "short"]


def test_a_window_cutting_a_session_still_gives_it_whole(
    phoenix: PhoenixServer,  # noqa: F811
    exported: Path,
) -> None:
    """Listing a window that begins after a session's first turn must not present its later
    turns as the whole session: such a session is fetched whole, by id."""
    local = load_traces(exported).session("long")
    cut = local.turns[3].start  # turns 4-7 only fall inside [cut, now]
    assert cut is not None
    source = open_source(phoenix.address("tests-a"))
    traces = load_traces(source.fetch(None, TimeWindow.of(since=cut)))
    assert len(traces.session("long").turns) == len(local.turns) == 7
    assert traces.session("long").messages == local.messages

"""`deftrace replay --all` over a trace store, a page of sessions at a time: the store lists
its sessions, and each page is fetched, replayed and let go before the next is fetched.

The stores are the local Jaeger v2 and Tempo servers of tests/stores/fake_stores.py holding
spans our agent really wrote (against the fake OpenAI server); everything on our side is
real: the source over HTTP, the loader, the replay, the CLI through click's runner.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import TraceFile
from deftrace_cli._app import cli
from stores.agent_session import run_sessions
from stores.fake_stores import FakeStore, Faults

from definable_trace import load_traces
from definable_trace.testing import FakeOpenAIServer

SESSIONS = [("a", 1), ("b", 2), ("c", 1), ("d", 3), ("e", 1)]
SUFFIX = {"jaeger": "?service=definable", "tempo": ""}  # Jaeger lists a service's sessions only


def deftrace(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def recorded(trace_file: TraceFile, server: FakeOpenAIServer) -> list[dict[str, Any]]:
    run_sessions(server.base_url, SESSIONS)
    return trace_file.documents()


def _session_searches(store: FakeStore) -> list[list[str]]:
    """The session ids of each search the store answered, in order ([] for a search of the
    whole window, as listing the sessions does)."""
    searches = []
    for path, query in store.requests:
        if path == "/api/search":  # Tempo: TraceQL
            text = query["q"][0]
            searches.append([sid for sid, _ in SESSIONS if f'"{sid}"' in text])
        elif path == "/api/v3/traces":  # Jaeger: an attribute map
            wanted = json.loads(query.get("query.attributes", ["{}"])[0])
            searches.append(sorted(set(wanted.values())))
    return searches


@pytest.mark.parametrize("kind", ["jaeger", "tempo"])
def test_every_session_is_replayed_page_by_page(
    kind: str, recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "replays.jsonl"
    with FakeStore(kind, recorded) as store:
        args = ("replay", store.address(SUFFIX[kind]), "--all", "--recorded", "--since", "1d")
        result = deftrace(*args, "--page-size", "2", "--trace-out", out, "--json")
    assert result.exit_code == 0, result.output
    assert "5 sessions of the window, 2 fetched at a time" in result.stderr
    report = json.loads(result.stdout)
    assert sorted(s["session"] for s in report["sessions"]) == ["a", "b", "c", "d", "e"]
    assert all(s["error"] is None for s in report["sessions"])
    replays = load_traces(out).sessions
    parents = {s.lineage.parent_session: len(s.turns) for s in replays if s.lineage}
    assert parents == dict(SESSIONS)
    searches = _session_searches(store)
    assert searches[0] == []  # one listing of the window, then each session fetched by its id
    assert sorted(sid for ids in searches[1:] for sid in ids) == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("kind", ["jaeger", "tempo"])
def test_a_page_fetched_after_replaying_the_one_before(
    kind: str, recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The store fails on the first search of the second page: the first page was replayed
    by then (its spans are kept); loaded whole first, nothing would have run."""
    out = tmp_path / "replays.jsonl"
    faults = Faults(malformed={"find": 4})  # 1: the listing; 2, 3: page 1's two sessions
    with FakeStore(kind, recorded, faults) as store:
        args = ("replay", store.address(SUFFIX[kind]), "--all", "--recorded", "--since", "1d")
        result = deftrace(*args, "--page-size", "2", "--trace-out", out)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.splitlines()[-1].startswith("Error: ")
    assert "malformed answer" in result.stderr
    replays = load_traces(out).sessions
    assert sorted(s.lineage.parent_session for s in replays if s.lineage) == ["a", "b"]


def test_replays_in_the_store_are_skipped_across_pages(
    recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    first = tmp_path / "first.jsonl"
    with FakeStore("tempo", recorded) as store:
        args = ("replay", store.address(), "--all", "--recorded", "--since", "1d")
        assert deftrace(*args, "--trace-out", first).exit_code == 0
    again = tmp_path / "again.jsonl"
    documents = recorded + [json.loads(line) for line in first.read_text().splitlines()]
    with FakeStore("tempo", documents) as store:
        args = ("replay", store.address(), "--all", "--recorded", "--since", "1d")
        result = deftrace(*args, "--page-size", "3", "--trace-out", again, "--json")
    assert result.exit_code == 0, result.output
    assert "skipping 5 sessions that are replays (--include-replays)" in result.stderr
    assert sorted(s["session"] for s in json.loads(result.stdout)["sessions"]) == [
        "a",
        "b",
        "c",
        "d",
        "e",
    ]


def test_until_turn_past_every_session_is_said(
    recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    with FakeStore("tempo", recorded) as store:
        args = ("replay", store.address(), "--all", "--recorded", "--since", "1d")
        result = deftrace(*args, "--until-turn", "7", "--trace-out", tmp_path / "r.jsonl")
    assert result.exit_code == 0, result.output
    assert "warning: --until-turn 7: no session has that turn (the longest ends at turn 3)" in (
        result.stderr
    )


def test_an_empty_window_is_a_usage_error(recorded: list[dict[str, Any]]) -> None:
    with FakeStore("tempo", recorded) as store:
        args = ("replay", store.address(), "--all", "--recorded", "--since", "2030-01-01")
        result = deftrace(*args, "--until", "2030-01-02")
    assert result.exit_code == 2, result.output
    assert "the stores list no session in the time window" in result.stderr

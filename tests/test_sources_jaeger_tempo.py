"""The Jaeger v2 and Tempo sources against local servers answering those stores' documented
query shapes with our own spans (tests/stores/fake_stores.py cites the documentation): neither
store can run here. Everything on our side is real: the source over HTTP, the loader, the CLI.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from conftest import TraceFile
from deftrace_cli._app import cli
from stores.agent_session import run_sessions
from stores.fake_stores import FakeStore, Faults

from definable_trace import load_traces
from definable_trace._errors import InvalidInputError, SourceError
from definable_trace.sources import TimeWindow, open_source
from definable_trace.testing import FakeOpenAIServer

HOUR_NS = 3600 * 10**9
TOKEN = "Bearer tok-s3cret"


def deftrace(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def recorded(trace_file: TraceFile, server: FakeOpenAIServer) -> list[dict[str, Any]]:
    """`long` (5 turns, a tool call in turn 3) and `short` (2 turns); each trace (turn) moved an
    hour after the one before, so that time windows can tell them apart."""
    run_sessions(server.base_url, [("long", 5), ("short", 2)])
    documents = trace_file.documents()
    starts: dict[str, int] = {}
    for span in _spans(documents):
        starts[span["traceId"]] = min(
            starts.get(span["traceId"], 1 << 63), int(span["startTimeUnixNano"])
        )
    order = {trace: rank for rank, trace in enumerate(sorted(starts, key=starts.__getitem__))}
    shift = len(order) * HOUR_NS
    for span in _spans(documents):
        moved = order[span["traceId"]] * HOUR_NS - shift  # the last trace about now
        span["startTimeUnixNano"] = str(int(span["startTimeUnixNano"]) + moved)
        span["endTimeUnixNano"] = str(int(span["endTimeUnixNano"]) + moved)
    return documents


def _spans(documents: list[dict[str, Any]]) -> Any:
    for document in documents:
        for resource in document["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                yield from scope["spans"]


def _local(documents: list[dict[str, Any]], session_id: str) -> Any:
    return load_traces(iter(copy.deepcopy(documents))).session(session_id)


def _window() -> TimeWindow:
    from datetime import timedelta

    return TimeWindow.of(default=timedelta(days=2))


@pytest.mark.parametrize("kind", ["jaeger", "tempo"])
def test_a_session_rebuilds_exactly(kind: str, recorded: list[dict[str, Any]]) -> None:
    with FakeStore(kind, copy.deepcopy(recorded)) as store:
        source = open_source(store.address())
        traces = load_traces(source.fetch(["long"], _window()))
    assert [s.id for s in traces.sessions] == ["long"]
    local = _local(recorded, "long")
    pulled = traces.session("long")
    assert pulled.messages == local.messages
    assert [t.metrics for t in pulled.turns] == [t.metrics for t in local.turns]
    assert [c.name for t in pulled.turns for c in t.tool_calls] == ["lookup"]


def test_jaeger_query_parameters(recorded: list[dict[str, Any]]) -> None:
    with FakeStore("jaeger", copy.deepcopy(recorded)) as store:
        load_traces(open_source(store.address()).fetch(["short"], _window()))
    path, query = store.requests[0]
    assert path == "/api/v3/traces"
    assert orjson.loads(query["query.attributes"][0]) == {"gen_ai.conversation.id": "short"}
    assert query["query.startTimeMin"][0].endswith("Z") and "query.searchDepth" in query


@pytest.mark.parametrize("kind", ["jaeger", "tempo"])
def test_full_answers_split_the_window(kind: str, recorded: list[dict[str, Any]]) -> None:
    """Neither store has a cursor: an answer holding `limit` traces may hide more, so the
    window is halved until every answer is short of the limit."""
    with FakeStore(kind, copy.deepcopy(recorded)) as store:
        traces = load_traces(open_source(store.address("?limit=2")).fetch(["long"], _window()))
    assert traces.session("long").messages == _local(recorded, "long").messages
    finds = [q for p, q in store.requests if p in ("/api/v3/traces", "/api/search")]
    assert len(finds) > 3


def test_jaeger_404_is_an_empty_result(recorded: list[dict[str, Any]], tmp_path: Path) -> None:
    with FakeStore("jaeger", copy.deepcopy(recorded)) as store:
        documents = list(open_source(store.address()).fetch(["nope"], _window()))
        assert documents == []
        result = deftrace("show", store.address(), "--session", "nope", "--since", "2d")
    assert result.exit_code == 2
    assert f"no session 'nope' in jaeger+http://127.0.0.1:{store.port}" in result.stderr
    assert "--since/--until" in result.stderr


def test_listing_sessions(recorded: list[dict[str, Any]]) -> None:
    with FakeStore("tempo", copy.deepcopy(recorded)) as store:
        listed = deftrace("sessions", store.address(), "--since", "2d", "--json")
        summaries = open_source(store.address()).sessions(_window())
    assert listed.exit_code == 0, listed.output
    assert sorted(s["id"] for s in orjson.loads(listed.stdout)) == ["long", "short"]
    assert {s.id: s.traces for s in summaries} == {"long": 5, "short": 2}
    with FakeStore("jaeger", copy.deepcopy(recorded)) as store:
        with pytest.raises(InvalidInputError, match=r"add \?service=NAME"):
            open_source(store.address()).sessions(_window())
        summaries = open_source(store.address("?service=definable")).sessions(_window())
    assert sorted(s.id for s in summaries) == ["long", "short"]


@pytest.mark.parametrize("kind", ["jaeger", "tempo"])
def test_auth_header_refused_and_accepted(kind: str, recorded: list[dict[str, Any]]) -> None:
    faults = Faults(header=("Authorization", TOKEN))
    with FakeStore(kind, copy.deepcopy(recorded), faults) as store:
        address = store.address()
        missing = deftrace("pull", address, "--session", "long", "--since", "2d")
        wrong = deftrace(
            "pull", address, "--session", "long", "--header", "Authorization: Bearer no"
        )
        right = deftrace(
            "pull",
            address,
            "--session",
            "long",
            "--since",
            "2d",
            "--header",
            f"Authorization: {TOKEN}",
        )
    assert missing.exit_code == 1 and "HTTP 401" in missing.stderr
    assert wrong.exit_code == 1 and "HTTP 403" in wrong.stderr
    assert "--header" in wrong.stderr and "Bearer no" not in wrong.output
    assert right.exit_code == 0, right.output
    pulled = load_traces(iter(orjson.loads(line) for line in right.stdout_bytes.splitlines()))
    assert pulled.session("long").messages == _local(recorded, "long").messages


@pytest.mark.parametrize(
    ("kind", "route"), [("jaeger", "find"), ("tempo", "find"), ("tempo", "get")]
)
def test_malformed_answer(
    kind: str, route: str, recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    with FakeStore(kind, copy.deepcopy(recorded), Faults(malformed={route: 2})) as store:
        out = tmp_path / "pulled.jsonl"
        args = ("pull", store.address("?limit=2"), "--session", "long", "--since", "2d", "-o", out)
        result = deftrace(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: {kind}+http://127.0.0.1:{store.port}?limit=2: GET /api/"
    )
    assert "malformed answer" in result.stderr
    assert not out.exists()  # nothing partial is written


@pytest.mark.parametrize(("kind", "route"), [("jaeger", "find"), ("tempo", "get")])
def test_store_times_out_midway(
    kind: str, route: str, recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    faults = Faults(stall={route: 3}, stall_seconds=3.0)
    with FakeStore(kind, copy.deepcopy(recorded), faults) as store:
        out = tmp_path / "pulled.jsonl"
        args = ("pull", store.address("?limit=2"), "--session", "long", "--since", "2d")
        result = deftrace(*args, "--timeout", "0.5", "-o", out)
        store.counts.clear()  # the same stall, for the library
        with pytest.raises(SourceError, match="timeout"):
            load_traces(
                open_source(store.address("?limit=2"), timeout=0.5).fetch(["long"], _window())
            )
    assert result.exit_code == 1
    assert "no answer within 0.5 s (timeout)" in result.stderr
    assert not out.exists()


def test_tempo_truncated_attributes_are_warned(recorded: list[dict[str, Any]]) -> None:
    """Tempo cuts attribute values at 2,048 bytes by default: such a history is incomplete."""
    documents = copy.deepcopy(recorded)
    for span in _spans(documents):
        for item in span.get("attributes", []):
            if item["key"] == "gen_ai.input.messages":
                item["value"]["stringValue"] = (item["value"]["stringValue"] * 100)[:2048]
                break
        else:
            continue
        break
    with FakeStore("tempo", documents) as store:
        result = deftrace("show", store.address(), "--session", "long", "--since", "2d")
    assert result.exit_code == 0, result.output
    assert "gen_ai.input.messages looks truncated" in result.stderr
    assert 'history="delta"' in result.stderr


def test_credentials_never_shown() -> None:
    source = open_source(
        "tempo+https://user:pw-s3cret@tempo.example:3200", headers={"Authorization": TOKEN}
    )
    assert "s3cret" not in repr(source) and "s3cret" not in source.name
    assert "tok-s3cret" not in repr(source._http)  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="expected 'Name: value'"):
        open_source("tempo+http://127.0.0.1:1", headers=["no separator"])
    bad = deftrace("show", "nope+http://u:pw-s3cret@h:1/x", "--session", "s")
    assert (
        bad.exit_code == 2
        and "s3cret" not in bad.output
        and "unknown trace store 'nope'" in bad.stderr
    )

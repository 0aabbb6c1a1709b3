"""The ClickHouse source's SQL and row conversion, run for real in chDB (embedded ClickHouse)
on the OpenTelemetry Collector clickhouseexporter's exact `otel_traces` DDL
(tests/stores/otel_traces.sql, from exporter/clickhouseexporter/internal/sqltemplates/
traces_table.sql), with rows inserted as the exporter writes them from our own spans
(tests/stores/clickhouse_rows.py, after exporter_traces.go). The production client,
`clickhouse-connect`, sends this same SQL text and parameters to a real server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import TraceFile, closed_port
from stores.agent_session import run_sessions
from stores.clickhouse_rows import ChdbTable, exporter_rows

from definable_trace import load_traces
from definable_trace._errors import InvalidInputError, SourceError
from definable_trace._sources._clickhouse_sql import (
    documents_from_rows,
    listing_query,
    spans_query,
)
from definable_trace.sources import TimeWindow, open_source
from definable_trace.testing import FakeOpenAIServer

pytest.importorskip("chdb")
TABLE = "`otel`.`otel_traces`"


@pytest.fixture
def table(tmp_path: Path) -> Iterator[ChdbTable]:
    chdb_table = ChdbTable(tmp_path / "chdb")
    yield chdb_table
    chdb_table.close()


@pytest.fixture
def recorded(trace_file: TraceFile, server: FakeOpenAIServer) -> TraceFile:
    """Our agent's spans: `long` (5 turns, a tool call in turn 3), `quoted'\\id` (2 turns)."""
    run_sessions(server.base_url, [("long", 5), ("quoted'\\id", 2)])
    return trace_file


def _pull(table: ChdbTable, session_ids: list[str] | None, window: TimeWindow) -> list[dict]:  # type: ignore[type-arg]
    sql, params = spans_query(TABLE, session_ids, window)
    return list(documents_from_rows(table.query(sql, params)))


def test_sessions_rebuild_exactly_from_exporter_rows(table: ChdbTable, recorded: TraceFile) -> None:
    documents = recorded.documents()
    table.insert(exporter_rows(documents))
    table.insert(exporter_rows(documents[:2]))  # the exporter may write a batch twice
    local = load_traces(recorded.path)
    for session_id in ("long", "quoted'\\id"):
        pulled = load_traces(iter(_pull(table, [session_id], TimeWindow.of())))
        assert pulled.warnings == []  # no "repeated span" either: rows deduplicated
        assert [s.id for s in pulled.sessions] == [session_id]
        mine, theirs = pulled.session(session_id), local.session(session_id)
        assert mine.messages == theirs.messages
        # Token counts were stored as text ("38"): they decode back to the same numbers.
        assert [t.metrics for t in mine.turns] == [t.metrics for t in theirs.turns]
        assert [t.start for t in mine.turns] == [t.start for t in theirs.turns]  # ns kept
    long = load_traces(iter(_pull(table, ["long"], TimeWindow.of()))).session("long")
    assert [c.name for t in long.turns for c in t.tool_calls] == ["lookup"]


def test_every_span_of_the_window_and_the_listing(table: ChdbTable, recorded: TraceFile) -> None:
    table.insert(exporter_rows(recorded.documents()))
    every = load_traces(iter(_pull(table, None, TimeWindow.of())))
    assert sorted(s.id for s in every.sessions) == sorted(["long", "quoted'\\id"])
    rows = table.query(*listing_query(TABLE, TimeWindow.of()))
    listed = {row["Session"]: row for row in rows}
    local = load_traces(recorded.path)
    assert set(listed) == {"long", "quoted'\\id"}
    assert int(listed["long"]["Traces"]) == len(local.session("long").turns)


def test_the_time_window_bounds_the_query(table: ChdbTable, recorded: TraceFile) -> None:
    table.insert(exporter_rows(recorded.documents()))
    earlier = datetime.now(timezone.utc) - timedelta(days=3)
    assert _pull(table, ["long"], TimeWindow.of(earlier - timedelta(days=1), earlier)) == []
    assert table.query(*listing_query(TABLE, TimeWindow.of(until=earlier))) == []


def test_addresses_and_identifiers() -> None:
    source = open_source("clickhouse+http://127.0.0.1:8123/otel?table=otel_traces")
    assert source.name == "clickhouse+http://127.0.0.1:8123/otel?table=otel_traces"
    with pytest.raises(InvalidInputError, match="table 'x;drop'"):
        open_source("clickhouse+http://127.0.0.1:8123/otel?table=x;drop")
    with pytest.raises(InvalidInputError, match="database"):
        open_source("clickhouse+http://127.0.0.1:8123/ot-el")


def test_unreachable_server_names_it_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("clickhouse_connect")
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "env-s3cret")
    port = closed_port()
    url = f"clickhouse+http://reader:url-s3cret@127.0.0.1:{port}/otel"
    source = open_source(url, timeout=5)
    assert "s3cret" not in repr(source) and "reader" not in repr(source)
    with pytest.raises(SourceError) as caught:
        source.sessions()
    message = str(caught.value)
    assert message.startswith(
        f"clickhouse+http://127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/otel: "
    )
    assert "s3cret" not in message and "reader" not in message

"""The SQL and the row conversion of the ClickHouse source, apart from any client, so that the
very same text and code run against a real server (through `clickhouse-connect`) and, in tests,
against chDB (embedded ClickHouse) on the exporter's exact `otel_traces` DDL.

The table is the one the OpenTelemetry Collector's `clickhouseexporter` creates
(`internal/sqltemplates/traces_table.sql`): one row per span, `Timestamp DateTime64(9)` the
span start, hex ids, `SpanKind`/`StatusCode` as words (`Server`, `Error`), every attribute value
a string (`"38"`, arrays as JSON text) in `Map(LowCardinality(String), String)` columns, events
and links as `Nested` arrays. Rows may repeat (nothing deduplicates them): spans are kept once
per (trace id, span id).

Queries use ClickHouse's typed parameters (`{name:Type}`), bound by the server; times travel as
integer nanoseconds (`fromUnixTimestamp64Nano`), so no time zone is involved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from .._errors import InvalidInputError
from ._base import SESSION_KEYS, Document, TimeWindow

__all__ = [
    "documents_from_rows",
    "identifier",
    "listing_query",
    "spans_query",
]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ROWS_PER_DOCUMENT = 1000
_KINDS = {"Unspecified": 0, "Internal": 1, "Server": 2, "Client": 3, "Producer": 4, "Consumer": 5}
_STATUS = {"Unset": 0, "Ok": 1, "Error": 2}

_COLUMNS = """
    toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, TraceId, SpanId, ParentSpanId,
    TraceState, SpanName, SpanKind, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes,
    StatusCode, StatusMessage,
    arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp) AS EventNs,
    Events.Name AS EventNames, Events.Attributes AS EventAttributes,
    Links.TraceId AS LinkTraceIds, Links.SpanId AS LinkSpanIds,
    Links.TraceState AS LinkStates, Links.Attributes AS LinkAttributes"""
_IN_WINDOW = (
    "Timestamp BETWEEN fromUnixTimestamp64Nano({start:Int64}) "
    "AND fromUnixTimestamp64Nano({end:Int64})"
)


def identifier(name: str, what: str) -> str:
    """A database or table name, quoted; anything but letters, digits and `_` is refused."""
    if not _IDENTIFIER.match(name):
        raise InvalidInputError(f"{what} {name[:60]!r}: expected letters, digits and '_' only")
    return f"`{name}`"


def _session_match(count: int) -> str:
    """SQL true when a row names one of `count` session ids (parameters s0, s1, …)."""
    ids = ", ".join(f"{{s{i}:String}}" for i in range(count))
    return " OR ".join(f"SpanAttributes['{key}'] IN ({ids})" for key in SESSION_KEYS)


def _any_session() -> str:
    return " OR ".join(f"SpanAttributes['{key}'] != ''" for key in SESSION_KEYS)


def spans_query(
    table: str, session_ids: Sequence[str] | None, window: TimeWindow
) -> tuple[str, dict[str, Any]]:
    """Every span of the traces in `window` that hold a span of these sessions (None: of any
    session): the traces' untagged spans (a tool, an HTTP client) come along."""
    params: dict[str, Any] = {"start": window.start_ns, "end": window.end_ns}
    if session_ids is None:
        match = _any_session()
    else:
        params.update({f"s{i}": sid for i, sid in enumerate(session_ids)})
        match = _session_match(len(session_ids))
    sql = (
        f"SELECT {_COLUMNS}\nFROM {table}\nWHERE {_IN_WINDOW}\n"
        f"  AND TraceId IN (SELECT TraceId FROM {table} WHERE {_IN_WINDOW} AND ({match}))\n"
        "ORDER BY Timestamp, TraceId, SpanId"
    )
    return sql, params


def listing_query(table: str, window: TimeWindow) -> tuple[str, dict[str, Any]]:
    """One row per session with spans in `window`: id, traces, spans, first and last start."""
    session = (
        "coalesce("
        + ", ".join(f"nullIf(SpanAttributes['{key}'], '')" for key in SESSION_KEYS)
        + ")"
    )
    sql = (
        f"SELECT {session} AS Session, uniqExact(TraceId) AS Traces,\n"
        "  uniqExact(TraceId, SpanId) AS Spans,\n"
        "  toUnixTimestamp64Nano(min(Timestamp)) AS FirstNs, "
        "toUnixTimestamp64Nano(max(Timestamp)) AS LastNs\n"
        f"FROM {table}\nWHERE {_IN_WINDOW} AND Session IS NOT NULL\n"
        "GROUP BY Session ORDER BY FirstNs, Session"
    )
    return sql, {"start": window.start_ns, "end": window.end_ns}


def documents_from_rows(rows: Iterable[Mapping[str, Any]]) -> Iterator[Document]:
    """Rows of `spans_query` as OTLP/JSON documents, a repeated (trace, span) kept once."""
    seen: set[tuple[str, str]] = set()
    batch: list[Mapping[str, Any]] = []
    for row in rows:
        key = (str(row["TraceId"]), str(row["SpanId"]))
        if key in seen:
            continue
        seen.add(key)
        batch.append(row)
        if len(batch) == _ROWS_PER_DOCUMENT:
            yield _document(batch)
            batch = []
    if batch:
        yield _document(batch)


def _document(rows: list[Mapping[str, Any]]) -> Document:
    """One request: spans grouped by resource, then by scope, as the exporter flattened them."""
    resources: dict[bytes, dict[tuple[str, str], list[dict[str, Any]]]] = {}
    resource_maps: dict[bytes, Mapping[str, str]] = {}
    for row in rows:
        resource = row.get("ResourceAttributes") or {}
        rkey = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
        resource_maps[rkey] = resource
        scope = (str(row.get("ScopeName") or ""), str(row.get("ScopeVersion") or ""))
        resources.setdefault(rkey, {}).setdefault(scope, []).append(_span(row))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(resource_maps[rkey])},
                "scopeSpans": [
                    {"scope": _scope(name, version), "spans": spans}
                    for (name, version), spans in scopes.items()
                ],
            }
            for rkey, scopes in resources.items()
        ]
    }


def _scope(name: str, version: str) -> dict[str, str]:
    return {"name": name, **({"version": version} if version else {})}


def _span(row: Mapping[str, Any]) -> dict[str, Any]:
    start = int(row["StartNs"])
    span: dict[str, Any] = {
        "traceId": str(row["TraceId"]),
        "spanId": str(row["SpanId"]),
        "name": str(row.get("SpanName") or ""),
        "kind": _KINDS.get(str(row.get("SpanKind")), 0),
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + int(row.get("Duration") or 0)),
        "attributes": _attributes(row.get("SpanAttributes") or {}),
        "status": {"code": _STATUS.get(str(row.get("StatusCode")), 0)},
    }
    if row.get("ParentSpanId"):
        span["parentSpanId"] = str(row["ParentSpanId"])
    if row.get("TraceState"):
        span["traceState"] = str(row["TraceState"])
    if row.get("StatusMessage"):
        span["status"]["message"] = str(row["StatusMessage"])
    events = zip(
        row.get("EventNs") or (),
        row.get("EventNames") or (),
        row.get("EventAttributes") or (),
        strict=False,
    )
    span["events"] = [
        {"timeUnixNano": str(int(ns)), "name": str(name), "attributes": _attributes(attrs)}
        for ns, name, attrs in events
    ]
    links = zip(
        row.get("LinkTraceIds") or (),
        row.get("LinkSpanIds") or (),
        row.get("LinkStates") or (),
        row.get("LinkAttributes") or (),
        strict=False,
    )
    span["links"] = [
        {
            "traceId": t,
            "spanId": s,
            **({"traceState": st} if st else {}),
            "attributes": _attributes(a),
        }
        for t, s, st, a in links
    ]
    return span


def _attributes(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The exporter stored every value as text; it stays text (`stringValue`): the loader reads
    numbers and JSON arrays from strings, and guessing types back here could only be wrong."""
    return [
        {"key": str(key), "value": {"stringValue": str(value)}} for key, value in values.items()
    ]

"""Rows of `otel_traces` as the Collector's clickhouseexporter writes them, and a chDB runner
for the ClickHouse source's SQL.

`exporter_rows` follows `exporter/clickhouseexporter/exporter_traces.go` (pushTraceData) and
`internal/util.go` (AttributesToMap) of open-telemetry/opentelemetry-collector-contrib: one row
per span; hex ids; `SpanKind`/`StatusCode` as pdata's words (`traceutil.SpanKindStr`:
"Internal", "Client", …; `StatusCodeStr`: "Unset", "Ok", "Error"); every attribute value as
`pcommon.Value.AsString()` (ints in decimal, bools `true`/`false`, arrays and maps as compact
JSON); `ServiceName` from the resource's `service.name`; the scope in `ScopeName`/`ScopeVersion`;
`Duration` end minus start in ns; events and links as parallel arrays.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

DDL = (Path(__file__).parent / "otel_traces.sql").read_text()
_KINDS = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"]
_STATUS = ["Unset", "Ok", "Error"]


def _raw(value: Mapping[str, Any]) -> Any:
    """An OTLP/JSON AnyValue as the Go value AsString() formats."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    if "arrayValue" in value:
        return [_raw(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {kv["key"]: _raw(kv["value"]) for kv in value["kvlistValue"].get("values", [])}
    return None


def as_string(value: Mapping[str, Any]) -> str:
    """pcommon.Value.AsString()."""
    raw = _raw(value)
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, bytes):
        return base64.b64encode(raw).decode()
    if isinstance(raw, float):
        return repr(raw) if raw != int(raw) else str(int(raw))
    if raw is None:
        return ""
    return orjson.dumps(raw).decode()  # ints, arrays and maps: Go's json.Marshal, compact


def attributes_to_map(items: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {item["key"]: as_string(item["value"]) for item in items}


def _time(ns: int) -> str:
    """A DateTime64(9) text value in UTC (chDB's session runs in UTC, see `ChdbTable`)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{rest:09d}"


def exporter_rows(documents: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """One `otel_traces` row per span of these OTLP/JSON requests."""
    for document in documents:
        for resource_spans in document.get("resourceSpans", []):
            resource = attributes_to_map(resource_spans.get("resource", {}).get("attributes", []))
            for scope_spans in resource_spans.get("scopeSpans", []):
                scope = scope_spans.get("scope", {})
                for span in scope_spans.get("spans", []):
                    yield _row(span, resource, scope)


def _row(
    span: Mapping[str, Any], resource: dict[str, str], scope: Mapping[str, Any]
) -> dict[str, Any]:
    start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
    status = span.get("status", {})
    events = span.get("events", [])
    links = span.get("links", [])
    return {
        "Timestamp": _time(start),
        "TraceId": span["traceId"],
        "SpanId": span["spanId"],
        "ParentSpanId": span.get("parentSpanId", ""),
        "TraceState": span.get("traceState", ""),
        "SpanName": span["name"],
        "SpanKind": _KINDS[int(span.get("kind", 0))],
        "ServiceName": resource.get("service.name", ""),
        "ResourceAttributes": resource,
        "ScopeName": scope.get("name", ""),
        "ScopeVersion": scope.get("version", ""),
        "SpanAttributes": attributes_to_map(span.get("attributes", [])),
        "Duration": end - start,
        "StatusCode": _STATUS[int(status.get("code", 0))],
        "StatusMessage": status.get("message", ""),
        "Events.Timestamp": [_time(int(e["timeUnixNano"])) for e in events],
        "Events.Name": [e["name"] for e in events],
        "Events.Attributes": [attributes_to_map(e.get("attributes", [])) for e in events],
        "Links.TraceId": [link["traceId"] for link in links],
        "Links.SpanId": [link["spanId"] for link in links],
        "Links.TraceState": [link.get("traceState", "") for link in links],
        "Links.Attributes": [attributes_to_map(link.get("attributes", [])) for link in links],
    }


def tsv_escaped(value: Any) -> str:
    """A query parameter's text, escaped as ClickHouse reads parameters (TSV escaping); what
    clickhouse-connect does for a real server."""
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


class ChdbTable:
    """The exporter's table in an embedded ClickHouse (chDB), running our SQL for real."""

    def __init__(self, path: Path) -> None:
        from chdb import session

        self.session = session.Session(str(path))
        self.session.query("SET session_timezone = 'UTC'")
        self.session.query("CREATE DATABASE IF NOT EXISTS otel")
        self.session.query(DDL)

    def insert(self, rows: Iterable[Mapping[str, Any]]) -> None:
        data = b"\n".join(orjson.dumps(row) for row in rows).decode()
        if data:
            self.session.query(f"INSERT INTO otel.otel_traces FORMAT JSONEachRow\n{data}")

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rows as dicts, the shape clickhouse-connect's `named_results()` gives."""
        text = {name: tsv_escaped(value) for name, value in params.items()}
        result = self.session.query(sql, "JSONEachRow", params=text)
        return [orjson.loads(line) for line in result.bytes().splitlines() if line.strip()]

    def close(self) -> None:
        self.session.close()

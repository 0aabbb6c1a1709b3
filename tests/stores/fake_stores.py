"""Local HTTP servers answering Jaeger v2's and Grafana Tempo's documented query shapes, with
our own spans as the data (neither store can run here).

Jaeger v2, query API v3 (jaegertracing/jaeger, cmd/jaeger/internal/extension/jaegerquery/
internal/apiv3: `http_gateway.go`, `query_parser.go`):
- `GET /api/v3/traces?query.startTimeMin=<RFC3339>&query.startTimeMax=<RFC3339>
  &query.attributes=<JSON map>&query.serviceName=&query.searchDepth=N` → whole traces,
  `{"result": {"resourceSpans": [...]}}` (OTLP/JSON, hex ids); both times are required (400
  otherwise); at most N traces, no cursor; no match → 404 `{"error": {"httpCode": 404,
  "message": "No traces found"}}`.
- `GET /api/v3/traces/{trace_id}` → the same wrapper, or that 404.

Tempo (grafana/tempo, docs/sources/tempo/api_docs/_index.md, "Search" and "Query V2"):
- `GET /api/search?q=<TraceQL>&start=<unix s>&end=<unix s>&limit=N` → `{"traces": [{"traceID",
  "rootServiceName", "rootTraceName", "startTimeUnixNano", "durationMs"}], "metrics": {…}}`,
  the first N matches, no cursor.
- `GET /api/v2/traces/<traceID>?start=&end=` → `{"trace": {"resourceSpans": [...]}}`; 404 when
  absent.

Faults on demand: a required header (401 without it, 403 when wrong), a malformed answer, or a
stall longer than the client's timeout, on the Nth request of a kind.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass
class _Trace:
    trace_id: str
    start_ns: int
    document: dict[str, Any]
    attributes: list[dict[str, str]]  # per span, string values only
    root_name: str
    service: str


def index_traces(documents: Iterable[Mapping[str, Any]]) -> dict[str, _Trace]:
    """Our OTLP/JSON requests regrouped per trace, as a store would return each trace."""
    grouped: dict[str, dict[tuple[bytes, bytes], list[dict[str, Any]]]] = {}
    meta: dict[tuple[bytes, bytes], tuple[Any, Any]] = {}
    for document in documents:
        for resource_spans in document["resourceSpans"]:
            resource = resource_spans.get("resource", {})
            for scope_spans in resource_spans["scopeSpans"]:
                scope = scope_spans.get("scope", {})
                key = (orjson.dumps(resource), orjson.dumps(scope))
                meta[key] = (resource, scope)
                for span in scope_spans["spans"]:
                    grouped.setdefault(span["traceId"], {}).setdefault(key, []).append(span)
    traces = {}
    for trace_id, parts in grouped.items():
        spans = [span for group in parts.values() for span in group]
        root = min(spans, key=lambda s: int(s["startTimeUnixNano"]))
        resource = next(iter(meta.values()))[0]
        service = next(
            (a["value"].get("stringValue", "") for a in resource.get("attributes", [])
             if a["key"] == "service.name"),
            "",
        )  # fmt: skip
        traces[trace_id] = _Trace(
            trace_id,
            int(root["startTimeUnixNano"]),
            {
                "resourceSpans": [
                    {"resource": meta[k][0], "scopeSpans": [{"scope": meta[k][1], "spans": group}]}
                    for k, group in parts.items()
                ]
            },
            [
                {a["key"]: a["value"]["stringValue"] for a in span.get("attributes", [])
                 if "stringValue" in a["value"]}
                for span in spans
            ],
            root["name"],
            service,
        )  # fmt: skip
    return traces


@dataclass
class Faults:
    """What goes wrong, and on which request (1-based) of a route kind ("find", "get")."""

    header: tuple[str, str] | None = None
    malformed: dict[str, int] = field(default_factory=dict)
    stall: dict[str, int] = field(default_factory=dict)
    stall_seconds: float = 3.0


class FakeStore:
    """A threaded HTTP server on 127.0.0.1 answering as `kind` ("jaeger" or "tempo")."""

    def __init__(
        self, kind: str, documents: Iterable[Mapping[str, Any]], faults: Faults | None = None
    ) -> None:
        self.kind = kind
        self.traces = index_traces(documents)
        self.faults = faults or Faults()
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def address(self, suffix: str = "") -> str:
        return f"{self.kind}+http://127.0.0.1:{self.port}{suffix}"

    def __enter__(self) -> FakeStore:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- the routes -------------------------------------------------------------------------

    def answer(
        self, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((path, query))
        expected = self.faults.header
        if expected is not None:
            given = headers.get(expected[0])
            if given is None:
                return 401, {"error": "unauthorized"}
            if given != expected[1]:
                return 403, {"error": "forbidden"}
        kind = "find" if path in ("/api/v3/traces", "/api/search") else "get"
        with self._lock:
            self.counts[kind] = number = self.counts.get(kind, 0) + 1
        if self.faults.stall.get(kind) == number:
            time.sleep(self.faults.stall_seconds)
        if self.faults.malformed.get(kind) == number:
            return 200, "<html>gateway error</html>"
        if self.kind == "jaeger":
            return self._jaeger(path, query)
        return self._tempo(path, query)

    def _jaeger(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        not_found = {"error": {"httpCode": 404, "message": "No traces found"}}
        if path.startswith("/api/v3/traces/"):
            trace = self.traces.get(path.rsplit("/", 1)[1])
            return (200, {"result": trace.document}) if trace else (404, not_found)
        if path != "/api/v3/traces":
            return 404, "404 page not found"
        one = {k: v[0] for k, v in query.items()}
        if "query.startTimeMin" not in one or "query.startTimeMax" not in one:
            message = "query.startTimeMin and query.startTimeMax are required"
            return 400, {"error": {"httpCode": 400, "message": message}}
        low = _ns(datetime.fromisoformat(one["query.startTimeMin"]))
        high = _ns(datetime.fromisoformat(one["query.startTimeMax"]))
        wanted = json.loads(one.get("query.attributes", "{}"))
        service = one.get("query.serviceName")
        depth = int(one.get("query.searchDepth", "100"))
        found = [
            t for t in sorted(self.traces.values(), key=lambda t: t.start_ns)
            if low <= t.start_ns <= high
            and (not service or t.service == service)
            and any(all(attrs.get(k) == v for k, v in wanted.items()) for attrs in t.attributes)
        ][:depth]  # fmt: skip
        if not found:
            return 404, not_found
        return 200, {
            "result": {"resourceSpans": [r for t in found for r in t.document["resourceSpans"]]}
        }

    def _tempo(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path.startswith("/api/v2/traces/"):
            trace = self.traces.get(path.rsplit("/", 1)[1])
            return (200, {"trace": trace.document}) if trace else (404, "trace not found")
        if path != "/api/search":
            return 404, "404 page not found"
        one = {k: v[0] for k, v in query.items()}
        low, high = int(one["start"]) * 10**9, int(one["end"]) * 10**9
        limit = int(one.get("limit", "20"))
        keys, value = _traceql(one["q"])
        found = [
            t for t in sorted(self.traces.values(), key=lambda t: t.start_ns)
            if low <= t.start_ns <= high
            and any(
                any((attrs.get(k) == value) if value is not None else (k in attrs) for k in keys)
                for attrs in t.attributes
            )
        ][:limit]  # fmt: skip
        return 200, {
            "traces": [
                {"traceID": t.trace_id, "rootServiceName": t.service, "rootTraceName": t.root_name,
                 "startTimeUnixNano": str(t.start_ns), "durationMs": 1}
                for t in found
            ],
            "metrics": {"inspectedTraces": len(self.traces)},
        }  # fmt: skip

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        store = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                status, body = store.answer(parts.path, parse_qs(parts.query), self.headers)
                data = body.encode() if isinstance(body, str) else orjson.dumps(body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


_CONDITION = re.compile(r'span\.([\w.]+)\s*(=|!=)\s*("(?:[^"\\]|\\.)*"|nil)')


def _traceql(query: str) -> tuple[list[str], str | None]:
    """The keys and the value of our `{ span.k = "v" || … }` / `{ span.k != nil || … }`."""
    conditions = _CONDITION.findall(query)
    assert conditions, query
    keys = [key for key, _, _ in conditions]
    literal = conditions[0][2]
    if literal == "nil":
        return keys, None
    return keys, re.sub(r"\\(.)", r"\1", literal[1:-1])


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def documents_of(path: Any) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as lines:
        for line in lines:
            if line.strip():
                yield orjson.loads(line)

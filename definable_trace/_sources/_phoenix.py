"""Arize Phoenix: `phoenix+http(s)://HOST:PORT[/PROJECT]` (project `default` when left out).

Spans come from Phoenix's REST API, `GET /v1/projects/{project}/spans/otlpv1`, filtered by
`attribute=<session key>:<id>` and paged by `next_cursor`; then the same endpoint by
`trace_id=` for the spans of those traces that carry no session id (instrumentations that tag
the root span only). Its span JSON is OTLP-*like* — snake_case fields, enum names, attribute
values as `{"string_value": …, "int_value": null, …}`, no resource and no scope — and is turned
into real OTLP/JSON here (`otlp_span`), so that the loader, `deftrace pull` files and any OTLP
reader see the standard shape.

Phoenix session ids are global across projects: two projects using the same id are one
session in `/v1/sessions`. We always filter by the address's project.

Auth: `PHOENIX_API_KEY` (sent as `Authorization: Bearer …`) and `PHOENIX_CLIENT_HEADERS`
(`name=value,name2=value2`, URL-encoded), as Phoenix's own client reads them, or `--header`.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .. import _semconv as sc
from .._errors import SourceError
from ._address import StoreAddress
from ._base import SESSION_KEYS, Document, Documents, SessionSummary, TimeWindow
from ._http import DEFAULT_TIMEOUT, HttpClient

__all__ = ["PhoenixSource", "otlp_span"]

_PAGE = 1000  # spans per request (Phoenix's maximum)
_TRACES_PER_REQUEST = 50  # trace_id= filters per request (URL length)
_SCOPE = {"name": "phoenix.rest.otlpv1"}
_KINDS = sc.OTLP_SPAN_KINDS
_STATUS = sc.OTLP_STATUS_CODES
# Phoenix's snake_case value keys and their OTLP/JSON names.
_VALUE_KEYS = {
    "string_value": "stringValue",
    "bool_value": "boolValue",
    "int_value": "intValue",
    "double_value": "doubleValue",
    "bytes_value": "bytesValue",
    "array_value": "arrayValue",
    "kvlist_value": "kvlistValue",
}


class PhoenixSource:
    """Sessions of one Phoenix project."""

    def __init__(
        self,
        address: StoreAddress,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        segments = address.segments()
        self.project = segments[-1] if segments else "default"
        self.name = address.display if segments else f"{address.display}/default"
        self._http = HttpClient(
            self.name, address.base, {**_env_headers(), **(headers or {})}, timeout
        )
        self._project_path = f"/v1/projects/{urllib.parse.quote(self.project, safe='')}"

    def __repr__(self) -> str:
        return f"PhoenixSource({self.name!r})"

    def fetch(
        self, session_ids: Sequence[str] | None = None, window: TimeWindow | None = None
    ) -> Documents:
        """A session's spans need no time window in Phoenix (its REST API filters by attribute
        alone): `window` bounds only the listing of every session (`session_ids=None`)."""
        if session_ids is None:
            return Documents(self.name, self._window_documents(window or TimeWindow.of()))
        return Documents(self.name, self._session_documents(list(session_ids)))

    def sessions(self, window: TimeWindow | None = None) -> list[SessionSummary]:
        """From the project's sessions endpoint (no spans fetched): those overlapping `window`."""
        window = window or TimeWindow.of()
        found: list[SessionSummary] = []
        path = f"{self._project_path}/sessions"
        cursor: str | None = None
        while True:
            query = [("limit", str(_PAGE))] + ([("cursor", cursor)] if cursor else [])
            answer = self._http.get_json(path, query, missing_ok=True)
            if answer is None:
                raise self._no_project()
            items, cursor = _checked(answer, self.name, "/sessions", "session_id")
            found.extend(s for s in map(_summary, items) if _overlaps(s, window))
            if not cursor:
                return sorted(found, key=lambda s: (s.first or window.start, s.id))

    # --- fetching ---------------------------------------------------------------------------

    def _session_documents(
        self, session_ids: list[str], seen: set[str] | None = None
    ) -> Iterator[Document]:
        seen = set() if seen is None else seen
        traces: dict[str, None] = {}
        for session_id in session_ids:
            # Ours write `session.id` and `gen_ai.conversation.id`, foreign instrumentations one
            # of the keys: the next key is asked only when none matched so far.
            for key in SESSION_KEYS:
                found = False
                # Phoenix JSON-parses the value: quoted, an id like "123" stays a string.
                for page in self._pages([("attribute", f"{key}:{json.dumps(session_id)}")]):
                    spans = [s for s in page if s["span_id"] not in seen]
                    seen.update(s["span_id"] for s in spans)
                    traces.update(dict.fromkeys(s["trace_id"] for s in spans))
                    found = found or bool(page)
                    if spans:
                        yield _document(spans)
                if found:
                    break
        # Spans of the same traces that name no session (children of a tagged root).
        ids = list(traces)
        for start in range(0, len(ids), _TRACES_PER_REQUEST):
            chunk = ids[start : start + _TRACES_PER_REQUEST]
            for page in self._pages([("trace_id", t) for t in chunk]):
                spans = [s for s in page if s["span_id"] not in seen]
                seen.update(s["span_id"] for s in spans)
                if spans:
                    yield _document(spans)

    def _window_documents(self, window: TimeWindow) -> Iterator[Document]:
        """Every session with spans in `window`, each one whole: the spans of the window in
        pages, then, by id, the sessions that began before it or end after it (the window's
        spans alone would be a part of them presented as the whole)."""
        straddling = [
            s.id
            for s in self.sessions(window)
            if (s.first and s.first < window.start) or (s.last and s.last > window.end)
        ]
        seen: set[str] = set()
        times = [("start_time", _iso(window.start)), ("end_time", _iso(window.end))]
        for page in self._pages(times):
            seen.update(s["span_id"] for s in page)
            if page:
                yield _document(page)
        yield from self._session_documents(straddling, seen)

    def _pages(self, params: list[tuple[str, str]]) -> Iterator[list[dict[str, Any]]]:
        """Every page of a span query, following `next_cursor`; a bad page raises."""
        path = f"{self._project_path}/spans/otlpv1"
        cursor: str | None = None
        while True:
            query = [*params, ("limit", str(_PAGE))] + ([("cursor", cursor)] if cursor else [])
            answer = self._http.get_json(path, query, missing_ok=True)
            if answer is None:  # 404: no such project
                raise self._no_project()
            spans, cursor = _checked(answer, self.name, "/spans/otlpv1", "span_id", "trace_id")
            yield spans
            if not cursor:
                return

    def _no_project(self) -> SourceError:
        return SourceError(
            f"no project {self.project!r} (HTTP 404); the address's path names the project, "
            "e.g. phoenix+http://HOST:6006/default",
            source=self.name,
            status_code=404,
        )


def _checked(
    answer: Any, name: str, endpoint: str, *required: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The items and next cursor of one page, checked: a malformed page raises."""
    data = answer.get("data") if isinstance(answer, dict) else None
    cursor = answer.get("next_cursor") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not (cursor is None or isinstance(cursor, str)):
        raise SourceError(
            f"malformed answer from {endpoint} (expected {{'data': [...], 'next_cursor': ...}})",
            source=name,
        )
    for item in data:
        if not (isinstance(item, dict) and all(item.get(key) for key in required)):
            raise SourceError(
                f"malformed item in {endpoint} answer (no {' or '.join(required)})", source=name
            )
    return data, cursor


def _summary(item: Mapping[str, Any]) -> SessionSummary:
    traces = item.get("traces")
    return SessionSummary(
        str(item["session_id"]),
        traces=len(traces) if isinstance(traces, list) else None,
        first=_parse_time(item.get("start_time")),
        last=_parse_time(item.get("end_time")),
    )


def _overlaps(summary: SessionSummary, window: TimeWindow) -> bool:
    first, last = summary.first, summary.last
    return (last is None or last >= window.start) and (first is None or first <= window.end)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _document(spans: list[dict[str, Any]]) -> Document:
    """One OTLP/JSON `ExportTraceServiceRequest` for a page of Phoenix spans. Phoenix keeps no
    resource or scope: an empty resource and a scope naming where the spans came from."""
    converted = [otlp_span(span) for span in spans]
    return {
        "resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": _SCOPE, "spans": converted}]}]
    }


def otlp_span(span: Mapping[str, Any]) -> dict[str, Any]:
    """One Phoenix `otlpv1` span as an OTLP/JSON span (camelCase, enums as numbers)."""
    out: dict[str, Any] = {
        "traceId": span["trace_id"],
        "spanId": span["span_id"],
        "name": span.get("name") or "",
        "kind": _enum(span.get("kind"), _KINDS),
        "startTimeUnixNano": str(int(span.get("start_time_unix_nano") or 0)),
        "endTimeUnixNano": str(int(span.get("end_time_unix_nano") or 0)),
        "attributes": _attributes(span.get("attributes")),
    }
    if span.get("parent_span_id"):
        out["parentSpanId"] = span["parent_span_id"]
    status = span.get("status") or {}
    if status:
        out["status"] = {"code": _enum(status.get("code"), _STATUS)}
        if status.get("message"):
            out["status"]["message"] = status["message"]
    if span.get("events"):
        out["events"] = [
            {
                "name": event.get("name") or "",
                "timeUnixNano": str(int(event.get("time_unix_nano") or 0)),
                "attributes": _attributes(event.get("attributes")),
            }
            for event in span["events"]
        ]
    return out


def _enum(value: Any, names: Mapping[str, int]) -> int:
    if isinstance(value, int):
        return value
    return names.get(str(value), 0)


def _attributes(items: Any) -> list[dict[str, Any]]:
    out = []
    for item in items or ():
        value = _value(item.get("value"))
        if value is not None:
            out.append({"key": item["key"], "value": value})
    return out


def _value(value: Any) -> dict[str, Any] | None:
    """`{"string_value": "x", "int_value": null, …}` → `{"stringValue": "x"}`."""
    if not isinstance(value, dict):
        return None
    for key, name in _VALUE_KEYS.items():
        inner = value.get(key)
        if inner is None:
            continue
        if key == "array_value":
            return {name: {"values": [v for v in map(_value, inner.get("values") or ()) if v]}}
        if key == "kvlist_value":
            return {name: {"values": _attributes(inner.get("values"))}}
        if key == "int_value":
            return {name: str(inner)}
        return {name: inner}
    return None


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _env_headers() -> dict[str, str]:
    """Headers from Phoenix's own client variables."""
    headers: dict[str, str] = {}
    for item in os.environ.get("PHOENIX_CLIENT_HEADERS", "").split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            headers[urllib.parse.unquote(name.strip())] = urllib.parse.unquote(value.strip())
    key = os.environ.get("PHOENIX_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers

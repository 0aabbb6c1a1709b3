"""Grafana Tempo: `tempo+http(s)://HOST:3200`.

Sessions are found with TraceQL, `GET /api/search?q={ span.session.id = "S" || … }` in a time
window (`start`/`end`, unix seconds; `limit` caps the traces, with no cursor: a full answer cuts
the window in two and asks each half), then each trace is read whole from
`GET /api/v2/traces/<id>`, OTLP/JSON under `trace`. Auth is `--header 'Authorization: Bearer …'`
(or `X-Scope-OrgID` for a multi-tenant Tempo).

Tempo truncates every attribute value longer than `max_attribute_bytes` (2048 bytes by
default) at ingest. A message attribute of exactly that length, or one that is no longer valid
JSON, is noted (`Documents.notes`): the history rebuilt from it is incomplete. Compact history
(`history="delta"`, `DEFINABLE_TRACE_HISTORY=delta`) keeps each attribute small.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from .. import _semconv as sc
from .._errors import SourceError
from ._address import StoreAddress
from ._base import SESSION_KEYS, Document, Documents, SessionSummary, TimeWindow, summarize
from ._http import DEFAULT_TIMEOUT, HttpClient

__all__ = ["TRUNCATION_BYTES", "TempoSource", "traceql_session"]

TRUNCATION_BYTES = 2048  # Tempo's default max_attribute_bytes
_LIMIT = 500  # traces per search
_SMALLEST = 2.0  # seconds: the search's resolution is one second
_MESSAGES = (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_SYSTEM_INSTRUCTIONS)


def _string(value: str) -> str:
    """A TraceQL string literal (double quotes; backslash and quote escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def traceql_session(session_id: str | None) -> str:
    """The TraceQL of a session's spans (None: of any session), by every session key."""
    if session_id is None:
        return "{ " + " || ".join(f"span.{key} != nil" for key in SESSION_KEYS) + " }"
    literal = _string(session_id)
    return "{ " + " || ".join(f"span.{key} = {literal}" for key in SESSION_KEYS) + " }"


class TempoSource:
    def __init__(
        self,
        address: StoreAddress,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.name = address.display
        self._http = HttpClient(self.name, address.base + address.path, headers, timeout)
        self.limit = int(address.query.get("limit") or _LIMIT)

    def __repr__(self) -> str:
        return f"TempoSource({self.name!r})"

    def fetch(
        self, session_ids: Sequence[str] | None = None, window: TimeWindow | None = None
    ) -> Documents:
        window = window or TimeWindow.of()
        notes: list[str] = []
        return Documents(self.name, self._documents(session_ids, window, notes), notes)

    def sessions(self, window: TimeWindow | None = None) -> list[SessionSummary]:
        return summarize(self.fetch(None, window))

    def _documents(
        self, session_ids: Sequence[str] | None, window: TimeWindow, notes: list[str]
    ) -> Iterator[Document]:
        traces: dict[str, None] = {}
        for session_id in session_ids if session_ids is not None else [None]:
            traces.update(dict.fromkeys(self._search(traceql_session(session_id), window)))
        for trace_id in traces:
            document = self._trace(trace_id, window)
            if document is not None:
                _note_truncation(document, notes)
                yield document

    def _search(self, query: str, window: TimeWindow) -> list[str]:
        """Trace ids matching `query` in `window`, the window split while answers are full."""
        params = [
            ("q", query),
            ("start", str(int(window.start.timestamp()))),
            ("end", str(int(window.end.timestamp()) + 1)),  # whole seconds: round outwards
            ("limit", str(self.limit)),
        ]
        answer = self._http.get_json("/api/search", params)
        found = answer.get("traces") if isinstance(answer, dict) else None
        if not isinstance(found, list) or not all(
            isinstance(t, dict) and t.get("traceID") for t in found
        ):
            raise SourceError(
                "malformed answer from /api/search (expected {'traces': [{'traceID': …}]})",
                source=self.name,
            )
        ids = [str(t["traceID"]) for t in found]
        if len(ids) < self.limit:
            return ids
        if window.seconds <= _SMALLEST:
            raise SourceError(
                f"more than {self.limit} traces in {_SMALLEST:g} s; raise ?limit= in the address",
                source=self.name,
            )
        left, right = window.halves()
        return list(dict.fromkeys(self._search(query, left) + self._search(query, right)))

    def _trace(self, trace_id: str, window: TimeWindow) -> Document | None:
        path = f"/api/v2/traces/{urllib.parse.quote(trace_id, safe='')}"
        # The window is widened by a day each side: a trace found in it may have spans outside.
        day = 86_400
        params = [
            ("start", str(int(window.start.timestamp()) - day)),
            ("end", str(int(window.end.timestamp()) + day)),
        ]
        answer = self._http.get_json(path, params, missing_ok=True)
        if answer is None:  # gone between search and read (retention): nothing to add
            return None
        trace = answer.get("trace") if isinstance(answer, dict) else None
        if not isinstance(trace, dict):
            raise SourceError(
                f"malformed answer from {path} (expected {{'trace': {{'resourceSpans': …}}}})",
                source=self.name,
            )
        return trace


def _note_truncation(document: Document, notes: list[str]) -> None:
    """Note message attributes Tempo probably cut at `max_attribute_bytes`."""
    for resource in document.get("resourceSpans") or ():
        for scope in resource.get("scopeSpans") or ():
            for span in scope.get("spans") or ():
                for item in span.get("attributes") or ():
                    if item.get("key") in _MESSAGES and _truncated(item.get("value") or {}):
                        notes.append(
                            f"span {span.get('spanId')} ({span.get('name')}): {item['key']} looks "
                            f"truncated (Tempo cuts attributes at max_attribute_bytes, "
                            f"{TRUNCATION_BYTES} by default): that history is incomplete; raise "
                            'the limit, or record with history="delta" (DEFINABLE_TRACE_HISTORY'
                            "=delta), which keeps attributes small"
                        )
                        if len(notes) >= 20:
                            return


def _truncated(value: Mapping[str, Any]) -> bool:
    text = value.get("stringValue")
    if not isinstance(text, str):
        return False
    if len(text.encode()) == TRUNCATION_BYTES:
        return True
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return True
    return False

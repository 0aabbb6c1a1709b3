"""Jaeger v2: `jaeger+http(s)://HOST:16686[?service=NAME]`.

Its query API v3 answers OTLP/JSON under `result`: `GET /api/v3/traces` finds whole traces by
`query.attributes` (a JSON map) in a required time window (`query.startTimeMin/Max`, RFC 3339),
capped by `query.searchDepth` with no cursor; `GET /api/v3/traces/{id}` gets one. "Nothing
found" is a 404 with `{"error": …}`: an empty result here, not a failure. When an answer holds
as many traces as the cap, more may exist: the window is cut in two and each half asked again.
Listing every session needs a service to search (`?service=NAME` in the address); auth is
`--header 'Authorization: Bearer …'`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone

from .._errors import InvalidInputError, SourceError
from ._address import StoreAddress
from ._base import SESSION_KEYS, Document, Documents, SessionSummary, TimeWindow, summarize
from ._http import DEFAULT_TIMEOUT, HttpClient

__all__ = ["JaegerSource"]

_DEPTH = 500  # traces per search; a full answer means "maybe more": the window is split
_SMALLEST = 0.001  # seconds: a window this short that is still full cannot be split further


class JaegerSource:
    def __init__(
        self,
        address: StoreAddress,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.name = address.display
        self.service = address.query.get("service") or None
        prefix = address.path  # Jaeger may be served under a base path
        self._http = HttpClient(self.name, address.base + prefix, headers, timeout)
        self.depth = int(address.query.get("limit") or _DEPTH)

    def __repr__(self) -> str:
        return f"JaegerSource({self.name!r})"

    def fetch(
        self, session_ids: Sequence[str] | None = None, window: TimeWindow | None = None
    ) -> Documents:
        window = window or TimeWindow.of()
        if session_ids is None and self.service is None:
            raise InvalidInputError(
                f"{self.name}: Jaeger searches traces per service; add ?service=NAME to the "
                "address to list every session (or name sessions with --session)"
            )
        return Documents(self.name, self._documents(session_ids, window))

    def sessions(self, window: TimeWindow | None = None) -> list[SessionSummary]:
        return summarize(self.fetch(None, window))

    def _documents(
        self, session_ids: Sequence[str] | None, window: TimeWindow
    ) -> Iterator[Document]:
        seen: set[tuple[str, str]] = set()
        if session_ids is None:
            for document in self._search({}, window):
                yield _unseen(document, seen)
            return
        for session_id in session_ids:
            # Ours write `session.id` and `gen_ai.conversation.id`; foreign instrumentations
            # one of the keys: the next key is asked only when none matched so far.
            for key in SESSION_KEYS:
                found = self._search({key: session_id}, window)
                for document in found:
                    yield _unseen(document, seen)
                if found:
                    break

    def _search(self, attributes: dict[str, str], window: TimeWindow) -> list[Document]:
        """Every trace matching in `window`, the window split while answers are full."""
        result = self._find(attributes, window)
        if _trace_count(result) < self.depth:
            return [result] if result else []
        if window.seconds <= _SMALLEST:
            raise SourceError(
                f"more than {self.depth} traces within a millisecond at {_rfc3339(window.start)}; "
                "raise ?limit= in the address",
                source=self.name,
            )
        left, right = window.halves()
        return self._search(attributes, left) + self._search(attributes, right)

    def _find(self, attributes: dict[str, str], window: TimeWindow) -> Document | None:
        params = [
            ("query.startTimeMin", _rfc3339(window.start)),
            ("query.startTimeMax", _rfc3339(window.end)),
            ("query.searchDepth", str(self.depth)),
        ]
        if attributes:
            params.append(("query.attributes", json.dumps(attributes, separators=(",", ":"))))
        if self.service:
            params.append(("query.serviceName", self.service))
        answer = self._http.get_json("/api/v3/traces", params, missing_ok=True)
        if answer is None:  # Jaeger's "No traces found"
            return None
        result = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(result, dict) or not isinstance(result.get("resourceSpans", []), list):
            raise SourceError(
                "malformed answer from /api/v3/traces (expected {'result': {'resourceSpans': …}})",
                source=self.name,
            )
        return result


def _trace_count(document: Document | None) -> int:
    if not document:
        return 0
    return len(
        {
            span.get("traceId")
            for resource in document.get("resourceSpans") or ()
            for scope in resource.get("scopeSpans") or ()
            for span in scope.get("spans") or ()
        }
    )


def _unseen(document: Document, seen: set[tuple[str, str]]) -> Document:
    """`document` without the spans an earlier answer already gave (the searches overlap)."""
    for resource in document.get("resourceSpans") or ():
        for scope in resource.get("scopeSpans") or ():
            kept = []
            for span in scope.get("spans") or ():
                key = (str(span.get("traceId")), str(span.get("spanId")))
                if key not in seen:
                    seen.add(key)
                    kept.append(span)
            scope["spans"] = kept
    return document


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

"""The seam every store implements: list the sessions of a time window, fetch sessions as
OTLP/JSON documents. Adding a store is one module with one `Source` class and one line in
`_registry.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from .. import _semconv as sc

__all__ = [
    "DEFAULT_WINDOW",
    "SESSION_KEYS",
    "Documents",
    "SessionSummary",
    "Source",
    "TimeWindow",
    "session_ids_in",
    "summarize",
]

DEFAULT_WINDOW = timedelta(hours=24)

# The attributes a store is searched by for a session id, in the loader's order: our spans
# write the first two (equal); OpenLLMetry and Langfuse write the others.
SESSION_KEYS = sc.SESSION_KEYS

Document = dict[str, Any]


@dataclass(frozen=True)
class TimeWindow:
    """`[start, end]`, both aware datetimes (UTC when given naive)."""

    start: datetime
    end: datetime

    @classmethod
    def of(
        cls,
        since: datetime | None = None,
        until: datetime | None = None,
        default: timedelta = DEFAULT_WINDOW,
    ) -> TimeWindow:
        """The window from `since` to `until`; by default, the `default` span before now."""
        end = _aware(until) if until else datetime.now(timezone.utc)
        start = _aware(since) if since else end - default
        if start > end:
            from .._errors import InvalidInputError

            raise InvalidInputError(
                f"since ({start.isoformat()}) is after until ({end.isoformat()})"
            )
        return cls(start, end)

    def halves(self) -> tuple[TimeWindow, TimeWindow]:
        """The window cut in two: how a store that caps its answers without a cursor is paged."""
        middle = self.start + (self.end - self.start) / 2
        return TimeWindow(self.start, middle), TimeWindow(middle, self.end)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def start_ns(self) -> int:
        return int(self.start.timestamp() * 1_000_000) * 1000

    @property
    def end_ns(self) -> int:
        return int(self.end.timestamp() * 1_000_000) * 1000


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class SessionSummary:
    """A session a store holds, as cheaply as the store can say it (no messages)."""

    id: str
    traces: int | None = None
    spans: int | None = None
    first: datetime | None = None
    last: datetime | None = None


class Source(Protocol):
    """A trace store. `name` is its address without credentials (used in every message)."""

    name: str

    def sessions(self, window: TimeWindow | None = None) -> list[SessionSummary]:
        """The sessions with spans in `window` (default: the last 24 hours)."""
        ...

    def fetch(
        self, session_ids: Sequence[str] | None = None, window: TimeWindow | None = None
    ) -> Documents:
        """The spans of these sessions (None: every session in `window`) as OTLP/JSON
        documents, fetched lazily as they are read. A failure midway raises `SourceError`:
        nothing partial is ever yielded as if it were whole (the loader sees the exception,
        not a shorter stream)."""
        ...


class Documents(Iterable[Document]):
    """OTLP/JSON documents with a `name` (the source's address), the form `load_traces`
    reads without a temporary file. Iterate it once."""

    def __init__(
        self, name: str, documents: Iterator[Document], notes: list[str] | None = None
    ) -> None:
        self.name = name
        self._documents = documents
        # What the store's answers suggest is wrong with the data (not with the fetch), e.g.
        # attributes a store truncated: filled while iterating, shown by the CLI as warnings.
        self.notes: list[str] = [] if notes is None else notes

    def __iter__(self) -> Iterator[Document]:
        return self._documents

    def __repr__(self) -> str:
        return f"Documents({self.name!r})"


def session_ids_in(document: Mapping[str, Any]) -> Iterator[tuple[str, str, int]]:
    """(session id, trace id, start ns) of each span in an OTLP/JSON document that names a
    session: enough for a store that cannot list sessions itself to list them from spans."""
    for resource in document.get("resourceSpans") or ():
        for scope in resource.get("scopeSpans") or ():
            for span in scope.get("spans") or ():
                found = _session_of(span.get("attributes") or ())
                if found:
                    yield found, str(span.get("traceId")), int(span.get("startTimeUnixNano") or 0)


def _session_of(attributes: Iterable[Mapping[str, Any]]) -> str | None:
    values = {a.get("key"): a.get("value") or {} for a in attributes}
    for key in SESSION_KEYS:
        value = values.get(key)
        if value and value.get("stringValue"):
            return str(value["stringValue"])
    return None


def summarize(documents: Iterable[Mapping[str, Any]]) -> list[SessionSummary]:
    """Session summaries from whole documents, for stores that have no session listing."""
    seen: dict[str, tuple[set[str], int, int, int]] = {}
    for document in documents:
        for session, trace, start in session_ids_in(document):
            traces, spans, first, last = seen.get(session, (set(), 0, start, start))
            traces.add(trace)
            seen[session] = (traces, spans + 1, min(first, start), max(last, start))
    return [
        SessionSummary(sid, len(traces), spans, _from_ns(first), _from_ns(last))
        for sid, (traces, spans, first, last) in sorted(seen.items(), key=lambda i: i[1][2])
    ]


def _from_ns(ns: int) -> datetime | None:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc) if ns else None

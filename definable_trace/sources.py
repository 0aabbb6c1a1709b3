"""Trace stores as sources: read sessions where they live (Phoenix, Jaeger v2, Tempo, ClickHouse).

    from definable_trace import load_traces
    from definable_trace.sources import open_source

    source = open_source("phoenix+http://127.0.0.1:6006/default")
    source.sessions()                          # SessionSummary list, the last 24 hours
    traces = load_traces(source.fetch(["s1"])) # the session's spans, as OTLP/JSON documents
    traces.session("s1").messages

A source yields OTLP/JSON documents into the same loader path as files, so everything that
works on a trace file works on a pulled session. Addresses are `<store>+http(s)://host:port/...`;
credentials (URL userinfo, API keys, `headers=`) are never shown in a `repr`, warning or error.
Failures raise `SourceError` (never a partial session). See `docs/sources.md`.
"""

from ._errors import SourceError
from ._sources import (
    STORES,
    Documents,
    SessionSummary,
    Source,
    TimeWindow,
    looks_like_source,
    open_source,
)

__all__ = [
    "STORES",
    "Documents",
    "SessionSummary",
    "Source",
    "SourceError",
    "TimeWindow",
    "looks_like_source",
    "open_source",
]

"""Trace stores as sources of OTLP/JSON documents for the loader. See `definable_trace.sources`."""

from ._address import looks_like_source
from ._base import Documents, SessionSummary, Source, TimeWindow
from ._registry import STORES, open_source

__all__ = [
    "STORES",
    "Documents",
    "SessionSummary",
    "Source",
    "TimeWindow",
    "looks_like_source",
    "open_source",
]

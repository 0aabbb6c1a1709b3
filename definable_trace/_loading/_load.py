"""`load_traces`: read every file, then assemble the sessions."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

from ._assemble import assemble
from ._decode import SpanDecoder
from ._graph import SpanIndex
from ._otlp import read_file
from ._records import TraceWarning
from ._sessions import TraceSet
from ._store import TextStore

__all__ = ["load_traces"]


def load_traces(*paths: str | os.PathLike[str]) -> TraceSet:
    """Load OTLP/JSON trace files (JSON lines or one document, plain or gzip) as sessions.

    Spans of several files are read as one input: a session may span files, and a span repeated
    in two files counts once. Unreadable input raises `TraceFormatError` naming the file and
    line; what could be read around a problem is loaded and the problem becomes a `TraceWarning`
    in `TraceSet.warnings`.
    """
    store = TextStore()
    decoder = SpanDecoder(store)
    index = SpanIndex()
    warnings: list[TraceWarning] = []
    names = [os.fspath(p) for p in paths]
    with _collector_paused():
        for name in names:
            warnings.extend(read_file(name, index, decoder))
        sessions = assemble(index, store, warnings)
    return TraceSet(sessions, warnings, names)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading creates hundreds of thousands of objects that all live on; the cyclic garbage
    collector would scan them again and again for nothing (a third of the load time), and the
    loader makes no reference cycles (reference counting frees what it drops). One collection
    at the end then moves them all to the oldest generation at once: left young, they would be
    scanned by the next few collections, whatever code happens to trigger them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.collect()
            gc.enable()

"""`load_traces`: read every file, then assemble the sessions."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Union

from ._assemble import assemble
from ._decode import SpanDecoder
from ._graph import SpanIndex
from ._otlp import read_documents, read_file
from ._records import TraceWarning
from ._sessions import TraceSet
from ._store import TextStore

__all__ = ["TraceSource", "load_traces"]

# A file path, or already-parsed OTLP/JSON documents (a trace store's answers, say). An iterable
# with a `name` attribute is called by that name in warnings.
TraceSource = Union[str, "os.PathLike[str]", Iterable[Mapping[str, Any]]]


def load_traces(*sources: TraceSource, session: str | None = None) -> TraceSet:
    """Load OTLP/JSON trace files (JSON lines or one document, plain or gzip) as sessions.

    A source may also be an iterable of parsed OTLP/JSON documents (each an
    `ExportTraceServiceRequest`, or an API answer wrapping some): the same path as a file's
    lines, so trace stores and other producers need no temporary file.
    Spans of several sources are read as one input: a session may span files, and a span
    repeated in two files counts once. Unreadable input raises `TraceFormatError` naming the
    file and line; what could be read around a problem is loaded and the problem becomes a
    `TraceWarning` in `TraceSet.warnings`.

    `session`: load that session only (the `TraceSet` then holds it alone, when found): the
    files are scanned for the lines that name it or its traces and only those are parsed, so
    one session out of a file of gigabytes takes a fraction of a second (see `_select`).
    """
    if session is not None:
        from ._select import load_one_session

        return load_one_session(sources, session)
    store = TextStore()
    decoder = SpanDecoder(store)
    index = SpanIndex()
    warnings: list[TraceWarning] = []
    names: list[str] = []
    with _collector_paused():
        for source in sources:
            if isinstance(source, (str, os.PathLike)):
                name = os.fspath(source)
                warnings.extend(read_file(name, index, decoder))
            else:
                name = str(getattr(source, "name", "<documents>"))
                warnings.extend(read_documents(source, name, index, decoder))
            names.append(name)
        sessions = assemble(index, store, warnings)
    return TraceSet(sessions, warnings, names)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading creates hundreds of thousands of objects that all live on, and each default
    young collection (every 700 allocations) would start scans of that growing heap for
    nothing: a quarter of the load time. The collector is never switched off and no full
    collection is forced (on a process holding much else that alone cost 0.2 s a load): the
    young generation's threshold is raised while reading and restored after. Measured on a
    105 MB file of bench/_replicate.py: 2.95 s default, 2.31 s raised, 2.14 s off."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], _YOUNG_WHILE_LOADING), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


_YOUNG_WHILE_LOADING = 100_000

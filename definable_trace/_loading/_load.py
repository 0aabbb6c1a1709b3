"""`load_traces`: read every input (files, directories, stdin, documents), then assemble."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Union

from .._errors import TraceFormatError
from ._assemble import assemble
from ._decode import SpanDecoder
from ._graph import SpanIndex
from ._logs import LogIndex
from ._otlp import read_documents, read_file, read_stream
from ._records import TraceWarning
from ._sessions import TraceSet
from ._store import TextStore

__all__ = ["STDIN", "TraceSource", "load_traces"]

# A file or directory path (`-`: standard input), or already-parsed OTLP/JSON documents (a
# trace store's answers, say). An iterable with a `name` attribute is called so in warnings.
TraceSource = Union[str, "os.PathLike[str]", Iterable[Mapping[str, Any]]]
STDIN = "-"


def load_traces(*sources: TraceSource, session: str | None = None) -> TraceSet:
    """Load OTLP/JSON traces (JSON lines or one document, plain or gzip) as sessions.

    A source is a file; a directory, whose files are read recursively in path order (hidden
    ones left out; a file that is not trace data is skipped with a warning, not an error);
    `-`, standard input; or an iterable of parsed OTLP/JSON documents (each an
    `ExportTraceServiceRequest`, or an API answer wrapping some): the same path as a file's
    lines, so trace stores and other producers need no temporary file. OTLP log lines
    (`resourceLogs`) in any of them are read for the message content they carry.
    Spans of several sources are read as one input: a session may span files, and a span
    repeated in two files counts once. Unreadable input raises `TraceFormatError` naming the
    file and line; what could be read around a problem is loaded and the problem becomes a
    `TraceWarning` in `TraceSet.warnings`.

    `session`: load that session only (the `TraceSet` then holds it alone, when found): the
    files are scanned for the lines that name it or its traces and only those are parsed, so
    one session out of a file of gigabytes takes a fraction of a second (see `_select`). An id
    no line holds gives an empty `TraceSet` at once (its `named_ids`: the ids the lines name),
    whose `session()` raises `SessionNotFoundError` with the close ones.
    """
    if session is not None:
        from ._select import load_one_session

        return load_one_session(sources, session)
    reading = _Reading()
    with _collector_paused():
        for source in sources:
            reading.source(source)
        sessions = assemble(reading.index, reading.store, reading.warnings, reading.logs)
    return TraceSet(sessions, reading.warnings, reading.names)


class _Reading:
    """What is shared by every source of one `load_traces` call."""

    def __init__(self) -> None:
        self.store = TextStore()
        self.decoder = SpanDecoder(self.store)
        self.index = SpanIndex()
        self.logs = LogIndex()
        self.warnings: list[TraceWarning] = []
        self.names: list[str] = []

    def source(self, source: TraceSource) -> None:
        if isinstance(source, (str, os.PathLike)):
            name = os.fspath(source)
            if name == STDIN:
                name = "<stdin>"
                self.warnings.extend(
                    read_stream(sys.stdin.buffer, name, self.index, self.decoder, self.logs)
                )
            elif os.path.isdir(name):
                self._directory(name)
            else:
                self.warnings.extend(read_file(name, self.index, self.decoder, self.logs))
        else:
            name = str(getattr(source, "name", "<documents>"))
            self.warnings.extend(read_documents(source, name, self.index, self.decoder, self.logs))
        self.names.append(name)

    def _directory(self, top: str) -> None:
        """Every file under `top`, in path order; one that is not trace data is a warning."""
        found = 0
        for path in _files(top):
            try:
                warnings = read_file(path, self.index, self.decoder, self.logs)
            except TraceFormatError as exc:
                self.warnings.append(TraceWarning(path, exc.line, f"skipped: {exc.reason}"))
                continue
            found += 1
            self.warnings.extend(warnings)
        if found == 0:
            self.warnings.append(TraceWarning(top, None, "directory holds no trace file"))


def _files(top: str) -> Iterator[str]:
    """Regular files under `top`, sorted, hidden files and directories (`.git`) left out.
    Symbolic links to directories are not followed (no loops)."""
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for file in sorted(files):
            path = os.path.join(root, file)
            if not file.startswith(".") and os.path.isfile(path):
                yield path


@contextmanager
def _collector_paused() -> Generator[None, None, None]:
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

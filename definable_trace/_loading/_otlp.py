"""Reading trace files: OTLP/JSON lines or one OTLP/JSON document, plain or gzip, into spans.

Accepted, detected from the content (never from the file name):

- JSON lines, one `ExportTraceServiceRequest` per line: our files, the Collector's `file`
  exporter, the official Python `FileSpanExporter`;
- one JSON document holding requests: a Jaeger v2 (`/api/v3/traces`) or Tempo answer, also
  wrapped under `result` / `trace` / `data`, or an array of requests; Tempo's `batches` is read as
  `resourceSpans`, OTLP's old `instrumentationLibrarySpans` as `scopeSpans`;
- either of these gzip-compressed.

Lines are parsed one at a time (the file is never read whole, except a document, which must be),
and what cannot be used becomes a `TraceWarning` naming the file and line, so one bad line costs
that line only. A line of spans is first offered to the typed fast path (`_typed`); what it
refuses is parsed generically (`_loads`) and walked as dicts (`SpanDecoder.spans`).
What cannot be trace data at all (a binary file, JSON of another kind) raises
`TraceFormatError`.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, Protocol

import msgspec
import orjson

from .._errors import TraceFormatError
from . import _typed
from ._decode import SpanDecoder
from ._records import SpanRecord, TraceWarning

__all__ = ["LogSink", "SpanSink", "read_documents", "read_file", "read_lines", "read_stream"]

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF = 8192
_CHUNK = 1 << 20
_BUFFER = 1 << 20  # lines are whole export batches, often megabytes: read them in large steps
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib reads the gzip header and trailer itself
_WARNINGS_PER_KIND = 20  # per file; past that, one summary line
_OTHER_SIGNALS = ("resourceLogs", "resourceMetrics", "resourceProfiles")
_WRAPPERS = ("result", "trace", "data")
# The SDK's ConsoleSpanExporter prints pretty JSON objects one after the other, not OTLP/JSON.
_CONSOLE_MARK = re.compile(rb'"context":\s*\{\s*"trace_id":\s*"0x')
_CONSOLE_HINT = (
    "this is the OpenTelemetry SDK's ConsoleSpanExporter output, not OTLP/JSON; "
    "write spans with an OTLP JSON file exporter instead"
)
_SUMMARIES = (
    ("bad", "non-JSON lines"),
    ("not-otlp", "non-OTLP values"),
    ("duplicate", "lines with repeated spans"),
    ("malformed", "malformed spans"),
)


class SpanSink(Protocol):
    """Where decoded spans go; `add` returns False for a span already seen."""

    def add(self, record: SpanRecord) -> bool: ...


class LogSink(Protocol):
    """Where OTLP log requests (`resourceLogs`) go, when the caller reads them (see `_logs`);
    `read` says whether it used any record (else the value counts as skipped)."""

    def read(self, request: dict[str, Any], path: str, line: int, reporter: Any) -> bool: ...

    def read_typed(
        self, request: _typed.LogsRequest, path: str, line: int, reporter: Any
    ) -> bool | None:
        """`read` for a request decoded by `_typed`; None: the general path must read it."""
        ...


def read_file(
    path: str | os.PathLike[str],
    sink: SpanSink,
    decoder: SpanDecoder,
    logs: LogSink | None = None,
) -> list[TraceWarning]:
    """Stream the spans of one file into `sink`; return the warnings about this file."""
    name = os.fspath(path)
    try:
        raw = io.BufferedReader(io.FileIO(name, "rb"), buffer_size=_BUFFER)
    except OSError as exc:
        raise TraceFormatError(f"cannot open: {exc.strerror or exc}", path=name) from exc
    with raw:
        return _read_buffered(raw, name, sink, decoder, logs, "file")


def read_documents(
    documents: Iterable[Any],
    name: str,
    sink: SpanSink,
    decoder: SpanDecoder,
    logs: LogSink | None = None,
) -> list[TraceWarning]:
    """Stream the spans of already-parsed OTLP/JSON documents (e.g. a trace store's answers)
    into `sink`, through the same checks as a file's lines; `name` stands for the file in
    warnings, and each document's position (1-based) for its line."""
    reader = _FileReader(name, sink, decoder, logs)
    count = 0
    for count, document in enumerate(documents, 1):
        reader._value(document, count)
    if count == 0:
        reader.warn(None, "no documents: no spans")
    return reader.finish()


def read_lines(
    lines: Sequence[tuple[int, bytes]],
    name: str,
    sink: SpanSink,
    decoder: SpanDecoder,
    logs: LogSink | None = None,
) -> list[TraceWarning]:
    """Stream the spans of some JSON lines of a file (line number, line), as `read_file`
    reads all of them: for a reader that picked the lines that matter (`_select`)."""
    reader = _FileReader(name, sink, decoder, logs)
    if lines and lines[0][0] > 1:
        # Not from the file's start: whether the file is trace data at all was decided by its
        # first values, which were not picked. A damaged line first among these is then a
        # warning, as in the whole load, not the refusal of a file that is not trace data.
        reader.values = 1
    reader._json_lines((number, line, True) for number, line in lines)
    return reader.finish()


class _FileReader:
    """The state of reading one file: where we are, and what to tell about it."""

    def __init__(
        self, path: str, sink: SpanSink, decoder: SpanDecoder, logs: LogSink | None = None
    ) -> None:
        self.path = path
        self.sink = sink
        self.decoder = decoder
        self.logs = logs
        self.warnings: list[TraceWarning] = []
        self.counts: dict[str, int] = {}
        self.values = 0  # JSON values read so far

    # --- lines and documents --------------------------------------------------------------

    def read(self, stream: Iterable[bytes]) -> None:
        lines = _lines(stream, self)
        first = next((item for item in lines if not _blank(item[1])), None)
        if first is None:
            self.warn(None, "empty file: no spans")
            return
        rest: Iterable[tuple[int, bytes, bool]] = lines
        if not _is_json(first[1]) and not first[1].rstrip().endswith(b"}"):
            # Not a complete JSON value on its own: maybe one (pretty-printed) document.
            buffered = [first, *lines]
            if self._document(buffered):
                return
            if _CONSOLE_MARK.search(b"".join(line for _, line, _ in buffered[:40])):
                raise TraceFormatError(
                    f"not OTLP trace data: {_CONSOLE_HINT}", path=self.path, line=first[0]
                )
            rest = buffered[1:]
        self._json_lines(itertools.chain([first], rest))

    def _document(self, lines: list[tuple[int, bytes, bool]]) -> bool:
        try:
            value = orjson.loads(b"".join(line for _, line, _ in lines))
        except orjson.JSONDecodeError:
            return False
        self._value(value, lines[0][0])
        return True

    def _json_lines(self, lines: Iterable[tuple[int, bytes, bool]]) -> None:
        """One value per line; a line that is not JSON is skipped, unless none is JSON."""
        first_bad: tuple[int, Exception] | None = None
        bad = 0
        # The usual line, a request of spans the typed path takes, without a call of ours
        # between the decoder and the sink (`_typed`, inlined: this runs once per line).
        decode, typed_spans, path = _typed.decode_typed, self.decoder.typed_spans, self.path
        for number, line, ended in lines:
            request = decode(line)  # None for anything else, blank lines included
            if request is not None:
                records = typed_spans(request, path, number)
                if records is not None:
                    self.values += 1
                    self._add(records, number)
                    continue
            elif self.logs is not None and self._typed_logs(line, number):
                continue
            if _blank(line):
                continue
            try:
                value = _loads(line)
            except orjson.JSONDecodeError as exc:
                if ended:
                    bad += 1
                    first_bad = first_bad or (number, exc)
                    if self.values == 0 and bad >= _WARNINGS_PER_KIND:
                        break  # not a trace file: no need to read it all to say so
                self._bad_line(number, line, ended, exc)
                continue
            self._value(value, number)
        if self.values == 0 and first_bad is not None:
            number, error = first_bad
            raise TraceFormatError(
                f"not JSON: neither JSON lines nor one JSON document ({_reason(error)})",
                path=self.path,
                line=number,
            )

    def _bad_line(self, number: int, line: bytes, ended: bool, exc: Exception) -> None:
        if not ended:
            self.warn(
                number,
                f"truncated last line ({len(line)} bytes, no newline at the end): skipped; "
                "the lines before it are loaded",
            )
        else:
            self.warn(number, f"not JSON ({_reason(exc)}): line skipped", kind="bad")

    # --- one JSON value -------------------------------------------------------------------

    def _typed_logs(self, line: bytes, number: int) -> bool:
        """A line of logs on the fast path: as `_value` reads it (used, or counted as another
        signal), or False for the general path."""
        request = _typed.decode_logs(line)
        if request is None:
            return False
        used = self.logs.read_typed(request, self.path, number, self)  # type: ignore[union-attr]
        if used is None:
            return False
        self.values += 1
        if not used:
            self.count("other-signal", number)
        return True

    def _value(self, value: Any, line: int) -> None:
        requests = list(_requests(value))
        first = self.values == 0
        self.values += 1
        if not requests:
            logs = self.logs is not None and isinstance(value, dict) and "resourceLogs" in value
            if logs and self.logs.read(value, self.path, line, self):  # type: ignore[union-attr]
                return
            if _other_signal(value):
                self.count("other-signal", line)
                return
            reason = f"not OTLP trace data: {_what_is(value)}"
            if first:
                raise TraceFormatError(reason, path=self.path, line=line)
            self.warn(line, reason + "; skipped", kind="not-otlp")
            return
        spans = (self.decoder.spans(r, self.path, line, self) for r in requests)
        self._add(itertools.chain.from_iterable(spans), line)

    def _add(self, records: Iterable[SpanRecord], line: int) -> None:
        repeated = 0
        add = self.sink.add
        for record in records:
            if not add(record):
                repeated += 1
        if repeated:
            self.warn(
                line,
                f"{repeated} span(s) already read (same trace and span id, as at-least-once "
                "delivery repeats them): the first copy is kept",
                kind="duplicate",
            )

    # --- telling --------------------------------------------------------------------------

    def warn(self, line: int | None, message: str, kind: str | None = None) -> None:
        if kind is not None:
            seen = self.counts[kind] = self.counts.get(kind, 0) + 1
            if seen > _WARNINGS_PER_KIND:
                return
        self.warnings.append(TraceWarning(self.path, line, message))

    def count(self, kind: str, line: int) -> None:
        """Things worth one line per file, not one per occurrence."""
        key = f"once:{kind}"
        if key not in self.counts:
            self.counts[f"line:{kind}"] = line
        self.counts[key] = self.counts.get(key, 0) + 1

    def finish(self) -> list[TraceWarning]:
        for kind, label in _SUMMARIES:
            extra = self.counts.get(kind, 0) - _WARNINGS_PER_KIND
            if extra > 0:
                self.warn(None, f"{extra} more {label} (not listed one by one)")
        others = self.counts.get("once:other-signal")
        if others:
            self.warn(
                self.counts["line:other-signal"],
                f"{others} value(s) hold OTLP logs or metrics, not traces: skipped",
            )
        return self.warnings


def _blank(line: bytes) -> bool:
    return not line or line.isspace()  # not strip(): that copies a line of megabytes


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _gunzip_lines(raw: IO[bytes]) -> Iterator[bytes]:
    """The lines of a gzip stream, decompressed as they come, so that a cut file still yields
    every line before the cut (`gzip.GzipFile` may fail before the first one). Members written
    one after the other (appended files) are read in turn."""
    inflater = zlib.decompressobj(_GZIP_WBITS)
    fed = False  # has the current member received data (and so must reach its end)?
    pending = b""
    while chunk := raw.read(_CHUNK):
        while chunk:
            data = inflater.decompress(chunk)
            fed, chunk = True, b""
            if inflater.eof:  # end of one member: the rest may start another
                chunk = inflater.unused_data
                inflater, fed = zlib.decompressobj(_GZIP_WBITS), False
            lines = (pending + data).split(b"\n")
            pending = lines.pop()
            for line in lines:
                yield line + b"\n"
    if pending:
        yield pending
    if fed:
        raise EOFError("the compressed stream stops before its end")


def _lines(stream: Iterable[bytes], reader: _FileReader) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, ended with a newline); a broken gzip stream ends with a warning."""
    number = 0
    ended = True
    try:
        for line in stream:
            number += 1
            ended = line.endswith(b"\n")
            yield number, line, ended
    except (EOFError, zlib.error) as exc:
        reader.warn(
            number + 1 if ended else number,  # the line the damage is in
            f"compressed data ends early or is damaged ({exc}): the lines before are loaded",
        )


_MAX_WRAPPING = 8  # arrays and wrapper objects around the requests; more is not trace data


def _requests(value: Any, depth: int = 0) -> Iterable[dict[str, Any]]:
    """The `ExportTraceServiceRequest`s in one JSON value (unwrapping API answers)."""
    if depth > _MAX_WRAPPING:
        return  # e.g. arrays nested a thousand deep: not requests (and no RecursionError)
    if isinstance(value, list):
        for item in value:
            yield from _requests(item, depth + 1)
        return
    if not isinstance(value, dict):
        return
    if "resourceSpans" in value or "batches" in value:
        yield value
        return
    for key in _WRAPPERS:
        inner = value.get(key)
        if isinstance(inner, (dict, list)):
            yield from _requests(inner, depth + 1)
            return


def _other_signal(value: Any) -> bool:
    return isinstance(value, dict) and any(key in value for key in _OTHER_SIGNALS)


def _what_is(value: Any) -> str:
    """A hint at what the JSON is instead, for the refusal message."""
    if isinstance(value, dict):
        context = value.get("context")
        if isinstance(context, dict) and "trace_id" in context:
            return _CONSOLE_HINT
        data = value.get("data")
        if isinstance(data, list) and data and isinstance(data[0], dict) and "traceID" in data[0]:
            return "this is Jaeger's v1 API JSON; ask Jaeger's /api/v3/traces for OTLP/JSON"
        keys = ", ".join(sorted(map(str, value))[:6]) or "none"
        return f"expected an object with 'resourceSpans', found keys: {keys}"
    return f"expected an object with 'resourceSpans', found a JSON {type(value).__name__}"


_DECODE = msgspec.json.Decoder().decode


def _loads(line: bytes) -> Any:
    """One line as Python values: msgspec's generic decoder, which builds the same dicts and
    lists as `orjson.loads` from megabyte-long export batches in three quarters of its time
    (bench/decode_msgspec.py: 0.36 s against 0.49 s on few-long; equal on many-short). What
    msgspec refuses goes to orjson, so bad lines are judged and described exactly as before.
    The one difference on valid JSON: an integer beyond 64 bits is kept exact where orjson
    rounds it to a float (tests/test_loading_speed.py compares the two)."""
    try:
        return _DECODE(line)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return orjson.loads(line)


def _reason(exc: Exception) -> str:
    return str(exc).split(":", 1)[0] if str(exc) else type(exc).__name__


def read_stream(
    raw: IO[bytes],
    name: str,
    sink: SpanSink,
    decoder: SpanDecoder,
    logs: LogSink | None = None,
) -> list[TraceWarning]:
    """`read_file` for an open stream that cannot seek back (stdin)."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
    return _read_buffered(buffered, name, sink, decoder, logs, "input")


def _read_buffered(
    buffered: io.BufferedReader[Any],
    name: str,
    sink: SpanSink,
    decoder: SpanDecoder,
    logs: LogSink | None,
    noun: str,
) -> list[TraceWarning]:
    """A file's or a stream's spans: the format is sniffed from a peek at the start (no read
    and rewind, so a pipe works too), gzip decompressed as it comes."""
    head = buffered.peek(_SNIFF)[:_SNIFF]
    stream: Iterable[bytes] = buffered
    if head.startswith(_GZIP_MAGIC):
        stream = _gunzip_lines(buffered)
    elif b"\x00" in head:
        raise TraceFormatError(
            f"binary {noun}, not OTLP JSON (JSON lines or a JSON document, optionally gzip)",
            path=name,
            line=1,
        )
    reader = _FileReader(name, sink, decoder, logs)
    reader.read(stream)
    return reader.finish()

"""Our OTLP/JSON encoder and the JSON-lines file exporter that writes it.

Why hand-written rather than `opentelemetry-exporter-otlp-json-file`:

- **Speed.** The official encoder builds generated dataclasses and then dicts in pure Python
  (~290 µs per two-span batch, measured by `bench/export_cost.py`); this one builds the plain
  dicts directly and serialises them with orjson.
- **Freedom of the user's OpenTelemetry.** The official file exporter is a beta package pinned
  to one SDK release, so a library depending on it cannot be installed beside an application's
  own OpenTelemetry. This module needs only the SDK's stable `ReadableSpan`.

`tests/test_tracing_export.py` holds the official exporter as the reference: the same spans
must give the same JSON, once parsed.

The mapping (`ReadableSpan` → `ExportTraceServiceRequest` in OTLP/JSON, proto3 JSON rules:
fields at their default value are left out):

- spans are grouped by resource, then by instrumentation scope, in first-seen order;
- trace/span ids are lowercase hex (32/16 digits); 64-bit integers (`intValue`, times) are
  decimal strings; `kind` is the OTLP enum (SDK kind + 1); `status.code` 0 unset, 1 ok, 2 error;
- attribute values: `stringValue`, `boolValue`, `intValue`, `doubleValue` (NaN and infinities
  as the strings proto3 JSON uses), `bytesValue` (base64), `arrayValue`, `kvlistValue`;
- `flags` is not written (the official exporters write the parent's or the linked context's
  "has is-remote" and is-remote bits, 0x100 and 0x200): no reader or trace store we know of
  uses them, and they cost 12 bytes per span in every file;
- `status` is left out when it is unset (code 0, no message), as proto3 JSON allows for a
  message at its default value (a reader sees the same unset status); an error or ok status
  is written;
- `traceState` is the W3C `k=v,k=v` form, written when not empty (links included: the OTLP
  proto has the field, the official JSON encoder leaves it out);
- events, links and the three dropped counts are written when present.

The file exporter appends one request per line. Each batch is ONE `write` of complete lines on
a descriptor opened with `O_APPEND`, so writers in several threads or processes never
interleave inside a line. Before its first append, a writer whose file does not end in a
newline (a line torn by a crash or a full disk) starts with one, so a torn line costs only
itself; so does a writer whose previous write failed part way.
"""

from __future__ import annotations

import base64
import math
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["ExportError", "JsonLinesSpanExporter", "encode_request", "encode_spans_json"]

JsonObject = dict[str, Any]


def encode_spans_json(spans: Sequence[ReadableSpan]) -> bytes:
    """One OTLP/JSON export request for `spans`, as UTF-8 bytes without a newline."""
    return orjson.dumps(encode_request(spans))


def encode_request(spans: Sequence[ReadableSpan]) -> JsonObject:
    """`spans` as an `ExportTraceServiceRequest` in OTLP/JSON form (plain dicts and lists)."""
    by_resource: dict[Any, dict[Any, list[JsonObject]]] = {}
    for span in spans:
        scopes = by_resource.setdefault(span.resource, {})
        scopes.setdefault(span.instrumentation_scope, []).append(_span(span))
    resource_spans: list[JsonObject] = []
    for resource, scopes in by_resource.items():
        entry: JsonObject = {"resource": _resource(resource)}
        entry["scopeSpans"] = [_scope_spans(scope, encoded) for scope, encoded in scopes.items()]
        schema_url = getattr(resource, "schema_url", "")
        if schema_url:
            entry["schemaUrl"] = schema_url
        resource_spans.append(entry)
    return {"resourceSpans": resource_spans} if resource_spans else {}


def _resource(resource: Any) -> JsonObject:
    attributes = getattr(resource, "attributes", None)
    return {"attributes": _attributes(attributes)} if attributes else {}


def _scope_spans(scope: Any, spans: list[JsonObject]) -> JsonObject:
    entry: JsonObject = {"scope": _scope(scope), "spans": spans}
    schema_url = getattr(scope, "schema_url", None) if scope is not None else None
    if schema_url:
        entry["schemaUrl"] = schema_url
    return entry


def _scope(scope: Any) -> JsonObject:
    if scope is None:
        return {}
    encoded: JsonObject = {}
    if scope.name:
        encoded["name"] = scope.name
    if scope.version:
        encoded["version"] = scope.version
    attributes = getattr(scope, "attributes", None)  # scopes have attributes since SDK 1.23
    if attributes:
        encoded["attributes"] = _attributes(attributes)
    return encoded


def _span(span: ReadableSpan) -> JsonObject:
    context = span.context
    parent = span.parent
    encoded: JsonObject = {
        "traceId": f"{context.trace_id:032x}" if context else "0" * 32,
        "spanId": f"{context.span_id:016x}" if context else "0" * 16,
        "kind": span.kind.value + 1,
    }
    status = span.status
    if status.status_code.value or status.description:
        encoded["status"] = _status(span)
    if context is not None and context.trace_state:
        encoded["traceState"] = _trace_state(context.trace_state)
    if parent is not None:
        encoded["parentSpanId"] = f"{parent.span_id:016x}"
    if span.name:
        encoded["name"] = span.name
    if span.start_time:
        encoded["startTimeUnixNano"] = str(span.start_time)
    if span.end_time:
        encoded["endTimeUnixNano"] = str(span.end_time)
    if span.attributes:
        encoded["attributes"] = _attributes(span.attributes)
    if span.events:
        encoded["events"] = [_event(event) for event in span.events]
    if span.links:
        encoded["links"] = [_link(link) for link in span.links]
    _dropped(encoded, span)
    return encoded


def _dropped(encoded: JsonObject, span: ReadableSpan) -> None:
    for field, attribute in (
        ("droppedAttributesCount", "dropped_attributes"),
        ("droppedEventsCount", "dropped_events"),
        ("droppedLinksCount", "dropped_links"),
    ):
        count = getattr(span, attribute, 0)
        if count:
            encoded[field] = count


def _status(span: ReadableSpan) -> JsonObject:
    status = span.status
    encoded: JsonObject = {}
    if status.description:
        encoded["message"] = status.description
    if status.status_code.value:
        encoded["code"] = status.status_code.value
    return encoded


def _trace_state(trace_state: Any) -> str:
    return ",".join(f"{key}={value}" for key, value in trace_state.items())


def _event(event: Any) -> JsonObject:
    encoded: JsonObject = {}
    if event.timestamp:
        encoded["timeUnixNano"] = str(event.timestamp)
    if event.name:
        encoded["name"] = event.name
    if event.attributes:
        encoded["attributes"] = _attributes(event.attributes)
    dropped = getattr(event, "dropped_attributes", 0)
    if dropped:
        encoded["droppedAttributesCount"] = dropped
    return encoded


def _link(link: Any) -> JsonObject:
    context = link.context
    encoded: JsonObject = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
    }
    if context.trace_state:
        encoded["traceState"] = _trace_state(context.trace_state)
    if link.attributes:
        encoded["attributes"] = _attributes(link.attributes)
    dropped = getattr(link, "dropped_attributes", 0)
    if dropped:
        encoded["droppedAttributesCount"] = dropped
    return encoded


def _attributes(attributes: Mapping[str, Any]) -> list[JsonObject]:
    encoded: list[JsonObject] = []
    for key, value in attributes.items():
        any_value = _value(value)
        if any_value is not None:  # a value of no OTLP type is left out, as the SDK does
            encoded.append({"key": key, "value": any_value})
    return encoded


def _value(value: Any) -> JsonObject | None:
    """One attribute value as an OTLP `AnyValue`; exact types first (the common, fast case)."""
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is bool:
        return {"boolValue": value}
    if kind is int:
        return {"intValue": str(value)}
    if kind is float:
        return {"doubleValue": _double(value)}
    if kind is tuple or kind is list:
        return _array(value)
    return _value_of_subclass(value)


def _value_of_subclass(value: Any) -> JsonObject | None:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": bool(value)}
    if isinstance(value, str):
        return {"stringValue": str(value)}
    if isinstance(value, int):
        return {"intValue": str(int(value))}
    if isinstance(value, float):
        return {"doubleValue": _double(float(value))}
    if isinstance(value, (bytes, bytearray)):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Sequence):
        return _array(value)
    if isinstance(value, Mapping):
        values = [{"key": str(k), "value": _value(v) or {}} for k, v in value.items()]
        return {"kvlistValue": {"values": values} if values else {}}
    return None


def _array(values: Sequence[Any]) -> JsonObject:
    encoded = [_value(item) or {} for item in values]
    return {"arrayValue": {"values": encoded} if encoded else {}}


def _double(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


class ExportError(Exception):
    """Why a batch could not be written: the file path and the operating system's reason."""

    def __init__(self, path: Path, reason: str, errno: int | None = None) -> None:
        super().__init__(f"cannot write traces to {path}: {reason}")
        self.path = path
        self.reason = reason
        self.errno = errno


class JsonLinesSpanExporter(SpanExporter):
    """Appends one OTLP/JSON export request per line to a file.

    The file is opened at construction (so a directory or an unwritable path is reported when
    tracing is configured, naming it) with `O_APPEND`; each batch is one `write` of complete
    lines. A write the disk cannot take (ENOSPC, EIO, EFBIG) loses that batch only: its error
    is raised as `ExportError` naming the path, and the next batch starts on a new line.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fd: int | None = _open_append(self.path)
        self._checked_end = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        line = orjson.dumps(encode_request(spans), option=orjson.OPT_APPEND_NEWLINE)
        with self._lock:
            if self._fd is None:
                return SpanExportResult.FAILURE
            try:
                if not self._checked_end:  # another writer may have died mid-line before us
                    self._checked_end = True
                    if _ends_mid_line(self._fd):
                        line = b"\n" + line
                _append(self._fd, line)
            except OSError as exc:
                self._checked_end = False  # part of the line may be written: repair next time
                raise ExportError(self.path, _reason(exc), exc.errno) from exc
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # every batch is written by `export` itself; nothing is buffered here


def _open_append(path: Path) -> int:
    """A descriptor for appending to `path`, creating it (and its folder); ExportError if not."""
    try:
        try:
            return _open(path)
        except FileNotFoundError:  # its folder does not exist yet
            path.parent.mkdir(parents=True, exist_ok=True)
            return _open(path)
    except OSError as exc:
        raise ExportError(path, _reason(exc), exc.errno) from exc


def _open(path: Path) -> int:
    flags = os.O_APPEND | os.O_CREAT | _CLOEXEC
    try:  # readable too, so that a torn last line can be seen
        return os.open(path, os.O_RDWR | flags, 0o644)
    except PermissionError:  # a write-only file: appended to without that repair
        return os.open(path, os.O_WRONLY | flags, 0o644)


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _append(fd: int, line: bytes) -> None:
    """Write `line` at the end of the file in one call (continued only after a short write)."""
    view = memoryview(line)
    while view:  # a short write (disk nearly full) is continued, or raises on the next call
        written = os.write(fd, view)
        view = view[written:]


def _ends_mid_line(fd: int) -> bool:
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return False
        return os.pread(fd, 1, size - 1) not in (b"\n", b"")
    except OSError:
        return False  # not a regular, readable file (a pipe, write-only): nothing to repair


def _reason(exc: OSError) -> str:
    if exc.errno:
        return f"[Errno {exc.errno}] {os.strerror(exc.errno)}"
    return str(exc) or type(exc).__name__

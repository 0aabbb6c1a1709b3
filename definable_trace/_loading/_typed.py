"""OTLP/JSON trace lines decoded straight into typed msgspec `Struct`s: the loader's fast path.

Decoding a line generically builds a dict per span, per attribute and per attribute value, which
the decoder then walks key by key. Here msgspec builds only the fields the loader reads, as
slotted objects, in one pass (bench/decode_msgspec.py: about two thirds of `orjson.loads`'
time on many short spans). It is strict on purpose: a line it refuses (a wrong JSON type, a
missing id or value, an old field name, a wrapper around the requests) goes to the general path
(`_otlp._loads` and `_decode.SpanDecoder.spans`), which judges and describes damage exactly as
before; `tests/test_loading_typed.py` checks that both paths give the same records.

For long lines (whole conversations sent again on every model call) the string values are kept
as `msgspec.Raw`, undecoded: the growing message lists are then shared in their escaped form
(`TextStore.share_escaped`) and decoded only when read, and never copied again when a prefix of
one already kept.

No byte is skipped unchecked: every Struct forbids unknown fields (a line with one takes the
general path) and declares the OTLP fields the loader does not read, so msgspec decodes, and
so checks, everything but the raw strings. A line that is not ASCII (orjson and our exporter
write UTF-8; `json.dumps` writes `\\u` escapes) has its raw strings checked to be UTF-8 where
they are decoded or kept (`UncheckedRawRequest`), not the whole line first: in full-history
mode most of a line is history an earlier list already holds, byte for byte.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "LOGS_FROM",
    "OTHER",
    "RAW_FROM",
    "RawRequest",
    "Request",
    "UncheckedRawRequest",
    "decode_logs",
    "decode_raw",
    "decode_typed",
]

OTHER: Any = object()
"""The `stringValue` of a value that has none (an integer, a list, ...): decoded apart."""

RAW_FROM = 1 << 20
"""Lines at least this long (bytes) keep their string values raw (see the module doc)."""


S = TypeVar("S")
"""How a string value is held: `str | None` (decoded), or `msgspec.Raw` (a long line's)."""


class AnyValue(msgspec.Struct, Generic[S], gc=False, forbid_unknown_fields=True):
    """An OTLP `AnyValue`: one of its fields is set (`stringValue` checked first). On a long
    line the string is its raw JSON (quotes and escapes included)."""

    stringValue: S = OTHER
    intValue: Any = msgspec.UNSET
    boolValue: Any = msgspec.UNSET
    doubleValue: Any = msgspec.UNSET
    arrayValue: Any = msgspec.UNSET
    kvlistValue: Any = msgspec.UNSET
    bytesValue: Any = msgspec.UNSET


class KeyValue(msgspec.Struct, Generic[S], gc=False, forbid_unknown_fields=True):
    key: str
    value: AnyValue[S]


class Status(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    code: Any = 0
    message: Any = None


class Span(msgspec.Struct, Generic[S], gc=False, forbid_unknown_fields=True):
    traceId: Any
    spanId: Any
    parentSpanId: Any = None
    name: Any = ""
    kind: Any = 0
    startTimeUnixNano: Any = None
    endTimeUnixNano: Any = None
    attributes: list[KeyValue[S]] | None = None
    status: Status | None = None
    # Not read, but decoded (so checked: see the module doc) rather than skipped.
    traceState: Any = None
    flags: Any = None
    droppedAttributesCount: Any = None
    events: Any = None
    droppedEventsCount: Any = None
    links: Any = None
    droppedLinksCount: Any = None


class ScopeSpans(msgspec.Struct, Generic[S], gc=False, forbid_unknown_fields=True):
    scope: Any = None
    instrumentationLibrary: Any = None
    spans: list[Span[S]] | None = None
    schemaUrl: Any = None


class ResourceSpans(msgspec.Struct, Generic[S], gc=False, forbid_unknown_fields=True):
    scopeSpans: list[ScopeSpans[S]] | None = None
    instrumentationLibrarySpans: Any = None
    resource: Any = None
    schemaUrl: Any = None


class _Request(msgspec.Struct, Generic[S], gc=False, forbid_unknown_fields=True):
    """An `ExportTraceServiceRequest` (what else the line holds is not decoded)."""

    resourceSpans: list[ResourceSpans[S]] | None = None


class Request(_Request[str | None]):
    """A request with its string values decoded."""


class RawRequest(_Request[msgspec.Raw]):
    """A long line's request: string values kept raw."""


class UncheckedRawRequest(RawRequest):
    """A long line that is not ASCII: its raw strings are not checked to be UTF-8 yet. Those
    decoded later are checked by msgspec then; the growing message lists are checked where
    they are kept (`TextStore.share_escaped`, only the bytes no earlier list holds)."""


_TYPED = msgspec.json.Decoder(Request).decode
_RAW = msgspec.json.Decoder(RawRequest).decode
_UNCHECKED = msgspec.json.Decoder(UncheckedRawRequest).decode
_REFUSED = (msgspec.DecodeError, ValueError, RecursionError)
_SPANS = b'{"resourceSpans":'  # how exporters start a line of spans (others: general path)


def decode_typed(line: bytes, raw_from: int | None = None) -> Request | RawRequest | None:
    """The line's request, or None when the general path must read it: not this shape (not
    JSON, another signal, a wrapper, an old field name, a wrong type somewhere), or no spans.
    `raw_from`: the length from which string values stay raw (default `RAW_FROM`)."""
    if not line.startswith(_SPANS):
        return None  # logs, metrics, wrappers, other layouts: not worth a second decoding
    try:
        if len(line) < (RAW_FROM if raw_from is None else raw_from):
            request: Request | RawRequest = _TYPED(line)  # every field decoded, so checked
        elif line.isascii():
            request = _RAW(line)
        else:
            request = _UNCHECKED(line)
    except _REFUSED:
        return None
    if not request.resourceSpans:
        return None  # `batches`, `resourceLogs`, wrappers, `[]`: the general path tells
    return request


def decode_raw(raw: msgspec.Raw) -> Any:
    """A raw JSON value (a string value of a long line) as a Python value."""
    return msgspec.json.decode(raw)


def decode_raws(raws: list[msgspec.Raw]) -> list[Any]:
    """Several raw JSON values at once (one decoder call for a span's short strings)."""
    values: list[Any] = msgspec.json.decode(b"[" + b",".join(raws) + b"]")
    return values


# --- log lines ------------------------------------------------------------------------------
#
# OTLP log lines (`resourceLogs`, see `_logs`) hold their content as nested `AnyValue`s (a
# message list is an array of key-value lists of ...), which the general path builds as dicts
# and then walks as dicts twice (`any_value`, `_plain`). Here every node is a slotted Struct,
# walked once (`_logs.plain`). As for spans: strict, every field declared, unknown ones refused,
# so what this refuses (another shape, a wrong JSON type) is read by the general path, which
# judges and describes it as before.


class LogValue(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """An `AnyValue` of a log record, nested values included."""

    stringValue: str | UnsetType | None = UNSET
    intValue: Any = UNSET
    boolValue: Any = UNSET
    doubleValue: Any = UNSET
    arrayValue: LogArray | UnsetType | None = UNSET
    kvlistValue: LogKeyValues | UnsetType | None = UNSET
    bytesValue: Any = UNSET


class LogArray(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    values: list[LogValue | None] | None = None


class LogKeyValue(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    key: str
    value: LogValue | None = None


class LogKeyValues(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    values: list[LogKeyValue] | None = None


class LogRecord(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    timeUnixNano: Any = None
    observedTimeUnixNano: Any = None
    severityNumber: Any = None
    severityText: Any = None
    body: LogValue | None = None
    attributes: list[LogKeyValue] | None = None
    droppedAttributesCount: Any = None
    flags: Any = None
    traceId: Any = None
    spanId: Any = None
    eventName: str | None = None


class ScopeLogs(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    scope: Any = None
    logRecords: list[LogRecord] | None = None
    schemaUrl: Any = None


class ResourceLogs(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    resource: Any = None
    scopeLogs: list[ScopeLogs] | None = None
    instrumentationLibraryLogs: Any = None  # the old name: the general path reads it
    schemaUrl: Any = None


class LogsRequest(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """An `ExportLogsServiceRequest`."""

    resourceLogs: list[ResourceLogs] | None = None


LOGS_FROM = b'{"resourceLogs":'  # how exporters start a line of logs
_LOGS = msgspec.json.Decoder(LogsRequest).decode


def decode_logs(line: bytes) -> LogsRequest | None:
    """The line's logs request, or None when the general path must read it (see above)."""
    if not line.startswith(LOGS_FROM):
        return None
    try:
        request = _LOGS(line)  # every field decoded (no raw strings): UTF-8 checked
    except _REFUSED:
        return None
    if not request.resourceLogs:
        return None
    return request

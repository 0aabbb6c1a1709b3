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
one already kept. `Raw` leaves UTF-8 unchecked, so a line that is not ASCII (orjson and our
exporter write UTF-8; `json.dumps` writes `\\u` escapes) is checked whole first: that check is
most of what such a line costs beyond an ASCII one (bench/load_throughput.py, few-long).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

__all__ = ["OTHER", "RAW_FROM", "RawRequest", "Request", "decode_raw", "decode_typed"]

OTHER: Any = object()
"""The `stringValue` of a value that has none (an integer, a list, ...): decoded apart."""

RAW_FROM = 1 << 20
"""Lines at least this long (bytes) keep their string values raw (see the module doc)."""


S = TypeVar("S")
"""How a string value is held: `str | None` (decoded), or `msgspec.Raw` (a long line's)."""


class AnyValue(msgspec.Struct, Generic[S], gc=False):
    """An OTLP `AnyValue`: one of its fields is set (`stringValue` checked first). On a long
    line the string is its raw JSON (quotes and escapes included)."""

    stringValue: S = OTHER
    intValue: Any = msgspec.UNSET
    boolValue: Any = msgspec.UNSET
    doubleValue: Any = msgspec.UNSET
    arrayValue: Any = msgspec.UNSET
    kvlistValue: Any = msgspec.UNSET
    bytesValue: Any = msgspec.UNSET


class KeyValue(msgspec.Struct, Generic[S], gc=False):
    key: str
    value: AnyValue[S]


class Status(msgspec.Struct, gc=False):
    code: Any = 0
    message: Any = None


class Span(msgspec.Struct, Generic[S], gc=False):
    traceId: Any
    spanId: Any
    parentSpanId: Any = None
    name: Any = ""
    kind: Any = 0
    startTimeUnixNano: Any = None
    endTimeUnixNano: Any = None
    attributes: list[KeyValue[S]] | None = None
    status: Status | None = None


class ScopeSpans(msgspec.Struct, Generic[S], gc=False):
    scope: Any = None
    instrumentationLibrary: Any = None
    spans: list[Span[S]] | None = None


class ResourceSpans(msgspec.Struct, Generic[S], gc=False):
    scopeSpans: list[ScopeSpans[S]] | None = None
    instrumentationLibrarySpans: Any = None


class _Request(msgspec.Struct, Generic[S], gc=False):
    """An `ExportTraceServiceRequest` (what else the line holds is not decoded)."""

    resourceSpans: list[ResourceSpans[S]] | None = None


class Request(_Request[str | None]):
    """A request with its string values decoded."""


class RawRequest(_Request[msgspec.Raw]):
    """A long line's request: string values kept raw."""


_TYPED = msgspec.json.Decoder(Request).decode
_RAW = msgspec.json.Decoder(RawRequest).decode
_REFUSED = (msgspec.DecodeError, ValueError, RecursionError)
_SPANS = b'{"resourceSpans":'  # how exporters start a line of spans (others: general path)


def decode_typed(line: bytes, raw_from: int | None = None) -> Request | RawRequest | None:
    """The line's request, or None when the general path must read it: not this shape (not
    JSON, another signal, a wrapper, an old field name, a wrong type somewhere), or no spans.
    `raw_from`: the length from which string values stay raw (default `RAW_FROM`)."""
    if not line.startswith(_SPANS):
        return None  # logs, metrics, wrappers, other layouts: not worth a second decoding
    try:
        if not line.isascii():
            line.decode()  # fields not decoded are skipped unchecked: UTF-8 checked here
        if len(line) >= (RAW_FROM if raw_from is None else raw_from):
            request: Request | RawRequest = _RAW(line)
        else:
            request = _TYPED(line)
    except _REFUSED:  # UnicodeDecodeError is a ValueError
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

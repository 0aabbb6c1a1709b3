"""Message content kept in OTLP log records instead of on the spans.

The official openai-v2 instrumentation puts content in log records tied to the call's span by
trace and span id, in one of two shapes:

- `gen_ai.client.inference.operation.details` (util-genai, `EVENT_ONLY` or `SPAN_AND_EVENT`):
  one record per call whose attributes (or body) hold `gen_ai.input.messages`,
  `gen_ai.output.messages` and `gen_ai.system_instructions`, in the parts format of the spans;
- the older per-message events (openai-v2 before util-genai, its default then):
  `gen_ai.{system,user,assistant,tool}.message`, one per message sent, and `gen_ai.choice`, one
  per answer; the body holds the OpenAI-style message (`content`, `tool_calls`, the tool
  call `id`; a choice its `message` and `finish_reason`).

The event's name is the record's `eventName` (newer SDKs) or its `event.name` attribute (the
Events API of older ones). Both shapes are turned into the parts format here, so the call span
reads them as if they had been written on it (see `_conventions.call_data`). A record repeated
(at-least-once delivery) counts once; records of other kinds are ignored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import msgspec
import orjson
from msgspec import UNSET

from .. import _semconv as sc
from . import _typed
from ._decode import MAX_DEPTH, any_value

__all__ = ["LogContent", "LogIndex"]

DETAILS = sc.EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS
_MESSAGE_EVENTS = {
    sc.EVENT_GEN_AI_SYSTEM_MESSAGE: "system",
    sc.EVENT_GEN_AI_USER_MESSAGE: "user",
    sc.EVENT_GEN_AI_ASSISTANT_MESSAGE: "assistant",
    sc.EVENT_GEN_AI_TOOL_MESSAGE: "tool",
}
CHOICE = sc.EVENT_GEN_AI_CHOICE
_EVENT_NAME = sc.EVENT_NAME
_CONTENT_KEYS = (sc.INPUT_MESSAGES, sc.OUTPUT_MESSAGES, sc.SYSTEM_INSTRUCTIONS)

Key = tuple[str, str]


class Reporter(Protocol):
    def warn(self, line: int | None, message: str, kind: str | None = None) -> None: ...


class LogContent(msgspec.Struct, gc=False):
    """One call's content from its log records, as parts-format values keyed like the span
    attributes they stand for (`gen_ai.input.messages`, ...). `path`/`line`: the first record.

    Untracked by the cyclic garbage collector (`gc=False`, one per call of a large file): it
    holds parsed JSON and nothing that leads back to it."""

    path: str
    line: int
    values: dict[str, list[Any]] = {}  # a new dict for each (msgspec copies empty defaults)

    def get(self, key: str) -> list[Any] | None:
        return self.values.get(key)


class LogIndex:
    """The GenAI content records of every log line read, by (trace id, span id)."""

    def __init__(self) -> None:
        self.by_span: dict[Key, LogContent] = {}
        # What was read (call, event name, time, content): a record delivered twice counts
        # once. One set of bytes for all calls, not a set per call.
        self._seen: set[bytes] = set()

    def read(self, request: Mapping[str, Any], path: str, line: int, reporter: Reporter) -> bool:
        """Index the content records of one `ExportLogsServiceRequest`; whether it had any."""
        used = False
        for record in _records(request):
            try:
                used = self._record(record, path, line) or used
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                used = True  # a GenAI record, or it would not have been looked into
                _malformed(reporter, line, exc)
        return used

    def content(self, trace_id: str, span_id: str) -> LogContent | None:
        return self.by_span.get((trace_id, span_id))

    def read_typed(
        self, request: _typed.LogsRequest, path: str, line: int, reporter: Reporter
    ) -> bool | None:
        """`read` for a request decoded by `_typed` (its values walked once, see `plain`), or
        None when the general path must read the line: a shape this does not take, or a value
        the general path may judge otherwise (it then reads the line and tells). Every record
        is converted before any is used, so a refused line leaves nothing behind."""
        records: list[tuple[Any, dict[str, Any], Any, Any, Any, Any]] = []
        try:
            for resource in request.resourceLogs or ():
                if resource.instrumentationLibraryLogs is not None:
                    return None
                for scope in resource.scopeLogs or ():
                    for record in scope.logRecords or ():
                        attributes = {  # strings, most values, without a call
                            a.key: text
                            if (v := a.value) is not None and (text := v.stringValue) is not UNSET
                            else (None if v is None else plain(v))
                            for a in record.attributes or ()
                        }
                        name = record.eventName or attributes.get(_EVENT_NAME)
                        if name is not None and name.__class__ is not str:
                            return None  # a list or map as the name: the general path tells
                        body = None if record.body is None else plain(record.body)
                        records.append(
                            (name, attributes, record.traceId, record.spanId, body, record)
                        )
        except (ValueError, TypeError, RecursionError):
            return None
        used = False
        for name, attributes, trace_id, span_id, body, record in records:
            try:
                found = self._use(
                    name, attributes, trace_id, span_id, body, record.timeUnixNano, path, line
                )
                used = found or used
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                used = True
                _malformed(reporter, line, exc)
        return used

    def _record(self, record: dict[str, Any], path: str, line: int) -> bool:
        attributes = {
            a["key"]: any_value(a.get("value") or {})
            for a in record.get("attributes") or ()
            if isinstance(a, dict) and isinstance(a.get("key"), str)
        }
        name = record.get("eventName") or attributes.get(_EVENT_NAME)
        trace_id, span_id = record.get("traceId"), record.get("spanId")
        settled = _settled(name, trace_id, span_id)  # before the body: others' go unread
        if settled is not None:
            return settled
        body = any_value(record["body"]) if isinstance(record.get("body"), dict) else None
        time = record.get("timeUnixNano")
        return self._use(name, attributes, trace_id, span_id, _plain(body), time, path, line)

    def _use(
        self,
        name: Any,
        attributes: dict[str, Any],
        trace_id: Any,
        span_id: Any,
        body: Any,
        time: Any,
        path: str,
        line: int,
    ) -> bool:
        """One record's content indexed (both paths); whether it was a GenAI record."""
        settled = _settled(name, trace_id, span_id)
        if settled is not None:
            return settled
        found = _details(attributes, body) if name == DETAILS else _legacy(name, body)
        if not found:
            return True
        key = (trace_id.lower(), span_id.lower())
        content = self.by_span.get(key)
        if content is None:
            content = self.by_span[key] = LogContent(path, line)
        fingerprint = _kept(orjson.dumps([*key, name, time, found], default=str))
        if fingerprint in self._seen:  # the same record delivered twice
            return True
        self._seen.add(fingerprint)
        values = content.values
        for attribute, items in found.items():  # (lists made for this record: kept as they are)
            kept = values.get(attribute)
            if kept is None:
                values[attribute] = items
            else:
                kept.extend(items)
        return True


def _kept(data: bytes) -> bytes:
    """`data` in a bytes object of its own size, for keeping: what `orjson.dumps` returns
    holds the whole buffer it wrote into (tracemalloc, orjson 3.13: 4 KB for a short output,
    64 KB for one of 5 KB), so the fingerprints of many-short's 9,681 log records took tens
    of megabytes, and fresh memory each (0.018 s of reading them); a copy is exact."""
    return bytes(memoryview(data))


def _settled(name: Any, trace_id: Any, span_id: Any) -> bool | None:
    """What a record's name and ids decide alone: False, not a GenAI content event; True, one
    that names no span (nothing to attach); None, its content must be read."""
    if name != DETAILS and name not in _MESSAGE_EVENTS and name != CHOICE:
        return False
    if not (isinstance(trace_id, str) and isinstance(span_id, str) and trace_id and span_id):
        return True
    return None


def _malformed(reporter: Reporter, line: int, exc: Exception) -> None:
    reporter.warn(
        line, f"malformed log record skipped ({type(exc).__name__}: {exc})", kind="malformed"
    )


def plain(value: _typed.LogValue, depth: int = 0) -> Any:
    """A typed `AnyValue` as `_plain(any_value(...))` gives its dict: the same checks in the
    same order (a string first, however many fields are set), arrays as lists, in one walk."""
    text = value.stringValue
    if text is not UNSET:
        return text
    number = value.intValue
    if number is not UNSET:  # other leaves (few in logs) as `any_value` reads them
        if number.__class__ is str:  # OTLP/JSON's integers: `_int` without the calls
            try:
                return int(number)
            except ValueError:
                return number
        return any_value({"intValue": number})
    if value.boolValue is not UNSET:
        return bool(value.boolValue)
    if value.doubleValue is not UNSET:
        return any_value({"doubleValue": value.doubleValue})
    array, pairs = value.arrayValue, value.kvlistValue
    if depth >= MAX_DEPTH and (array is not UNSET or pairs is not UNSET):
        raise ValueError(f"attribute value nested deeper than {MAX_DEPTH} levels")
    # Strings, most leaves, are taken in the comprehensions: no call for them.
    if array is not UNSET:
        items = array.values if isinstance(array, _typed.LogArray) else None
        return [
            text
            if item is not None and (text := item.stringValue) is not UNSET
            else (None if item is None else plain(item, depth + 1))
            for item in items or ()
        ]
    if pairs is not UNSET:
        found = pairs.values if isinstance(pairs, _typed.LogKeyValues) else None
        return {
            pair.key: text
            if (item := pair.value) is not None and (text := item.stringValue) is not UNSET
            else (None if item is None else plain(item, depth + 1))
            for pair in found or ()
        }
    if value.bytesValue is not UNSET:
        return any_value({"bytesValue": value.bytesValue})
    return None


def _records(request: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for resource in _objects(request.get("resourceLogs")):
        for scope in _objects(
            resource.get("scopeLogs") or resource.get("instrumentationLibraryLogs")
        ):
            yield from _objects(scope.get("logRecords"))


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def _plain(value: Any) -> Any:
    """AnyValue arrays come back as tuples: lists, like parsed JSON."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _details(attributes: dict[str, Any], body: Any) -> dict[str, list[Any]]:
    """`operation.details`: the three lists, from the attributes or else the body."""
    found: dict[str, list[Any]] = {}
    for key in _CONTENT_KEYS:
        value = attributes.get(key)
        if value is None and isinstance(body, dict):
            value = body.get(key)
        value = _plain(value)
        if isinstance(value, str):
            value = orjson.loads(value)  # a JSON string, like on a span
        if value is not None:
            if not isinstance(value, list):
                raise ValueError(f"{key} is not a list")
            found[key] = value
    return found


def _legacy(name: str, body: Any) -> dict[str, list[Any]]:
    """A per-message event as one parts-format message; nothing when it holds no content
    (capture was off: the events then carry roles only, which is no conversation)."""
    if name == CHOICE:
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict):
            return {}
        parts = _parts("assistant", message)
        if not parts:
            return {}
        out: dict[str, Any] = {"role": message.get("role") or "assistant", "parts": parts}
        if isinstance(body.get("finish_reason"), str):
            out["finish_reason"] = body["finish_reason"]
        return {sc.OUTPUT_MESSAGES: [out]}
    role = _MESSAGE_EVENTS[name]
    parts = _parts(role, body if isinstance(body, dict) else {})
    if not parts:
        return {}
    return {sc.INPUT_MESSAGES: [{"role": role, "parts": parts}]}


def _parts(role: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    content = body.get("content")
    parts: list[dict[str, Any]] = []
    if role == "tool":
        if content is not None:
            parts.append({"type": "tool_call_response", "id": body.get("id"), "response": content})
        return parts
    if isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):  # OpenAI content parts
        texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        parts.extend({"type": "text", "content": t} for t in texts if isinstance(t, str))
    for call in body.get("tool_calls") or ():
        if isinstance(call, dict):
            part = sc.ToolCallPart.from_openai(call)
            parts.append(
                {
                    "type": "tool_call",
                    "id": part.id,
                    "name": part.name,
                    "arguments": part.arguments,
                }
            )
    return parts

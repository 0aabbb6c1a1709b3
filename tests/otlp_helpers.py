"""Reading OTLP/JSON trace files in tests: one flat span dict per span, attributes decoded.

The decoder is written from the OTLP/JSON rules (hex ids, integer enums, 64-bit integers as
decimal strings, typed `AnyValue`s), not with the package's own loader, so that tests of the
emitter do not depend on the code that reads traces back.

A span dict has the keys:

    name, kind (int), trace_id, span_id, parent_span_id (None for a root), start_ns, end_ns,
    attributes (dict of Python values), status_code (int: 0 unset, 1 ok, 2 error),
    status_message, events (list of {"name", "attributes"}), resource (dict), scope (str)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "KIND_CLIENT",
    "KIND_INTERNAL",
    "STATUS_ERROR",
    "STATUS_UNSET",
    "decode_attributes",
    "decode_value",
    "json_attr",
    "named",
    "one",
    "read_documents",
    "read_spans",
    "spans_of_document",
]

KIND_INTERNAL = 1
KIND_CLIENT = 3
STATUS_UNSET = 0
STATUS_ERROR = 2

Span = dict[str, Any]


def decode_value(value: dict[str, Any]) -> Any:
    """One OTLP `AnyValue` as a Python value (int for `intValue`, bytes for `bytesValue`)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])  # a decimal string in OTLP/JSON; numbers accepted too
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [decode_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return decode_attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    return None


def decode_attributes(items: Iterable[dict[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: decode_value(item.get("value", {})) for item in items or ()}


def spans_of_document(document: dict[str, Any]) -> list[Span]:
    """Every span of one export request, flattened, with its resource and scope."""
    spans: list[Span] = []
    for resource_spans in document.get("resourceSpans", []):
        resource = decode_attributes(resource_spans.get("resource", {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans", []):
            scope = scope_spans.get("scope", {}).get("name", "")
            spans.extend(_span(raw, resource, scope) for raw in scope_spans.get("spans", []))
    return spans


def _span(raw: dict[str, Any], resource: dict[str, Any], scope: str) -> Span:
    status = raw.get("status") or {}
    return {
        "name": raw["name"],
        "kind": int(raw.get("kind", 0)),
        "trace_id": raw["traceId"],
        "span_id": raw["spanId"],
        "parent_span_id": raw.get("parentSpanId") or None,
        "start_ns": int(raw["startTimeUnixNano"]),
        "end_ns": int(raw["endTimeUnixNano"]),
        "attributes": decode_attributes(raw.get("attributes")),
        "status_code": int(status.get("code", 0)),
        "status_message": status.get("message", ""),
        "events": [
            {"name": e["name"], "attributes": decode_attributes(e.get("attributes"))}
            for e in raw.get("events", [])
        ],
        "resource": resource,
        "scope": scope,
    }


def read_documents(path: Path) -> list[dict[str, Any]]:
    """Each line of the file parsed as one JSON document (fails on a partial line)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def read_spans(path: Path) -> list[Span]:
    """All spans of an OTLP/JSON lines file, ordered by start time."""
    spans = [s for doc in read_documents(path) for s in spans_of_document(doc)]
    return sorted(spans, key=lambda s: s["start_ns"])


def named(spans: Iterable[Span], prefix: str) -> list[Span]:
    """The spans whose name starts with `prefix` ("chat", "invoke_agent", ...), in order."""
    return [s for s in spans if s["name"].startswith(prefix)]


def one(spans: Iterable[Span], prefix: str) -> Span:
    """The single span whose name starts with `prefix`."""
    found = named(spans, prefix)
    assert len(found) == 1, f"expected one {prefix!r} span, got {[s['name'] for s in found]}"
    return found[0]


def json_attr(span: Span, key: str) -> Any:
    """A JSON-string attribute (`gen_ai.input.messages`, ...) parsed."""
    value = span["attributes"][key]
    assert isinstance(value, str), f"{key} is not a JSON string: {value!r}"
    return json.loads(value)

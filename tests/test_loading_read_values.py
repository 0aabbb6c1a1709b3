"""The typed span path's shortcuts for attribute values give what the general path gives.

`SpanDecoder._span_record` reads the usual leaves (integers as decimal strings, bools, floats,
arrays of strings) without a call, and the rest as `_typed_value` does. Here every kind of
value, well formed or not, in every position of a shape (the first span of a shape decides
where the non-strings are, later spans may differ), is read typed and generally, and the two
must agree value for value AND type for type (`True == 1` would hide a bool read as an int).
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from loading_mutations import SOURCES

from definable_trace._loading import _typed
from definable_trace._loading._decode import SpanDecoder
from definable_trace._loading._otlp import _loads, _requests
from definable_trace._loading._records import SpanRecord
from definable_trace._loading._store import TextStore

# Values as OTLP/JSON writers write them, and as damaged or unusual files hold them.
VALUES: list[Any] = [
    {"stringValue": "openai"},
    {"stringValue": ""},
    {"stringValue": None},
    {"intValue": "16"},
    {"intValue": 16},
    {"intValue": "-3"},
    {"intValue": " 7 "},
    {"intValue": "1_000"},
    {"intValue": "1.0"},
    {"intValue": "abc"},
    {"intValue": ""},
    {"intValue": None},
    {"intValue": 2.5},
    {"intValue": True},
    {"intValue": "9" * 30},
    {"boolValue": False},
    {"boolValue": True},
    {"boolValue": 1},
    {"boolValue": "false"},
    {"boolValue": None},
    {"doubleValue": 0.036},
    {"doubleValue": 1},
    {"doubleValue": "NaN"},
    {"doubleValue": "Infinity"},
    {"doubleValue": "x"},
    {"doubleValue": None},
    {"arrayValue": {"values": [{"stringValue": "stop"}]}},
    {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}},
    {"arrayValue": {"values": []}},
    {"arrayValue": {}},
    {"arrayValue": None},
    {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}},
    {"bytesValue": "aGk="},
    {},
    {"stringValue": "s", "intValue": "5"},
    {"intValue": "5", "boolValue": True},
    {"boolValue": True, "doubleValue": 1.5},
]


def _line(spans: list[list[Any]]) -> bytes:
    """A request with one span per list of values (attributes `a0`, `a1`, ...)."""
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "scope": {"name": "s"},
                            "spans": [
                                {
                                    "traceId": "ab" * 16,
                                    "spanId": f"{n:016x}",
                                    "name": "chat",
                                    "startTimeUnixNano": "1",
                                    "endTimeUnixNano": "2",
                                    "attributes": [
                                        {"key": f"a{i}", "value": v} for i, v in enumerate(values)
                                    ],
                                }
                                for n, values in enumerate(spans, 1)
                            ],
                        }
                    ]
                }
            ]
        }
    )


def _typed_form(value: Any) -> Any:
    """A value with the type of every part spelled out."""
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, [_typed_form(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(k, _typed_form(v)) for k, v in value.items()])
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


def _facts(record: SpanRecord) -> tuple[Any, ...]:
    return (
        record.name,
        record.trace_id,
        record.span_id,
        record.parent_span_id,
        record.kind,
        record.start_ns,
        record.end_ns,
        record.status_code,
        record.status_message,
        record.scope,
        record.attribute_names,
        _typed_form(record.attributes),
    )


class _Warnings:
    def __init__(self) -> None:
        self.found: list[str] = []

    def warn(self, line: int | None, message: str, kind: str | None = None) -> None:
        self.found.append(message)


def _both(line: bytes) -> tuple[list[Any] | None, tuple[list[Any], list[str]]]:
    request = _typed.decode_typed(line)
    typed = None
    if request is not None:
        records = SpanDecoder(TextStore()).typed_spans(request, "f.jsonl", 1)
        typed = None if records is None else [_facts(r) for r in records]
    warnings = _Warnings()
    decoder = SpanDecoder(TextStore())
    general = [
        _facts(r)
        for req in _requests(_loads(line))
        for r in decoder.spans(req, "f.jsonl", 1, warnings)
    ]
    return typed, (general, warnings.found)


@pytest.mark.parametrize("value", VALUES, ids=lambda v: orjson.dumps(v).decode())
def test_every_kind_of_value_reads_as_the_general_path_reads_it(value: Any) -> None:
    """Alone, after a span of the same shape that had a string, an integer, a bool, a float
    or an array there (the plan of the shape comes from the first), and before one."""
    for first in ({"stringValue": "x"}, {"intValue": "1"}, {"boolValue": True}, VALUES[20]):
        for spans in ([[value]], [[first], [value]], [[value], [first]], [[first, value]] * 2):
            typed, (general, warnings) = _both(_line(spans))
            if typed is not None:
                assert warnings == []
                assert typed == general


def test_shapes_of_mixed_values_read_as_the_general_path_reads_them() -> None:
    """Spans of three values each, every kind in every position, in one line."""
    usual = [VALUES[0], VALUES[3], VALUES[15], VALUES[20], VALUES[26]]
    spans = [list(values) for values in itertools.product(usual, repeat=3)]
    typed, (general, warnings) = _both(_line(spans))
    assert typed is not None and warnings == []
    assert typed == general
    odd = [list(values) for values in itertools.product(VALUES[::3], repeat=2)]
    typed, (general, warnings) = _both(_line(odd))
    if typed is not None:
        assert typed == general and warnings == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_committed_lines_read_the_same_to_the_type(path: Any) -> None:
    for line in path.read_bytes().splitlines():
        if line.startswith(b'{"resourceSpans"'):
            typed, (general, _) = _both(line)
            assert typed is not None
            assert typed == general


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_the_kept_session_attribute_is_the_one_found_each_time(path: Any) -> None:
    """`session_attribute` is found once and kept: on every committed span, asked twice, it
    is what a fresh search of the span's values finds."""
    decoder, warnings = SpanDecoder(TextStore()), _Warnings()
    for line in path.read_bytes().splitlines():
        if not line.startswith(b'{"resourceSpans"'):
            continue
        request = _typed.decode_typed(line)
        assert request is not None
        typed = decoder.typed_spans(request, "f.jsonl", 1) or []
        general = [
            r for req in _requests(_loads(line)) for r in decoder.spans(req, "g", 1, warnings)
        ]
        for record in typed + general:
            first = record.session_attribute()
            assert first == record._session_attribute() == record.session_attribute()

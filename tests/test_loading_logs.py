"""Message content from OTLP log records, on files written by the real openai-v2 instrumentation.

`openai_v2_events.jsonl` + `openai_v2_events.logs.jsonl`: util-genai's `EVENT_ONLY` mode, one
`gen_ai.client.inference.operation.details` record per call in a file of its own;
`openai_v2_legacy_events.jsonl`: openai-v2 2.1b0's per-message events (`gen_ai.user.message`,
`gen_ai.choice`, ...) in the spans' own file. See tests/fixtures/README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from test_loading_foreign import CALL_TOKENS, WEATHER_HISTORY, shape
from test_loading_support import FIXTURES

from definable_trace.loading import TraceSet, load_traces

EVENTS = [FIXTURES / "openai_v2_events.jsonl", FIXTURES / "openai_v2_events.logs.jsonl"]
LEGACY = [FIXTURES / "openai_v2_legacy_events.jsonl"]


def _check_weather(traces: TraceSet) -> None:
    assert [s.id for s in traces] == ["v2-s1", "v2-s2"]
    session = traces.session("v2-s1")
    assert session.has_content and shape(session) == WEATHER_HISTORY
    tokens = [
        [(c.metrics.input_tokens, c.metrics.output_tokens) for c in t.model_calls]
        for t in session.turns
    ]
    assert tokens == CALL_TOKENS
    first = session.turns[0]
    assert first.model_calls[1].input_messages == session.messages[:4]
    assert [(c.name, c.call_id, c.result) for c in first.tool_calls] == [
        ("get_weather", "call_w1", "sunny, 24 °C")
    ]
    assert [m.content for m in traces.session("v2-s2").messages] == ["Say hi.", "Hi!"]


@pytest.mark.parametrize(
    "files", [EVENTS, EVENTS[::-1], LEGACY], ids=["events", "logs-first", "legacy"]
)
def test_content_in_log_records_is_read_with_its_spans(files: list[Path]) -> None:
    spans = [s for f in files for _, s in _spans_only(f)]
    assert spans and not any(
        a["key"].startswith("gen_ai.input") for s in spans for a in s["attributes"]
    )
    traces = load_traces(*files)
    assert traces.warnings == []
    _check_weather(traces)


def test_without_the_log_file_the_session_has_no_content() -> None:
    traces = load_traces(EVENTS[0])
    assert not traces.session("v2-s1").has_content
    assert any("no message content" in w.message for w in traces.warnings)


def test_repeated_log_records_count_once(tmp_path: Path) -> None:
    lines = LEGACY[0].read_bytes().splitlines()
    path = tmp_path / "twice.jsonl"
    path.write_bytes(b"\n".join(lines + [x for x in lines if b"resourceLogs" in x]) + b"\n")
    traces = load_traces(path)
    assert shape(traces.session("v2-s1")) == WEATHER_HISTORY


def test_documents_may_hold_logs_too() -> None:
    documents = [orjson.loads(line) for f in EVENTS for line in f.read_bytes().splitlines()]
    _check_weather(load_traces(documents))


def test_legacy_events_without_content_are_no_content(tmp_path: Path) -> None:
    """Capture off: the events still come, with roles and no text; that is no conversation."""
    out = []
    for line in LEGACY[0].read_bytes().splitlines():
        value = orjson.loads(line)
        for resource in value.get("resourceLogs", ()):
            for scope in resource["scopeLogs"]:
                for record in scope["logRecords"]:
                    record.pop("body", None)
        out.append(orjson.dumps(value))
    path = tmp_path / "roles-only.jsonl"
    path.write_bytes(b"\n".join(out) + b"\n")
    traces = load_traces(path)
    assert not traces.session("v2-s1").has_content


def test_a_malformed_content_record_is_a_warning(tmp_path: Path) -> None:
    line = EVENTS[1].read_bytes().splitlines()[0]
    value = orjson.loads(line)
    record = value["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    for attribute in record["attributes"]:
        if attribute["key"] == "gen_ai.input.messages":
            attribute["value"] = {"stringValue": '[{"role": "user", "parts": [{"ty'}
    path = tmp_path / "bad.logs.jsonl"
    path.write_bytes(orjson.dumps(value) + b"\n")
    traces = load_traces(EVENTS[0], path)
    [warning] = [w for w in traces.warnings if "log record" in w.message]
    assert (warning.path, warning.line) == (str(path), 1)


def _spans_only(path: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(scope, span) of the span lines of a file that may hold log lines too."""
    lines = [x for x in path.read_bytes().splitlines() if b"resourceSpans" in x]
    return [
        (scope, span)
        for line in lines
        for resource in orjson.loads(line)["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def test_log_records_without_their_spans_are_said_once() -> None:
    traces = load_traces(EVENTS[1])
    assert len(traces) == 0
    [warning] = traces.warnings
    assert (warning.path, warning.line) == (str(EVENTS[1]), 1)
    assert warning.message.startswith("4 call(s) have message content in log records but no span")

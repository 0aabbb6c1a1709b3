"""Bad and awkward input: every case gets a clear answer that names the file and the line.

Each file starts as a real trace written by our agent and is then broken the way files break:
cut short, repeated, shuffled, mixed with garbage, compressed, or exported by another tool.
"""

from __future__ import annotations

import base64
import gc
import gzip
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_loading_support import Reply, conversation, request_of, spans_of, write_lines

import definable_trace as dt
from definable_trace import TraceFormatError
from definable_trace.loading import SessionNotFoundError, load_traces


@pytest.fixture
def two_sessions(tmp_path: Path) -> tuple[list[bytes], list[Any]]:
    """Two sessions of our agent; one request line per session, s1 first."""
    path = tmp_path / "source.jsonl"
    first = conversation(path, [Reply(content="one"), Reply(content="two")], ["a", "b"])
    second = conversation(path, [Reply(content="three")], ["c"], session_id="s2")
    by_session: dict[str, list[dict[str, Any]]] = {"s1": [], "s2": []}
    for _, span in spans_of(path):
        session = next(a for a in span["attributes"] if a["key"] == "session.id")
        by_session[session["value"]["stringValue"]].append(span)
    lines = [request_of(by_session["s1"]), request_of(by_session["s2"])]
    return lines, [first[-1].messages, second[-1].messages]


def test_a_truncated_last_line_loads_the_rest_and_warns(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    path = write_lines(tmp_path / "t.jsonl", [lines[0], lines[1][: len(lines[1]) // 2]], end=b"")
    traces = load_traces(path)
    assert [s.id for s in traces] == ["s1"]
    assert traces.session("s1").messages == histories[0]
    [warning] = traces.warnings
    assert (warning.path, warning.line) == (str(path), 2)
    assert str(warning).startswith(f"{path}:2: truncated last line")


def test_a_non_json_line_is_skipped_with_a_warning(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    path = write_lines(tmp_path / "t.jsonl", [lines[0], b"{oops, not json", lines[1]])
    traces = load_traces(path)
    assert [s.messages for s in traces] == histories
    [warning] = traces.warnings
    assert str(warning).startswith(f"{path}:2: not JSON")


def test_invalid_utf8_in_a_line_is_a_warning_not_a_traceback(
    tmp_path: Path, two_sessions: Any
) -> None:
    lines, histories = two_sessions
    broken = lines[1].replace(b'"s2"', b'"s\xff2"')
    assert broken != lines[1]
    path = write_lines(tmp_path / "t.jsonl", [lines[0], broken])
    traces = load_traces(path)
    assert [s.messages for s in traces] == histories[:1]
    assert [(w.line, w.message.split(" (")[0]) for w in traces.warnings] == [(2, "not JSON")]


def test_json_that_is_not_otlp_is_refused(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "package.json", [b'{"name": "x", "version": "1.0"}'])
    with pytest.raises(TraceFormatError) as caught:
        load_traces(path)
    assert str(caught.value).startswith(f"{path}:1: not OTLP trace data")
    assert caught.value.path == str(path) and caught.value.line == 1


def test_console_exporter_output_is_refused_with_a_hint(tmp_path: Path) -> None:
    """What `ConsoleSpanExporter` prints: pretty JSON objects one after the other."""
    span = {"name": "chat", "context": {"trace_id": "0x01", "span_id": "0x02"}, "kind": "x"}
    path = tmp_path / "console.json"
    path.write_bytes(2 * orjson.dumps(span, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    with pytest.raises(TraceFormatError, match="ConsoleSpanExporter") as caught:
        load_traces(path)
    assert caught.value.line == 1
    single = tmp_path / "one.json"
    single.write_bytes(orjson.dumps(span))
    with pytest.raises(TraceFormatError, match="ConsoleSpanExporter"):
        load_traces(single)


def test_a_later_non_otlp_value_is_skipped(tmp_path: Path, two_sessions: Any) -> None:
    lines, _ = two_sessions
    path = write_lines(tmp_path / "t.jsonl", [lines[0], b"[1, 2, 3]", lines[1]])
    traces = load_traces(path)
    assert len(traces) == 2
    [warning] = traces.warnings
    assert str(warning).startswith(f"{path}:2: not OTLP trace data")


def test_logs_and_metrics_lines_are_skipped(tmp_path: Path, two_sessions: Any) -> None:
    lines, _ = two_sessions
    logs = b'{"resourceLogs": []}'
    path = write_lines(tmp_path / "t.jsonl", [lines[0], logs, logs, lines[1]])
    traces = load_traces(path)
    assert len(traces) == 2
    [warning] = traces.warnings
    assert str(warning) == f"{path}:2: 2 value(s) hold OTLP logs or metrics, not traces: skipped"


def test_an_empty_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    traces = load_traces(path)
    assert len(traces) == 0
    assert [str(w) for w in traces.warnings] == [f"{path}: empty file: no spans"]


def test_a_blank_file_is_empty_too(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "blank.jsonl", [b"", b"   ", b"\t"])
    traces = load_traces(path)
    assert [w.message for w in traces.warnings] == ["empty file: no spans"]


def test_a_binary_file_is_refused_without_a_decode_traceback(tmp_path: Path) -> None:
    path = tmp_path / "trace.pb"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(TraceFormatError, match="binary file") as caught:
        load_traces(path)
    assert (caught.value.path, caught.value.line) == (str(path), 1)
    assert not isinstance(caught.value.__cause__, UnicodeDecodeError)


def test_text_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "notes.txt", [b"hello", b"world"])
    with pytest.raises(TraceFormatError) as caught:
        load_traces(path)
    assert str(caught.value).startswith(f"{path}:1: not JSON")


def test_a_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(TraceFormatError, match="cannot open") as caught:
        load_traces(path)
    assert caught.value.path == str(path)


def test_repeated_spans_count_once(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    path = write_lines(tmp_path / "t.jsonl", [lines[0], lines[1], lines[0]])
    traces = load_traces(path)
    assert [s.messages for s in traces] == histories
    assert [len(s.turns) for s in traces] == [2, 1]
    assert traces.session("s1").model_calls == 2
    [warning] = traces.warnings
    assert warning.line == 3 and "already read" in warning.message


def test_spans_in_any_order_and_split_over_lines(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    spans = [s for line in lines for r in orjson.loads(line)["resourceSpans"]
             for g in r["scopeSpans"] for s in g["spans"]]  # fmt: skip
    random.Random(4).shuffle(spans)
    spans.sort(key=lambda s: "parentSpanId" not in s)  # children first
    path = write_lines(tmp_path / "t.jsonl", [request_of([s]) for s in spans])
    traces = load_traces(path)
    assert [s.messages for s in traces] == histories
    assert traces.warnings == []
    turn = traces.session("s1").turns[0]
    assert turn.spans[0].name == "invoke_agent tester"
    assert [s.start_ns for s in turn.spans[1:]] == sorted(s.start_ns for s in turn.spans[1:])


def test_two_sessions_in_one_file_are_never_merged(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    both = orjson.loads(lines[0])
    both["resourceSpans"] += orjson.loads(lines[1])["resourceSpans"]
    path = write_lines(tmp_path / "t.jsonl", [orjson.dumps(both)])
    traces = load_traces(path)
    assert [s.id for s in traces] == ["s1", "s2"]
    assert [s.messages for s in traces] == histories
    assert len(traces) == 2 and list(traces) == traces.sessions


def test_huge_attributes_load(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    big = "x" * 3_000_000 + " ✓"
    [output] = conversation(path, [Reply(content=big)], ["y" * 2_000_000])
    session = load_traces(path).session("s1")
    assert session.messages == output.messages
    assert session.messages[-1].content == big


def test_parents_that_are_not_in_the_input(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    request = orjson.loads(lines[1])
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[:] = [s for s in spans if not s["name"].startswith("invoke_agent")]  # run interrupted
    path = write_lines(tmp_path / "t.jsonl", [lines[0], orjson.dumps(request)])
    traces = load_traces(path)
    assert traces.session("s2").messages == histories[1]
    [warning] = traces.warnings
    assert warning.line == 2 and "parent that is not in the input" in warning.message


def test_parent_links_in_a_cycle(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    request = orjson.loads(lines[1])
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    root = next(s for s in spans if "parentSpanId" not in s or not s["parentSpanId"])
    child = next(s for s in spans if s.get("parentSpanId") == root["spanId"])
    root["parentSpanId"] = child["spanId"]
    path = write_lines(tmp_path / "t.jsonl", [lines[0], orjson.dumps(request)])
    traces = load_traces(path)
    assert traces.session("s2").messages == histories[1]
    [warning] = traces.warnings
    assert warning.line == 2 and "cycle" in warning.message


def test_gzip_files_load(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    assert [s.messages for s in load_traces(path)] == histories


def test_a_cut_gzip_file_loads_what_it_has(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    packed = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(packed[:-100])  # the copy stopped before the end
    traces = load_traces(path)
    assert [s.messages for s in traces] == histories[:1]
    assert [(w.line, w.message.split(" (")[0]) for w in traces.warnings] == [
        (2, "truncated last line"),
        (2, "compressed data ends early or is damaged"),
    ]


def test_a_jaeger_v2_answer_wrapped_under_result(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    spans = [orjson.loads(line)["resourceSpans"][0] for line in lines]
    path = tmp_path / "jaeger.json"
    answer = {"result": {"resourceSpans": spans}}
    path.write_bytes(orjson.dumps(answer, option=orjson.OPT_INDENT_2))  # many lines
    assert [s.messages for s in load_traces(path)] == histories


def test_a_tempo_answer_with_batches(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    batches = [orjson.loads(line)["resourceSpans"][0] for line in lines]
    path = write_lines(tmp_path / "tempo.json", [orjson.dumps({"batches": batches})])
    assert [s.messages for s in load_traces(path)] == histories


def test_a_broken_document_names_its_line(tmp_path: Path, two_sessions: Any) -> None:
    lines, _ = two_sessions
    text = orjson.dumps(orjson.loads(lines[0]), option=orjson.OPT_INDENT_2)
    path = tmp_path / "doc.json"
    path.write_bytes(text[: len(text) // 2])
    with pytest.raises(TraceFormatError) as caught:
        load_traces(path)
    assert caught.value.path == str(path) and caught.value.line == 1


def test_protobuf_json_mapping_ids_and_enums_are_read(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    request = orjson.loads(lines[0])
    for span in request["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):
            if span.get(key):
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
        span["kind"] = {1: "SPAN_KIND_INTERNAL", 3: "SPAN_KIND_CLIENT"}[span["kind"]]
    path = write_lines(tmp_path / "t.jsonl", [orjson.dumps(request)])
    session = load_traces(path).session("s1")
    assert session.messages == histories[0]
    assert len(session.turns[0].spans[0].trace_id) == 32
    assert session.turns[0].spans[0].kind == 1


def test_a_malformed_span_is_skipped_and_named(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    request = orjson.loads(lines[1])
    request["resourceSpans"][0]["scopeSpans"][0]["spans"].append({"name": "no ids"})
    path = write_lines(tmp_path / "t.jsonl", [lines[0], orjson.dumps(request)])
    traces = load_traces(path)
    assert [s.messages for s in traces] == histories
    [warning] = traces.warnings
    assert warning.line == 2 and "malformed span 'no ids'" in warning.message


def test_spans_of_no_genai_convention_make_no_session(tmp_path: Path) -> None:
    span = {
        "traceId": "0" * 31 + "1",
        "spanId": "0" * 15 + "1",
        "name": "GET /",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
        "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}}],
    }
    path = write_lines(tmp_path / "http.jsonl", [request_of([span])])
    traces = load_traces(path)
    assert len(traces) == 0
    [warning] = traces.warnings
    assert str(warning).startswith(f"{path}: 1 span(s) read, none of them a model call")


def test_a_missing_session_names_close_matches(tmp_path: Path, two_sessions: Any) -> None:
    lines, _ = two_sessions
    traces = load_traces(write_lines(tmp_path / "t.jsonl", lines))
    with pytest.raises(SessionNotFoundError) as caught:
        traces.session("s3")
    error = caught.value
    assert isinstance(error, KeyError) and isinstance(error, dt.DefinableTraceError)
    assert str(error).startswith("no session 's3'; did you mean ")
    assert sorted(error.close_matches) == ["s1", "s2"]
    assert "s1" in traces and "s3" not in traces


def test_files_are_read_as_one_input(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    first = write_lines(tmp_path / "a.jsonl", [lines[0]])
    second = write_lines(tmp_path / "b.jsonl", [lines[1], lines[0]])
    traces = load_traces(first, second)
    assert [s.messages for s in traces] == histories
    [warning] = traces.warnings
    assert warning.path == str(second) and warning.line == 2


def test_a_message_list_that_is_not_json_is_named_when_read(
    tmp_path: Path, two_sessions: Any
) -> None:
    lines, histories = two_sessions
    request = orjson.loads(lines[1])
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    chat = next(s for s in spans if s["name"].startswith("chat"))
    parts = next(a for a in chat["attributes"] if a["key"] == "gen_ai.input.messages")
    parts["value"]["stringValue"] = parts["value"]["stringValue"][:-20]  # cut by a size limit
    path = write_lines(tmp_path / "t.jsonl", [lines[0], orjson.dumps(request)])
    traces = load_traces(path)
    assert traces.warnings == []  # message lists are parsed when first read
    messages = traces.session("s2").messages
    assert [(m.role, m.id) for m in messages] == [(m.role, m.id) for m in histories[1]]
    assert messages[1].content is None and messages[-1] == histories[1][-1]
    [warning] = traces.warnings
    assert warning.line == 2 and "gen_ai.input.messages is not a JSON list" in warning.message
    assert traces.take_warnings() == [warning]  # reported by the accessor that found it
    assert traces.take_warnings() == []


# --- damage that used to end in a foreign exception or a wrong answer ---------------------------


def _chat_of(request: dict[str, Any]) -> dict[str, Any]:
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    return next(s for s in spans if s["name"].startswith("chat"))


@pytest.mark.parametrize(
    "time", [b"1e400", b'"1e400"', b"100000000000000000000000000000", b'"-5"', b"[[[1]]]"]
)
def test_an_impossible_timestamp_skips_its_span_with_a_warning(
    tmp_path: Path, two_sessions: Any, time: bytes
) -> None:
    lines, histories = two_sessions
    chat = _chat_of(orjson.loads(lines[1]))
    start = b'"startTimeUnixNano":"' + str(chat["startTimeUnixNano"]).encode() + b'"'
    assert start in lines[1]
    broken = lines[1].replace(start, b'"startTimeUnixNano":' + time)
    path = write_lines(tmp_path / "t.jsonl", [lines[0], broken])
    traces = load_traces(path)  # 1e400 is no JSON for orjson: the line is skipped
    assert traces.session("s1").messages == histories[0]
    assert all(isinstance(s.messages, list) for s in traces)  # no OverflowError when read
    assert any(w.line == 2 for w in traces.warnings)


def test_arrays_nested_a_thousand_deep_are_not_trace_data(
    tmp_path: Path, two_sessions: Any
) -> None:
    lines, histories = two_sessions
    deep = b"[" * 1000 + b"]" * 1000
    value = b'{"arrayValue":{"values":[' * 300 + b'{"stringValue":"x"}' + b"]}}" * 300
    request = orjson.loads(lines[1])
    _chat_of(request)["attributes"].append({"key": "deep", "value": {"stringValue": "x"}})
    nested = orjson.dumps(request).replace(b'{"stringValue":"x"}', value)
    path = write_lines(tmp_path / "t.jsonl", [lines[0], deep, nested])
    traces = load_traces(path)
    assert traces.session("s1").messages == histories[0]
    assert [w.line for w in traces.warnings] == [2, 3]
    assert "nested deeper than" in traces.warnings[1].message


def test_an_integer_where_a_message_list_belongs_is_never_another_sessions_text(
    tmp_path: Path, two_sessions: Any
) -> None:
    """Shared message lists are stored as integers internally: an integer in the file under
    a message attribute must not be taken for one (it would serve s1's messages in s2)."""
    lines, histories = two_sessions
    request = orjson.loads(lines[1])
    chat = _chat_of(request)
    for item in chat["attributes"]:
        if item["key"] in ("gen_ai.system_instructions", "gen_ai.output.messages"):
            item["value"] = {"intValue": str(1 << 40 | 300)}  # chain 1, 300 characters
    path = write_lines(tmp_path / "t.jsonl", [lines[0], orjson.dumps(request)])
    traces = load_traces(path)
    messages = traces.session("s2").messages
    s1_texts = {m.content for m in histories[0]}
    assert not s1_texts & {m.content for m in messages if m.content}
    assert [m.id for m in messages] == [m.id for m in histories[1]]
    assert sum("is not a JSON string (found int)" in w.message for w in traces.warnings) == 2


def test_wrongly_typed_parts_roles_and_meta_are_warnings(tmp_path: Path, two_sessions: Any) -> None:
    lines, histories = two_sessions
    request = orjson.loads(lines[1])
    chat = _chat_of(request)
    for item in chat["attributes"]:
        if item["key"] == "gen_ai.input.messages":
            parts = orjson.loads(item["value"]["stringValue"])
            parts[0]["role"] = "wizard"
            parts[0]["parts"] = ["not a part", 5]
            item["value"]["stringValue"] = orjson.dumps(parts).decode()
        if item["key"] == "definable_trace.messages":  # the last input entry (then the answer)
            metas = orjson.loads(item["value"]["stringValue"])
            metas[-2] = {"id": 5, "ts": {}, "metrics": {"input_tokens": "many"}}
            item["value"]["stringValue"] = orjson.dumps(metas).decode()
    path = write_lines(tmp_path / "t.jsonl", [lines[0], orjson.dumps(request)])
    traces = load_traces(path)
    messages = traces.session("s2").messages
    assert len(messages) == len(histories[1])
    assert messages[-1] == histories[1][-1]
    [warning] = traces.take_warnings()
    assert warning.line == 2 and "a message is unreadable" in warning.message


def test_the_collector_stays_on_while_loading(tmp_path: Path, two_sessions: Any) -> None:
    lines, _ = two_sessions
    seen: list[bool] = []

    def documents() -> Any:
        for line in lines:
            seen.append(gc.isenabled())
            yield orjson.loads(line)

    assert gc.isenabled()
    assert len(load_traces(documents())) == 2
    assert seen == [True, True] and gc.isenabled()


# --- compact history mode: offsets between spans --------------------------------------------------


def _compact(path: Path, turns: int) -> list[Any]:
    script = [Reply(content=f"answer {i}") for i in range(turns)]
    return conversation(path, script, [f"question {i}" for i in range(turns)], history="delta")


def _moved(path: Path, which: int, by: int) -> Path:
    """The file with the `which`-th chat span's times moved by `by` nanoseconds."""
    out: list[bytes] = []
    chats = 0
    for line in path.read_bytes().splitlines():
        request = orjson.loads(line)
        for resource in request["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    if span["name"].startswith("chat"):
                        chats += 1
                        if chats == which:
                            for key in ("startTimeUnixNano", "endTimeUnixNano"):
                                span[key] = str(int(span[key]) + by)
        out.append(orjson.dumps(request))
    return write_lines(path.with_name("moved.jsonl"), out)


@pytest.mark.parametrize("by", [-(10**12), 10**12, -(10**18)])
def test_compact_mode_with_a_moved_timestamp_rebuilds_the_right_histories(
    tmp_path: Path, by: int
) -> None:
    """Bases are found by history length, not time: a clock jump cannot loop or mislead."""
    outputs = _compact(tmp_path / "t.jsonl", 12)
    traces = load_traces(_moved(tmp_path / "t.jsonl", 6, by))
    session = traces.session("s1")
    assert [t.history for t in session.turns] == [o.messages for o in outputs]
    assert session.message_count == len(outputs[-1].messages)
    assert traces.warnings == []


def test_compact_mode_offsets_no_span_can_hold_are_warned_about(tmp_path: Path) -> None:
    _compact(tmp_path / "t.jsonl", 3)
    text = (tmp_path / "t.jsonl").read_bytes()
    offset = b'"definable_trace.input.messages.offset","value":{"intValue":"'
    assert offset in text
    broken = write_lines(tmp_path / "b.jsonl", [text.replace(offset, offset + b"9999")])
    traces = load_traces(broken)
    session = traces.session("s1")
    messages = [t.history for t in session.turns]
    assert messages and all(isinstance(h, list) for h in messages)
    assert any("no earlier span of the session holds them" in w.message for w in traces.warnings)

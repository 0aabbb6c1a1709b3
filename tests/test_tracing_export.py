"""Our OTLP/JSON-lines exporter against the official one, appends that never glue lines,
reconfiguring that really replaces, and the switches that turn tracing off.

The official `opentelemetry-exporter-otlp-json-file` is the reference for the encoder: the same
spans must give equal JSON once parsed. It is a test dependency only (it pins one SDK release),
so under the oldest supported OpenTelemetry that one test skips, saying why.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import MODES, drive
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)
from otlp_helpers import read_spans, spans_of_document

from definable_trace import OpenAIChat, configure_tracing, flush_tracing, load_traces
from definable_trace._tracing._export import JsonLinesSpanExporter, encode_request
from definable_trace.agent import Agent

# --- the encoder, against the official exporter -----------------------------------------------

ATTRIBUTES: dict[str, Any] = {
    "text": 'héllo "quoted" \n newline',
    "empty": "",
    "yes": True,
    "no": False,
    "zero": 0,
    "negative": -7,
    "big": 2**63 - 1,
    "double": 1.25,
    "nan": float("nan"),
    "inf": float("inf"),
    "minus_inf": float("-inf"),
    "strings": ["a", "b"],
    "ints": [1, 2, 3],
    "doubles": [0.5, 1.5],
    "bools": [True, False],
    "empty_list": [],
}


def synthetic_spans() -> Sequence[ReadableSpan]:
    """Spans that use every field of the mapping: two resources, scopes with and without a
    schema URL, all kinds, statuses, events, links, a remote parent, trace state, drops."""
    memory = InMemorySpanExporter()
    limits = SpanLimits(max_attributes=40, max_events=2, max_links=1)
    providers = [
        TracerProvider(resource=Resource.create({"service.name": name}), span_limits=limits)
        for name in ("first", "second")
    ]
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(memory))
    plain = providers[0].get_tracer("plain")
    versioned = providers[0].get_tracer("versioned", "1.2.3", schema_url="https://schema/1")
    other = providers[1].get_tracer("other", "9")
    remote = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value"), ("other", "x")]),
    )
    parent = trace.set_span_in_context(NonRecordingSpan(remote))
    with plain.start_as_current_span("root", kind=SpanKind.SERVER, attributes=ATTRIBUTES) as root:
        root.add_event("first", {"k": "v", "n": 1})
        root.add_event("second")
        root.add_event("dropped")  # over max_events
        root.set_status(Status(StatusCode.ERROR, "it failed"))
        links = [Link(root.get_span_context(), {"why": "because"}), Link(remote)]
        for kind in SpanKind:
            with versioned.start_as_current_span(f"kind {kind.name}", kind=kind, links=links):
                pass
        with other.start_as_current_span("ok") as ok:
            ok.set_status(Status(StatusCode.OK))
    with plain.start_as_current_span("under a remote parent", context=parent) as child:
        child.set_attributes({f"a{i}": i for i in range(45)})  # 5 dropped
    return memory.get_finished_spans()


def official_json(spans: Sequence[ReadableSpan]) -> Any:
    """The official exporter's JSON, with the two fields ours leaves out removed: `flags` (of
    spans and links: the is-remote bits, which no reader or trace store uses) and an unset
    `status` (`{}`: proto3 JSON reads a missing message as its default, the same unset status).
    An error or ok status stays, and must be equal."""
    module = pytest.importorskip(
        "opentelemetry.exporter.otlp.json.file",
        reason="the official OTLP/JSON file exporter (the reference) pins one SDK release; "
        "it is not installed beside this OpenTelemetry version",
    )
    stream = io.StringIO()
    assert module.FileSpanExporter(stream=stream).export(spans).name == "SUCCESS"
    document = json.loads(stream.getvalue())
    for span in spans_in(document):
        span.pop("flags", None)
        if span.get("status") == {}:
            del span["status"]
        for link in span.get("links", []):
            link.pop("flags", None)
    return document


def spans_in(document: Any) -> list[Any]:
    """The span objects of an OTLP/JSON request, as they are (not `spans_of_document`'s)."""
    return [
        span
        for resource_spans in document.get("resourceSpans", [])
        for scope_spans in resource_spans["scopeSpans"]
        for span in scope_spans["spans"]
    ]


def ours_json(spans: Sequence[ReadableSpan]) -> Any:
    return json.loads(json.dumps(encode_request(spans)))


def test_synthetic_spans_use_every_field() -> None:
    document = ours_json(synthetic_spans())
    text = json.dumps(document)
    for needle in (
        '"traceState": "vendor=value,other=x"',
        '"status": {"code": 1}',
        '"status": {"message": "it failed", "code": 2}',
        '"droppedAttributesCount": 5',
        '"droppedEventsCount": 1',
        '"droppedLinksCount": 1',
        '"schemaUrl": "https://schema/1"',
        '"doubleValue": "NaN"',
        '"intValue": "9223372036854775807"',
        '"arrayValue": {}',
    ):
        assert needle in text, needle
    assert '"flags"' not in text  # the is-remote bits: read by nobody
    assert [s.get("status") for s in spans_in(document)].count(None) >= 1  # unset: left out
    assert len(document["resourceSpans"]) == 2
    kinds = sorted(s["kind"] for s in spans_of_document(document))
    assert set(kinds) == {1, 2, 3, 4, 5}


def test_bytes_and_mappings() -> None:
    # Older SDKs drop bytes from recorded attributes; a span built directly still has them.
    context = SpanContext(trace_id=1, span_id=2, is_remote=False)
    span = ReadableSpan(
        name="raw",
        context=context,
        attributes={"raw": b"\x00\x01binary", "map": {"k": "v", "n": [1]}, "empty": b""},
        resource=Resource.create({}),
        start_time=1,
        end_time=2,
    )
    (encoded,) = spans_of_document(ours_json([span]))
    assert encoded["attributes"] == {
        "raw": b"\x00\x01binary",
        "map": {"k": "v", "n": [1]},
        "empty": b"",
    }
    assert encoded["trace_id"] == "0" * 31 + "1" and encoded["span_id"] == "0" * 15 + "2"
    assert ours_json([span]) == official_json([span])


def test_same_json_as_the_official_exporter() -> None:
    spans = synthetic_spans()
    reference = official_json(spans)
    ours = ours_json(spans)
    # Link trace state is the one deliberate difference: the OTLP proto has the field, the
    # official JSON encoder leaves it out. Remove it from ours, then everything is equal.
    for resource_spans in ours["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for link in span.get("links", []):
                    link.pop("traceState", None)
    assert ours == reference


@pytest.mark.parametrize("mode", MODES)
def test_agent_spans_same_json_as_the_official_exporter(
    mode: str, model: OpenAIChat, server: Any
) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    configure_tracing(tracer_provider=provider)
    agent = Agent(model, "Be brief.")
    output = drive(agent, mode, "hello", session_id="s1")
    drive(agent, mode, "again", messages=output.messages, session_id="s1")
    spans = memory.get_finished_spans()
    assert len(spans) >= 4
    assert ours_json(spans) == official_json(spans)


def test_our_file_leaves_out_flags_and_unset_statuses(tmp_path: Path) -> None:
    """Only a set status is written (here: the failed call's and its run's); flags never."""
    from definable_trace import ModelError
    from definable_trace.testing import FakeOpenAIServer, Reply

    path = tmp_path / "t.jsonl"
    configure_tracing(path)
    with FakeOpenAIServer([Reply(content="ok"), Reply(status=400)]) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model)
        output = agent.run("hi", session_id="s")
        with pytest.raises(ModelError):
            agent.run("again", messages=output.messages, session_id="s")
    flush_tracing()
    text = path.read_text()
    assert '"flags"' not in text
    spans = [s for line in text.splitlines() for s in spans_in(json.loads(line))]
    statuses = {s["name"]: s.get("status") for s in spans if "status" in s}
    assert len(spans) == 4 and len(statuses) == 2
    assert {status["code"] for status in statuses.values()} == {2}  # the failed chat and run
    loaded = load_traces(path).session("s")
    assert [c.span.status_code for t in loaded.turns for c in t.model_calls] == [0, 2]


# --- the file: one write of complete lines per batch -----------------------------------------


def test_each_batch_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    exporter = JsonLinesSpanExporter(path)
    spans = synthetic_spans()
    exporter.export(spans[:3])
    exporter.export(spans[3:])
    exporter.shutdown()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    assert sum(len(spans_of_document(json.loads(line))) for line in lines[:2]) == len(spans)


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    spans = synthetic_spans()
    exporters = [JsonLinesSpanExporter(path) for _ in range(4)]  # four descriptors, one file

    def write(exporter: JsonLinesSpanExporter) -> None:
        for _ in range(50):
            exporter.export(spans)

    threads = [threading.Thread(target=write, args=(e,)) for e in exporters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line]
    # A writer starting while another is mid-write may begin with a newline (its torn-line
    # repair): a blank line at most, never a line holding parts of two batches.
    assert text.count("\n\n") <= len(exporters)
    assert len(lines) == 200
    assert all(len(spans_of_document(json.loads(line))) == len(spans) for line in lines)


def test_a_torn_last_line_costs_only_itself(
    model: OpenAIChat, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "torn.jsonl"
    configure_tracing(path)
    Agent(model).run("before the crash", session_id="before")
    flush_tracing()
    whole = path.read_bytes()
    path.write_bytes(whole + whole[: len(whole) // 2])  # a writer died mid-line
    configure_tracing(path)  # a new writer, as a new process would be
    Agent(model).run("after the crash", session_id="after")
    flush_tracing()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    parsed = []
    for line in lines[:-1]:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            parsed.append(None)
    assert [p is None for p in parsed] == [False, True, False]  # only the torn line is lost
    traces = load_traces(path)
    assert sorted(s.id for s in traces.sessions) == ["after", "before"]
    assert len(traces.warnings) == 1


def test_a_file_ending_in_a_newline_gets_no_blank_line(model: OpenAIChat, tmp_path: Path) -> None:
    path = tmp_path / "clean.jsonl"
    for text in ("one", "two"):
        configure_tracing(path)
        Agent(model).run(text)
        flush_tracing()
    assert b"\n\n" not in path.read_bytes()
    assert len(path.read_bytes().splitlines()) == 2


# --- configure_tracing replaces -----------------------------------------------------------------


def names_in(path: Path) -> list[str]:
    return sorted(s["name"] for s in read_spans(path))


def sessions_in(path: Path) -> list[str]:
    return sorted({s["attributes"]["session.id"] for s in read_spans(path)})


def test_reconfigure_under_our_private_provider(model: OpenAIChat, tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    configure_tracing(first)
    Agent(model).run("one", session_id="one")
    configure_tracing(second)
    Agent(model).run("two", session_id="two")
    configure_tracing(second)  # the same file again: still each span once
    Agent(model).run("three", session_id="three")
    flush_tracing()
    assert sessions_in(first) == ["one"]
    assert sessions_in(second) == ["three", "two"]
    assert names_in(second) == sorted(["invoke_agent", "chat gpt-4o"] * 2)


def test_reconfigure_twice_under_an_application_provider(model: OpenAIChat, tmp_path: Path) -> None:
    memory = InMemorySpanExporter()
    app = TracerProvider()
    app.add_span_processor(SimpleSpanProcessor(memory))
    files = [tmp_path / f"{n}.jsonl" for n in ("a", "b", "c")]
    for n, path in enumerate(files):
        configure_tracing(path, tracer_provider=app)
        Agent(model).run(f"turn {n}", session_id=f"s{n}")
    flush_tracing()
    assert [sessions_in(path) for path in files] == [["s0"], ["s1"], ["s2"]]
    assert all(len(read_spans(path)) == 2 for path in files)  # each span once
    assert len(memory.get_finished_spans()) == 6  # the application's own exporter: untouched
    configure_tracing(tracer_provider=app)  # no file: ours stop, the application's go on
    Agent(model).run("after", session_id="s3")
    flush_tracing()
    assert [len(read_spans(path)) for path in files] == [2, 2, 2]
    assert len(memory.get_finished_spans()) == 8


APP_PROVIDER_RECONFIGURE = """
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from definable_trace import configure_tracing, flush_tracing
from definable_trace.agent import Agent
from definable_trace.model import OpenAIChat
from definable_trace.testing import FakeOpenAIServer

memory = InMemorySpanExporter()
app = TracerProvider()
app.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(app)
server = FakeOpenAIServer().start()
agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k"))
for n, path in enumerate(sys.argv[1:]):
    configure_tracing(path)
    agent.run(f"turn {n}", session_id=f"s{n}")
flush_tracing()
print(json.dumps({"processors": len(app._active_span_processor._span_processors)}))
"""


def test_reconfigure_under_the_global_application_provider(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "app.py"
    script.write_text(APP_PROVIDER_RECONFIGURE, encoding="utf-8")
    files = [tmp_path / f"{n}.jsonl" for n in ("a", "b", "c")]
    completed = subprocess.run(
        [sys.executable, str(script), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    # One processor of the application's, ONE of ours, however often we were configured.
    assert json.loads(completed.stdout.splitlines()[-1]) == {"processors": 2}
    assert [sessions_in(path) for path in files] == [["s0"], ["s1"], ["s2"]]
    assert all(len(read_spans(path)) == 2 for path in files)


# --- off, disabled, unusable paths ---------------------------------------------------------------


def test_tracing_off_uses_the_noop_tracer(
    model: OpenAIChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFINABLE_TRACE_FILE", "off")
    settings = configure_tracing()
    assert isinstance(settings.provider, trace.NoOpTracerProvider)
    assert settings.switch is None and settings.processors == ()
    assert not settings.tracer.start_span("probe").is_recording()
    assert Agent(model).run("hi").content == "You said: hi"
    assert not (tmp_path / "definable-trace").exists()


def test_otel_sdk_disabled(
    model: OpenAIChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    target = tmp_path / "never.jsonl"
    settings = configure_tracing(target)
    assert settings.owned_provider is None and settings.processors == ()
    assert not settings.tracer.start_span("probe").is_recording()
    assert Agent(model).run("hi").content == "You said: hi"
    flush_tracing()
    assert not target.exists()


@pytest.mark.parametrize("what", ["a directory", "under a file"])
def test_unusable_path_is_one_warning_naming_it(
    what: str, model: OpenAIChat, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if what == "a directory":
        target = tmp_path / "a-directory.jsonl"
        target.mkdir()
        reason = "Is a directory"
    else:
        blocker = tmp_path / "blocker"
        blocker.write_text("x")
        target = blocker / "traces.jsonl"
        reason = "Not a directory"
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            configure_tracing(target)
            assert Agent(model).run("hi").content == "You said: hi"
            flush_tracing()
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert str(target) in message and reason in message


def test_a_full_disk_names_the_path_and_the_error(
    model: OpenAIChat, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    full = tmp_path / "full.jsonl"  # a path of this test's own (warnings are once per path)
    full.symlink_to("/dev/full")
    configure_tracing(full)
    with caplog.at_level(logging.WARNING):
        for text in ("one", "two"):
            assert Agent(model).run(text).content == f"You said: {text}"
            flush_tracing()
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1
    assert str(full) in records[0].getMessage()
    assert "No space left on device" in records[0].getMessage()

"""Nothing lost, failures named once: real collectors on 127.0.0.1 (answering, failing,
refusing, silent), signals sent to a real process, a file size limit hit for real.

No test here measures time: a silent collector is tested by the cause it is reported with and
the timeout the exporter is configured with; the exit delay is measured by
`bench/dead_collector_exit.py`.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import closed_port
from otlp_helpers import read_spans, spans_of_document

from definable_trace import OpenAIChat, configure_tracing, flush_tracing
from definable_trace._tracing import _otlp, _signals
from definable_trace.agent import Agent


@dataclass
class Collector:
    """A real OTLP/HTTP endpoint: records each request, answers with `status`."""

    status: int = 200
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def collector() -> Iterator[Collector]:
    state = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append((self.path, dict(self.headers.items()), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def lost_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def two_runs(model: OpenAIChat) -> None:
    agent = Agent(model)
    output = agent.run("one", session_id="s")
    agent.run("two", messages=output.messages, session_id="s")
    flush_tracing()
    agent.run("three", messages=output.messages, session_id="s")
    flush_tracing()


# --- a collector that answers ---------------------------------------------------------------


def test_http_protobuf_by_default(
    model: OpenAIChat, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret,x-team=a")
    settings = configure_tracing()
    assert settings.file is None
    two_runs(model)
    assert collector.requests
    names = []
    for path, headers, body in collector.requests:
        assert path == "/v1/traces"
        assert headers["Content-Type"] == "application/x-protobuf"
        assert headers["authorization"] == "Bearer s3cret" and headers["x-team"] == "a"
        request = ExportTraceServiceRequest.FromString(body)
        names += [
            s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans
        ]
    assert sorted(names) == sorted(["invoke_agent", "chat gpt-4o"] * 3)
    assert "s3cret" not in repr(_otlp.otlp_settings())


def test_http_json_posts_our_encoding(
    model: OpenAIChat, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{collector.endpoint}/custom")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    configure_tracing()
    two_runs(model)
    names = []
    for path, headers, body in collector.requests:
        assert path == "/custom"  # the traces endpoint is used as given
        assert headers["Content-Type"] == "application/json"
        assert headers["Content-Encoding"] == "gzip"
        names += [s["name"] for s in spans_of_document(json.loads(gzip.decompress(body)))]
    assert sorted(names) == sorted(["invoke_agent", "chat gpt-4o"] * 3)


# --- a collector that fails: one warning, naming the cause ------------------------------------


@pytest.mark.parametrize(("status", "cause"), [(500, "HTTP 500"), (401, "HTTP 401")])
def test_collector_answering_an_error(
    status: int,
    cause: str,
    model: OpenAIChat,
    collector: Collector,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    collector.status = status
    user_endpoint = f"http://user:hunter2@127.0.0.1:{collector.port}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", user_endpoint)
    configure_tracing()
    with caplog.at_level(logging.WARNING):
        two_runs(model)
    assert len(collector.requests) >= 2  # every batch was tried
    warnings = lost_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert cause in warnings[0] and f"127.0.0.1:{collector.port}" in warnings[0]
    assert "hunter2" not in warnings[0]


def test_collector_refusing_connections(
    model: OpenAIChat, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    configure_tracing()
    with caplog.at_level(logging.WARNING):
        two_runs(model)
    warnings = lost_warnings(caplog)
    assert len(warnings) == 1 and "connection refused" in warnings[0], warnings


def test_collector_that_never_answers(
    model: OpenAIChat,
    silent_port: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{silent_port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.5")
    settings = configure_tracing()
    with caplog.at_level(logging.WARNING):
        two_runs(model)
        assert Agent(model).run("still answered").content == "You said: still answered"
    warnings = lost_warnings(caplog)
    assert len(warnings) == 1 and "timed out after 0.5 s" in warnings[0], warnings
    (processor,) = settings.processors
    exporter = processor.span_exporter.inner  # type: ignore[attr-defined]
    assert exporter.settings.timeout == 0.5


def test_exit_is_bounded_by_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """What bounds the exit delay with a dead collector: one request of the OTLP timeout (2 s
    unless set), no retries, no second wait within `QUIET_AFTER_TIMEOUT`, and the signal
    handler's flush deadline. (The delay itself is measured in bench/, not asserted.)"""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    assert _otlp.otlp_settings().timeout == _otlp.DEFAULT_TIMEOUT == 2.0
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "7")
    assert _otlp.otlp_settings().timeout == 7.0
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1.5")
    assert _otlp.otlp_settings().timeout == 1.5
    assert _otlp.QUIET_AFTER_TIMEOUT >= 10 * _otlp.DEFAULT_TIMEOUT
    assert _signals.FLUSH_DEADLINE <= 3.0


def test_grpc_without_the_extra_is_one_clear_warning(tmp_path: Path) -> None:
    try:
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("the grpc extra is installed here")
    code = """
import logging
logging.basicConfig(level=logging.WARNING, format="%(name)s|%(message)s")
from definable_trace import configure_tracing
configure_tracing()
configure_tracing()
"""
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env={
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
            "XDG_DATA_HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.startswith("definable_trace|")]
    assert len(lines) == 1, completed.stderr
    assert "definable-trace[grpc]" in lines[0]


# --- signals: flush, then pass the signal on ----------------------------------------------------

TURNS_THEN_WAIT = """
import faulthandler, os, signal, sys, time
if hasattr(signal, "SIGUSR1"):  # the test's diagnosis of a hang
    faulthandler.register(signal.SIGUSR1, all_threads=True)
from definable_trace.agent import Agent
from definable_trace.model import OpenAIChat
from definable_trace.testing import FakeOpenAIServer

if sys.argv[2] == "app-handler":
    def app_handler(signum, frame):
        with open(sys.argv[3], "w") as marker:
            marker.write(str(signum))
        os._exit(3)
    signal.signal(getattr(signal, sys.argv[1]), app_handler)

server = FakeOpenAIServer().start()
agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k"))
output = None
for n in range(5):
    output = agent.run(f"turn {n}", messages=output.messages if output else None,
                       session_id="killed")
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("app", ["default", "app-handler"])
def test_signal_flushes_every_completed_turn(signame: str, app: str, tmp_path: Path) -> None:
    signum = getattr(signal, signame, None)
    if signum is None:
        pytest.skip(f"no {signame} here")
    target, marker = tmp_path / "killed.jsonl", tmp_path / "marker"
    script = tmp_path / "turns.py"
    script.write_text(TURNS_THEN_WAIT, encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, str(script), signame, app, str(marker)],
        env={**os.environ, "DEFINABLE_TRACE_FILE": str(target)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # The signal's default action, whatever this process inherited: under `nohup` SIGHUP
        # is ignored, the child would inherit that, and an ignored signal stays ignored.
        preexec_fn=(lambda: signal.signal(signum, signal.SIG_DFL)) if os.name == "posix" else None,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready", child.stderr
        child.send_signal(signum)
        try:
            returncode = child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            if hasattr(signal, "SIGUSR1"):
                child.send_signal(signal.SIGUSR1)  # every thread's stack, to stderr
                time.sleep(1)
            child.kill()
            _, threads = child.communicate()
            flushed = target.exists() and target.stat().st_size
            pytest.fail(f"alive 60 s after {signame} (file: {flushed} bytes); threads:\n{threads}")
    finally:
        child.kill()
        child.wait()
    if app == "app-handler":
        assert returncode == 3 and marker.read_text() == str(int(signum))  # theirs still ran
    else:
        assert returncode == -signum  # ended by the signal, as without us
    turns = [s for s in read_spans(target) if s["name"] == "invoke_agent"]
    assert len(turns) == 5
    assert {s["attributes"]["session.id"] for s in turns} == {"killed"}


# --- a write the file system refuses: only that batch is lost ---------------------------------

SIZE_LIMITED = """
import resource, signal, sys
from definable_trace import configure_tracing, flush_tracing
from definable_trace.agent import Agent
from definable_trace.model import OpenAIChat
from definable_trace.testing import FakeOpenAIServer

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so that writes fail with EFBIG instead
server = FakeOpenAIServer().start()
agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k"))
configure_tracing(sys.argv[1])
agent.run("fits", session_id="fits")
flush_tracing()
size = __import__("os").path.getsize(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, size + 100))
agent.run("does not fit", session_id="lost")
flush_tracing()
"""


def test_a_write_beyond_the_size_limit_loses_only_that_batch(
    model: OpenAIChat, tmp_path: Path
) -> None:
    if not hasattr(signal, "SIGXFSZ"):
        pytest.skip("no RLIMIT_FSIZE here")
    target = tmp_path / "limited.jsonl"
    completed = subprocess.run(
        [sys.executable, "-c", SIZE_LIMITED, str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert str(target) in completed.stderr and "File too large" in completed.stderr
    assert completed.stderr.count("definable-trace:") == 1
    # A new writer after the failure: its batch starts on a line of its own.
    configure_tracing(target)
    Agent(model).run("later", session_id="later")
    flush_tracing()
    lines = target.read_bytes().split(b"\n")
    good = []
    for line in lines:
        try:
            good.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    sessions = {
        s["attributes"]["session.id"] for document in good for s in spans_of_document(document)
    }
    assert sessions == {"fits", "later"}
    assert len(good) == 2 and len([line for line in lines if line]) <= 3


# --- gRPC, and the bound put on exporters that retry too long ------------------------------------


def test_bounded_exporter_gives_up_after_its_timeout(silent_port: int) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("t").start_span("s").end()
    spans = memory.get_finished_spans()
    slow = _otlp.OtlpHttpSpanExporter(
        _otlp.OtlpSettings("http/protobuf", f"http://127.0.0.1:{silent_port}", timeout=30)
    )
    bounded = _otlp.BoundedExporter(slow, timeout=0.3)
    with pytest.raises(_otlp.CollectorError, match=r"timed out after 0.3 s"):
        bounded.export(spans)
    with pytest.raises(_otlp.CollectorError, match="still waiting"):
        bounded.export(spans)  # the first attempt is still hanging: no second wait
    bounded.shutdown()


def grpc_collector() -> tuple[Any, int, list[Any]]:
    grpc = pytest.importorskip("grpc", reason="the grpc extra is not installed")
    pytest.importorskip(
        "opentelemetry.exporter.otlp.proto.grpc", reason="the grpc extra is not installed"
    )
    from concurrent import futures

    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received: list[Any] = []

    class Service(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:
            received.append(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port, received


def test_grpc_collector(model: OpenAIChat, monkeypatch: pytest.MonkeyPatch) -> None:
    server, port, received = grpc_collector()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        configure_tracing()
        two_runs(model)
    finally:
        server.stop(None)
    scopes = [ss for r in received for rs in r.resource_spans for ss in rs.scope_spans]
    names = sorted(s.name for ss in scopes for s in ss.spans)
    assert names == sorted(["invoke_agent", "chat gpt-4o"] * 3)


def test_grpc_collector_down_is_one_bounded_warning(
    model: OpenAIChat, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server, port, _ = grpc_collector()
    server.stop(None)  # the port is known and nothing answers on it
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.5")
    settings = configure_tracing()
    (processor,) = settings.processors
    bounded = processor.span_exporter.inner  # type: ignore[attr-defined]
    assert isinstance(bounded, _otlp.BoundedExporter) and bounded.timeout == 0.5
    with caplog.at_level(logging.WARNING):
        two_runs(model)
    warnings = lost_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "OTLP/gRPC collector" in warnings[0]
    assert "timed out after 0.5 s" in warnings[0] or "UNAVAILABLE" in warnings[0]

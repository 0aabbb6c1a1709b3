"""Shared fixtures. Every test talks to a real HTTP server on 127.0.0.1; nothing of ours is mocked.

Fixtures (names are stable; other test files rely on them):

- `_isolated_environment` (autouse): removes `OPENAI_API_KEY`, `OPENAI_BASE_URL`,
  `DEFINABLE_TRACE_FILE`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
  and `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`; sets `XDG_DATA_HOME` to the test's
  `tmp_path` (so the default trace file, and any subprocess's, never lands in the user's home),
  and `DEFINABLE_TRACE_CACHE_DIR` to `tmp_path / "cache"` (the loader's session indexes, too).
  Tracing is switched off (a no-op tracer provider) before and after each test, so no test sees
  another's configuration: a test that wants spans uses `trace_file`, or calls
  `definable_trace.configure_tracing(...)` itself (after setting any environment it needs).
- `server`: a started `FakeOpenAIServer` with the default responder; queue replies with
  `server.add(Reply(...))`, inspect `server.requests`.
- `model`: `OpenAIChat("gpt-4o")` pointed at `server` with key `"test-key"` and no retries.
- `trace_file`: configures tracing to `tmp_path / "traces.jsonl"` and returns a `TraceFile`:
  `trace_file()` (or `.spans()`) flushes and returns the spans as flat dicts (see
  `otlp_helpers`); `.documents()` the parsed lines; `.text()` the raw file; `.path`;
  `.settings`; `.configure(**options)` re-configures the same file with other options
  (`capture_content=`, `redact=`, `meter_provider=`).

Helpers (import them: `from conftest import MODES, drive`):

- `MODES`: the agent's four faces, `("run", "arun", "run_stream", "arun_stream")`.
- `drive(agent, mode, input, events=None, **options)`: one turn through that face; returns the
  `RunOutput` and appends every streamed event to `events` as it comes (so the events before an
  exception are there too). Each async call runs in its own `asyncio.run`.
- `closed_port()`: a port on 127.0.0.1 that nothing listens on (an unreachable server).
- `samples`: a temporary folder holding copies of `sample_traces/*.jsonl`.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import NoOpTracerProvider
from otlp_helpers import Span, read_documents, read_spans

from definable_trace import OpenAIChat, RunOutput, configure_tracing, flush_tracing
from definable_trace._tracing._setup import TracingSettings
from definable_trace.agent import Agent, RunEvent
from definable_trace.testing import FakeOpenAIServer

ISOLATED_VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "DEFINABLE_TRACE_FILE",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("DEFINABLE_TRACE_CACHE_DIR", str(tmp_path / "cache"))
    configure_tracing(tracer_provider=NoOpTracerProvider())
    yield
    # Shuts down (and so flushes and closes) whatever provider the test configured; the
    # variables a test may have set are cleared first so that they do not apply to this call.
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    configure_tracing(tracer_provider=NoOpTracerProvider())


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def model(server: FakeOpenAIServer) -> OpenAIChat:
    return OpenAIChat("gpt-4o", base_url=server.base_url, api_key="test-key", max_retries=0)


@dataclass
class TraceFile:
    """The trace file of one test and the settings that write it."""

    path: Path
    settings: TracingSettings

    def configure(self, **options: Any) -> TracingSettings:
        """Write to the same file with other `configure_tracing` options."""
        self.settings = configure_tracing(self.path, **options)
        return self.settings

    def spans(self) -> list[Span]:
        flush_tracing()
        return read_spans(self.path)

    __call__ = spans

    def documents(self) -> list[dict[str, Any]]:
        flush_tracing()
        return read_documents(self.path)

    def text(self) -> str:
        flush_tracing()
        return self.path.read_text(encoding="utf-8") if self.path.exists() else ""


@pytest.fixture
def trace_file(tmp_path: Path, _isolated_environment: None) -> TraceFile:
    path = tmp_path / "traces.jsonl"
    return TraceFile(path, configure_tracing(path))


MODES = ("run", "arun", "run_stream", "arun_stream")


def drive(
    agent: Agent,
    mode: str,
    input: Any = None,
    events: list[RunEvent] | None = None,
    **options: Any,
) -> RunOutput:
    """One turn through `agent.<mode>`; streamed events are appended to `events`."""
    sink: list[RunEvent] = [] if events is None else events
    if mode == "run":
        return agent.run(input, **options)
    if mode == "arun":
        return asyncio.run(agent.arun(input, **options))
    if mode == "run_stream":
        for event in agent.run_stream(input, **options):
            sink.append(event)
    elif mode == "arun_stream":

        async def consume() -> None:
            async for event in agent.arun_stream(input, **options):
                sink.append(event)

        asyncio.run(consume())
    else:
        raise ValueError(mode)
    completed = [e for e in sink if e.event == "RunCompleted"]
    assert len(completed) == 1, [e.event for e in sink]
    assert sink[-1] is completed[0], "RunCompleted is the last event"
    return completed[0].output


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SAMPLES = Path(__file__).resolve().parent.parent / "sample_traces"
SAMPLE_FILES = ("math_tutor.jsonl", "tools.jsonl", "streamed.jsonl", "lineage.jsonl")


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """Copies of the sample trace files, so nothing a test does can touch the committed ones;
    new trace files are written beside them."""
    for name in SAMPLE_FILES:  # by name: files a user made beside them are not samples
        shutil.copy(SAMPLES / name, tmp_path / name)
    return tmp_path

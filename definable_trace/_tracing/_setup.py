"""Where spans go: `configure_tracing`, the environment, and the application's own provider.

Resolution, first match wins:

1. `configure_tracing(tracer_provider=...)`: that provider, untouched.
2. The application already installed an SDK tracer provider globally: we use it and never
   replace it; a file asked for explicitly (`path=` or `DEFINABLE_TRACE_FILE`) is added to it as
   one more span processor.
3. Otherwise a private provider (never set as the global one) with: the file exporter when a
   path is known (`path=`, `DEFINABLE_TRACE_FILE`, or by default the user data file), and the
   OTLP/HTTP exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` / `..._TRACES_ENDPOINT` is set.

Exporters are wrapped so that a failing one costs one logged warning, never the user's run.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from .._semconv import ENV_CAPTURE_MESSAGE_CONTENT, Redactor
from ._metrics import GenAIInstruments

__all__ = [
    "ENV_TRACE_FILE",
    "TracingSettings",
    "configure_tracing",
    "default_trace_file",
    "flush_tracing",
    "get_settings",
]

logger = logging.getLogger("definable_trace")

HistoryMode = Literal["full", "delta"]
ENV_HISTORY = "DEFINABLE_TRACE_HISTORY"

ENV_TRACE_FILE = "DEFINABLE_TRACE_FILE"
_OFF = {"", "0", "off", "false", "none", "no"}
_SCOPE = "definable_trace"


@dataclass
class TracingSettings:
    """What the run loop needs to emit telemetry: a tracer, instruments, the content policy."""

    tracer: trace.Tracer
    instruments: GenAIInstruments
    capture_content: bool
    redact: Redactor | None
    file: Path | None
    history: HistoryMode
    provider: Any  # the tracer provider in use, flushed by `flush_tracing`
    owned_provider: Any | None  # our private SDK provider, shut down when replaced


_lock = threading.Lock()
_settings: TracingSettings | None = None


def default_trace_file() -> Path:
    """The file runs are appended to when nothing else is configured (like llm's logs.db)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "definable-trace" / "traces.jsonl"


def configure_tracing(
    path: str | os.PathLike[str] | None = None,
    *,
    capture_content: bool | None = None,
    redact: Redactor | None = None,
    history: HistoryMode | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> TracingSettings:
    """Choose where the agent's spans go and what they hold.

    `path` appends OTLP JSON lines to that file. `capture_content=False` (or
    `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=NO_CONTENT`) keeps message text, tool
    arguments and results out of the spans; token counts, timings and ids stay. `redact` rewrites
    every recorded text (message content, reasoning, tool arguments and results) first.
    `history="delta"` (or `DEFINABLE_TRACE_HISTORY=delta`) is the compact mode: a chat span
    leaves out the leading messages an earlier span of the same session already holds, so a
    trace grows linearly with a conversation instead of quadratically.
    Calling it again replaces the previous configuration, flushing what that one still held.
    """
    global _settings
    options = _Options(path, capture_content, redact, history, tracer_provider, meter_provider)
    new = _build(options)
    with _lock:
        old, _settings = _settings, new
    if old is not None and old.owned_provider is not None:
        old.owned_provider.shutdown()
    return new


def get_settings() -> TracingSettings:
    """The current settings, built from the environment on first use."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = _build(_Options())
        return _settings


def flush_tracing(timeout_millis: int = 30_000) -> bool:
    """Write out every finished span now (the CLI calls this before it exits)."""
    settings = _settings
    provider = settings.provider if settings else trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    return bool(force_flush(timeout_millis)) if force_flush else True


@dataclass(frozen=True)
class _Options:
    path: str | os.PathLike[str] | None = None
    capture_content: bool | None = None
    redact: Redactor | None = None
    history: HistoryMode | None = None
    tracer_provider: trace.TracerProvider | None = None
    meter_provider: metrics.MeterProvider | None = None


def _build(options: _Options) -> TracingSettings:
    explicit_file = _explicit_file(options.path)
    owned = None
    file: Path | None = explicit_file
    tracer_provider = options.tracer_provider
    if tracer_provider is None:
        tracer_provider = _application_provider()
        if tracer_provider is not None:
            if explicit_file is not None:
                _add_file_processor(tracer_provider, explicit_file)
        else:
            file = explicit_file if explicit_file is not None else _implicit_file()
            owned = tracer_provider = _private_provider(file)
    elif explicit_file is not None:
        _add_file_processor(tracer_provider, explicit_file)
    tracer = trace.get_tracer(_SCOPE, _version(), tracer_provider=tracer_provider)
    meter = metrics.get_meter(_SCOPE, _version(), meter_provider=options.meter_provider)
    return TracingSettings(
        tracer=tracer,
        instruments=GenAIInstruments(meter),
        capture_content=_capture_content(options.capture_content),
        redact=options.redact,
        file=file,
        history=_history(options.history),
        provider=tracer_provider,
        owned_provider=owned,
    )


def _history(explicit: HistoryMode | None) -> HistoryMode:
    value = explicit or os.environ.get(ENV_HISTORY, "full").strip().lower() or "full"
    if value not in ("full", "delta"):
        raise ValueError(f"history must be 'full' or 'delta', got {value!r}")
    return value  # type: ignore[return-value]


def _explicit_file(path: str | os.PathLike[str] | None) -> Path | None:
    if path is not None:
        return Path(path)
    env = os.environ.get(ENV_TRACE_FILE)
    if env is not None and env.strip().lower() not in _OFF:
        return Path(env)
    return None


def _implicit_file() -> Path | None:
    """The default file, unless the environment turned files off or chose a collector."""
    env = os.environ.get(ENV_TRACE_FILE)
    if env is not None and env.strip().lower() in _OFF:
        return None
    if _otlp_configured():
        return None
    return default_trace_file()


def _otlp_configured() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _capture_content(explicit: bool | None) -> bool:
    if explicit is not None:
        return explicit
    mode = os.environ.get(ENV_CAPTURE_MESSAGE_CONTENT, "").strip().upper()
    # Unset means on: replay needs the content. The util-genai default (NO_CONTENT) applies to
    # instrumentations of other people's code; this agent exists to make runs replayable.
    return mode not in ("NO_CONTENT", "FALSE", "0", "EVENT_ONLY")


def _application_provider() -> trace.TracerProvider | None:
    provider = trace.get_tracer_provider()
    return provider if isinstance(provider, TracerProvider) else None


def _private_provider(file: Path | None) -> trace.TracerProvider:
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "definable")})
    provider = TracerProvider(resource=resource)  # flushes at interpreter exit (atexit)
    if file is not None:
        _add_file_processor(provider, file)
    if _otlp_configured():
        _add_otlp_processor(provider)
    return provider


def _add_file_processor(provider: Any, file: Path) -> None:
    from opentelemetry.exporter.otlp.json.file import FileSpanExporter

    if not hasattr(provider, "add_span_processor"):
        logger.warning(
            "definable-trace: the tracer provider in use takes no span processors; "
            "traces are not written to %s",
            file,
        )
        return
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        exporter = FileSpanExporter(file)
    except OSError as exc:
        logger.warning(
            "definable-trace: cannot write traces to %s (%s); tracing to it is off", file, exc
        )
        return
    _add_batch_processor(provider, _SafeExporter(exporter, f"file {file}"))


def _add_otlp_processor(provider: Any) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    _add_batch_processor(provider, _SafeExporter(OTLPSpanExporter(), "OTLP collector"))


def _add_batch_processor(provider: Any, exporter: SpanExporter) -> None:
    # A large queue: spans are dropped only if the writer falls far behind, never silently.
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=65_536))


def _version() -> str:
    from .. import __version__

    return __version__


# The exporters log every failed batch themselves (an ERROR with a traceback, each time). While
# one of them runs under `_SafeExporter`, those records are dropped: the wrapper reports the
# failure once. Other users of the same exporter classes keep their logs.
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.json.file.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
)
_wrapped = threading.local()


class _QuietWhileWrapped(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_wrapped, "active", False)


_quiet_filter = _QuietWhileWrapped()
for _name in _EXPORTER_LOGGERS:
    logging.getLogger(_name).addFilter(_quiet_filter)


class _SafeExporter(SpanExporter):
    """Wraps an exporter so that a failure is one warning, not a traceback per batch."""

    def __init__(self, inner: SpanExporter, what: str) -> None:
        self._inner = inner
        self._what = what
        self._warned = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        _wrapped.active = True
        try:
            result = self._inner.export(spans)
        except Exception as exc:  # telemetry must never fail the user's run
            self._warn(exc)
            return SpanExportResult.FAILURE
        finally:
            _wrapped.active = False
        if result is not SpanExportResult.SUCCESS:
            self._warn("the exporter reported a failure")
        return result

    def _warn(self, reason: object) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("definable-trace: exporting spans to %s failed: %s", self._what, reason)

    def shutdown(self) -> None:
        try:
            self._inner.shutdown()
        except Exception as exc:  # same rule at exit
            logger.warning("definable-trace: closing %s failed: %s", self._what, exc)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        try:
            return bool(self._inner.force_flush(timeout_millis))
        except Exception:  # same rule when flushing
            return False

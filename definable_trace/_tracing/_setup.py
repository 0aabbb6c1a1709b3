"""Where spans go: `configure_tracing`, the environment, and the application's own provider.

Resolution, first match wins:

1. `OTEL_SDK_DISABLED=true`: no provider of ours and no exporter; the application's provider
   (itself disabled) or OpenTelemetry's no-op tracer, so spans do not record.
2. `configure_tracing(tracer_provider=...)`: that provider, never replaced; a file asked for
   explicitly is fed from our one processor on it.
3. The application already installed an SDK tracer provider globally: we use it and never
   replace it; a file asked for explicitly (`path=` or `DEFINABLE_TRACE_FILE`) is fed from ONE
   processor of ours added to it once (`_pipeline.SwitchProcessor`), so reconfiguring swaps the
   file instead of adding another.
4. Otherwise a private provider (never set as the global one) with: our OTLP/JSON-lines file
   exporter when a path is known (`path=`, `DEFINABLE_TRACE_FILE`, or by default the user
   data file), and an OTLP exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` / `..._TRACES_ENDPOINT`
   is set (`_otlp`). With neither (files off, no collector) the tracer is OpenTelemetry's
   no-op one, so a run pays nothing for tracing.

Exporters are wrapped so that a failing one costs one warning per process naming the cause,
never the user's run. When spans of ours are exported, SIGTERM and SIGHUP flush them before
the process stops (`_signals`).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from .._semconv import ENV_CAPTURE_MESSAGE_CONTENT, Redactor
from . import _signals
from ._export import ExportError, JsonLinesSpanExporter
from ._metrics import GenAIInstruments
from ._otlp import OtlpHttpSpanExporter, grpc_exporter, otlp_configured, otlp_settings
from ._pipeline import SafeExporter, SwitchProcessor, batch_processor, retire, switch_for, warn_once

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
ENV_SDK_DISABLED = "OTEL_SDK_DISABLED"
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
    switch: SwitchProcessor | None = None  # our one processor on `provider`, if it has one
    processors: tuple[SpanProcessor, ...] = field(default=())  # what `switch` feeds


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
    Calling it again replaces the previous configuration: what that one still held is flushed,
    its files are closed and receive nothing more.
    """
    global _settings
    options = _Options(path, capture_content, redact, history, tracer_provider, meter_provider)
    new = _build(options)
    with _lock:
        old, _settings = _settings, new
    _activate(new, old)
    return new


def get_settings() -> TracingSettings:
    """The current settings, built from the environment on first use."""
    global _settings
    with _lock:
        if _settings is not None:
            return _settings
        _settings = new = _build(_Options())
    _activate(new, None)
    return new


def flush_tracing(timeout_millis: int = 30_000) -> bool:
    """Write out every finished span now (the CLI calls this before it exits)."""
    settings = _settings
    provider = settings.provider if settings else trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    return bool(force_flush(timeout_millis)) if force_flush else True


def _flush_ours(deadline_seconds: float) -> None:
    """Flush our own processors only (the signal handler: the application flushes its own)."""
    settings = _settings
    if settings is not None and settings.switch is not None:
        settings.switch.force_flush(int(deadline_seconds * 1000))


def _activate(new: TracingSettings, old: TracingSettings | None) -> None:
    """Point our switch at the new processors, retire the old ones, arm the signal flush."""
    retired: list[SpanProcessor] = []
    if new.switch is not None:
        retired.extend(new.switch.swap(new.processors))
    if old is not None and old.switch is not None and old.switch is not new.switch:
        retired.extend(old.switch.swap(()))
    retire(retired)
    if old is not None and old.owned_provider is not None:
        old.owned_provider.shutdown()
    if new.processors:
        _signals.install(_flush_ours)


@dataclass(frozen=True)
class _Options:
    path: str | os.PathLike[str] | None = None
    capture_content: bool | None = None
    redact: Redactor | None = None
    history: HistoryMode | None = None
    tracer_provider: trace.TracerProvider | None = None
    meter_provider: metrics.MeterProvider | None = None


@dataclass
class _Destination:
    provider: trace.TracerProvider
    owned: TracerProvider | None = None
    file: Path | None = None
    exporters: list[SpanExporter] = field(default_factory=list)


def _build(options: _Options) -> TracingSettings:
    where = _destination(options)
    switch = switch_for(where.provider) if where.exporters else None
    processors = tuple(batch_processor(exporter) for exporter in where.exporters)
    if where.exporters and switch is None:
        logger.warning(
            "definable-trace: the tracer provider in use takes no span processors; "
            "traces are not written to %s",
            where.file,
        )
        retire(processors)
        processors = ()
    tracer = trace.get_tracer(_SCOPE, _version(), tracer_provider=where.provider)
    meter = metrics.get_meter(_SCOPE, _version(), meter_provider=options.meter_provider)
    return TracingSettings(
        tracer=tracer,
        instruments=GenAIInstruments(meter),
        capture_content=_capture_content(options.capture_content),
        redact=options.redact,
        file=where.file,
        history=_history(options.history),
        provider=where.provider,
        owned_provider=where.owned,
        switch=switch,
        processors=processors,
    )


def _destination(options: _Options) -> _Destination:
    """The provider to trace with and the exporters of ours it should feed."""
    if _sdk_disabled():
        provider = options.tracer_provider or _application_provider()
        return _Destination(provider or trace.NoOpTracerProvider())
    explicit_file = _explicit_file(options.path)
    provider = options.tracer_provider or _application_provider()
    if provider is not None:
        file_exporter = _file_exporter(explicit_file) if explicit_file else None
        exporters = [file_exporter] if file_exporter else []
        return _Destination(provider, file=explicit_file, exporters=exporters)
    file = explicit_file if explicit_file is not None else _implicit_file()
    exporters = [e for e in (_file_exporter(file) if file else None, _otlp_exporter()) if e]
    if not exporters:  # tracing is off (or nothing could be opened): spans cost nothing
        return _Destination(trace.NoOpTracerProvider(), file=file)
    owned = _private_provider()
    return _Destination(owned, owned=owned, file=file, exporters=exporters)


def _history(explicit: HistoryMode | None) -> HistoryMode:
    value = explicit or os.environ.get(ENV_HISTORY, "full").strip().lower() or "full"
    if value not in ("full", "delta"):
        raise ValueError(f"history must be 'full' or 'delta', got {value!r}")
    return value  # type: ignore[return-value]


def _sdk_disabled() -> bool:
    return os.environ.get(ENV_SDK_DISABLED, "").strip().lower() == "true"


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
    if otlp_configured():
        return None
    return default_trace_file()


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


def _private_provider() -> TracerProvider:
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "definable")})
    return TracerProvider(resource=resource)  # flushes at interpreter exit (atexit)


def _file_exporter(file: Path) -> SpanExporter | None:
    """Our JSON-lines exporter for `file`, or None (one warning naming it) if it cannot be."""
    try:
        exporter = JsonLinesSpanExporter(file)
    except ExportError as exc:
        warn_once(f"file {file}", "definable-trace: %s; tracing to it is off, the run goes on", exc)
        return None
    return SafeExporter(exporter, f"file {file}")


def _otlp_exporter() -> SpanExporter | None:
    if not otlp_configured():
        return None
    settings = otlp_settings()
    if settings.unknown_protocol is not None:
        warn_once(
            "otlp protocol",
            "definable-trace: unknown OTLP protocol %r (expected http/protobuf, http/json or "
            "grpc); using http/protobuf",
            settings.unknown_protocol,
        )
    if settings.protocol == "grpc":
        try:
            return SafeExporter(grpc_exporter(settings), "the OTLP/gRPC collector")
        except ImportError:
            warn_once(
                "otlp grpc",
                "definable-trace: OTLP protocol grpc needs the grpc extra "
                "(pip install 'definable-trace[grpc]'); spans are not sent to the collector",
            )
            return None
    exporter = OtlpHttpSpanExporter(settings)
    return SafeExporter(exporter, f"the OTLP collector at {exporter.where}")


def _version() -> str:
    from .. import __version__

    return __version__

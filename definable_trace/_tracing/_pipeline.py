"""What our span processors are made of: a switch installed once per provider, and exporters
whose failures are one warning per process per destination, naming the cause.

Why a switch: an application's `TracerProvider` has no way to remove a span processor. So we
add ONE processor of ours to a provider, once, and reconfiguring swaps what it feeds (the old
exporters flushed and shut down). The first file stops receiving; the second gets each span
once.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

__all__ = [
    "SafeExporter",
    "SwitchProcessor",
    "batch_processor",
    "captured_causes",
    "retire",
    "switch_for",
    "warn_once",
]

logger = logging.getLogger("definable_trace")

# A large queue: spans are dropped only if the writer falls far behind.
_MAX_QUEUE = 65_536

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(destination: str, message: str, *args: object) -> None:
    """Log `message` unless a warning about `destination` was logged in this process already."""
    with _warned_lock:
        if destination in _warned:
            return
        _warned.add(destination)
    logger.warning(message, *args)


# The official exporters (gRPC) log every failed batch themselves, with tracebacks. While one
# runs under `SafeExporter` its records are kept as the cause instead of being printed; other
# users of the same exporter classes keep their logs.
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
)
_wrapped = threading.local()


@contextmanager
def captured_causes() -> Generator[list[str], None, None]:
    """While inside, the official exporters' log records on this thread are collected here
    (as failure causes) instead of printed."""
    causes: list[str] = []
    previous = getattr(_wrapped, "causes", None)
    _wrapped.causes = causes
    try:
        yield causes
    finally:
        _wrapped.causes = previous


class _CaptureWhileWrapped(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        causes: list[str] | None = getattr(_wrapped, "causes", None)
        if causes is None:
            return True
        causes.append(record.getMessage())
        return False


_capture_filter = _CaptureWhileWrapped()
for _name in _EXPORTER_LOGGERS:
    logging.getLogger(_name).addFilter(_capture_filter)


class SafeExporter(SpanExporter):
    """Wraps an exporter so that a failure is one warning naming the cause, never raised."""

    def __init__(self, inner: SpanExporter, destination: str) -> None:
        self.inner = inner
        self.destination = destination

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with captured_causes() as causes:
            try:
                result = self.inner.export(spans)
            except Exception as exc:  # telemetry must never fail the user's run
                # Our exporters' errors carry the bare reason; the warning names the destination.
                self._warn(getattr(exc, "reason", None) or str(exc) or type(exc).__name__)
                return SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._warn(causes[-1] if causes else "the exporter reported a failure")
        return result

    def _warn(self, cause: str) -> None:
        warn_once(
            self.destination,
            "definable-trace: spans to %s were lost: %s",
            self.destination,
            cause,
        )

    def shutdown(self) -> None:
        try:
            self.inner.shutdown()
        except Exception as exc:  # same rule at exit
            logger.warning("definable-trace: closing %s failed: %s", self.destination, exc)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        try:
            return bool(self.inner.force_flush(timeout_millis))
        except Exception:  # same rule when flushing
            return False


def batch_processor(exporter: SpanExporter) -> BatchSpanProcessor:
    return BatchSpanProcessor(exporter, max_queue_size=_MAX_QUEUE)


class SwitchProcessor(SpanProcessor):
    """Feeds the processors of the current configuration; `swap` replaces them."""

    def __init__(self) -> None:
        self._inner: tuple[SpanProcessor, ...] = ()
        self._lock = threading.Lock()

    @property
    def processors(self) -> tuple[SpanProcessor, ...]:
        return self._inner

    def swap(self, processors: Sequence[SpanProcessor]) -> tuple[SpanProcessor, ...]:
        """Feed `processors` from now on; return the previous ones (the caller retires them)."""
        with self._lock:
            old, self._inner = self._inner, tuple(processors)
        return old

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in self._inner:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self._inner:
            processor.on_end(span)

    def shutdown(self) -> None:
        retire(self.swap(()))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        flushed = True
        for processor in self._inner:
            remaining = max(0, int((deadline - time.monotonic()) * 1000))
            flushed = bool(processor.force_flush(remaining)) and flushed
        return flushed


def retire(processors: Sequence[SpanProcessor]) -> None:
    """Flush and shut down processors no longer fed (their exporters close their files)."""
    for processor in processors:
        try:
            processor.shutdown()
        except Exception as exc:  # telemetry never fails the caller
            logger.warning("definable-trace: closing a span processor failed: %s", exc)


_switches: weakref.WeakKeyDictionary[Any, SwitchProcessor] = weakref.WeakKeyDictionary()
_switches_lock = threading.Lock()


def switch_for(provider: Any) -> SwitchProcessor | None:
    """Our one processor on `provider`, added the first time; None if it takes no processors."""
    if not hasattr(provider, "add_span_processor"):
        return None
    with _switches_lock:
        switch = _switches.get(provider)
        if switch is None:
            switch = SwitchProcessor()
            provider.add_span_processor(switch)
            _switches[provider] = switch
        return switch

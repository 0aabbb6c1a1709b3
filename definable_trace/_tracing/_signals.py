"""Flush our spans when the process is asked to stop (SIGTERM, SIGHUP), then let it stop.

Python runs no `atexit` hooks when a signal's default action kills the process, so without
this every span still queued in a batch processor is lost (`kill`, `docker stop`, a closed
terminal). The handler flushes, then passes the signal on: to the handler the application had
installed before us, or, when that was the default action, by restoring the default and
sending the signal again, so the process ends exactly as it would have. It never swallows it
(an ignored signal stays ignored).

Handlers can only be installed from the main thread; elsewhere this does nothing. The flush
runs on a helper thread with a deadline, so a handler that interrupted code holding an export
lock, or a collector that hangs, cannot keep the process from stopping.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["FLUSH_DEADLINE", "SIGNALS", "install"]

SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
FLUSH_DEADLINE = 3.0  # seconds the handler waits for the flush before passing the signal on

Flush = Callable[[float], object]
_flush: Flush | None = None
_previous: dict[int, Any] = {}


def install(flush: Flush) -> None:
    """Flush with `flush(deadline_seconds)` on SIGTERM/SIGHUP (main thread only; idempotent)."""
    global _flush
    _flush = flush
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        current = signal.getsignal(signum)
        if current is _handle:
            continue
        if current is signal.SIG_IGN:
            continue  # the application chose to ignore it: nothing will stop, nothing to flush
        try:
            signal.signal(signum, _handle)
        except (ValueError, OSError):  # not the main interpreter, or not allowed here
            continue
        _previous[signum] = current


def _handle(signum: int, frame: FrameType | None) -> None:
    _flush_with_deadline()
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    # The default action (or a handler installed from C, which Python reports as None):
    # restore it and deliver the signal again, so the process ends as it would have.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _flush_with_deadline() -> None:
    flush = _flush
    if flush is None:
        return
    worker = threading.Thread(
        target=_run_quietly, args=(flush,), name="definable-trace-flush", daemon=True
    )
    worker.start()
    worker.join(FLUSH_DEADLINE)


def _run_quietly(flush: Flush) -> None:
    try:
        flush(FLUSH_DEADLINE)
    except Exception:  # telemetry never changes how the process ends
        return

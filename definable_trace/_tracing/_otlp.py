"""Spans to an OpenTelemetry collector, as the `OTEL_EXPORTER_OTLP_*` variables say.

Protocols (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`):

- `http/protobuf` (the default): the SDK's own protobuf encoder
  (`opentelemetry-exporter-otlp-proto-common`), posted by `OtlpHttpSpanExporter` below;
- `http/json`: our OTLP/JSON encoder (`_export.encode_spans_json`), posted the same way;
- `grpc`: the official gRPC exporter from the optional extra `definable-trace[grpc]`.

Why our own HTTP sender rather than the official `OTLPSpanExporter` for HTTP: it reports *why*
a batch was lost (HTTP status, connection refused, timed out) where the official one returns
only FAILURE; its time per batch is one bounded request (the official retry loop runs up to
64 s in SDK 1.30 and up to its timeout since), so a collector that is down delays exit by at
most one timeout; and http/json has no stable official exporter. It honours the standard
variables: `..._ENDPOINT` (the generic one gets `/v1/traces` appended, the traces one is used
as is), `..._HEADERS`, `..._TIMEOUT` (seconds, as the Python SDK reads it), `..._COMPRESSION`
(`gzip`), `..._CERTIFICATE`, `..._CLIENT_CERTIFICATE` and `..._CLIENT_KEY`.

Retries: none. A batch the collector refuses or does not answer in time is lost, and the first
loss is one warning naming the cause. After a timeout the exporter stops trying for
`QUIET_AFTER_TIMEOUT` seconds, so a collector that hangs costs one timeout, not one per batch.
"""

from __future__ import annotations

import gzip
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .._urls import shown_url
from ._export import encode_spans_json
from ._pipeline import captured_causes

__all__ = [
    "DEFAULT_TIMEOUT",
    "QUIET_AFTER_TIMEOUT",
    "BoundedExporter",
    "CollectorError",
    "OtlpHttpSpanExporter",
    "OtlpSettings",
    "grpc_exporter",
    "otlp_configured",
    "otlp_settings",
    "safe_url",
]

Protocol = Literal["http/protobuf", "http/json", "grpc"]
PROTOCOLS: tuple[Protocol, ...] = ("http/protobuf", "http/json", "grpc")

# Seconds per export request when no timeout variable is set. The SDK's default is 10 s; ours
# is shorter because a collector that is down must not hold the user's process at exit.
DEFAULT_TIMEOUT = 2.0
QUIET_AFTER_TIMEOUT = 30.0
_TRACES_PATH = "v1/traces"


class CollectorError(Exception):
    """Why a batch did not reach the collector: HTTP status, connection refused, timed out.

    The warning that reports it names the collector (without credentials)."""


@dataclass(frozen=True)
class OtlpSettings:
    """The collector connection, read once from the environment."""

    protocol: Protocol
    endpoint: str | None  # None for grpc: its exporter reads the endpoint variables itself
    timeout: float
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold credentials
    compression: str | None = None
    certificate: str | None = None
    client_cert: tuple[str, str] | None = None
    unknown_protocol: str | None = None  # a value we did not understand (warned about)


def otlp_configured() -> bool:
    """A collector endpoint is set, so spans go there (and not to the default file)."""
    return bool(_env("ENDPOINT"))


def otlp_settings() -> OtlpSettings:
    """The `OTEL_EXPORTER_OTLP_*` variables, traces-specific ones first."""
    raw_protocol = (_env("PROTOCOL") or "http/protobuf").strip().lower()
    protocol: Protocol = "http/protobuf"
    for known in PROTOCOLS:
        if raw_protocol == known:
            protocol = known
    cert, key = _env("CLIENT_CERTIFICATE"), _env("CLIENT_KEY")
    return OtlpSettings(
        protocol=protocol,
        endpoint=None if protocol == "grpc" else _endpoint(),
        timeout=_timeout(),
        headers=_headers(),
        compression=(_env("COMPRESSION") or "").strip().lower() or None,
        certificate=_env("CERTIFICATE"),
        client_cert=(cert, key) if cert and key else None,
        unknown_protocol=None if raw_protocol in PROTOCOLS else raw_protocol,
    )


def _env(name: str) -> str | None:
    return os.environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or os.environ.get(
        f"OTEL_EXPORTER_OTLP_{name}"
    )


def _endpoint() -> str:
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318"
    return f"{base.rstrip('/')}/{_TRACES_PATH}"


def _timeout() -> float:
    value = _env("TIMEOUT")
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return seconds if seconds > 0 else DEFAULT_TIMEOUT


def _headers() -> dict[str, str]:
    from opentelemetry.util.re import parse_env_headers

    value = _env("HEADERS")
    return dict(parse_env_headers(value, liberal=True)) if value else {}


class OtlpHttpSpanExporter(SpanExporter):
    """Posts each batch to an OTLP/HTTP collector, protobuf or JSON, in one bounded request."""

    def __init__(self, settings: OtlpSettings) -> None:
        import requests

        self.settings = settings
        self.endpoint = settings.endpoint or _endpoint()
        self.where = safe_url(self.endpoint)  # for messages: no credentials from the URL
        self._json = settings.protocol == "http/json"
        self._session = requests.Session()
        self._session.headers.update(settings.headers)
        self._session.headers["Content-Type"] = (
            "application/json" if self._json else "application/x-protobuf"
        )
        if settings.compression == "gzip":
            self._session.headers["Content-Encoding"] = "gzip"
        if settings.certificate:
            self._session.verify = settings.certificate
        if settings.client_cert:
            self._session.cert = settings.client_cert
        self._quiet_until = 0.0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        if time.monotonic() < self._quiet_until:
            return SpanExportResult.FAILURE  # it timed out a moment ago: do not wait again
        body = self._encode(spans)
        if self.settings.compression == "gzip":
            body = gzip.compress(body)
        self._post(body)
        return SpanExportResult.SUCCESS

    def _encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        if self._json:
            return encode_spans_json(spans)
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        return bytes(encode_spans(spans).SerializeToString())

    def _post(self, body: bytes) -> None:
        import requests

        try:
            response = self._session.post(self.endpoint, data=body, timeout=self.settings.timeout)
        except requests.exceptions.Timeout as exc:
            self._quiet_until = time.monotonic() + QUIET_AFTER_TIMEOUT
            raise CollectorError(f"timed out after {self.settings.timeout:g} s") from exc
        except requests.exceptions.ConnectionError as exc:
            raise CollectorError(_connection_cause(exc)) from exc
        except requests.exceptions.RequestException as exc:
            raise CollectorError(type(exc).__name__) from exc
        if not 200 <= response.status_code < 300:
            # The status and its reason phrase only (printable, short): what a collector sends
            # is not ours to print to a terminal.
            reason = "".join(c for c in str(response.reason or "")[:60] if c.isprintable())
            raise CollectorError(f"HTTP {response.status_code} {reason}".rstrip())

    def shutdown(self) -> None:
        self._session.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # each batch is sent by `export` itself


def safe_url(url: str) -> str:
    """`url` without a `user:password@` part or query, fit for a log line."""
    return shown_url(url) or "the collector URL"


def _connection_cause(exc: BaseException) -> str:
    """ "connection refused" or the innermost reason, without the URL's credentials."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return "connection refused"
        seen = seen.__cause__ or seen.__context__
    return "cannot connect"


def grpc_exporter(settings: OtlpSettings) -> SpanExporter:
    """The official gRPC exporter (it reads the endpoint variables), bounded by our timeout.

    Raises ImportError when the `grpc` extra is not installed."""
    import importlib

    # By name: the module exists only with the extra, so type checkers cannot always see it.
    module = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
    exporter: SpanExporter = module.OTLPSpanExporter(timeout=settings.timeout)
    return BoundedExporter(exporter, settings.timeout)


class BoundedExporter(SpanExporter):
    """Waits at most `timeout` seconds for an exporter whose own retries are not bounded.

    The official gRPC exporter of SDK 1.30-1.32 retries an unavailable collector with
    uninterruptible sleeps for up to 64 s, and holds a lock through them that its `shutdown`
    waits 30 s for. Here its `export` runs on a helper thread: past the timeout the batch is
    reported lost, later batches fail at once while that attempt is still running, and
    `shutdown` waits one timeout at most. The helper is a daemon thread, so it cannot hold the
    process at exit.
    """

    def __init__(self, inner: SpanExporter, timeout: float) -> None:
        self.inner = inner
        self.timeout = timeout
        self._busy = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self._busy.acquire(blocking=False):
            raise CollectorError("the previous batch is still waiting for the collector")
        outcome: list[SpanExportResult | BaseException] = []
        causes: list[str] = []
        helper = threading.Thread(
            target=self._run, args=(spans, outcome, causes), daemon=True, name="otlp-export"
        )
        helper.start()
        helper.join(self.timeout + _GRACE)
        if not outcome:
            last = f" ({causes[-1]})" if causes else ""
            raise CollectorError(f"timed out after {self.timeout:g} s{last}")
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        if result is not SpanExportResult.SUCCESS and causes:
            raise CollectorError(causes[-1])
        return result

    def _run(
        self,
        spans: Sequence[ReadableSpan],
        outcome: list[SpanExportResult | BaseException],
        causes: list[str],
    ) -> None:
        try:
            with captured_causes() as seen:
                try:
                    outcome.append(self.inner.export(spans))
                finally:
                    causes.extend(seen)
        except Exception as exc:  # handed to the waiting thread
            outcome.append(exc)
        finally:
            self._busy.release()

    def shutdown(self) -> None:
        stuck = self._busy.locked()  # an attempt already timed out: do not wait for it again
        stopper = threading.Thread(target=self._shutdown_inner, daemon=True)
        stopper.start()
        if not stuck:
            stopper.join(self.timeout + _GRACE)

    def _shutdown_inner(self) -> None:
        try:
            self.inner.shutdown(timeout_millis=self.timeout * 1000)  # type: ignore[call-arg]
        except TypeError:  # an exporter whose shutdown takes no deadline
            self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # each batch is sent by `export` itself


_GRACE = 0.5  # seconds past the timeout before a batch is given up

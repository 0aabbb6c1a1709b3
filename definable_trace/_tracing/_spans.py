"""The spans of one run: `invoke_agent`, then `chat` per model call and `execute_tool` per tool.

The run loop never touches OpenTelemetry; its drivers wrap each step in these objects. Spans
are started with an explicit parent instead of being made current, because streamed runs yield
to user code between steps and an attached context would leak into it. Every method returns
early when the span is not recording, so tracing off costs next to nothing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .. import _semconv as sc
from .._errors import DivergenceError
from .._messages import Message, Metrics
from .._models._base import Model
from ._setup import TracingSettings

__all__ = ["ChatSpan", "RunInfo", "RunSpans", "ToolSpan"]

logger = logging.getLogger("definable_trace")
_F = TypeVar("_F", bound=Callable[..., None])


def _never_raises(method: _F) -> _F:
    """Telemetry must not fail a run: a recording step that raises (a redaction hook, an
    attribute the SDK refuses) is logged and skipped."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            method(*args, **kwargs)
        except Exception as exc:  # any failure here is telemetry's, not the run's
            logger.warning("definable-trace: recording %s failed: %r", method.__name__, exc)

    return guarded  # type: ignore[return-value]


_PARAMS = {
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": sc.GEN_AI_REQUEST_TOP_P,
    "max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "seed": sc.GEN_AI_REQUEST_SEED,
    "frequency_penalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
}
_FINISH = {"tool_calls": "tool_call", "function_call": "tool_call"}


@dataclass
class RunInfo:
    """Who and what a run is: the attributes every span of the run carries."""

    agent_name: str | None
    model: Model
    run_id: str
    session_id: str | None
    user_id: str | None
    turn_index: int
    extra: dict[str, Any] = field(default_factory=dict)

    def common(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            sc.GEN_AI_PROVIDER_NAME: self.model.provider,
            sc.ATTR_RUN_ID: self.run_id,
            sc.ATTR_TURN_INDEX: self.turn_index,
            **self.extra,
        }
        if self.session_id:
            attrs[sc.GEN_AI_CONVERSATION_ID] = self.session_id
            attrs[sc.SESSION_ID] = self.session_id
        if self.user_id:
            attrs[sc.USER_ID] = self.user_id
        if self.agent_name:
            attrs[sc.GEN_AI_AGENT_NAME] = self.agent_name
        return attrs


class _RecordedHistories:
    """Compact mode's memory: per session, the message ids its last recorded call held.

    Bounded (least recently used sessions are forgotten: their next call records in full), and
    per process: a history recorded elsewhere is never assumed to be in this trace.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str) -> tuple[str, ...]:
        with self._lock:
            ids = self._items.get(session_id, ())
            if ids:
                self._items.move_to_end(session_id)
            return ids

    def put(self, session_id: str, ids: tuple[str, ...]) -> None:
        with self._lock:
            self._items[session_id] = ids
            self._items.move_to_end(session_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_RECORDED = _RecordedHistories()


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _fail(span: Span, exc: BaseException) -> None:
    error_type = getattr(exc, "error_type", None) or type(exc).__qualname__
    span.set_attribute(sc.ERROR_TYPE, error_type)
    span.set_status(Status(StatusCode.ERROR, str(exc)))
    span.record_exception(exc)


class RunSpans:
    """The `invoke_agent` span of a run and the factory of its children."""

    def __init__(self, settings: TracingSettings, info: RunInfo) -> None:
        self.settings = settings
        self.info = info
        self.common = info.common()
        name = f"invoke_agent {info.agent_name}" if info.agent_name else "invoke_agent"
        attrs = {
            **self.common,
            sc.GEN_AI_OPERATION_NAME: "invoke_agent",
            sc.GEN_AI_REQUEST_MODEL: info.model.id,
        }
        self.span = settings.tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=attrs)
        self.context = trace.set_span_in_context(self.span)
        self.recording = self.span.is_recording()
        self.recorded: tuple[str, ...] = ()
        if settings.history == "delta" and info.session_id:
            self.recorded = _RECORDED.get(info.session_id)

    def recorded_prefix(self, messages: Sequence[Message]) -> int:
        """Compact mode: how many leading messages an earlier span of the session holds."""
        if self.settings.history != "delta":
            return 0
        n = 0
        for message, known in zip(messages, self.recorded, strict=False):
            if message.id != known:
                break
            n += 1
        return n

    def remember(self, messages: Sequence[Message]) -> None:
        """Compact mode: the full history now recorded (the last call's input and output)."""
        if self.settings.history == "delta":
            self.recorded = tuple(m.id for m in messages)
            if self.info.session_id:
                _RECORDED.put(self.info.session_id, self.recorded)

    @_never_raises
    def record_input(self, new_messages: Sequence[Message]) -> None:
        """The messages this run added before calling the model (the user's input)."""
        if self.recording:
            _set_messages(
                self.span, self.settings, sc.INPUT_MESSAGES, sc.ATTR_INPUT_META, new_messages
            )

    def chat(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], stream: bool
    ) -> ChatSpan:
        return ChatSpan(self, messages, tools, stream)

    def tool(self, call: dict[str, Any]) -> ToolSpan:
        return ToolSpan(self, call)

    def finish(self, final: Message | None, metrics: Metrics) -> None:
        if self.recording:
            self._record_output(final, metrics)
        self.span.end()

    @_never_raises
    def _record_output(self, final: Message | None, metrics: Metrics) -> None:
        _set_usage(self.span, metrics)
        if final is not None:
            _set_messages(
                self.span, self.settings, sc.OUTPUT_MESSAGES, sc.ATTR_OUTPUT_META, [final]
            )

    def fail(self, exc: BaseException) -> None:
        if self.recording:
            _fail(self.span, exc)
            if sc.ATTR_LINEAGE_KIND in self.common:  # a replay's or fork's run: mark it
                self.span.set_attribute(sc.ATTR_LINEAGE_STATUS, lineage_status(exc))
        self.span.end()


class ChatSpan:
    """One model call: request attributes at start, response and usage at the end."""

    def __init__(
        self,
        run: RunSpans,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        stream: bool,
    ) -> None:
        self.run = run
        model = run.info.model
        self.metric_attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: model.provider,
            sc.GEN_AI_REQUEST_MODEL: model.id,
        }
        self.started = time.perf_counter()
        self.sent: Sequence[Message] = ()
        self.span = run.settings.tracer.start_span(
            f"chat {model.id}", context=run.context, kind=SpanKind.CLIENT
        )
        if self.span.is_recording():
            self._record_request(messages, tools, stream)

    @_never_raises
    def _record_request(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], stream: bool
    ) -> None:
        model = self.run.info.model
        attrs = {**self.run.common, **self.metric_attrs, sc.GEN_AI_REQUEST_STREAM: stream}
        if model.server_address:
            attrs[sc.SERVER_ADDRESS] = model.server_address
        if model.server_port:
            attrs[sc.SERVER_PORT] = model.server_port
        for key, value in model.request_parameters().items():
            if key in _PARAMS and isinstance(value, (int, float)):
                attrs[_PARAMS[key]] = value
        self.span.set_attributes(attrs)
        skip = self.run.recorded_prefix(messages)
        if skip:
            self.span.set_attribute(sc.ATTR_INPUT_OFFSET, skip)
        _set_messages(
            self.span, self.run.settings, sc.INPUT_MESSAGES, sc.ATTR_INPUT_META, messages, skip=skip
        )
        self.sent = messages
        if tools and self.run.settings.capture_content:
            self.span.set_attribute(sc.TOOL_DEFINITIONS, _json([_tool_def(t) for t in tools]))

    def finish(self, response: Any) -> None:
        """`response` is the model layer's `ModelResponse`."""
        message: Message = response.message
        metrics = message.metrics or Metrics()
        if self.span.is_recording():
            self._record_response(response, message, metrics)
        self.span.end()
        self._record_metrics(
            {**self.metric_attrs, sc.GEN_AI_RESPONSE_MODEL: response.response_model or ""},
            metrics.duration or (time.perf_counter() - self.started),
            metrics.input_tokens,
            metrics.output_tokens,
        )

    @_never_raises
    def _record_metrics(
        self, attrs: dict[str, Any], duration: float, inputs: int | None, outputs: int | None
    ) -> None:
        self.run.settings.instruments.record(attrs, duration, inputs, outputs)

    @_never_raises
    def _record_response(self, response: Any, message: Message, metrics: Metrics) -> None:
        attrs: dict[str, Any] = {}
        if response.response_id:
            attrs[sc.GEN_AI_RESPONSE_ID] = response.response_id
        if response.response_model:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = response.response_model
        if response.finish_reason:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [response.finish_reason]
        if metrics.time_to_first_token is not None:
            attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = metrics.time_to_first_token
        self.span.set_attributes(attrs)
        _set_usage(self.span, metrics)
        self.run.remember([*self.sent, message])
        finish = _FINISH.get(response.finish_reason or "stop", response.finish_reason or "stop")
        _set_messages(
            self.span,
            self.run.settings,
            sc.OUTPUT_MESSAGES,
            sc.ATTR_OUTPUT_META,
            [message],
            finish_reason=finish,
        )

    def fail(self, exc: BaseException) -> None:
        if self.span.is_recording():
            _fail(self.span, exc)
        self.span.end()
        attrs = {
            **self.metric_attrs,
            sc.ERROR_TYPE: getattr(exc, "error_type", type(exc).__qualname__),
        }
        self._record_metrics(attrs, time.perf_counter() - self.started, None, None)


class ToolSpan:
    """One tool execution. A failing tool marks this span as an error; the run goes on."""

    def __init__(self, run: RunSpans, call: dict[str, Any]) -> None:
        self.run = run
        function = call.get("function") or {}
        name = function.get("name") or "tool"
        self.span = run.settings.tracer.start_span(
            f"execute_tool {name}", context=run.context, kind=SpanKind.INTERNAL
        )
        if self.span.is_recording():
            self._record_call(name, call, function)

    @_never_raises
    def _record_call(self, name: str, call: dict[str, Any], function: dict[str, Any]) -> None:
        run = self.run
        attrs = {
            **run.common,
            sc.GEN_AI_OPERATION_NAME: "execute_tool",
            sc.GEN_AI_TOOL_NAME: name,
            sc.GEN_AI_TOOL_TYPE: "function",
        }
        if call.get("id"):
            attrs[sc.GEN_AI_TOOL_CALL_ID] = call["id"]
        if run.settings.capture_content:
            attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = _redacted(
                run.settings, function.get("arguments") or ""
            )
        self.span.set_attributes(attrs)

    def finish(self, result: Message, error: str | None) -> None:
        if self.span.is_recording():
            self._record_result(result, error)
        self.span.end()

    @_never_raises
    def _record_result(self, result: Message, error: str | None) -> None:
        if self.run.settings.capture_content:
            self.span.set_attribute(
                sc.GEN_AI_TOOL_CALL_RESULT, _redacted(self.run.settings, result.content or "")
            )
        if error:
            self.span.set_attribute(sc.ERROR_TYPE, error)
            self.span.set_status(Status(StatusCode.ERROR, error))


def _redacted(settings: TracingSettings, text: str) -> str:
    return settings.redact(text) if settings.redact and text else text


def _tool_def(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or {}
    out = {"type": tool.get("type", "function"), "name": function.get("name")}
    if function.get("description"):
        out["description"] = function["description"]
    if "parameters" in function:
        out["parameters"] = function["parameters"]
    return out


def _set_messages(
    span: Span,
    settings: TracingSettings,
    key: str,
    meta_key: str,
    messages: Sequence[Message],
    finish_reason: str | None = None,
    skip: int = 0,
) -> None:
    """Messages as semconv parts (when content is captured) plus our content-free meta list.

    A leading system message goes to `gen_ai.system_instructions`, as the conventions ask, even
    when `skip` (the compact mode's already-recorded prefix) leaves it out of the messages.
    """
    system = bool(messages) and messages[0].role == "system" and key == sc.INPUT_MESSAGES
    if finish_reason is not None:  # an output message: encoded once, with its finish reason
        span.set_attribute(meta_key, _json([sc.message_meta(m) for m in messages]))
        if settings.capture_content:
            parts = [sc.message_to_parts(m, settings.redact) for m in messages]
            for p in parts:
                p["finish_reason"] = finish_reason
            span.set_attribute(key, _json(parts))
        return
    if not settings.capture_content:
        span.set_attribute(meta_key, _CACHE.encode(messages[skip:], None)[1])
        return
    if system:
        span.set_attribute(
            sc.SYSTEM_INSTRUCTIONS, _json(sc.system_instructions(messages[0], settings.redact))
        )
    # The meta list covers the system message too; the parts list leaves it to the attribute above.
    drop = 1 if system and skip == 0 and _plain_text(messages[0]) else 0
    parts_json, meta_json = _CACHE.encode(messages[skip:], settings.redact, drop)
    span.set_attributes({key: parts_json, meta_key: meta_json})


class _EncodedMessages:
    """JSON of each message's parts and meta, encoded once and reused by later chat spans.

    Every chat span repeats the history, so without this each call re-encodes every earlier
    message. An entry is used only while the message's fields are the very objects it was
    encoded from, compared by identity field by field (a message changed afterwards is encoded
    again); it keeps a reference to the message so that an `id()` is never reused while the
    entry lives. Bounded: when full, it starts over.
    """

    def __init__(self, size: int = 16_384) -> None:
        self._size = size
        self._items: dict[int, tuple[Any, ...]] = {}

    def encode(
        self, messages: Sequence[Message], redact: sc.Redactor | None, drop: int = 0
    ) -> tuple[str, str]:
        """The `[...]` JSON lists of the messages' parts (less the first `drop`) and meta."""
        parts: list[str] = []
        metas: list[str] = []
        items = self._items
        for m in messages:
            entry = items.get(id(m))
            if (
                entry is None
                or entry[0] is not m
                or entry[1] is not redact
                or not _same_objects(entry[2], m.__dict__.values())
            ):
                entry = self._put(m, redact)
            parts.append(entry[3])
            metas.append(entry[4])
        return "[" + ",".join(parts[drop:]) + "]", "[" + ",".join(metas) + "]"

    def _put(self, m: Message, redact: sc.Redactor | None) -> tuple[Any, ...]:
        parts = _json(sc.message_to_parts(m, redact))
        fields = tuple(m.__dict__.values())
        entry = (m, redact, fields, parts, _json(sc.message_meta(m)))
        if len(self._items) >= self._size:
            self._items.clear()
        self._items[id(m)] = entry
        return entry


def _same_objects(known: tuple[Any, ...], now: Iterable[Any]) -> bool:
    return all(a is b for a, b in zip(known, now, strict=True))


_CACHE = _EncodedMessages()


def _plain_text(message: Message) -> bool:
    """A system message that `gen_ai.system_instructions` says in full (text, nothing else)."""
    return message.content is not None and not message.name and not message.media()


def _set_usage(span: Span, metrics: Metrics) -> None:
    span.set_attributes(
        {
            sc.GEN_AI_USAGE_INPUT_TOKENS: metrics.input_tokens,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: metrics.output_tokens,
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: metrics.cache_read_tokens,
            sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: metrics.cache_write_tokens,
            sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: metrics.cache_write_tokens,
            sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: metrics.reasoning_tokens,
        }
    )


def lineage_status(exc: BaseException) -> str:
    """The `definable_trace.lineage.status` of a replay's or fork's run that `exc` stopped."""
    if isinstance(exc, DivergenceError):
        return "diverged"
    if isinstance(exc, (KeyboardInterrupt, SystemExit, asyncio.CancelledError)):
        return "interrupted"
    return "failed"

"""The spans of one run: `invoke_agent`, then `chat` per model call and `execute_tool` per tool.

The run loop never touches OpenTelemetry; its drivers wrap each step in these objects. Spans
are started with an explicit parent instead of being made current, because streamed runs yield
to user code between steps and an attached context would leak into it. Every method returns
early when the span is not recording, so tracing off costs next to nothing.

What a span records is what was sent: each message is encoded when its span is written, once
per run (a run's chat spans repeat its history; a message is encoded the first time and its JSON
reused by the run's later spans, and forgotten when the run ends). Nothing is kept across runs,
so a message edited in place between two runs is recorded as it was sent the second time.

Privacy: with `capture_content` off no text the user or the model wrote reaches a span (no
message parts, tool arguments or results, error messages, exception stack traces, file names,
media); `redact` is applied to every string that can carry such text before it is recorded.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from .. import _semconv as sc
from .._errors import DivergenceError
from .._messages import Message, Metrics
from .._models._base import Model, ModelResponse
from ._setup import TracingSettings

__all__ = ["ChatSpan", "RunInfo", "RunSpans", "ToolSpan"]

logger = logging.getLogger("definable_trace")
_F = TypeVar("_F", bound=Callable[..., None])
Attributes = dict[str, AttributeValue]


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
# The plain-text summary on the run span is for viewers' lists, not for replay (the chat spans
# hold every message exactly): long texts are cut.
_SUMMARY_CHARS = 1_000


@dataclass
class RunInfo:
    """Who and what a run is: the attributes every span of the run carries."""

    agent_name: str | None
    model: Model
    run_id: str | None  # None: the run span's span id (see `RunSpans`)
    session_id: str
    user_id: str | None
    turn_index: int
    extra: Attributes = field(default_factory=lambda: {})

    def common(self) -> Attributes:
        """What every span of the run carries (the session on each, as viewers group by it)."""
        attrs: Attributes = {
            **self.extra,
            sc.GEN_AI_PROVIDER_NAME: self.model.provider,
            sc.GEN_AI_CONVERSATION_ID: self.session_id,
            sc.SESSION_ID: self.session_id,
        }
        if self.user_id:
            attrs[sc.USER_ID] = self.user_id
        if self.agent_name:
            attrs[sc.GEN_AI_AGENT_NAME] = self.agent_name
        return attrs

    def identity(self) -> Attributes:
        """The run's turn number: on the run span and its tool spans. A chat span (most of a
        trace) leaves it out; the loader finds its run through its parent, the run span."""
        return {sc.ATTR_TURN_INDEX: self.turn_index}


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

Counts = tuple[int, int, int, int, int]


def _counts(metrics: Metrics) -> Counts:
    """A message's token counts, the ones its chat span's `gen_ai.usage.*` says."""
    return (
        metrics.input_tokens,
        metrics.output_tokens,
        metrics.cache_read_tokens,
        metrics.cache_write_tokens,
        metrics.reasoning_tokens,
    )


class _Answers:
    """Per session, the answers whose chat span this process recorded (message id -> the
    counts its usage holds): their meta entries leave the counts out in every list of the
    session (`sc.USAGE_COUNTS`), since the loader finds them on that span.

    Exact, never a guess: an answer is left out only when it still has the counts its span
    recorded, in the session its span is in, recorded by the same tracing configuration (a
    `configure_tracing` to another file starts afresh). Bounded like `_RecordedHistories`: a
    forgotten session's older answers are written with their counts again (more bytes, the
    same messages read back).
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[object, dict[str, Counts]]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, session_id: str, settings: object) -> dict[str, Counts]:
        """The session's answers, shared with the runs of the session (a run adds to it)."""
        with self._lock:
            found = self._items.get(session_id)
            if found is None or found[0] is not settings:
                found = self._items[session_id] = (settings, {})
            self._items.move_to_end(session_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
            return found[1]


_ANSWERS = _Answers()
_ANSWERS_PER_SESSION = 65_536


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class _Encoder:
    """Messages' parts and meta entries, for the spans of one run.

    A run's chat spans repeat its history, so a message's two dicts are built once per run and
    reused by the run's later spans (keyed by identity, holding the message so the key stays
    its own); each span then encodes its two lists with one `orjson.dumps` each. Made per run
    and dropped with it: a history edited in place between runs is encoded again, so a span
    records what was sent. (A cache across runs would have to key on every field's content,
    nested dicts included, which costs about what building the dicts does.)
    """

    __slots__ = ("_items", "answers", "capture", "redact")

    def __init__(self, capture: bool, redact: sc.Redactor | None) -> None:
        self.capture = capture
        self.redact = redact
        self._items: dict[int, _Encoded] = {}
        # The session's answers recorded here (`_Answers`): their entries leave counts out.
        self.answers: dict[str, Counts] = {}

    def lists(self, messages: Sequence[Message], drop: int = 0) -> tuple[str, str]:
        """The JSON lists of the messages' parts (less the first `drop`; `""` with content
        capture off) and of their meta entries, each `ts` equal to the one before it left
        out (as `sc.omit_repeated_ts` says)."""
        parts: list[dict[str, Any] | None] = []
        metas: list[dict[str, Any]] = []
        items = self._items
        previous: int | None = None
        for m in messages:
            entry = items.get(id(m))
            if entry is None or entry.message is not m:
                entry = self._encode(m)
            parts.append(entry.parts)
            ts = m.created_at
            metas.append(entry.without_ts() if ts == previous else entry.meta)
            previous = ts
        return (_json(parts[drop:]) if self.capture else ""), _json(metas)

    def _encode(self, m: Message) -> _Encoded:
        parts = sc.message_to_parts(m, self.redact) if self.capture else None
        known = self.answers.get(m.id) if m.metrics is not None else None
        counts = known is None or m.metrics is None or known != _counts(m.metrics)
        meta = sc.message_meta(m, content=self.capture, redact=self.redact, counts=counts)
        entry = _Encoded(m, parts, meta)
        self._items[id(m)] = entry
        return entry


class _Encoded:
    """One message's parts and meta entry (and, made when first needed, the entry without its
    time), held with the message so that its identity stays its own while cached."""

    __slots__ = ("_short", "message", "meta", "parts")

    def __init__(
        self, message: Message, parts: dict[str, Any] | None, meta: dict[str, Any]
    ) -> None:
        self.message = message
        self.parts = parts
        self.meta = meta
        self._short: dict[str, Any] | None = None

    def without_ts(self) -> dict[str, Any]:
        if self._short is None:
            self._short = {k: v for k, v in self.meta.items() if k != "ts"}
        return self._short


def _redacted(settings: TracingSettings, text: str) -> str:
    return settings.redact(text) if settings.redact and text else text


def _error_type(exc: BaseException) -> str:
    return getattr(exc, "error_type", None) or type(exc).__qualname__


def _fail(span: Span, settings: TracingSettings, exc: BaseException) -> None:
    """An ERROR status and an `exception` event. Their texts (the message, the stack trace,
    which can echo a key or the user's words) are recorded only with content capture on, and
    redacted; without it, the error type alone."""
    error_type = _error_type(exc)
    span.set_attribute(sc.ERROR_TYPE, error_type)
    event: Attributes = {sc.EXCEPTION_TYPE: f"{type(exc).__module__}.{type(exc).__qualname__}"}
    if settings.capture_content:
        description = _redacted(settings, str(exc)) or error_type
        event[sc.EXCEPTION_MESSAGE] = _redacted(settings, str(exc))
        event[sc.EXCEPTION_STACKTRACE] = _redacted(
            settings, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        )
    else:
        description = error_type
    span.set_status(Status(StatusCode.ERROR, description))
    span.add_event(sc.EXCEPTION_EVENT, event)


def _with_entry(metas: str, entry: str) -> str:
    """A meta list's JSON with one more entry: the answer's, after the input's, so that the
    list is the next call's prefix."""
    return f"{metas[:-1]},{entry}]" if len(metas) > 2 else f"[{entry}]"


def _summary(settings: TracingSettings, messages: Sequence[Message]) -> str:
    text = "\n".join(m.content for m in messages if m.content)
    if len(text) > _SUMMARY_CHARS:
        text = text[: _SUMMARY_CHARS - 1] + "…"
    return _redacted(settings, text)


class RunSpans:
    """The `invoke_agent` span of a run and the factory of its children.

    The run span holds what viewers list (a plain-text `input.value`/`output.value`, usage,
    errors); the messages themselves are on the chat spans, written once. Only an input that
    the chat spans cannot say alone (anything but one new user message) is also written here,
    so that the loader can tell the turn's own input from the history it continued.
    """

    def __init__(self, settings: TracingSettings, info: RunInfo) -> None:
        self.settings = settings
        self.info = info
        name = f"invoke_agent {info.agent_name}" if info.agent_name else "invoke_agent"
        self.span = settings.tracer.start_span(name, kind=SpanKind.INTERNAL)
        self.context: Context = trace.set_span_in_context(self.span)
        self.recording = self.span.is_recording()
        self.common: Attributes = {}
        self.identity: Attributes = {}
        self.encoder = _Encoder(settings.capture_content, settings.redact)
        self.recorded: tuple[str, ...] = ()
        # The run's id is its span's id (16 hex digits), so no span has to write it: the loader
        # reads it off the run span, and finds the run of a chat or tool span by its parent. A
        # caller's own run id is written (`definable_trace.run.id`, on the run span only); with
        # no recording span, a random id of the same form.
        span_id = f"{self.span.get_span_context().span_id:016x}" if self.recording else None
        self.run_id: str = info.run_id or span_id or secrets.token_hex(8)
        info.run_id = self.run_id
        if not self.recording:
            return
        self.common = info.common()
        self.identity = info.identity()
        head: Attributes = {**self.common, **self.identity}
        if self.run_id != span_id:
            head[sc.ATTR_RUN_ID] = self.run_id
        # No `gen_ai.request.model` here: it is a call's (a run may call more than one model,
        # a fork may switch), and the run's chat spans carry it.
        self._set({**head, sc.GEN_AI_OPERATION_NAME: "invoke_agent"})
        self.encoder.answers = _ANSWERS.of(info.session_id, settings)
        if settings.history == "delta":
            self.recorded = _RECORDED.get(info.session_id)

    @_never_raises
    def _set(self, attrs: Attributes) -> None:
        self.span.set_attributes(attrs)

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
            _RECORDED.put(self.info.session_id, self.recorded)

    @_never_raises
    def record_input(self, new_messages: Sequence[Message]) -> None:
        """The messages this run added before calling the model (the user's input)."""
        if not self.recording:
            return
        settings = self.settings
        if settings.capture_content:
            # No `input.mime_type`: Phoenix reads an unset one as `text/plain` ("If
            # unspecified, the type is plain text by default": `phoenix.trace.schemas.MimeType`,
            # whose `_missing_` returns TEXT), and Langfuse takes `input.value` as it is.
            self.span.set_attribute(sc.INPUT_VALUE, _summary(settings, new_messages))
        if len(new_messages) != 1 or new_messages[0].role != "user":
            parts, meta = self.encoder.lists(new_messages)
            self.span.set_attribute(sc.ATTR_MESSAGES, meta)
            if settings.capture_content:
                self.span.set_attribute(sc.INPUT_MESSAGES, parts)

    def chat(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], stream: bool
    ) -> ChatSpan:
        return ChatSpan(self, messages, tools, stream)

    def tool(self, call: dict[str, Any]) -> ToolSpan:
        return ToolSpan(self, call)

    def finish(self, final: Message | None, metrics: Metrics) -> None:
        """End the run span; `metrics` (the run's summed usage) is not recorded on it (see
        `_record_output`)."""
        del metrics
        if self.recording:
            self._record_output(final)
        self.span.end()

    @_never_raises
    def _record_output(self, final: Message | None) -> None:
        """The answer's plain-text summary (no `output.mime_type`: text is the default).

        No usage totals: every chat span carries its own, Langfuse takes usage from chat spans
        only, and Phoenix converts `gen_ai.usage.*` on any span into `llm.token_count.*` and
        sums them over a trace and a session (`phoenix.trace.gen_ai.conversion`), so totals
        here would count every token twice."""
        if final is not None and self.settings.capture_content:
            self.span.set_attribute(sc.OUTPUT_VALUE, _summary(self.settings, [final]))

    def fail(self, exc: BaseException) -> None:
        if self.recording:
            self._record_failure(exc)
        self.span.end()

    @_never_raises
    def _record_failure(self, exc: BaseException) -> None:
        _fail(self.span, self.settings, exc)
        if sc.ATTR_LINEAGE_KIND in self.common:  # a replay's or fork's run: mark how it stopped
            self.span.set_attribute(sc.ATTR_LINEAGE_STATUS, lineage_status(exc))


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
        self.stream = stream
        self.started = time.perf_counter()
        self.sent: Sequence[Message] = ()
        # Its meta list of the messages sent (JSON), written when the call ends, with the
        # answer's entry when there is one; the time of its last entry.
        self.meta: str | None = None
        self.last_ts: int | None = None
        self.span = run.settings.tracer.start_span(
            f"chat {run.info.model.id}", context=run.context, kind=SpanKind.CLIENT
        )
        if run.recording and self.span.is_recording():
            self._record_request(messages, tools, stream)

    def _metric_attrs(self) -> Attributes:
        model = self.run.info.model
        return {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: model.provider,
            sc.GEN_AI_REQUEST_MODEL: model.id,
        }

    @_never_raises
    def _record_request(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], stream: bool
    ) -> None:
        run = self.run
        model = run.info.model
        settings = run.settings
        attrs: Attributes = {
            **run.common,
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_REQUEST_MODEL: model.id,
        }
        if stream:  # absent means not streamed
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
        if model.server_address:
            attrs[sc.SERVER_ADDRESS] = model.server_address
        if model.server_port:
            attrs[sc.SERVER_PORT] = model.server_port
        for key, value in model.request_parameters().items():
            if key in _PARAMS and isinstance(value, (int, float)):
                attrs[_PARAMS[key]] = value
        skip = run.recorded_prefix(messages)
        if skip:
            attrs[sc.ATTR_INPUT_OFFSET] = skip
        self.sent = messages
        if len(messages) > skip:
            self.last_ts = messages[-1].created_at
        if settings.capture_content:
            # The system prompt goes to `gen_ai.system_instructions`, as the conventions ask,
            # even when `skip` (compact mode's recorded prefix) leaves it out of the messages;
            # the meta list covers it too, and the parts list leaves a plain-text one out.
            drop = 0
            if messages and messages[0].role == "system":
                attrs[sc.SYSTEM_INSTRUCTIONS] = _json(
                    sc.system_instructions(messages[0], settings.redact)
                )
                drop = 1 if skip == 0 and _plain_text(messages[0]) else 0
            parts, self.meta = run.encoder.lists(messages[skip:], drop)
            attrs[sc.INPUT_MESSAGES] = parts
            if tools:
                attrs[sc.TOOL_DEFINITIONS] = _json([_tool_def(t) for t in tools])
        else:
            self.meta = run.encoder.lists(messages[skip:])[1]
        self.span.set_attributes(attrs)

    def finish(self, response: ModelResponse) -> None:
        message = response.message
        metrics = message.metrics or Metrics()
        if self.span.is_recording():
            self._record_response(response, message, metrics)
        self.span.end()
        attrs = self._metric_attrs()
        attrs[sc.GEN_AI_RESPONSE_MODEL] = response.response_model or ""
        self._record_metrics(
            attrs,
            metrics.duration or (time.perf_counter() - self.started),
            metrics.input_tokens,
            metrics.output_tokens,
        )

    @_never_raises
    def _record_metrics(
        self, attrs: Attributes, duration: float, inputs: int | None, outputs: int | None
    ) -> None:
        self.run.settings.instruments.record(attrs, duration, inputs, outputs)

    @_never_raises
    def _record_response(self, response: ModelResponse, message: Message, metrics: Metrics) -> None:
        run = self.run
        attrs = _usage(metrics)
        if response.response_id:
            attrs[sc.GEN_AI_RESPONSE_ID] = response.response_id
        if response.response_model:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = response.response_model
        if response.finish_reason:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [response.finish_reason]
        finish = _FINISH.get(response.finish_reason or "stop", response.finish_reason or "stop")
        if self.stream and metrics.time_to_first_token is not None:
            attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = metrics.time_to_first_token
        run.remember([*self.sent, message])
        # An output message is encoded on its own (with its finish reason), never reused. Its
        # meta entry ends the list of the messages sent, in the form the session's next calls
        # give it: without its token counts, which this span's usage holds (remembered as
        # recorded here, `_Answers`). Written after the usage: a span that ran out of attribute
        # room drops the list with it, so the usage still says whether the answer is there.
        settings = run.settings
        if self.meta is not None:
            meta = sc.message_meta(
                message, content=settings.capture_content, redact=settings.redact, counts=False
            )
            entry = _json(sc.omit_repeated_ts([meta], self.last_ts)[0])
            attrs[sc.ATTR_MESSAGES] = _with_entry(self.meta, entry)
        if settings.capture_content:
            part = sc.message_to_parts(message, settings.redact)
            part["finish_reason"] = finish
            attrs[sc.OUTPUT_MESSAGES] = _json([part])
        self.span.set_attributes(attrs)
        if self.meta is not None and message.metrics is not None:
            # Written: its entry ends this span's list (the loader finds the span by its id),
            # its counts are this span's usage. Later lists of the session leave them out.
            answers = run.encoder.answers
            if len(answers) >= _ANSWERS_PER_SESSION:  # a session re-run without end
                answers.clear()  # its older answers are written with their counts again
            answers[message.id] = _counts(message.metrics)

    def fail(self, exc: BaseException) -> None:
        if self.span.is_recording():
            self._record_failure(exc)
        self.span.end()
        attrs = self._metric_attrs()
        attrs[sc.ERROR_TYPE] = _error_type(exc)
        self._record_metrics(attrs, time.perf_counter() - self.started, None, None)

    @_never_raises
    def _record_failure(self, exc: BaseException) -> None:
        if self.meta is not None:  # no answer: the messages sent
            self.span.set_attribute(sc.ATTR_MESSAGES, self.meta)
        _fail(self.span, self.run.settings, exc)


class ToolSpan:
    """One tool execution. A failing tool marks this span as an error; the run goes on."""

    def __init__(self, run: RunSpans, call: dict[str, Any]) -> None:
        self.run = run
        function = sc.call_function(call)
        name = str(function.get("name") or "tool")
        self.span = run.settings.tracer.start_span(
            f"execute_tool {name}", context=run.context, kind=SpanKind.INTERNAL
        )
        if run.recording and self.span.is_recording():
            self._record_call(name, call, function)

    @contextmanager
    def current(self) -> Generator[None, None, None]:
        """The tool's span made current while the tool runs, so its own spans nest under it.
        Failures are recorded by `fail` (with the content policy), not by `use_span`."""
        with trace.use_span(
            self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        ):
            yield

    @_never_raises
    def _record_call(self, name: str, call: dict[str, Any], function: dict[str, Any]) -> None:
        run = self.run
        attrs: Attributes = {
            **run.common,
            **run.identity,
            sc.GEN_AI_OPERATION_NAME: "execute_tool",
            sc.GEN_AI_TOOL_NAME: name,
            sc.GEN_AI_TOOL_TYPE: "function",
        }
        if call.get("id"):
            attrs[sc.GEN_AI_TOOL_CALL_ID] = call["id"]
        if run.settings.capture_content:
            attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = _redacted(
                run.settings, str(function.get("arguments") or "")
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
        if error:  # the error's type name: its text is the tool result, recorded above
            self.span.set_attribute(sc.ERROR_TYPE, error)
            self.span.set_status(Status(StatusCode.ERROR, error))

    def fail(self, exc: BaseException) -> None:
        """The tool raised what a tool run does not catch (KeyboardInterrupt, cancellation)."""
        if self.span.is_recording():
            self._record_failure(exc)
        self.span.end()

    @_never_raises
    def _record_failure(self, exc: BaseException) -> None:
        _fail(self.span, self.run.settings, exc)


def _tool_def(tool: dict[str, Any]) -> dict[str, Any]:
    function = sc.call_function(tool)
    out: dict[str, Any] = {"type": tool.get("type", "function"), "name": function.get("name")}
    if function.get("description"):
        out["description"] = function["description"]
    if "parameters" in function:
        out["parameters"] = function["parameters"]
    return out


def _plain_text(message: Message) -> bool:
    """A system message that `gen_ai.system_instructions` says in full (text, nothing else)."""
    return message.content is not None and not message.name and not message.media()


def _usage(metrics: Metrics) -> Attributes:
    """Token counts; the cache and reasoning ones only when the provider reported some (a
    missing count reads as 0, and most calls have none: 4 attributes fewer per span)."""
    attrs: Attributes = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: metrics.input_tokens,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: metrics.output_tokens,
    }
    if metrics.cache_read_tokens:
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = metrics.cache_read_tokens
    if metrics.cache_write_tokens:
        attrs[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = metrics.cache_write_tokens
        attrs[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = metrics.cache_write_tokens
    if metrics.reasoning_tokens:
        attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = metrics.reasoning_tokens
    return attrs


def lineage_status(exc: BaseException) -> str:
    """The `definable_trace.lineage.status` of a replay's or fork's run that `exc` stopped."""
    if isinstance(exc, DivergenceError):
        return "diverged"
    if isinstance(exc, (KeyboardInterrupt, SystemExit, asyncio.CancelledError)):
        return "interrupted"
    return "failed"

"""One schema for writing and reading messages in spans: the GenAI semconv parts format.

The emitter (`_tracing`) turns `Message` objects into the standard `gen_ai.*.messages` JSON, and
the loader turns that JSON back into `Message` objects with the same functions' inverses, so a
round-trip test pins the two together. What the standard has no place for (message ids, times,
per-message metrics, media details) goes into a parallel list, `definable_trace.messages`
(`definable_trace.*.messages.meta` in files written before), that holds no content: it
survives when content capture is off.

Parts written (semconv names): `text`, `reasoning`, `tool_call` (arguments as an object when the
raw JSON string is the compact encoding of it, else the raw string, so the round trip is exact),
`tool_call_response`, `uri`, `blob` (base64), `file` (provider file id).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson

from ._messages import Audio, File, Image, Media, Message, Metrics, Video

__all__ = [
    "ATTR_INPUT_META",
    "ATTR_INPUT_OFFSET",
    "ATTR_LINEAGE_KIND",
    "ATTR_LINEAGE_PARENT",
    "ATTR_LINEAGE_STATUS",
    "ATTR_LINEAGE_TURN",
    "ATTR_MESSAGES",
    "ATTR_OUTPUT_META",
    "ATTR_RUN_ID",
    "ATTR_TURN_INDEX",
    "USAGE_COUNTS",
    "Redactor",
    "ToolCallPart",
    "answered",
    "call_function",
    "compact_json",
    "counts_left_out",
    "message_from_parts",
    "message_meta",
    "message_to_parts",
    "metrics_dict",
    "metrics_from_meta",
    "omit_repeated_ts",
    "system_instructions",
    "usage_into_meta",
]

Redactor = Callable[[str], str]

# --- The attribute table: every span attribute name the writer sets and the loader reads. ---
# Our own constants rather than `opentelemetry-semantic-conventions`' incubating module: those
# names move between its releases (and to the semantic-conventions-genai repository), and a
# beta pin on it would stop applications on other OpenTelemetry releases from installing us.
# tests/test_semconv_table.py checks each name against the installed semconv package.
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
# Renamed in current conventions (`cache_creation` → `cache_write`); written under both names
# while viewers read either.
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
SESSION_ID = "session.id"
USER_ID = "user.id"
ERROR_TYPE = "error.type"
# The exception event (general semconv), written by us so its texts follow the content policy.
EXCEPTION_EVENT = "exception"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"
EXCEPTION_TYPE = "exception.type"
# The plain-text summary viewers list a trace by (OpenInference's names, read by Phoenix and
# Langfuse): the run's new input and its final answer, on the `invoke_agent` span.
# The mime types are not written (Phoenix reads an unset one as text, see `_tracing._spans`);
# the names stay for readers of files written before.
INPUT_MIME_TYPE = "input.mime_type"
INPUT_VALUE = "input.value"
OUTPUT_MIME_TYPE = "output.mime_type"
OUTPUT_VALUE = "output.value"
MIME_TEXT = "text/plain"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
# The GenAI client metrics.
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
# The content-capture switch of the GenAI instrumentations (util-genai's variable name).
ENV_CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# Our namespace, for what the GenAI conventions have no attribute for.
ATTR_INPUT_META = "definable_trace.input.messages.meta"
# Compact mode: the number of leading input messages left out because an earlier chat span of
# the same session already holds them (its input followed by its output).
ATTR_INPUT_OFFSET = "definable_trace.input.messages.offset"
ATTR_OUTPUT_META = "definable_trace.output.messages.meta"
# The one content-free meta list a span of ours carries (since issue 7 point 4; the two lists
# above are read in files written before). On a chat span: one entry per message sent, then,
# when the call answered, the answer's entry, so that the list is a prefix of the next call's.
# The last entry is the answer exactly when the span has `gen_ai.usage.output_tokens`, which
# every answered chat span carries (written in the same `set_attributes`) and a failed call
# never has: a marker that costs no byte. On a run span: its own input's entries (no usage,
# so no answer), when that input is not exactly one user message.
ATTR_MESSAGES = "definable_trace.messages"
ATTR_RUN_ID = "definable_trace.run.id"
# Where a session came from, on every span of a replay or fork (written by `_replay`).
ATTR_LINEAGE_KIND = "definable_trace.lineage.kind"  # "fork" | "replay"
ATTR_LINEAGE_PARENT = "definable_trace.lineage.parent_session"
ATTR_LINEAGE_TURN = "definable_trace.lineage.turn"
# Set on the spans of a replay's or fork's run that did not complete: "diverged" (a recorded
# replay asked what the recording never answered), "interrupted" (Ctrl-C, SIGTERM) or "failed".
ATTR_LINEAGE_STATUS = "definable_trace.lineage.status"
ATTR_TURN_INDEX = "definable_trace.turn.index"
# Read side only: names other instrumentations write and the loader reads (we never write them).
GEN_AI_SYSTEM = "gen_ai.system"  # the provider, before `gen_ai.provider.name`
LANGFUSE_SESSION_ID = "langfuse.session.id"
TRACELOOP_SESSION_ID = "traceloop.association.properties.session_id"
TRACELOOP_SPAN_KIND = "traceloop.span.kind"
TRACELOOP_WORKFLOW_NAME = "traceloop.workflow.name"
TRACELOOP_ENTITY_NAME = "traceloop.entity.name"
LLM_REQUEST_TYPE = "llm.request.type"  # OpenLLMetry
LLM_MODEL_NAME = "llm.model_name"  # OpenInference
LLM_SYSTEM = "llm.system"  # OpenInference
OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
# Deprecated semconv names (the package still spells them; older writers set them).
GEN_AI_USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
GEN_AI_USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
# `gen_ai.*`-looking names that no semconv release has (OpenLLMetry's and others' own), and
# prefixes of flattened content: `LEGACY_` keeps them out of the check of `GEN_AI_*` names
# against the semconv package (tests/test_semconv_table.py).
NAMESPACE_GEN_AI = "gen_ai."
LEGACY_GEN_AI_USAGE_TOTAL_TOKENS = "gen_ai.usage.total_tokens"
LEGACY_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read_input_tokens"
LEGACY_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation_input_tokens"
LEGACY_GEN_AI_USAGE_REASONING_TOKENS = "gen_ai.usage.reasoning_tokens"
LEGACY_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN = "gen_ai.server.time_to_first_token"
LEGACY_GEN_AI_PROMPT_PREFIX = "gen_ai.prompt."  # OpenLLMetry before 0.55: `….{i}.role` etc.
LEGACY_GEN_AI_COMPLETION_PREFIX = "gen_ai.completion."
# OpenLLMetry (`opentelemetry-semantic-conventions-ai`'s `llm.*` names) and its scopes.
LLM_USAGE_PROMPT_TOKENS = "llm.usage.prompt_tokens"
LLM_USAGE_COMPLETION_TOKENS = "llm.usage.completion_tokens"
LLM_USAGE_TOTAL_TOKENS = "llm.usage.total_tokens"
LLM_USAGE_REASONING_TOKENS = "llm.usage.reasoning_tokens"
LLM_REQUEST_MODEL = "llm.request.model"
LLM_RESPONSE_MODEL = "llm.response.model"
LLM_FINISH_REASON = "llm.finish_reason"
TRACELOOP_ENTITY_INPUT = "traceloop.entity.input"
TRACELOOP_ENTITY_OUTPUT = "traceloop.entity.output"
NAMESPACE_TRACELOOP = "traceloop."  # an attribute prefix, and a scope name prefix
SCOPE_OPENLLMETRY_OPENAI = "opentelemetry.instrumentation.openai"
SCOPE_OPENAI_V2 = "opentelemetry.instrumentation.openai_v2"  # the official one, not Traceloop's
# OpenInference (`openinference-semantic-conventions`' `SpanAttributes`/`ToolCallAttributes`).
LLM_TOKEN_COUNT_PROMPT = "llm.token_count.prompt"
LLM_TOKEN_COUNT_COMPLETION = "llm.token_count.completion"
LLM_TOKEN_COUNT_TOTAL = "llm.token_count.total"
LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ = "llm.token_count.prompt_details.cache_read"
LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING = "llm.token_count.completion_details.reasoning"
LLM_INVOCATION_PARAMETERS = "llm.invocation_parameters"
LLM_INPUT_MESSAGES_PREFIX = "llm.input_messages."  # `….{i}.message.role` etc.
LLM_OUTPUT_MESSAGES_PREFIX = "llm.output_messages."
TOOL_NAME = "tool.name"
TOOL_PARAMETERS = "tool.parameters"
TOOL_CALL_ID = "tool_call.id"
# GenAI events as log records (the event name, in `event.name` or the record's own field).
EVENT_NAME = "event.name"
EVENT_GEN_AI_SYSTEM_MESSAGE = "gen_ai.system.message"
EVENT_GEN_AI_USER_MESSAGE = "gen_ai.user.message"
EVENT_GEN_AI_ASSISTANT_MESSAGE = "gen_ai.assistant.message"
EVENT_GEN_AI_TOOL_MESSAGE = "gen_ai.tool.message"
EVENT_GEN_AI_CHOICE = "gen_ai.choice"
EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS = "gen_ai.client.inference.operation.details"
# Where a session id may be, first found wins (our spans write the first two, equal; OpenLLMetry
# and Langfuse the others): a convention with a session attribute of its own adds it here.
SESSION_KEYS = (GEN_AI_CONVERSATION_ID, SESSION_ID, TRACELOOP_SESSION_ID, LANGFUSE_SESSION_ID)

# OTLP's enum names (what protobuf's JSON mapping and Phoenix write) as the integers OTLP/JSON
# uses: read by the loader and by the trace-store adapters alike.
OTLP_SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
OTLP_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}

# Short names for the content attributes.
INPUT_MESSAGES = GEN_AI_INPUT_MESSAGES
OUTPUT_MESSAGES = GEN_AI_OUTPUT_MESSAGES
SYSTEM_INSTRUCTIONS = GEN_AI_SYSTEM_INSTRUCTIONS
TOOL_DEFINITIONS = GEN_AI_TOOL_DEFINITIONS

_MODALITY = {"image": "image", "audio": "audio", "video": "video", "file": "document"}
_KIND: dict[str, type[Media]] = {
    "image": Image,
    "audio": Audio,
    "video": Video,
    "document": File,
    "file": File,
}
_MEDIA_EXTRAS = ("id", "detail", "format", "filename")


def _keep(text: str | None, redact: Redactor | None) -> str | None:
    return redact(text) if (redact is not None and text) else text


def _kept(text: str, redact: Redactor | None) -> str:
    return redact(text) if (redact is not None and text) else text


def call_function(call: Mapping[str, Any]) -> dict[str, Any]:
    """The `function` object of an OpenAI-style tool call (`{}` when it has none)."""
    function = call.get("function")
    return cast("dict[str, Any]", function) if isinstance(function, dict) else {}


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    """One tool call, typed: what `Message.tool_calls` holds as OpenAI-shaped dicts
    (`{"id", "type": "function", "function": {"name", "arguments"}}`), the shape users and
    round trips need, read in one place instead of re-parsing the nesting at every use.

    `id`/`name`: None when absent or not a string (damaged input). `arguments`: as found, a
    JSON string when OpenAI's shape is followed (another writer may have put an object).
    """

    id: str | None
    name: str | None
    arguments: object = None

    @classmethod
    def from_openai(cls, call: Mapping[str, Any]) -> ToolCallPart:
        function = call_function(call)
        call_id, name = call.get("id"), function.get("name")
        return cls(
            call_id if isinstance(call_id, str) else None,
            name if isinstance(name, str) else None,
            function.get("arguments"),
        )

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI dict; arguments that are no string become their compact JSON (`{}` for
        none), as the API sends them."""
        arguments = self.arguments
        if not isinstance(arguments, str):
            arguments = compact_json(arguments if arguments is not None else {})
        return {
            "id": self.id if self.id is not None else "",
            "type": "function",
            "function": {
                "name": self.name if self.name is not None else "",
                "arguments": arguments,
            },
        }


def message_to_parts(message: Message, redact: Redactor | None = None) -> dict[str, Any]:
    """A `Message` in the semconv message shape `{"role", "parts", "name"?}`."""
    parts: list[dict[str, Any]] = []
    if message.reasoning_content is not None:
        parts.append({"type": "reasoning", "content": _keep(message.reasoning_content, redact)})
    if message.role == "tool":
        parts.append(
            {
                "type": "tool_call_response",
                "id": message.tool_call_id,
                "response": _keep(message.content, redact),
            }
        )
    elif message.content is not None:
        parts.append({"type": "text", "content": _keep(message.content, redact)})
    if message.images or message.audio or message.videos or message.files:
        parts.extend(_media_parts(message.media(), redact))
    for call in message.tool_calls or ():
        parts.append(_tool_call_part(call, redact))
    out: dict[str, Any] = {"role": message.role, "parts": parts}
    if message.name:
        out["name"] = _kept(message.name, redact)
    return out


def system_instructions(message: Message, redact: Redactor | None = None) -> list[dict[str, Any]]:
    """The `gen_ai.system_instructions` value for a system message."""
    return [{"type": "text", "content": _keep(message.content or "", redact)}]


def _tool_call_part(call: dict[str, Any], redact: Redactor | None) -> dict[str, Any]:
    function = call_function(call)
    raw: Any = function.get("arguments", "")
    arguments: Any = raw
    if redact is not None:
        arguments = _keep(raw, redact)
    elif isinstance(raw, str):
        try:
            parsed: object = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and orjson.dumps(parsed).decode() == raw:
            arguments = cast("dict[str, Any]", parsed)
    part = {"type": "tool_call", "id": call.get("id"), "name": function.get("name")}
    part["arguments"] = arguments
    return part


def _media_parts(media: Iterable[Media], redact: Redactor | None) -> list[dict[str, Any]]:
    """Media as parts; `redact` sees URLs and paths (a query string can hold a token) and the
    base64 of inline bytes (it may drop or replace it)."""
    parts: list[dict[str, Any]] = []
    for item in media:
        modality = _MODALITY[getattr(item, "kind", "image")]
        part: dict[str, Any] = {"modality": modality, "mime_type": item.mime_type}
        if item.content is not None:
            encoded = base64.b64encode(item.content).decode("ascii")
            part.update(type="blob", content=_kept(encoded, redact))
        elif item.file_id is not None:
            part.update(type="file", file_id=item.file_id)
        else:
            part.update(type="uri", uri=_kept(item.url or item.filepath or "", redact))
        parts.append(part)
    return parts


def message_meta(
    message: Message,
    *,
    content: bool = True,
    redact: Redactor | None = None,
    counts: bool = True,
) -> dict[str, Any]:
    """What the parts cannot say about a message: identity, time, metrics, media details.

    Holds no message text, so it is written even when content capture is off (`content=False`);
    a file's name, which can say as much as its content, is then left out, and otherwise passed
    through `redact`. Metrics omit their zero counts, except `output_tokens` (see
    `USAGE_COUNTS`); `counts=False` leaves every token count out, for an answer whose chat
    span of the same session holds them as its usage.
    """
    # The role only without content: with it, the message's parts say it (and the loader
    # builds the parts-less system message as one).
    if content:
        meta: dict[str, Any] = {"id": message.id, "ts": message.created_at}
    else:
        meta = {"role": message.role, "id": message.id, "ts": message.created_at}
    if message.metrics is not None:
        metrics = meta["metrics"] = metrics_dict(message.metrics)
        if not counts:
            for name in USAGE_COUNTS:
                metrics.pop(name, None)
        elif "output_tokens" not in metrics:
            metrics["output_tokens"] = 0  # written: its absence means "on the chat span"
    if message.tool_call_id is not None:
        meta["tool_call_id"] = message.tool_call_id
    if message.images or message.audio or message.videos or message.files:
        meta["media"] = [_media_meta(m, content, redact) for m in message.media()]
    return meta


# An answer's token counts, which its chat span carries as `gen_ai.usage.*`. They are written
# once, where the call happened: an answer produced in the same session (its chat span recorded
# by this process, the writer remembers) has them left out of its meta entry in every list, and
# the loader reads them back from that chat span (found by the answer's message id among the
# session's spans, `usage_into_meta`); an answer inherited from another session's history (a
# fork, a history given a new session id, one rebuilt in another process) keeps them, so each
# session's lists stay prefixes of each other. A kept entry always has `output_tokens` (0
# written too): an entry of `ATTR_MESSAGES` whose metrics hold no count has its counts on the
# chat span. The first name of each is the one written; the loader also reads the older
# `cache_creation` name.
USAGE_COUNTS: dict[str, tuple[str, ...]] = {
    "input_tokens": (GEN_AI_USAGE_INPUT_TOKENS,),
    "output_tokens": (GEN_AI_USAGE_OUTPUT_TOKENS,),
    "cache_read_tokens": (GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,),
    "cache_write_tokens": (
        GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
        GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    ),
    "reasoning_tokens": (GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,),
}


def omit_repeated_ts(entries: list[dict[str, Any]], previous: int | None = None) -> list[Any]:
    """Meta entries with each `ts` equal to the one before it left out (a turn's messages are
    mostly made in the same second). Reading takes a missing `ts` from the nearest earlier
    entry of the same list (the answer's: from the span's last input entry). A list keeps its
    prefix from call to call, as the loader's `TextStore` needs: an entry's form depends only
    on the entries before it."""
    out: list[Any] = []
    for entry in entries:
        ts = entry.get("ts")
        if ts is not None and ts == previous:
            entry = {k: v for k, v in entry.items() if k != "ts"}
        previous = ts
        out.append(entry)
    return out


def answered(has: Callable[[str], bool]) -> bool:
    """Whether a chat span's `ATTR_MESSAGES` list ends with its answer's entry: the span has
    `gen_ai.usage.output_tokens` (`has(attribute)`), see `ATTR_MESSAGES`."""
    return has(GEN_AI_USAGE_OUTPUT_TOKENS)


def counts_left_out(meta: dict[str, Any]) -> bool:
    """Whether an entry of `ATTR_MESSAGES` has its token counts on its answer's chat span: its
    metrics hold none (a kept entry always has `output_tokens`, see `USAGE_COUNTS`)."""
    metrics = meta.get("metrics")
    return isinstance(metrics, dict) and not any(name in metrics for name in USAGE_COUNTS)


def usage_into_meta(meta: dict[str, Any], usage: Callable[[str], int | None]) -> dict[str, Any]:
    """An answer's meta entry with the token counts left out read back from its chat span
    (`usage(attribute)`, see `USAGE_COUNTS`); a count the entry has is kept as it is."""
    metrics = meta.get("metrics")
    if not isinstance(metrics, dict):
        return meta
    restored = dict(metrics)
    for name, attributes in USAGE_COUNTS.items():
        if name in restored:
            continue
        for attribute in attributes:
            value = usage(attribute)
            if value:
                restored[name] = value
                break
    return {**meta, "metrics": restored}


_METRICS_DEFAULTS = {name: f.default for name, f in Metrics.model_fields.items()}


def metrics_dict(metrics: Metrics) -> dict[str, Any]:
    """A message's metrics for its meta entry, without what reading can restore.

    Left out: zero counts and unset times (their defaults), `total_tokens` when it is input +
    output, `time_to_first_token` when it equals `duration` (every non-streamed call). A total
    that is not the sum, or a first-token time that is unset beside a duration, is written
    (the latter as `null`). `metrics_from_meta` is the inverse; every message's metrics are in
    every later span's meta list, so this is most of what a long history costs in a trace.
    Built by hand: pydantic's `model_dump` costs more than the rest of the entry.
    """
    defaults = _METRICS_DEFAULTS
    out = {k: v for k, v in metrics.__dict__.items() if v != defaults[k]}
    if metrics.total_tokens == metrics.input_tokens + metrics.output_tokens:
        out.pop("total_tokens", None)
    else:
        out["total_tokens"] = metrics.total_tokens
    if metrics.duration is not None:
        if metrics.time_to_first_token == metrics.duration:
            del out["time_to_first_token"]
        elif metrics.time_to_first_token is None:
            out["time_to_first_token"] = None
    return out


def metrics_from_meta(data: dict[str, Any]) -> Metrics:
    """The `Metrics` a meta entry's `metrics` object says (see `metrics_dict`)."""
    fields = dict(data)
    if "total_tokens" not in fields:
        inputs, outputs = fields.get("input_tokens") or 0, fields.get("output_tokens") or 0
        if isinstance(inputs, int) and isinstance(outputs, int):
            fields["total_tokens"] = inputs + outputs
    if "time_to_first_token" not in fields and fields.get("duration") is not None:
        fields["time_to_first_token"] = fields["duration"]
    return Metrics.model_validate(fields)


def _media_meta(media: Media, content: bool, redact: Redactor | None) -> dict[str, Any]:
    extras = {k: getattr(media, k, None) for k in _MEDIA_EXTRAS}
    out = {k: v for k, v in extras.items() if v is not None}
    if "filename" in out:
        if content:
            out["filename"] = _kept(out["filename"], redact)
        else:
            del out["filename"]
    out["kind"] = getattr(media, "kind", "image")
    if content and media.filepath is not None and media.url is None and media.content is None:
        out["src"] = "filepath"
    return out


def message_from_parts(data: dict[str, Any], meta: dict[str, Any] | None = None) -> Message:
    """Rebuild a `Message` from its semconv shape plus, when present, our meta entry."""
    meta = meta or {}
    role = data.get("role") or meta.get("role") or "user"
    fields: dict[str, Any] = {"role": role}
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    media_parts: list[dict[str, Any]] = []
    parts = data.get("parts")
    for part in parts if isinstance(parts, (list, tuple)) else ():
        if not isinstance(part, dict):  # damaged input: not a part (readers warn about it)
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(_as_text(part.get("content")))
        elif kind == "reasoning":
            fields["reasoning_content"] = _as_text(part.get("content"))
        elif kind == "tool_call":
            tool_calls.append(_tool_call_from_part(part))
        elif kind == "tool_call_response":
            fields["tool_call_id"] = part.get("id")
            texts.append(_as_text(part.get("response")))
        elif kind in ("uri", "blob", "file"):
            media_parts.append(part)
    if texts:
        fields["content"] = "".join(texts)
    if tool_calls:
        fields["tool_calls"] = tool_calls
    if data.get("name"):
        fields["name"] = data["name"]
    fields.update(_fields_from_meta(meta))
    for kind, items in _media_from_parts(media_parts, meta.get("media") or []).items():
        fields[kind] = items
    return Message(**fields)


def _fields_from_meta(meta: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "id" in meta:
        fields["id"] = meta["id"]
    if "ts" in meta:
        fields["created_at"] = meta["ts"]
    if isinstance(meta.get("metrics"), dict):
        fields["metrics"] = metrics_from_meta(meta["metrics"])
    if meta.get("tool_call_id") is not None:
        fields["tool_call_id"] = meta["tool_call_id"]
    return fields


def _tool_call_from_part(part: dict[str, Any]) -> dict[str, Any]:
    """A `tool_call` part as `Message.tool_calls` holds it, through the typed `ToolCallPart`:
    an id or name that is not a string (damaged input) is read as absent, not kept (an id of
    arrays nested a thousand deep made every later dump of the message fail); arguments with
    no JSON are a `ValueError`, which the readers report, as `_as_text` does for content."""
    call_id, name = part.get("id"), part.get("name")
    typed = ToolCallPart(
        call_id if isinstance(call_id, str) else None,
        name if isinstance(name, str) else None,
        part.get("arguments"),
    )
    try:
        return typed.to_openai()
    except TypeError as exc:  # nested too deep, or not JSON
        raise ValueError(f"tool call arguments are not JSON ({exc})") from None


def _media_from_parts(
    parts: list[dict[str, Any]], metas: list[dict[str, Any]]
) -> dict[str, list[Media]]:
    out: dict[str, list[Media]] = {}
    for i, part in enumerate(parts):
        meta = metas[i] if i < len(metas) else {}
        kind = meta.get("kind") or part.get("modality") or "image"
        cls = _KIND.get(kind, File)
        fields: dict[str, Any] = {k: meta[k] for k in _MEDIA_EXTRAS if k in meta}
        fields["mime_type"] = part.get("mime_type")
        if part.get("type") == "blob":
            fields["content"] = base64.b64decode(part.get("content") or "")
        elif part.get("type") == "file":
            fields["file_id"] = part.get("file_id")
        elif meta.get("src") == "filepath":
            fields["filepath"] = part.get("uri")
        else:
            fields["url"] = part.get("uri")
        item = cls.model_validate(fields)
        out.setdefault(_FIELD[item.kind], []).append(item)  # type: ignore[attr-defined]
    return out


_FIELD = {"image": "images", "audio": "audio", "video": "videos", "file": "files"}


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return compact_json(value)
    except TypeError as exc:  # nested too deep, or not JSON: a ValueError the readers report
        raise ValueError(f"content is not text or JSON ({exc})") from None


def compact_json(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """orjson's compact JSON of `value`. orjson refuses integers beyond 64 bits, which JSON
    allows and damaged traces hold (a token count of 2**70): those values get the standard
    library's JSON, in the same compact form. Raises `TypeError`, as orjson does, for a value
    with no JSON (unless `default` makes one) or nested too deep to write."""
    try:
        return orjson.dumps(value, default=default).decode()
    except TypeError:
        try:
            return json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":"))
        except (RecursionError, ValueError) as exc:
            raise TypeError(f"no JSON for the value ({exc})") from None

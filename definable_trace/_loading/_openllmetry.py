"""OpenLLMetry (Traceloop's `opentelemetry-instrumentation-openai` and `traceloop-sdk`).

Since 0.55 a call span holds the parts format (read by `_openai_v2.parts_call`); before, it held
flattened `gen_ai.prompt.{i}.*` and `gen_ai.completion.{i}.*`. The session is the association
property `traceloop.association.properties.session_id`, set on every span through the SDK.
Workflow and task spans repeat the content in `traceloop.entity.input` / `…output`: those are
a function's arguments and return value, never messages, and are not read as such.
"""

from __future__ import annotations

from .. import _semconv as sc
from .._messages import Message
from ._calls import (
    CallData,
    Convention,
    Facts,
    Memo,
    Usage,
    error_of,
    finish_reason_of,
    first_text,
)
from ._flat import content_parts, message_of, span_field, span_messages, tool_call, unflatten
from ._logs import LogContent
from ._openai_v2 import CALL_OPERATIONS, parts_call, with_log_content
from ._records import SpanRecord
from ._sessions import CallFacts

__all__ = ["CONVENTION", "NAME"]

NAME = "openllmetry"
_OFFICIAL_SCOPE = sc.SCOPE_OPENAI_V2  # the official one, not Traceloop's
_SCOPES = (sc.SCOPE_OPENLLMETRY_OPENAI, sc.NAMESPACE_TRACELOOP)
_MARKERS = (sc.LLM_REQUEST_TYPE, sc.TRACELOOP_SPAN_KIND, sc.TRACELOOP_WORKFLOW_NAME)
_SPAN_KINDS = {"workflow": "agent", "task": "agent", "agent": "agent", "tool": "tool"}
_PROMPT = sc.LEGACY_GEN_AI_PROMPT_PREFIX
_COMPLETION = sc.LEGACY_GEN_AI_COMPLETION_PREFIX
_PROMPT_ROLE = _PROMPT + "0.role"
_COMPLETION_ROLE = _COMPLETION + "0.role"


def _claims(span: SpanRecord) -> bool:
    """Decided by the scope and attribute names: once per shape of span."""
    return span.by_names(NAME, _is_openllmetry)


def _is_openllmetry(span: SpanRecord) -> bool:
    scope = span.scope or ""
    if scope.startswith(_SCOPES) and not scope.startswith(_OFFICIAL_SCOPE):
        return True
    if any(marker in span for marker in _MARKERS):
        return True
    return (
        _PROMPT_ROLE in span
        or _COMPLETION_ROLE in span
        or any(key.startswith(sc.NAMESPACE_TRACELOOP) for key in span.attribute_names)
    )


def _role_of(span: SpanRecord) -> str | None:
    """ "call", "tool", "agent", or None for a span that plays no part in a conversation."""
    kind = span.text(sc.TRACELOOP_SPAN_KIND)
    if kind is not None:
        return _SPAN_KINDS.get(kind)
    request_type = span.text(sc.LLM_REQUEST_TYPE)
    operation = span.text(sc.GEN_AI_OPERATION_NAME)
    if request_type in ("chat", "completion") or operation in CALL_OPERATIONS:
        return "call"
    if sc.INPUT_MESSAGES in span or _PROMPT_ROLE in span:
        return "call"
    return None


def _call(span: SpanRecord, logs: LogContent | None, memo: Memo | None) -> CallData:
    """A call span of either era; the parts format wins when both are present. `memo`: see
    `_openai_v2.parts_call`."""
    if sc.INPUT_MESSAGES in span or sc.OUTPUT_MESSAGES in span:
        data = parts_call(span, NAME, memo=memo)
    else:
        data = _flat_call(span, memo)
    return with_log_content(data, logs, memo)


def _flat_call(span: SpanRecord, memo: Memo | None = None) -> CallData:
    prompts, completions = span_messages(span, (_PROMPT, _COMPLETION), NAME, _message, memo)
    return CallData(
        span=span,
        convention=NAME,
        input=prompts or None,
        output=completions or None,
        usage=Usage(span),
        facts=Facts(span, _facts, _finish(span_field(span, _COMPLETION, "finish_reason"))),
    )


def _facts(span: SpanRecord, finish: str | None) -> CallFacts:
    return CallFacts(
        first_text(span, sc.GEN_AI_REQUEST_MODEL, sc.LLM_REQUEST_MODEL),
        first_text(span, sc.GEN_AI_RESPONSE_MODEL, sc.LLM_RESPONSE_MODEL),
        first_text(span, sc.GEN_AI_RESPONSE_ID),
        finish_reason_of(span) or finish,
        error_of(span),
    )


def _message(fields: dict[str, object]) -> Message:
    content, images = content_parts(fields.get("content"))
    calls = [
        tool_call(c.get("id"), c.get("name"), c.get("arguments"))
        for c in unflatten(fields, "tool_calls.")
    ]
    return message_of(
        fields.get("role"), content, calls, fields.get("tool_call_id"), fields.get("name"), images
    )


def _finish(reasons: list[object]) -> str | None:
    """The first finish reason of the completions that give one as a string."""
    return next((r for r in reasons if isinstance(r, str)), None)


CONVENTION = Convention(NAME, _claims, _role_of, _call, names_only=True)

"""OpenLLMetry (Traceloop's `opentelemetry-instrumentation-openai` and `traceloop-sdk`).

Since 0.55 a call span holds the parts format (read by `_openai_v2.parts_call`); before, it held
flattened `gen_ai.prompt.{i}.*` and `gen_ai.completion.{i}.*`. The session is the association
property `traceloop.association.properties.session_id`, set on every span through the SDK.
Workflow and task spans repeat the content in `traceloop.entity.input` / `…output`: those are
a function's arguments and return value, never messages, and are not read as such.
"""

from __future__ import annotations

from .._messages import Message
from ._calls import CallData, error_of, finish_reason_of, first_text, usage_of
from ._flat import content_parts, message_of, tool_call, unflatten
from ._openai_v2 import CALL_OPERATIONS, Memo, parts_call
from ._records import SpanRecord

__all__ = ["CONVENTION", "call", "is_openllmetry", "role_of"]

CONVENTION = "openllmetry"
_OFFICIAL_SCOPE = "opentelemetry.instrumentation.openai_v2"  # the official one, not Traceloop's
_SCOPES = ("opentelemetry.instrumentation.openai", "traceloop.")
_MARKERS = ("llm.request.type", "traceloop.span.kind", "traceloop.workflow.name")
_SPAN_KINDS = {"workflow": "agent", "task": "agent", "agent": "agent", "tool": "tool"}
_PROMPT = "gen_ai.prompt."
_COMPLETION = "gen_ai.completion."


def is_openllmetry(span: SpanRecord) -> bool:
    """Decided by the scope and attribute names: once per shape of span."""
    return span.by_names("openllmetry", _is_openllmetry)


def _is_openllmetry(span: SpanRecord) -> bool:
    scope = span.scope or ""
    if scope.startswith(_SCOPES) and not scope.startswith(_OFFICIAL_SCOPE):
        return True
    if any(marker in span for marker in _MARKERS):
        return True
    return (
        "gen_ai.prompt.0.role" in span
        or "gen_ai.completion.0.role" in span
        or any(key.startswith("traceloop.") for key in span.attribute_names)
    )


def role_of(span: SpanRecord) -> str | None:
    """ "call", "tool", "agent", or None for a span that plays no part in a conversation."""
    kind = span.text("traceloop.span.kind")
    if kind is not None:
        return _SPAN_KINDS.get(kind)
    request_type = span.text("llm.request.type")
    operation = span.text("gen_ai.operation.name")
    if request_type in ("chat", "completion") or operation in CALL_OPERATIONS:
        return "call"
    if "gen_ai.input.messages" in span or "gen_ai.prompt.0.role" in span:
        return "call"
    return None


def call(span: SpanRecord, memo: Memo | None = None) -> CallData:
    """A call span of either era; the parts format wins when both are present. `memo`: see
    `_openai_v2.parts_call`."""
    if "gen_ai.input.messages" in span or "gen_ai.output.messages" in span:
        return parts_call(span, CONVENTION, memo=memo)
    attributes = span.attributes
    prompts = unflatten(attributes, _PROMPT)
    completions = unflatten(attributes, _COMPLETION)
    return CallData(
        span=span,
        convention=CONVENTION,
        input=[_message(p) for p in prompts] if prompts else None,
        output=[_message(c) for c in completions] if completions else None,
        metrics=usage_of(span),
        request_model=first_text(span, "gen_ai.request.model", "llm.request.model"),
        response_model=first_text(span, "gen_ai.response.model", "llm.response.model"),
        response_id=first_text(span, "gen_ai.response.id"),
        finish_reason=finish_reason_of(span) or _finish(completions),
        error=error_of(span),
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


def _finish(completions: list[dict[str, object]]) -> str | None:
    for completion in completions:
        reason = completion.get("finish_reason")
        if isinstance(reason, str):
            return reason
    return None

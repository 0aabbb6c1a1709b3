"""OpenInference (Arize Phoenix's `openinference-instrumentation-openai`).

One `ChatCompletion` span per call (`openinference.span.kind` = `LLM`), often each its own root
trace, tied to the others only by `session.id`. Messages are flattened as
`llm.input_messages.{i}.message.*` / `llm.output_messages.{i}.message.*`, with tool calls under
`….tool_calls.{j}.tool_call.*` and multimodal contents under `….contents.{j}.message_content.*`.
The raw request and response JSON (`input.value`, `output.value`) are read only for the response
id and the requested model, which the flattened attributes lack.
"""

from __future__ import annotations

from typing import Any

import orjson

from .. import _semconv as sc
from .._messages import Image, Message
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
from ._flat import message_of, span_messages, tool_call, unflatten
from ._logs import LogContent
from ._openai_v2 import with_log_content
from ._records import SpanRecord
from ._sessions import CallFacts

__all__ = ["CONVENTION", "KIND", "NAME"]

NAME = "openinference"
KIND = sc.OPENINFERENCE_SPAN_KIND
_PREFIXES = (sc.LLM_INPUT_MESSAGES_PREFIX, sc.LLM_OUTPUT_MESSAGES_PREFIX)
_ROLES = {"LLM": "call", "TOOL": "tool", "AGENT": "agent", "CHAIN": "agent"}


def _claims(span: SpanRecord) -> bool:
    return KIND in span


def _role_of(span: SpanRecord) -> str | None:
    return _ROLES.get(span.text(KIND) or "")


def _call(span: SpanRecord, logs: LogContent | None, memo: Memo | None) -> CallData:
    return with_log_content(_flat_call(span, memo), logs, memo)


def _flat_call(span: SpanRecord, memo: Memo | None) -> CallData:
    inputs, outputs = span_messages(span, _PREFIXES, NAME, _message, memo)
    return CallData(
        span=span,
        convention=NAME,
        input=inputs or None,
        output=outputs or None,
        usage=Usage(span),
        facts=Facts(span, _facts),
    )


def _facts(span: SpanRecord, _: str | None) -> CallFacts:
    """The raw request and response JSON are parsed here, when the facts are first asked
    (the finish reason is the span's, else the response's)."""
    response = _json_object(span, sc.OUTPUT_VALUE)
    parameters = _json_object(span, sc.LLM_INVOCATION_PARAMETERS)
    request_model = _text(parameters.get("model"))
    if request_model is None:  # `input.value` is the whole request: parsed only when needed
        request_model = _text(_json_object(span, sc.INPUT_VALUE).get("model"))
    return CallFacts(
        request_model,
        first_text(span, sc.LLM_MODEL_NAME) or _text(response.get("model")),
        _text(response.get("id")),
        finish_reason_of(span) or _choice_finish(response),
        error_of(span),
    )


def _message(entry: dict[str, Any]) -> Message:
    fields = {k.removeprefix("message."): v for k, v in entry.items()}
    content = fields.get("content")
    images: list[Image] = []
    parts = unflatten(fields, "contents.")
    if parts and content is None:
        texts = []
        for part in parts:
            kind = part.get("message_content.type")
            if kind == "text" and isinstance(part.get("message_content.text"), str):
                texts.append(part["message_content.text"])
            url = part.get("message_content.image.image.url")
            if isinstance(url, str):
                images.append(Image(url=url))
        content = "".join(texts) if texts else None
    calls = [
        tool_call(
            c.get("tool_call.id"),
            c.get("tool_call.function.name"),
            c.get("tool_call.function.arguments"),
        )
        for c in unflatten(fields, "tool_calls.")
    ]
    return message_of(
        fields.get("role"),
        content if isinstance(content, str) or content is None else str(content),
        calls,
        fields.get("tool_call_id"),
        fields.get("name"),
        images,
    )


def _json_object(span: SpanRecord, key: str) -> dict[str, Any]:
    value = span.text(key)
    if not value or not value.startswith("{"):
        return {}
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _choice_finish(response: dict[str, Any]) -> str | None:
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return _text(choices[0].get("finish_reason"))
    return None


CONVENTION = Convention(NAME, _claims, _role_of, _call, names_only=True, reads=KIND)

"""The GenAI semconv parts format as other instrumentations write it (official openai-v2, and
OpenLLMetry since 0.55): `gen_ai.input.messages` / `gen_ai.output.messages` on the call span.

Unlike our spans, the system prompt is usually a `system` message inside the input (newer
writers may use `gen_ai.system_instructions`; both are read), there is no meta list, and tool
call arguments are objects. The same `message_from_parts` as for our spans reads them.

As a convention (`CONVENTION`) it is the generic one, asked last: a span no other convention
claims is read here when it has a GenAI operation name or messages (any semconv writer).
"""

from __future__ import annotations

from typing import Any

import orjson

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
from ._logs import LogContent
from ._records import SpanRecord
from ._sessions import CallFacts

__all__ = ["CALL_OPERATIONS", "CONVENTION", "NAME", "Memo", "parts_call", "with_log_content"]

NAME = "openai-v2"
CALL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
_ROLES = {
    **dict.fromkeys(CALL_OPERATIONS, "call"),
    "execute_tool": "tool",
    "invoke_agent": "agent",
}


_UNSET = {"id": "", "ts": 0}
"""Id and time of a rebuilt message: `_foreign` derives both (a random id per message, drawn
and thrown away, was a tenth of the load time of a file of other instrumentations' calls)."""


def _claims(span: SpanRecord) -> bool:
    return (
        span.text(sc.GEN_AI_OPERATION_NAME) is not None
        or sc.INPUT_MESSAGES in span
        or sc.OUTPUT_MESSAGES in span
    )


def _role_of(span: SpanRecord) -> str | None:
    operation = span.text(sc.GEN_AI_OPERATION_NAME)
    if operation is not None:
        return _ROLES.get(operation)
    return "call"  # no operation name, but messages


def _call(span: SpanRecord, logs: LogContent | None, memo: Memo | None) -> CallData:
    return parts_call(span, NAME, logs, memo)


def with_log_content(data: CallData, logs: LogContent | None, memo: Memo | None) -> CallData:
    """`data`, its messages taken from the call's log records when its span carried none (a
    convention of its own attributes whose writer put the content in GenAI events)."""
    if logs is not None and data.input is None and data.output is None:
        found = parts_call(data.span, data.convention, logs, memo)
        data.input, data.output = found.input, found.output
    return data


def parts_call(
    span: SpanRecord, convention: str, logs: LogContent | None = None, memo: Memo | None = None
) -> CallData:
    """A call span written in the parts format; raises `ValueError` on unreadable JSON.

    `logs`: the call's content from log records, read where the span has none; `memo`: shared
    by the calls of one load, so that a list or a message sent again is rebuilt once (see
    `_read`, `_message`). What may fail fails in the same order with or without it: the three
    lists are parsed, then their messages built (a list found in `memo` was parsed and built
    before, without error)."""
    system = _parts_list(span, sc.SYSTEM_INSTRUCTIONS, logs)
    raw_inputs, inputs = _read(span, sc.INPUT_MESSAGES, logs, memo)
    raw_outputs, outputs = _read(span, sc.OUTPUT_MESSAGES, logs, memo)
    messages: list[Message] | None = None
    if system is not None or inputs is not None:
        messages = []
        if system:
            messages.append(_message({"role": "system", "parts": system}, memo))
        if inputs is not None:
            messages.extend(_built(raw_inputs, inputs, memo)[0])
    output = finish = None
    if outputs is not None:
        output, finish = _built(raw_outputs, outputs, memo)
        output = list(output)  # a new list for each call (a caller may keep it)
    return CallData(
        span=span,
        convention=convention,
        input=messages,
        output=output,
        usage=Usage(span),
        facts=Facts(span, _facts, finish),
    )


def _facts(span: SpanRecord, finish: str | None) -> CallFacts:
    return CallFacts(
        first_text(span, sc.GEN_AI_REQUEST_MODEL),
        first_text(span, sc.GEN_AI_RESPONSE_MODEL),
        first_text(span, sc.GEN_AI_RESPONSE_ID),
        finish_reason_of(span) or finish,
        error_of(span),
    )


_Built = tuple[list[Message], str | None]
"""A message list's messages (shared by every call that sent it) and, for an answer list,
the first finish reason its items give."""


def _read(
    span: SpanRecord, key: str, logs: LogContent | None, memo: Memo | None
) -> tuple[str | bytes | None, _Built | list[Any] | None]:
    """A message list attribute: its JSON (the string read, or for a list read from log
    records its `orjson.dumps`, as `_message` keys one message) and either what `memo` built
    from that JSON before (then it is neither parsed nor built again: the same history sent
    by many calls, or by copies of one conversation) or its items, parsed."""
    value = span.get(key)
    if value is None and logs is not None:
        value = logs.get(key)
    if value is None:
        return None, None
    raw: str | bytes | None = None
    if isinstance(value, str):
        raw = value
        built = memo.lists.get(value) if memo is not None else None
        return (raw, built) if built is not None else (raw, _as_list(orjson.loads(value), key))
    items = _as_list(value, key)
    if memo is not None:
        try:
            raw = orjson.dumps(items)
        except TypeError:  # a value JSON has no form for: its messages are built one by one
            return None, items
        built = memo.lists.get(raw)
        if built is not None:
            return raw, built
    return raw, items


def _built(raw: str | bytes | None, read: _Built | list[Any], memo: Memo | None) -> _Built:
    if isinstance(read, tuple):  # found in the memo (parsed items are a list)
        return read
    built = ([_message(m, memo) for m in read if isinstance(m, dict)], _output_finish(read))
    if memo is not None and raw is not None:
        memo.lists[raw] = built
    return built


def _message(data: dict[str, Any], memo: Memo | None) -> Message:
    """`message_from_parts`, once per distinct message: an application sends its whole
    history on every call, so the same parts come again and again. The `Message` is shared
    by those calls (nothing changes it: `_foreign` makes canonical copies)."""
    if memo is None:
        return sc.message_from_parts(data, _UNSET)
    try:
        key = orjson.dumps(data)
    except TypeError:  # a value JSON has no form for (bytes of a damaged attribute)
        return sc.message_from_parts(data, _UNSET)
    found = memo.messages.get(key)
    if found is None:
        found = memo.messages[key] = sc.message_from_parts(data, _UNSET)
    return found


def _parts_list(span: SpanRecord, key: str, logs: LogContent | None) -> list[Any] | None:
    value = span.get(key)
    if value is None and logs is not None:
        value = logs.get(key)
    if value is None:
        return None
    return _as_list(orjson.loads(value) if isinstance(value, str) else value, key)


def _as_list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{key} is not a JSON list")
    return list(value)


def _output_finish(outputs: list[Any] | None) -> str | None:
    for message in outputs or ():
        reason = message.get("finish_reason") if isinstance(message, dict) else None
        if isinstance(reason, str):
            return reason
    return None


CONVENTION = Convention(NAME, _claims, _role_of, _call, reads=sc.GEN_AI_OPERATION_NAME)

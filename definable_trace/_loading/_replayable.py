"""Why a turn cannot be replayed, when its spans say so: content off, cut, or stored elsewhere.

A history that lost its content must not be presented (or replayed) as a complete, shorter one.
Three causes are recognised from the spans of the turn's model calls:

- **content off**: the call carries no messages at all (capture was off);
- **by reference**: an upload hook stored the messages elsewhere and left a `*_ref` attribute
  (`gen_ai.input.messages_ref`, ...) in their place; only the attribute's name is reported,
  since the reference may be a signed URL;
- **truncated**: a backend or processor cut a content attribute: a message list that is not
  valid JSON (Tempo cuts attributes at 2,048 bytes by default, mid-JSON), a content value whose
  UTF-8 length is exactly a usual attribute limit (a power of two from 1,024 to 65,536; 2,048
  is Tempo's default), or one that ends with an explicit truncation marker (`[truncated]`, ...).
  A message list that ends with `...` where its `]` should be is invalid JSON, so cut; a
  plain text ending with an ellipsis is not (people write that).

Checked when first asked for (`Turn.unreplayable`), never while loading.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from .. import _semconv as sc
from ._records import SpanRecord

__all__ = ["unreplayable"]

_LISTS = (sc.INPUT_MESSAGES, sc.OUTPUT_MESSAGES, sc.SYSTEM_INSTRUCTIONS)
_FLAT_PREFIXES = (
    sc.LEGACY_GEN_AI_PROMPT_PREFIX,
    sc.LEGACY_GEN_AI_COMPLETION_PREFIX,
    sc.LLM_INPUT_MESSAGES_PREFIX,
    sc.LLM_OUTPUT_MESSAGES_PREFIX,
)
_FLAT_FIELDS = ("content", ".text", "arguments")
_LIMITS = frozenset(1 << n for n in range(10, 17))
_MARKERS = ("[truncated]", "(truncated)", "<truncated>", "...truncated", "…truncated")


class _Call(Protocol):
    span: SpanRecord

    @property
    def input_messages(self) -> Any: ...

    @property
    def output_message(self) -> Any: ...


def unreplayable(calls: Iterable[_Call]) -> str | None:
    """The first reason found among the calls of a turn, or None when it can be replayed."""
    calls = list(calls)
    for call in calls:
        reason = _by_reference(call.span) or _truncated(call.span)
        if reason is not None:
            return reason
    if calls and all(_no_content(c) for c in calls):
        return "message content was not recorded (content capture was off)"
    return None


def _no_content(call: _Call) -> bool:
    span = call.span
    # Ours (a chat span is known by its meta list): content-free messages are rebuilt from it.
    if sc.ATTR_MESSAGES in span or sc.ATTR_INPUT_META in span or sc.ATTR_RUN_ID in span:
        return sc.INPUT_MESSAGES not in span and sc.OUTPUT_MESSAGES not in span
    return call.input_messages is None and call.output_message is None


def _by_reference(span: SpanRecord) -> str | None:
    names = span.attribute_names
    refs = [k for k in names if k.endswith("_ref") and k.startswith(sc.NAMESPACE_GEN_AI)]
    if not refs:
        return None
    return f"message content stored by reference ({', '.join(sorted(refs))}), not in the trace"


def _truncated(span: SpanRecord) -> str | None:
    for key in _LISTS:
        value = span.get(key)
        if isinstance(value, str):
            reason = _cut_list(key, value)
            if reason is not None:
                return reason
    for key in span.attribute_names:
        if key.startswith(_FLAT_PREFIXES) and key.endswith(_FLAT_FIELDS):
            value = span.get(key)
            if isinstance(value, str):
                reason = _cut_text(key, value)
                if reason is not None:
                    return reason
    return None


def _cut_list(key: str, value: str) -> str | None:
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        size = len(value.encode())
        return f"{key} was truncated ({size} bytes, not valid JSON)"
    return _cut_text(key, value)


def _cut_text(key: str, value: str) -> str | None:
    size = len(value.encode())
    if size in _LIMITS:
        return f"{key} was truncated (exactly {size} bytes, an attribute size limit)"
    tail = value.rstrip()[-16:].lower()
    if tail.endswith(_MARKERS):
        return f"{key} was truncated (it ends with a truncation marker)"
    return None

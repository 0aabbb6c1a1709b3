"""What every convention reads the same way: usage, models, finish reason, errors, tool spans;
and `Convention`, the one interface each convention module implements.

Token counts have had many names (semconv renamed them, OpenLLMetry and OpenInference have
their own); each list below is read in order and the first present wins, so a span written by
any version of any of them gives the same `Metrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from .. import _semconv as sc
from .._messages import Message, Metrics, seconds_kept
from ._records import SpanRecord
from ._sessions import CallFacts, Counts, ToolCall, plain_of
from ._sessions import Usage as Plain

if TYPE_CHECKING:
    from ._logs import LogContent

__all__ = [
    "CallData",
    "Convention",
    "Facts",
    "Memo",
    "Usage",
    "error_of",
    "finish_reason_of",
    "first_text",
    "plain_usage",
    "tool_call_of",
    "usage_of",
]

_INPUT = (
    sc.GEN_AI_USAGE_INPUT_TOKENS,
    sc.GEN_AI_USAGE_PROMPT_TOKENS,
    sc.LLM_TOKEN_COUNT_PROMPT,
    sc.LLM_USAGE_PROMPT_TOKENS,
)
_OUTPUT = (
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.GEN_AI_USAGE_COMPLETION_TOKENS,
    sc.LLM_TOKEN_COUNT_COMPLETION,
    sc.LLM_USAGE_COMPLETION_TOKENS,
)
_TOTAL = (sc.LEGACY_GEN_AI_USAGE_TOTAL_TOKENS, sc.LLM_USAGE_TOTAL_TOKENS, sc.LLM_TOKEN_COUNT_TOTAL)
_CACHE_READ = (
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    sc.LEGACY_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    sc.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ,
)
_CACHE_WRITE = (
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    sc.LEGACY_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    sc.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE,
)
_REASONING = (
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    sc.LEGACY_GEN_AI_USAGE_REASONING_TOKENS,
    sc.LLM_USAGE_REASONING_TOKENS,
    sc.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING,
)
_FIRST_TOKEN = (
    sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    sc.LEGACY_GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
)


class Usage(msgspec.Struct, gc=False):
    """A call's usage (`usage_of` its span), read when first asked for and then kept: a
    listing sums it, but building the turns needs none of it (nor `Metrics`, one pydantic
    model per call). The call and its answer message share the one `Metrics` it makes.
    Untracked by the garbage collector: it holds its span, that `Metrics` and plain values,
    nothing that leads back to it."""

    span: SpanRecord
    made: Metrics | None = None
    # The span's counts and time to first token as read (`_usage`), kept from a listing's
    # `plain` for the `Metrics` its answer makes later (the same values `usage_of` reads).
    read: tuple[Counts, float | None] | None = None

    def metrics(self) -> Metrics:
        if self.made is None:
            self.made = _metrics(self.span, self.read or _usage(self.span))
            self.read = None  # the `Metrics` holds it now
        return self.made

    def plain(self) -> Plain:
        """What `metrics()` holds of the counts and the time to first token, as plain values
        and without making (or keeping) a `Metrics`: a listing sums them for every call."""
        made = self.made
        if made is not None:
            return plain_of(made)
        read = self.read
        if read is None:
            read = self.read = _usage(self.span)
        return _plain(read)


class CallData(msgspec.Struct, kw_only=True, gc=False):
    """One model call of another instrumentation, its messages already rebuilt.

    `input`/`output` are None when the span carries no message content. A `Struct` (one per
    call of a file, made by msgspec's C constructor), untracked by the garbage collector: it
    holds its span, lists of messages and values, nothing that leads back to it.
    """

    span: SpanRecord
    convention: str
    input: list[Message] | None
    output: list[Message] | None
    usage: Usage
    facts: Facts

    @property
    def metrics(self) -> Metrics:
        return self.usage.metrics()

    @property
    def request_model(self) -> str | None:
        return self.facts.get().request_model

    @property
    def response_model(self) -> str | None:
        return self.facts.get().response_model

    @property
    def response_id(self) -> str | None:
        return self.facts.get().response_id

    @property
    def finish_reason(self) -> str | None:
        return self.facts.get().finish_reason

    @property
    def error(self) -> str | None:
        return self.facts.get().error


class Facts(msgspec.Struct, gc=False):
    """A call's models, response id, finish reason and error (`read` from its span by its
    convention; `finish`: the one its answer's messages give, for a span that names none),
    read when first asked for and then kept: splitting turns and reading histories need none
    of them. Untracked by the garbage collector, as `Usage`."""

    span: SpanRecord
    read: Callable[[SpanRecord, str | None], CallFacts]
    finish: str | None = None
    made: CallFacts | None = None

    def get(self) -> CallFacts:
        if self.made is None:
            self.made = self.read(self.span, self.finish)
        return self.made


class Memo:
    """What the calls of one load share, so that what they resend is worked out once: an
    application sends its whole history on every call, and copies of one conversation (the
    same system prompt and first question in every session) repeat it again.

    `messages`: messages rebuilt so far, by their parts' JSON (`_openai_v2._message`) or their
    flattened fields (`_flat.span_messages`); `lists`: a call's message list as read, by the
    attribute's JSON (`_openai_v2._read`); `bodies`: the JSON a message's id is
    derived from, by message (`_foreign`). Nothing here is changed once made: a rebuilt message
    is shared by the calls that sent it, and `_foreign` makes canonical copies of it.
    """

    __slots__ = ("bodies", "lists", "messages")

    def __init__(self) -> None:
        self.messages: dict[object, Message] = {}
        self.lists: dict[str | bytes, tuple[list[Message], str | None]] = {}  # `_openai_v2._read`
        # By the message's id(), the message kept beside its body so that the id stays its own.
        self.bodies: dict[int, tuple[Message, bytes]] = {}


@dataclass(frozen=True, slots=True)
class Convention:
    """One instrumentation's way of writing GenAI spans, as the loader needs it: a module per
    convention builds one, and `_conventions.CONVENTIONS` lists them in the order they are
    asked (the first that `claims` a span owns it; the generic semconv reader is last).

    `role_of`: "run" (our `invoke_agent` only), "call", "tool", "agent" (a span grouping
    calls), or None for a span that plays no part in a conversation. `call`: a call span's
    messages and usage; `logs` holds the call's content from log records (read when the span
    has none), `memo` the messages rebuilt by calls read before; raises `ValueError` on
    unreadable content.
    """

    name: str
    claims: Callable[[SpanRecord], bool]
    role_of: Callable[[SpanRecord], str | None]
    call: Callable[[SpanRecord, LogContent | None, Memo | None], CallData]
    names_only: bool = False
    """`claims` reads only the span's attribute names and scope: `classify` then asks it once
    per shape of span (see `SpanRecord.by_names`), not once per span."""
    reads: str | None = None
    """The one attribute whose value (as `SpanRecord.text` gives it) `claims` and `role_of`
    read besides the names and scope, when there is one: `classify` then remembers what they
    say per shape of span and value of it, instead of asking them for every span."""


def _count(span: SpanRecord, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = span.integer(name)
        if value is not None:
            return value
    return None


_USAGE = (_INPUT, _OUTPUT, _TOTAL, _CACHE_READ, _CACHE_WRITE, _REASONING, _FIRST_TOKEN)


_Present = tuple[tuple[tuple[int, str | tuple[str, ...]], ...], tuple[str, ...]]


def _present(span: SpanRecord) -> _Present:
    """Of each list of `_USAGE`, the names the span has (in order): the same for every span
    of its shape, so worked out once per shape (see `SpanRecord.by_names`). For the counts,
    only those it has: (their place in `Counts`, the name, or the names when it has more
    than one); then the time to first token's names."""
    groups = tuple(tuple(name for name in names if name in span) for names in _USAGE)
    counts = tuple(
        (slot, names[0] if len(names) == 1 else names)
        for slot, names in enumerate(groups[:6])
        if names
    )
    return counts, groups[6]


def usage_of(span: SpanRecord) -> Metrics:
    """Token counts from whichever names the span uses; duration from its timing."""
    return _metrics(span, _usage(span))


def _metrics(span: SpanRecord, read: tuple[Counts, float | None]) -> Metrics:
    """`usage_of(span)` from what `_usage(span)` read."""
    counts, first_token = read
    inputs, outputs, total, cache_read, cache_write, reasoning = counts
    return Metrics(
        input_tokens=inputs,
        output_tokens=outputs,
        total_tokens=total,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
        duration=span.duration,
        time_to_first_token=first_token,
    )


def plain_usage(span: SpanRecord) -> Plain:
    """`usage_of(span)`'s counts and time to first token, without the `Metrics`: the same
    reading, and what pydantic's validation makes of it (ints as they are, the time a float
    rounded to the microsecond, `Metrics._to_microseconds`). Hand-written because a listing
    wants only these sums of every call; tests/test_loading_facts.py checks it against
    `usage_of` on every committed trace and damaged copies of them."""
    return _plain(_usage(span))


def _plain(read: tuple[Counts, float | None]) -> Plain:
    counts, first_token = read
    return counts, seconds_kept(first_token)


def _usage(span: SpanRecord) -> tuple[Counts, float | None]:
    """The span's counts (from whichever names it uses) and time to first token, as read."""
    present, first_names = span.by_names("usage", _present)
    integer = span.integer
    found: list[int | None] = [None, None, None, None, None, None]
    for slot, names in present:  # a span usually has one name of a count, or none
        found[slot] = integer(names) if isinstance(names, str) else _count(span, names)
    inputs, outputs, total, cache_read, cache_write, reasoning = found
    inputs = inputs or 0
    outputs = outputs or 0
    first_token = None
    for name in first_names:
        value = span.get(name)
        if isinstance(value, (int, float)):
            first_token = value
            break
    counts = (
        inputs,
        outputs,
        total if total is not None else inputs + outputs,
        cache_read or 0,
        cache_write or 0,
        reasoning or 0,
    )
    if first_token is not None:
        try:
            first_token = float(first_token)
        except OverflowError:  # an integer beyond any float (damage): no time, as for NaN
            first_token = None
    return counts, first_token


def first_text(span: SpanRecord, *names: str) -> str | None:
    """The first of `names` that is a non-empty string, or the first item of a string array."""
    for name in names:
        value = span.get(name)
        if value is None:  # the usual case: most names asked for are absent
            continue
        if value.__class__ is str:
            if value:
                return value
            continue
        if isinstance(value, (tuple, list)) and value:
            value = value[0]
        if isinstance(value, str) and value:
            return value
    return None


def finish_reason_of(span: SpanRecord) -> str | None:
    return first_text(span, sc.GEN_AI_RESPONSE_FINISH_REASONS, sc.LLM_FINISH_REASON)


def error_of(span: SpanRecord) -> str | None:
    """Why the span failed, when its status says it did."""
    if not span.failed:
        return None
    return span.status_message or first_text(span, sc.ERROR_TYPE) or "error"


def tool_call_of(span: SpanRecord) -> ToolCall:
    """A tool span (GenAI semconv, OpenInference `TOOL`, Traceloop `tool`) as a `ToolCall`."""
    name = first_text(span, sc.GEN_AI_TOOL_NAME, sc.TOOL_NAME, sc.TRACELOOP_ENTITY_NAME)
    return ToolCall(
        name=name or span.name,
        call_id=first_text(span, sc.GEN_AI_TOOL_CALL_ID, sc.TOOL_CALL_ID),
        arguments=_text_or_none(_first_of(span, _ARGUMENTS)),
        result=_text_or_none(_first_of(span, _RESULT)),
        error=error_of(span),
        start=span.start,
        duration=span.duration,
    )


_ARGUMENTS = (
    sc.GEN_AI_TOOL_CALL_ARGUMENTS,
    sc.TOOL_PARAMETERS,
    sc.INPUT_VALUE,
    sc.TRACELOOP_ENTITY_INPUT,
)
_RESULT = (sc.GEN_AI_TOOL_CALL_RESULT, sc.OUTPUT_VALUE, sc.TRACELOOP_ENTITY_OUTPUT)


def _first_of(span: SpanRecord, names: tuple[str, ...]) -> object:
    for name in names:
        value = span.get(name)
        if value is not None:
            return value
    return None


def _text_or_none(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return sc.compact_json(value, default=str)

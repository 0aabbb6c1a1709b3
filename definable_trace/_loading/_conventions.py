"""Which instrumentation wrote a span, and what part it plays: decided per span, so a file may mix.

Every convention is one module that builds a `Convention` (`_calls`), listed once in
`CONVENTIONS`. Order matters: the first that claims a span owns it. Our spans are recognised by
our attributes (`_definable`): a run or tool span by `definable_trace.turn.index` (files
written before run ids were span ids: also `definable_trace.run.id`), a chat span by its meta
list, `definable_trace.messages` (`definable_trace.*.messages.meta` before); OpenInference by
`openinference.span.kind`; OpenLLMetry by its `traceloop.*` / `llm.request.type` attributes or
instrumentation scope; what is left with GenAI semconv operations or messages is read as the
official openai-v2 instrumentation (any other semconv writer reads the same way).

Roles: "run" (our `invoke_agent`), "call" (a model call), "tool", "agent" (a span that groups
calls: another framework's `invoke_agent`, a Traceloop workflow, an OpenInference chain).
"""

from __future__ import annotations

from . import _definable, _openai_v2, _openinference, _openllmetry
from ._calls import CallData, Convention, Memo
from ._logs import LogContent
from ._openai_v2 import parts_call
from ._records import SpanRecord

__all__ = [
    "CONVENTIONS",
    "DEFINABLE",
    "MIXED",
    "OPENAI_V2",
    "OPENINFERENCE",
    "OPENLLMETRY",
    "call_data",
    "classify",
]

CONVENTIONS: tuple[Convention, ...] = (
    _definable.CONVENTION,
    _openinference.CONVENTION,
    _openllmetry.CONVENTION,
    _openai_v2.CONVENTION,  # the generic semconv reader: last
)
"""The registry: adding a convention is one module and one line here."""

DEFINABLE = _definable.NAME
OPENAI_V2 = _openai_v2.NAME
OPENINFERENCE = _openinference.NAME
OPENLLMETRY = _openllmetry.NAME
MIXED = "mixed"

_BY_NAME = {c.name: c for c in CONVENTIONS}


_Found = tuple[str, str | None] | None
_Plan = tuple[str | None, dict[str | None, _Found], tuple[tuple[Convention, bool], ...]]
_REMEMBERED = 64  # values remembered per shape: a damaged file may name a new one per span


def classify(span: SpanRecord) -> _Found:
    """(convention, role) of a span, or None when it is no GenAI span we know.

    Decided once per shape of span (`_plan`) and, when every convention asked reads only one
    attribute's value besides the names (`Convention.reads`), once per value of it."""
    reads, found, candidates = span.by_names("classify", _plan)
    if reads is None:
        return _ask(span, candidates)
    value = span.text(reads)
    if value in found:
        return found[value]
    answer = _ask(span, candidates)
    if len(found) < _REMEMBERED:
        found[value] = answer
    return answer


def _ask(span: SpanRecord, candidates: tuple[tuple[Convention, bool], ...]) -> _Found:
    for convention, claimed in candidates:
        if claimed or convention.claims(span):
            return convention.name, convention.role_of(span)
    return None


def _plan(span: SpanRecord) -> _Plan:
    """The conventions to ask about spans of this shape (`_candidates`), and the attribute
    they all read when it is one and the same (then answers are remembered by its value)."""
    candidates = _candidates(span)
    reads = {c.reads for c, _ in candidates}
    only = next(iter(reads)) if len(reads) == 1 else None
    return only, {}, candidates


def _candidates(span: SpanRecord) -> tuple[tuple[Convention, bool], ...]:
    """The conventions `classify` asks about spans of this shape, in order, each with whether
    it claims them already: those that decide by names alone (`Convention.names_only`) are
    asked here, once per shape; a convention that claims the shape ends the list."""
    found: list[tuple[Convention, bool]] = []
    for convention in CONVENTIONS:
        if not convention.names_only:
            found.append((convention, False))
        elif convention.claims(span):
            found.append((convention, True))
            break
    return tuple(found)


def call_data(
    span: SpanRecord, convention: str, logs: LogContent | None = None, memo: Memo | None = None
) -> CallData:
    """The messages and usage of a call span of `convention` (a name `classify` gave); `logs`:
    its content from log records (see `_logs`), read when the span itself carries none; `memo`:
    messages already rebuilt by calls read before (see `_openai_v2.parts_call`)."""
    found = _BY_NAME.get(convention)
    if found is None:  # not a registered name: read as semconv parts, under that name
        return parts_call(span, convention, logs, memo)
    return found.call(span, logs, memo)

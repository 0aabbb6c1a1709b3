"""Which instrumentation wrote a span, and what part it plays: decided per span, so a file may mix.

Order matters: our spans are recognised by `definable_trace.run.id` (a chat span: by our meta
lists); OpenInference by `openinference.span.kind`; OpenLLMetry by its `traceloop.*` /
`llm.request.type` attributes or instrumentation scope; what is left with GenAI semconv
operations or messages is read as the official openai-v2 instrumentation (any other semconv
writer reads the same way).

Roles: "run" (our `invoke_agent`), "call" (a model call), "tool", "agent" (a span that groups
calls: another framework's `invoke_agent`, a Traceloop workflow, an OpenInference chain).
"""

from __future__ import annotations

from .. import _semconv as sc
from . import _openinference, _openllmetry
from ._calls import CallData
from ._logs import LogContent
from ._openai_v2 import CALL_OPERATIONS, Memo, parts_call
from ._records import SpanRecord

__all__ = [
    "DEFINABLE",
    "MIXED",
    "OPENAI_V2",
    "OPENINFERENCE",
    "OPENLLMETRY",
    "call_data",
    "classify",
]

DEFINABLE = "definable"
OPENAI_V2 = "openai-v2"
OPENINFERENCE = _openinference.CONVENTION
OPENLLMETRY = _openllmetry.CONVENTION
MIXED = "mixed"

_OUR_ROLES = {"invoke_agent": "run", "chat": "call", "execute_tool": "tool"}
_SEMCONV_ROLES = {
    **dict.fromkeys(CALL_OPERATIONS, "call"),
    "execute_tool": "tool",
    "invoke_agent": "agent",
}


def classify(span: SpanRecord) -> tuple[str, str | None] | None:
    """(convention, role) of a span, or None when it is no GenAI span we know."""
    if is_ours(span):
        return DEFINABLE, _OUR_ROLES.get(span.text(sc.GEN_AI_OPERATION_NAME) or "")
    if _openinference.KIND in span:
        return OPENINFERENCE, _openinference.role_of(span)
    if _openllmetry.is_openllmetry(span):
        return OPENLLMETRY, _openllmetry.role_of(span)
    operation = span.text(sc.GEN_AI_OPERATION_NAME)
    if operation is not None:
        return OPENAI_V2, _SEMCONV_ROLES.get(operation)
    if sc.INPUT_MESSAGES in span or sc.OUTPUT_MESSAGES in span:
        return OPENAI_V2, "call"
    return None


def call_data(
    span: SpanRecord, convention: str, logs: LogContent | None = None, memo: Memo | None = None
) -> CallData:
    """The messages and usage of another instrumentation's call span; `logs`: its content
    from log records (see `_logs`), read when the span itself carries none; `memo`: messages
    already rebuilt by calls read before (see `_openai_v2.parts_call`)."""
    if convention == OPENINFERENCE:
        data = _openinference.call(span)
    elif convention == OPENLLMETRY:
        data = _openllmetry.call(span, memo)
    else:
        return parts_call(span, convention, logs, memo)
    if logs is not None and data.input is None and data.output is None:
        found = parts_call(span, convention, logs, memo)
        data.input, data.output = found.input, found.output
    return data


def is_ours(span: SpanRecord) -> bool:
    """A span our agent wrote: a run or tool span (`definable_trace.run.id`), or a chat span,
    which carries our meta lists (since the run id moved to its parent, the run span)."""
    return sc.ATTR_RUN_ID in span or sc.ATTR_INPUT_META in span or sc.ATTR_OUTPUT_META in span

"""Our own spans as a convention: how they are told apart and the part each plays.

They are rebuilt into exact messages by `_ours` (meta lists, compact mode, shared histories), not
through `Convention.call`; `call` reads one chat span in the parts format, as any semconv span.
"""

from __future__ import annotations

from .. import _semconv as sc
from ._calls import CallData, Convention, Memo
from ._logs import LogContent
from ._openai_v2 import parts_call
from ._records import SpanRecord

__all__ = ["CONVENTION", "NAME"]

NAME = "definable"
_ROLES = {"invoke_agent": "run", "chat": "call", "execute_tool": "tool"}


def _claims(span: SpanRecord) -> bool:
    """A span our agent wrote: a run or tool span (`definable_trace.turn.index`; before run ids
    were span ids, also `definable_trace.run.id`), or a chat span, which carries our meta list
    (`definable_trace.input.messages.meta`/`.output.messages.meta` in files written before)."""
    return (
        sc.ATTR_MESSAGES in span
        or sc.ATTR_TURN_INDEX in span
        or sc.ATTR_RUN_ID in span
        or sc.ATTR_INPUT_META in span
        or sc.ATTR_OUTPUT_META in span
    )


def _role_of(span: SpanRecord) -> str | None:
    return _ROLES.get(span.text(sc.GEN_AI_OPERATION_NAME) or "")


def _call(span: SpanRecord, logs: LogContent | None, memo: Memo | None) -> CallData:
    return parts_call(span, NAME, logs, memo)


CONVENTION = Convention(
    NAME, _claims, _role_of, _call, names_only=True, reads=sc.GEN_AI_OPERATION_NAME
)

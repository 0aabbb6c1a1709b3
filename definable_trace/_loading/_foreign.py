"""Other instrumentations' calls of one session, grouped into turns with one shared history.

Such traces have no runs and no message ids: each call span holds the messages the application
sent and the answer. So:

- a turn is the calls after one user message: a call whose input ends with a new user message
  starts a turn, a call whose input ends with tool results (or repeats the same user message)
  continues the current one; without content, calls under one parent span form a turn;
- a message gets a stable id from its session, its position and its content, so the same
  message sent again in a later call is the same `Message` (the answer keeps the call's usage
  as `metrics`); its time is the start of the first call that sent it (an answer: the end of
  the call that produced it);
- the session's history is the last turn's when it extends the earlier ones, else the turns'
  messages one after the other (an application that sends no history).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from .._messages import Message
from ._calls import CallData, tool_call_of
from ._records import SpanRecord
from ._sessions import ModelCall, ToolCall, Turn

__all__ = ["ForeignTurns", "build_foreign_turns"]


@dataclass
class ForeignTurns:
    turns: list[Turn]
    messages: Callable[[], list[Message]]
    has_content: bool


class _ListSource:
    """A turn's history, already rebuilt (other instrumentations' files are small)."""

    def __init__(self, history: list[Message], prior: int) -> None:
        self.history = history
        self._prior = prior

    def count(self) -> int:
        return len(self.history)

    def prior(self) -> int:
        return self._prior

    def slice(self, start: int, stop: int | None = None) -> list[Message]:
        return self.history[start:stop]


@dataclass
class _Group:
    calls: list[tuple[CallData, list[Message] | None, Message | None]] = field(default_factory=list)
    key: tuple[int, str] | None = None
    parent: str | None = None


class _Canon:
    """Stable ids and times: the first occurrence of a message (by position and content) wins."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.seen: dict[str, Message] = {}

    def fingerprint(self, position: int, message: Message) -> str:
        body = message.model_dump(mode="json", exclude={"id", "created_at", "metrics"})
        data = orjson.dumps([self.session_id, position, body], option=orjson.OPT_SORT_KEYS)
        return hashlib.blake2b(data, digest_size=16).hexdigest()

    def one(self, position: int, message: Message, seconds: int, **update: object) -> Message:
        key = self.fingerprint(position, message)
        found = self.seen.get(key)
        if found is None:
            found = message.model_copy(update={"id": key, "created_at": seconds, **update})
            self.seen[key] = found
        return found


def build_foreign_turns(
    session_id: str,
    calls: list[CallData],
    tools: list[SpanRecord],
    groupers: dict[str, list[SpanRecord]],
) -> ForeignTurns:
    """`groupers`: per call span id, the agent/workflow spans above it (shown with its turn)."""
    canon = _Canon(session_id)
    groups: list[_Group] = []
    for call in sorted(calls, key=lambda c: (c.span.start_ns, c.span.end_ns)):
        sent, answer = _canonical(canon, call)
        key = _turn_key(canon, sent)
        current = groups[-1] if groups else None
        if current is None or _starts_turn(current, call, key):
            current = _Group(key=key, parent=call.span.parent_span_id)
            groups.append(current)
        current.calls.append((call, sent, answer))
    turns = [_turn(i + 1, g, groupers) for i, g in enumerate(groups)]
    _attach_tools(turns, tools)
    has_content = any(c.input is not None or c.output is not None for c in calls)
    return ForeignTurns(turns, lambda: _merged(turns), has_content)


def _canonical(canon: _Canon, call: CallData) -> tuple[list[Message] | None, Message | None]:
    start = call.span.start_ns // 1_000_000_000
    sent = None
    if call.input is not None:
        sent = [canon.one(i, m, start) for i, m in enumerate(call.input)]
    answer = None
    if call.output:
        end = call.span.end_ns // 1_000_000_000
        position = len(call.input or ())
        answer = canon.one(position, call.output[0], end, metrics=call.metrics)
    return sent, answer


def _turn_key(canon: _Canon, sent: list[Message] | None) -> tuple[int, str] | None:
    if not sent or sent[-1].role != "user":
        return None
    return len(sent) - 1, sent[-1].id


def _starts_turn(current: _Group, call: CallData, key: tuple[int, str] | None) -> bool:
    if call.input is None:  # no content: calls under one parent span are one turn
        return call.span.parent_span_id is None or call.span.parent_span_id != current.parent
    return key is not None and key != current.key


def _turn(index: int, group: _Group, groupers: dict[str, list[SpanRecord]]) -> Turn:
    first_sent = group.calls[0][1]
    _, last_sent, last_answer = group.calls[-1]
    history = [*(last_sent or ()), *([last_answer] if last_answer is not None else [])]
    prior = len(first_sent) - 1 if group.key is not None and first_sent else len(first_sent or ())
    spans = _unique(
        [s for c, _, _ in group.calls for s in (*groupers.get(c.span.span_id, ()), c.span)]
    )
    start = min(s.start_ns for s in spans)
    end = max(s.end_ns for s in spans)
    return Turn(
        index=index,
        run_id=None,
        model_calls=[_model_call(c, sent, answer) for c, sent, answer in group.calls],
        tool_calls=[],
        start=min(spans, key=lambda s: s.start_ns).start,
        duration=max(end - start, 0) / 1e9,
        spans=sorted(spans, key=lambda s: (s.start_ns, s.end_ns)),
        error=next((c.error for c, _, _ in group.calls if c.error), None),
        source=_ListSource(history, min(prior, len(history))),
    )


def _unique(spans: Iterable[SpanRecord]) -> list[SpanRecord]:
    return list({id(s): s for s in spans}.values())


def _model_call(call: CallData, sent: list[Message] | None, answer: Message | None) -> ModelCall:
    return ModelCall(
        request_model=call.request_model,
        response_model=call.response_model,
        response_id=call.response_id,
        finish_reason=call.finish_reason,
        start=call.span.start,
        error=call.error,
        span=call.span,
        metrics=lambda: call.metrics,
        input_messages=lambda: list(sent) if sent is not None else None,
        output_message=lambda: answer,
    )


def _attach_tools(turns: list[Turn], tools: list[SpanRecord]) -> None:
    """Tool spans go to the turn running when they started; tool calls only seen in the
    messages are added from them (with no timing)."""
    if not turns:
        return
    starts = [t.start for t in turns]
    for span in sorted(tools, key=lambda s: s.start_ns):
        i = max(bisect.bisect_right(starts, span.start) - 1, 0)
        turns[i].tool_calls.append(tool_call_of(span))
        turns[i].spans.append(span)
    for turn in turns:
        turn.spans.sort(key=lambda s: (s.start_ns, s.end_ns))
        known = {c.call_id for c in turn.tool_calls if c.call_id}
        turn.tool_calls.extend(_from_messages(turn.messages, known))


def _from_messages(messages: list[Message], known: set[str | None]) -> list[ToolCall]:
    results = {m.tool_call_id: m.content for m in messages if m.role == "tool"}
    found: list[ToolCall] = []
    for message in messages:
        for call in message.tool_calls or ():
            call_id = call.get("id") or None
            if call_id in known:
                continue
            function = call.get("function") or {}
            found.append(
                ToolCall(
                    name=function.get("name") or "",
                    call_id=call_id,
                    arguments=function.get("arguments"),
                    result=results.get(call_id),
                    error=None,
                    start=None,
                    duration=None,
                )
            )
    return found


def _merged(turns: list[Turn]) -> list[Message]:
    merged: list[Message] = []
    for turn in turns:
        history = turn.history
        if [m.id for m in history[: len(merged)]] == [m.id for m in merged]:
            merged = history
        else:
            merged = [*merged, *turn.messages]
    return merged

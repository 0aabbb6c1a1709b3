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
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec
import orjson

from .._messages import Message, Metrics
from .._semconv import ToolCallPart
from ._calls import CallData, tool_call_of
from ._records import SpanRecord
from ._sessions import CallFacts, ModelCall, ToolCall, Turn

__all__ = ["ForeignTurns", "build_foreign_turns", "merged_history"]


@dataclass
class ForeignTurns:
    turns: list[Turn]
    messages: Callable[[], list[Message]]
    has_content: bool


class _ListSource(msgspec.Struct, gc=False):
    """A turn already rebuilt (other instrumentations' files are small): its history, calls,
    spans and error as lists and values. Untracked by the garbage collector, as `_Call`: it
    holds lists and values and nothing that leads back to it (one of each per turn of a
    large file is that many objects fewer for every collection to scan)."""

    history: list[Message]
    _prior: int
    calls: list[ModelCall]
    span_list: list[SpanRecord]
    failure: str | None

    def model_calls(self) -> list[ModelCall]:
        return self.calls

    def tool_calls(self) -> list[ToolCall]:
        return []  # never asked: `_attach_tools` sets every turn's tool calls

    def error(self) -> str | None:
        return self.failure

    def spans(self) -> list[SpanRecord]:
        return self.span_list

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

    def __init__(
        self, session_id: str, bodies: dict[int, tuple[Message, bytes]] | None = None
    ) -> None:
        self.session_id = session_id
        self.seen: dict[str, Message] = {}
        # By position and message object: calls share the `Message`s of what they resent
        # (see `_openai_v2._message`), so most are fingerprinted once, not once per call.
        self.known: dict[tuple[int, int], Message] = {}
        # The JSON of each message's body, by message: shared by the sessions of one load
        # (`Memo.bodies`), where a message resent in many sessions is one object.
        self.bodies = bodies if bodies is not None else {}
        try:  # what `[session_id, position, body]` serialises to, up to the position
            self.head: bytes | None = b"[" + orjson.dumps(session_id) + b","
        except TypeError:  # no JSON for the id (a lone surrogate): the general path says so
            self.head = None

    def fingerprint(self, position: int, message: Message) -> str:
        """The hash of `[session id, position, body]` as orjson writes it with sorted keys,
        made of the parts' JSON: the body's is the same for every session and position."""
        if self.head is None:
            return self._fingerprint(position, message)
        found = self.bodies.get(id(message))
        if found is None:
            found = self.bodies[id(message)] = (message, _body_json(message))
        data = b"%s%d,%s]" % (self.head, position, found[1])
        return hashlib.blake2b(data, digest_size=16).hexdigest()

    def _fingerprint(self, position: int, message: Message) -> str:
        """`fingerprint` in one piece: the general path it must agree with."""
        try:
            data = orjson.dumps(
                [self.session_id, position, _body(message)], option=orjson.OPT_SORT_KEYS
            )
        except TypeError:  # a value orjson has no JSON for (bytes in a damaged tool call)
            body = message.model_dump(mode="json", exclude=_NOT_BODY)
            data = orjson.dumps([self.session_id, position, body], option=orjson.OPT_SORT_KEYS)
        return hashlib.blake2b(data, digest_size=16).hexdigest()

    def one(self, position: int, message: Message, seconds: int, **update: object) -> Message:
        known = self.known.get((position, id(message)))
        if known is not None:  # `message` is alive (the caller holds it): its id is its own
            return known
        key = self.fingerprint(position, message)
        found = self.seen.get(key)
        if found is None:
            found = message.model_copy(update={"id": key, "created_at": seconds, **update})
            self.seen[key] = found
        self.known[(position, id(message))] = found
        return found


def _body_json(message: Message) -> bytes:
    """The JSON of `_body(message)` with sorted keys (pydantic's dump where orjson has none)."""
    try:
        return orjson.dumps(_body(message), option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a value orjson has no JSON for (bytes in a damaged tool call)
        body = message.model_dump(mode="json", exclude=_NOT_BODY)
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


_NOT_BODY = {"id", "created_at", "metrics"}


def _body(message: Message) -> dict[str, object]:
    """What a message's id is derived from: `model_dump(mode="json")` without id, time and
    metrics. Hand-written for the usual message (no media): its field values are already JSON
    (strings, None, JSON-read tool call dicts), so the dict of its fields serialises to the
    same bytes, at a tenth of pydantic's cost (one per message of every call of a file).
    Media models need pydantic's serialiser. tests/test_loading_speed.py checks both agree."""
    fields = message.__dict__
    if not (
        fields["images"] is None
        and fields["audio"] is None
        and fields["videos"] is None
        and fields["files"] is None
    ):
        return message.model_dump(mode="json", exclude=_NOT_BODY)
    return {key: value for key, value in fields.items() if key not in _NOT_BODY}


def build_foreign_turns(
    session_id: str,
    calls: list[CallData],
    tools: list[SpanRecord],
    groupers: dict[str, list[SpanRecord]],
    first_index: int = 1,
    family: str | None = None,
    bodies: dict[int, tuple[Message, bytes]] | None = None,
) -> ForeignTurns:
    """`groupers`: per call span id, the agent/workflow spans above it (shown with its turn).

    `first_index`: the index of the first turn (a stitched branch starts at the turn it left its
    parent at); `family`: the id message ids are derived from (a branch's messages shared with
    its parent then keep the parent's ids), by default the session's; `bodies`: the messages'
    JSON known so far (`Memo.bodies`), shared by the sessions of one load."""
    canon = _Canon(family or session_id, bodies)
    groups: list[_Group] = []
    for call in sorted(calls, key=lambda c: (c.span.start_ns, c.span.end_ns)):
        sent, answer = _canonical(canon, call)
        key = _turn_key(canon, sent)
        current = groups[-1] if groups else None
        if current is None or _starts_turn(current, call, key):
            current = _Group(key=key, parent=call.span.parent_span_id)
            groups.append(current)
        current.calls.append((call, sent, answer))
    turns = [_turn(i + first_index, g, groupers) for i, g in enumerate(groups)]
    _attach_tools(turns, tools)
    has_content = any(c.input is not None or c.output is not None for c in calls)
    return ForeignTurns(turns, _Merged(turns), has_content)


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
    source = _ListSource(
        history,
        min(prior, len(history)),
        [ModelCall(c.span, _call(c, sent, answer, history)) for c, sent, answer in group.calls],
        spans,
        next((c.error for c, _, _ in group.calls if c.error), None),
    )
    return Turn(
        index=index,
        run_id=None,
        start_ns=min(s.start_ns for s in spans),
        end_ns=max(s.end_ns for s in spans),
        source=source,
    )


def _unique(spans: Iterable[SpanRecord]) -> list[SpanRecord]:
    return list({id(s): s for s in spans}.values())


class _Call(msgspec.Struct, gc=False):
    """A call of another instrumentation as a `ModelCall` source: all known already.

    It keeps what the call says, not the `CallData`: that holds the messages as read, before
    they were made canonical, which nothing needs once the turns are built (on a file of many
    short sessions they were a third of the objects the garbage collector kept scanning).
    The facts are made a `CallFacts` when asked for (`ModelCall` keeps it then)."""

    request_model: str | None
    response_model: str | None
    response_id: str | None
    finish_reason: str | None
    error: str | None
    _metrics: Metrics
    sent: list[Message] | None  # the messages sent are its first `sent_count`
    sent_count: int
    answer: Message | None

    def facts(self) -> CallFacts:
        return CallFacts(
            self.request_model,
            self.response_model,
            self.response_id,
            self.finish_reason,
            self.error,
        )

    def metrics(self) -> Metrics:
        return self._metrics

    def input_messages(self) -> list[Message] | None:
        return self.sent[: self.sent_count] if self.sent is not None else None

    def output_message(self) -> Message | None:
        return self.answer


def _call(
    call: CallData, sent: list[Message] | None, answer: Message | None, history: list[Message]
) -> _Call:
    """The call's source; what it sent is kept as a prefix of its turn's history when it is
    one (the usual case: one list per turn instead of one per call)."""
    count = len(sent) if sent is not None else 0
    if sent is not None and count <= len(history) and all(map(operator.is_, sent, history)):
        sent = history
    return _Call(
        call.request_model,
        call.response_model,
        call.response_id,
        call.finish_reason,
        call.error,
        call.metrics,
        sent,
        count,
        answer,
    )


def _attach_tools(turns: list[Turn], tools: list[SpanRecord]) -> None:
    """Tool spans go to the turn running when they started; tool calls only seen in the
    messages are added from them (with no timing)."""
    if not turns:
        return
    starts = [t.start_ns for t in turns]
    found: list[list[ToolCall]] = [[] for _ in turns]
    for span in sorted(tools, key=lambda s: s.start_ns):
        i = max(bisect.bisect_right(starts, span.start_ns) - 1, 0)
        found[i].append(tool_call_of(span))
        turns[i].add_spans([span])
    for turn, calls in zip(turns, found, strict=True):
        known: set[str | None] = {c.call_id for c in calls if c.call_id}
        calls.extend(_from_messages(turn.messages, known))
        if calls:  # else the turn's source answers [] when asked (no list kept per turn)
            turn.tool_calls = calls


def _from_messages(messages: list[Message], known: set[str | None]) -> list[ToolCall]:
    results = {m.tool_call_id: m.content for m in messages if m.role == "tool"}
    found: list[ToolCall] = []
    for message in messages:
        for call in message.tool_calls or ():
            part = ToolCallPart.from_openai(call)
            call_id = part.id or None
            if call_id in known:
                continue
            found.append(
                ToolCall(
                    name=part.name or "",
                    call_id=call_id,
                    arguments=part.arguments if isinstance(part.arguments, str) else None,
                    result=results.get(call_id),
                    error=None,
                    start=None,
                    duration=None,
                )
            )
    return found


class _Merged(msgspec.Struct, gc=False):
    """`merged_history` of a session's turns when called: an object the garbage collector
    does not track instead of a closure (one per session of a large file)."""

    turns: list[Turn]

    def __call__(self) -> list[Message]:
        return merged_history(self.turns)


def merged_history(turns: list[Turn]) -> list[Message]:
    """One history for turns that may not share theirs: a turn whose history extends the
    history so far replaces it; otherwise its messages not seen yet are appended."""
    merged: list[Message] = []
    for turn in turns:
        history = turn.history
        if [m.id for m in history[: len(merged)]] == [m.id for m in merged]:
            merged = history
        else:
            seen = {m.id for m in merged}
            merged = [*merged, *(m for m in history if m.id not in seen)]
    return merged

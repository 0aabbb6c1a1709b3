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

What the turns need is worked out when they are built: each message's id (to split turns by
their user messages and to count the history) and time. The canonical `Message`s themselves
(a pydantic copy each, with the call's `Metrics` on an answer) are made when first read
(`_Entry`), and the tool calls only seen in the messages when a turn's are asked for: listing
the sessions of a file needs neither.
"""

from __future__ import annotations

import bisect
import hashlib
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import msgspec
import orjson

from .._messages import Message, Metrics
from .._semconv import ToolCallPart
from ._calls import CallData, Facts, Usage, tool_call_of
from ._records import SpanRecord
from ._sessions import CallFacts, ModelCall, ToolCall, Turn
from ._sessions import Usage as Plain

__all__ = ["ForeignTurns", "build_foreign_turns", "merged_history"]


@dataclass
class ForeignTurns:
    turns: list[Turn]
    messages: Callable[[], list[Message]]
    count: Callable[[], int]  # `len(messages())`, without making the messages
    has_content: bool


class _ListSource(msgspec.Struct, gc=False):
    """A turn already split: its history (entries), calls and spans as tuples; its messages,
    `ModelCall`s, error and tool calls made from them when asked for. Untracked by the
    garbage collector, as `_Call`: it holds tuples and nothing that leads back to it (one of
    each per turn of a large file is that many objects fewer for every collection to scan;
    tuples of untracked items are untracked too)."""

    history: tuple[_Entry, ...]
    _prior: int
    calls: tuple[_Call, ...]
    span_list: tuple[SpanRecord, ...]
    span_tools: list[ToolCall] | None = None  # see `_attach_tools`

    def model_calls(self) -> list[ModelCall]:
        """Made when first asked for (the turn keeps them): loading and reading histories
        need none."""
        return [ModelCall(c.span, c) for c in self.calls]

    def tool_calls(self) -> list[ToolCall]:
        """The tool spans' calls, then those only seen in the turn's messages (read from the
        messages as read: the canonical ones differ only in id, time and metrics)."""
        calls = list(self.span_tools or ())
        known: set[str | None] = {c.call_id for c in calls if c.call_id}
        read = [e.template for e in self.history[self._prior :]]
        calls.extend(_from_messages(read, known))
        return calls

    def error(self) -> str | None:
        """The first error of the turn's calls."""
        return next((e for e in (c.known.get().error for c in self.calls) if e), None)

    def spans(self) -> list[SpanRecord]:
        return list(self.span_list)

    def count(self) -> int:
        return len(self.history)

    def prior(self) -> int:
        return self._prior

    def slice(self, start: int, stop: int | None = None) -> list[Message]:
        return _made(self.history[start:stop])


class _Group:
    """The calls of one turn while they are split (a plain class: one per turn)."""

    __slots__ = ("calls", "key", "parent")

    def __init__(self, key: tuple[int, int] | None, parent: str | None) -> None:
        self.calls: list[tuple[CallData, list[_Entry] | None, _Entry | None]] = []
        self.key = key
        self.parent = parent


class _Canon:
    """Stable ids and times: the first occurrence of a message (by position and content) wins.

    Content is compared as the JSON of the message's body (what its id hashes, with the
    session id and position): the id itself is hashed when the message is first read."""

    def __init__(
        self, session_id: str, bodies: dict[int, tuple[Message, bytes]] | None = None
    ) -> None:
        self.session_id = session_id
        self.seen: dict[tuple[int, bytes], _Entry] = {}
        # By position and message object: calls share the `Message`s of what they resent
        # (see `_openai_v2._message`), so most are looked up once, not once per call.
        self.known: dict[tuple[int, int], _Entry] = {}
        self.last: tuple[list[Message], list[_Entry]] = ([], [])  # see `sent`
        # The JSON of each message's body, by message: shared by the sessions of one load
        # (`Memo.bodies`), where a message resent in many sessions is one object.
        self.bodies = bodies if bodies is not None else {}
        try:  # what `[session_id, position, body]` serialises to, up to the position
            self.head: bytes | None = b"[" + orjson.dumps(session_id) + b","
        except TypeError:  # no JSON for the id (a lone surrogate): the general path says so
            self.head = None

    def body(self, message: Message) -> bytes:
        found = self.bodies.get(id(message))
        if found is None:
            found = self.bodies[id(message)] = (message, _body_json(message))
        return found[1]

    def fingerprint(self, position: int, message: Message) -> str:
        """The hash of `[session id, position, body]` as orjson writes it with sorted keys,
        made of the parts' JSON: the body's is the same for every session and position."""
        if self.head is None:
            return self._fingerprint(position, message)
        return _hash(self.head, position, self.body(message))

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

    def sent(self, messages: list[Message], seconds: int) -> list[_Entry]:
        """`one` for each message a call sent at `seconds`. The call before usually sent the
        same messages first (an application resends its history): that prefix, found by
        identity, gives the same entries without a lookup each; the very same list (calls
        that sent the same JSON share one, `Memo.lists`) gives the same entries."""
        last, entries = self.last
        if messages is last:  # nothing changes the lists of entries handed out
            return entries
        n = len(last)
        if n and n <= len(messages) and all(map(operator.is_, last, messages)):
            found = entries[:n]
        else:
            found, n = [], 0
        known = self.known
        for i in range(n, len(messages)):
            message = messages[i]
            entry = known.get((i, id(message)))
            found.append(entry if entry is not None else self._new(i, message, seconds, None))
        self.last = (messages, found)
        return found

    def one(self, position: int, message: Message, seconds: int, usage: Usage | None) -> _Entry:
        """The session's message at `position` with the content of `message`, first seen at
        `seconds`; `usage`: the call's, when `message` is its answer (kept as `metrics` when
        the answer is the first occurrence)."""
        known = self.known.get((position, id(message)))
        if known is not None:  # `message` is alive (the caller holds it): its id is its own
            return known
        return self._new(position, message, seconds, usage)

    def _new(self, position: int, message: Message, seconds: int, usage: Usage | None) -> _Entry:
        """`one` for a message not met at `position` before (by identity)."""
        # An id with no JSON (then this raises, as hashing the whole triple did) is hashed now.
        key = self._fingerprint(position, message) if self.head is None else None
        known = self.bodies.get(id(message))  # `body`, inline: once per new message
        body = known[1] if known is not None else self.body(message)
        found = self.seen.get((position, body))
        if found is None:
            found = _Entry(message, self.head or b"", position, body, seconds, usage, key)
            self.seen[(position, body)] = found
        self.known[(position, id(message))] = found
        return found


def _hash(head: bytes, position: int, body: bytes) -> str:
    return hashlib.blake2b(b"%s%d,%s]" % (head, position, body), digest_size=16).hexdigest()


class _Entry(msgspec.Struct, gc=False):
    """One message of a session, its `Message` made when first read (then kept: every call
    and turn that holds the entry gives the same object): a copy of the first message read
    with its content (`template`: what the calls hold are shared by every session of a
    load), with its id (`_hash` of the session's `head`, its position and its `body`), time
    and, for an answer, its call's `Metrics`. Untracked by the garbage collector: it holds
    messages and bytes, none of which leads back to it."""

    template: Message
    head: bytes
    position: int
    body: bytes
    seconds: int
    usage: Usage | None
    key: str | None = None
    made: Message | None = None

    def message(self) -> Message:
        made = self.made
        if made is None:
            if self.key is None:
                self.key = _hash(self.head, self.position, self.body)
            update: dict[str, object] = {"id": self.key, "created_at": self.seconds}
            if self.usage is not None:
                update["metrics"] = self.usage.metrics()
            made = self.made = self.template.model_copy(update=update)
        return made


def _made(entries: Iterable[_Entry]) -> list[Message]:
    return [e.message() for e in entries]


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
    calls: Sequence[CallData],
    tools: Sequence[SpanRecord],
    groupers: Mapping[str, Sequence[SpanRecord]],
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
    current: _Group | None = None
    has_content = False
    sent: list[_Entry] | None
    answer: _Entry | None
    key: tuple[int, int] | None
    # One pass, each call's steps written out: its messages made canonical (what it sent,
    # then its answer), its turn key (the last message sent when it is the user's: its
    # position and entry, one entry per id in a session), whether it starts a turn.
    canonical, one = canon.sent, canon.one
    for call in sorted(calls, key=_START_END):
        span = call.span
        sent = answer = key = None
        inputs, output = call.input, call.output
        if inputs is not None:
            sent = canonical(inputs, span.start_ns // 1_000_000_000)
        if output:
            end = span.end_ns // 1_000_000_000
            answer = one(len(inputs or ()), output[0], end, call.usage)
        if inputs is None:  # no content: calls under one parent span are one turn
            starts = (
                current is None
                or span.parent_span_id is None
                or span.parent_span_id != current.parent
            )
        else:
            has_content = True
            if sent and sent[-1].template.role == "user":
                key = (len(sent) - 1, id(sent[-1]))
            starts = current is None or (key is not None and key != current.key)
        has_content = has_content or output is not None
        if starts or current is None:
            current = _Group(key, span.parent_span_id)
            groups.append(current)
        current.calls.append((call, sent, answer))
    # A tuple (of untracked sources): the collector stops tracking it at its first pass, a
    # list it would scan in every full collection (one per session of a large file).
    sources = tuple([_source(g, groupers) for g in groups])
    turns = [_turn(i + first_index, s) for i, s in enumerate(sources)]
    _attach_tools(turns, sources, tools)
    return ForeignTurns(turns, _Merged(sources), _MergedCount(sources), has_content)


_START_END = operator.attrgetter("span.start_ns", "span.end_ns")
_START = operator.attrgetter("start_ns")
_END = operator.attrgetter("end_ns")


def _source(group: _Group, groupers: Mapping[str, Sequence[SpanRecord]]) -> _ListSource:
    first_sent = group.calls[0][1]
    _, last_sent, last_answer = group.calls[-1]
    # Tuples: of untracked entries and spans, the garbage collector stops tracking them.
    history = (*(last_sent or ()), *((last_answer,) if last_answer is not None else ()))
    prior = len(first_sent) - 1 if group.key is not None and first_sent else len(first_sent or ())
    # Each span once, in order of first sight: the agent spans above each call, then it.
    spans: dict[SpanRecord, None] = {}  # spans are compared by identity
    for c, _, _ in group.calls:
        for above in groupers.get(c.span.span_id, ()):
            spans[above] = None
        spans[c.span] = None
    return _ListSource(
        history,
        min(prior, len(history)),
        tuple([_call(c, sent, answer, history) for c, sent, answer in group.calls]),
        tuple(spans),
    )


def _turn(index: int, source: _ListSource) -> Turn:
    spans = source.span_list
    return Turn(
        index=index,
        run_id=None,
        start_ns=min(map(_START, spans)),
        end_ns=max(map(_END, spans)),
        source=source,
    )


class _Call(msgspec.Struct, gc=False):
    """A call of another instrumentation as a `ModelCall` source.

    It keeps what the call says, not the `CallData`: that holds the messages as read, before
    they were made canonical, which nothing needs once the turns are built (on a file of many
    short sessions they were a third of the objects the garbage collector kept scanning).
    Its facts and usage are read from the span when first asked for (`Facts`, `Usage`)."""

    span: SpanRecord
    known: Facts
    usage: Usage
    sent: Sequence[_Entry] | None  # the messages sent are its first `sent_count`
    sent_count: int
    answer: _Entry | None

    def facts(self) -> CallFacts:
        return self.known.get()

    def metrics(self) -> Metrics:
        return self.usage.metrics()

    def input_messages(self) -> list[Message] | None:
        return _made(self.sent[: self.sent_count]) if self.sent is not None else None

    def output_message(self) -> Message | None:
        return self.answer.message() if self.answer is not None else None

    def plain_usage(self) -> Plain:
        """`metrics()`'s counts and time to first token as plain values, no `Metrics` made
        (a listing sums them: `_sessions.Listed`, `Usage.plain`)."""
        return self.usage.plain()


def _call(
    call: CallData,
    sent: list[_Entry] | None,
    answer: _Entry | None,
    history: tuple[_Entry, ...],
) -> _Call:
    """The call's source; what it sent is kept as a prefix of its turn's history when it is
    one (the usual case: one list per turn instead of one per call)."""
    count = len(sent) if sent is not None else 0
    kept: Sequence[_Entry] | None = None
    if sent is not None:
        prefix = count <= len(history) and all(map(operator.is_, sent, history))
        kept = history if prefix else tuple(sent)
    return _Call(
        call.span,
        call.facts,
        call.usage,
        kept,
        count,
        answer,
    )


def _attach_tools(
    turns: list[Turn], sources: tuple[_ListSource, ...], tools: Sequence[SpanRecord]
) -> None:
    """Tool spans go to the turn running when they started; tool calls only seen in the
    messages are added from them (with no timing) when the turn's are first asked for."""
    if not turns:
        return
    starts = [t.start_ns for t in turns]
    for span in sorted(tools, key=lambda s: s.start_ns):
        i = max(bisect.bisect_right(starts, span.start_ns) - 1, 0)
        source = sources[i]
        if source.span_tools is None:
            source.span_tools = []
        source.span_tools.append(tool_call_of(span))
        turns[i].add_spans([span])


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
    """`merged_history` of a session's turns when called, worked out on their entries (the
    same steps on the same ids: an entry is one id of its session), so that only the
    messages of the result are made: an object the garbage collector does not track
    instead of a closure (one per session of a large file)."""

    sources: tuple[_ListSource, ...]

    def __call__(self) -> list[Message]:
        return _made(_merged(self.sources))


class _MergedCount(msgspec.Struct, gc=False):
    """`len(merged_history(turns))` of a session's turns, without making a `Message`."""

    sources: tuple[_ListSource, ...]

    def __call__(self) -> int:
        return len(_merged(self.sources))


def _merged(sources: tuple[_ListSource, ...]) -> Sequence[_Entry]:
    """`merged_history`'s steps on entries: ids compare as the entries' identities."""
    merged: Sequence[_Entry] = ()
    for source in sources:
        history = source.history
        head = history[: len(merged)]
        if len(head) == len(merged) and all(map(operator.is_, head, merged)):
            merged = history
        else:
            seen = set(map(id, merged))
            merged = [*merged, *(e for e in history if id(e) not in seen)]
    return merged


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

"""Our spans' messages, rebuilt exactly from the semconv parts and our meta list.

A chat span holds its input twice over: `gen_ai.input.messages` (the parts, without a leading
system message, which is `gen_ai.system_instructions`) and `definable_trace.messages` (one
content-free entry per message sent: id, time, metrics, ...; then the answer's entry when the
span has `gen_ai.usage.output_tokens`, see `sc.ATTR_MESSAGES`). Message i is
`message_from_parts(parts[i'], meta[i])`, the same function pair the emitter uses, so the round
trip is exact. Lists are parsed only when a message is asked for, from the `TextStore`. Files
written before hold the input's entries in `definable_trace.input.messages.meta` and the
answer's in `definable_trace.output.messages.meta` (its token counts left to the span's usage).

An answer produced in the session has its token counts on its chat span only (`sc.USAGE_COUNTS`):
an entry whose metrics hold no count gets them from the chat span whose list ends with that
message id (`Messages.with_counts`: the session's spans, else the whole load's `AnswerIndex`).

A `Ref` names one message: (the span that holds it, its index in that span's own list), index -1
for the span's output. In the compact history mode a span's list starts after the `offset`
messages its `base` span (the session's previous recorded call) holds, so `refs` follows bases.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import msgspec
import orjson

from .. import _semconv as sc
from .._messages import Message, Metrics, seconds_kept
from ._calls import error_of, finish_reason_of, first_text, usage_of
from ._records import EXACT_INT, SpanRecord, TraceWarning
from ._sessions import CallFacts, Counts, Usage, plain_of
from ._store import TextStore

__all__ = [
    "AnswerIndex",
    "Chat",
    "Messages",
    "Ref",
    "model_of",
    "plain_usage_of",
    "usage_of_chat",
]

Report = Callable[[TraceWarning], None]
_SHARED = frozenset({sc.ATTR_MESSAGES, sc.ATTR_INPUT_META, sc.INPUT_MESSAGES})  # by the store


class Chat:
    """A span whose input/output messages we read (a chat span, or a run span's new input);
    for a chat span, also the source of its `ModelCall`, read on demand and never kept."""

    __slots__ = ("answered", "base", "length", "messages", "meta_key", "offset", "span")

    def __init__(self, span: SpanRecord, messages: Messages) -> None:
        self.span = span
        self.messages = messages
        self.offset = max(span.integer(sc.ATTR_INPUT_OFFSET) or 0, 0)
        self.base: Chat | None = None
        self.length: int | None = None  # compact mode: messages in its whole input (`refs`)
        # Where its input's meta entries are: the one list (whose last entry is the answer's
        # when `answered`), else the input list of files written before.
        new = sc.ATTR_MESSAGES in span
        self.meta_key = sc.ATTR_MESSAGES if new else sc.ATTR_INPUT_META
        self.answered = new and sc.answered(span.__contains__)  # as `_answered(span)`

    def facts(self) -> CallFacts:
        span = self.span
        return CallFacts(
            request_model=first_text(span, sc.GEN_AI_REQUEST_MODEL),
            response_model=first_text(span, sc.GEN_AI_RESPONSE_MODEL),
            response_id=first_text(span, sc.GEN_AI_RESPONSE_ID),
            finish_reason=finish_reason_of(span),
            error=error_of(span),
        )

    def input_messages(self) -> list[Message] | None:
        return self.messages.build(self.messages.refs(self)) if self.has_input else None

    def output_message(self) -> Message | None:
        return self.messages.build([(self, -1)])[0] if self.has_output else None

    def metrics(self) -> Metrics:
        """The answer's own metrics (exact, from our meta list), else the span's usage."""
        span = self.span
        meta = self.messages.entries(self).out_meta if self.meta_output else None
        if meta is not None and isinstance(meta.get("metrics"), dict):
            try:
                metrics = sc.metrics_from_meta(meta["metrics"])
                if not _counts_out_of_range(metrics):
                    return metrics
                reason = "a count beyond 2**53"
            except ValueError as exc:  # pydantic's ValidationError
                reason = _first_line(exc)
            self.messages.unreadable(
                span,
                self.meta_key if self.answered else sc.ATTR_OUTPUT_META,
                f"holds unreadable metrics ({reason})",
            )
        return usage_of(span)

    def plain_usage(self) -> Usage:
        """`metrics()`'s counts and time to first token (see `plain_usage_of`)."""
        return plain_usage_of(self.span, self.messages, self)

    @property
    def meta_output(self) -> bool:
        """The answer has a meta entry (the one list's last, or the old output list)."""
        return self.answered or sc.ATTR_OUTPUT_META in self.span

    @property
    def has_output(self) -> bool:
        return self.meta_output or sc.OUTPUT_MESSAGES in self.span

    @property
    def has_input(self) -> bool:
        span = self.span
        return self.meta_key in span or sc.INPUT_MESSAGES in span

    @property
    def has_content(self) -> bool:
        span = self.span
        return sc.INPUT_MESSAGES in span or sc.OUTPUT_MESSAGES in span


Ref = tuple[Chat, int]


class Entries:
    """A span's message lists, each parsed on first use: input meta and parts, the system
    prompt, the output. Bad JSON reads as absent (and is reported once)."""

    __slots__ = ("_answered", "_found", "_messages", "_meta_key", "_one_list", "_span", "skip")

    def __init__(self, messages: Messages, chat: Chat) -> None:
        self._messages = messages
        self._span = chat.span
        self.skip = chat.offset
        self._meta_key = chat.meta_key
        self._answered = chat.answered
        # The one list's entries may leave an answer's counts to its chat span.
        self._one_list = chat.meta_key == sc.ATTR_MESSAGES
        self._found: dict[str, list[Any] | None] = {}

    def _list(self, key: str) -> list[Any] | None:
        if key not in self._found:  # a plain dict: cached_property locks on every read
            self._found[key] = self._messages.parse(self._span, key)
        return self._found[key]

    @property
    def metas(self) -> list[Any] | None:
        """The input's meta entries (without the answer's, when the one list ends with it)."""
        found = self._list(self._meta_key)
        return found[:-1] if found and self._answered else found

    @property
    def parts(self) -> list[Any] | None:
        return self._list(sc.INPUT_MESSAGES)

    @property
    def system(self) -> list[Any] | None:
        return self._list(sc.SYSTEM_INSTRUCTIONS)

    @property
    def out_meta(self) -> dict[str, Any] | None:
        """The answer's meta entry: the one list's last, else (files written before) the
        output list's, with the token counts that writer left to the span's `gen_ai.usage.*`
        read back (`sc.usage_into_meta`)."""
        if self._answered:
            found = self._list(self._meta_key)
            meta = found[-1] if found and isinstance(found[-1], dict) else None
        else:
            meta = _first(self._list(sc.ATTR_OUTPUT_META))
        return sc.usage_into_meta(meta, self._span.integer) if meta is not None else None

    @property
    def out_part(self) -> dict[str, Any] | None:
        return _first(self._list(sc.OUTPUT_MESSAGES))

    @property
    def count(self) -> int:
        if self.metas is not None:
            return len(self.metas)
        if self.parts is not None:
            return len(self.parts) + (1 if self.system is not None and self.skip == 0 else 0)
        return 0

    def messages(self, indexes: Iterable[int]) -> Iterator[Message]:
        """Messages of the span's own input by index (-1: its output), from parts and meta
        (`inputs`), each built by `_build`."""
        return itertools.starmap(self._build, self.inputs(indexes))

    def inputs(self, indexes: Iterable[int]) -> Iterator[tuple[dict[str, Any], Any, int]]:
        """What `_build` makes each message of `messages` from: its part, meta entry, index.

        The meta list covers every message sent; the parts list leaves out a leading system
        message (it is `gen_ai.system_instructions`) and, in compact mode, the first `skip`.
        """
        metas, parts, skip = self.metas, self.parts, self.skip
        # A system message with more than text (a name, media) is also written in full as the
        # first input part; then the parts list is complete.
        has_system = sc.SYSTEM_INSTRUCTIONS in self._span and not _starts_with_system(parts)
        first_part = max(skip, 1) if has_system else skip
        last: tuple[int, Any] = (-2, None)  # (index, ts) of the entry read before, in order
        one_list = self._one_list
        meta_list: list[Any] = metas if metas is not None else []
        part_list: list[Any] = parts if parts is not None else []
        n_metas, n_parts = len(meta_list), len(part_list)
        for j in indexes:
            if j < 0:
                yield self.out_part or {}, _with_ts(self.out_meta, metas, None), j
                continue
            meta = meta_list[j] if j < n_metas else {}
            if isinstance(meta, dict):
                if "ts" not in meta:
                    # Left out as the one before's: read in order, that one is at hand.
                    meta = {**meta, "ts": last[1]} if last[0] == j - 1 else _with_ts(meta, metas, j)
                ts = meta.get("ts")
                if ts.__class__ is int or _is_ts(ts):
                    last = (j, ts)
                if one_list and sc.counts_left_out(meta):
                    meta = self._messages.with_counts(self._span, meta)
            if has_system and skip + j == 0:
                yield {"role": "system", "parts": self.system or []}, meta, j
                continue
            k = skip + j - first_part
            part = part_list[k] if 0 <= k < n_parts else {}
            yield part if isinstance(part, dict) else {}, meta, j

    def _build(self, part: dict[str, Any], meta: Any, j: int) -> Message:
        """`message_from_parts`, or (for what a damaged file holds: a part of the wrong type, a
        role that is none of the four, meta of the wrong shape) the most that can be read,
        with a warning: the part without its meta, else an empty message of its role.
        `plain_message` first: the same message, made faster, for the plain shapes.

        Without its meta entry a message still gets the same id and time on every load (from
        the span and its place in it), never a new random id and the reading time."""
        meta = meta if isinstance(meta, dict) else {}
        if "id" not in meta or "ts" not in meta:
            meta = {**self._fallback(j), **meta}
        message = plain_message(part, meta)
        return message if message is not None else self._general(part, meta, j)

    def _general(self, part: dict[str, Any], meta: dict[str, Any], j: int) -> Message:
        """`_build` of what `plain_message` left to it (meta with its id and time)."""
        try:
            message = sc.message_from_parts(part, meta)
            reason = _out_of_range(message)
            if reason is None:
                return message
        except _UNREADABLE as exc:
            reason = _first_line(exc)
        self._messages.unreadable(self._span, "a message", f"is unreadable ({reason})")
        fallback = self._fallback(j)
        for data, extra in ((part, fallback), ({"role": part.get("role")}, fallback)):
            try:
                return sc.message_from_parts(data, extra)
            except _UNREADABLE:
                continue
        return Message(role="user", id=fallback["id"], created_at=fallback["ts"])

    def _fallback(self, j: int) -> dict[str, Any]:
        span = self._span
        key = f"{span.trace_id}/{span.span_id}/{j}".encode()
        return {
            "id": hashlib.blake2b(key, digest_size=16).hexdigest(),
            "ts": span.start_ns // 10**9,
        }


class HasChats(Protocol):
    """A run of the session, as `Messages` looks for an answer's chat span in it."""

    @property
    def chats(self) -> list[SpanRecord]:
        """Its chat spans (in any order: `Messages` takes them by time)."""
        ...


class Messages(msgspec.Struct, gc=False, eq=False):
    """Rebuilds the messages of one session's spans; bad JSON becomes one warning per span.

    A `Struct` the garbage collector does not track (one per session of ours, kept as long
    as it): it leads to the store, the spans and what it found, never back to itself or to
    the turns' sources that hold it (it keeps the session's runs, not their sources). Made
    with the store, the report function and the whole load's `AnswerIndex`, in that order."""

    store: TextStore
    report: Report
    # The whole load's answered chat spans: where `with_counts` finds an answer's span when
    # the session's (`runs`) do not hold it.
    everywhere: AnswerIndex | None
    # The session's runs (set by the caller), where `with_counts` looks first. Their spans,
    # not the turns' sources: a source holds this object, and a cycle through an untracked
    # object would never be collected.
    runs: Sequence[HasChats] = ()
    _reported: set[tuple[int, str]] | None = None  # made at the first problem
    _answers: dict[str, SpanRecord] | None = None  # answer id -> its chat span
    _told_missing: bool = False

    def with_counts(self, span: SpanRecord, meta: dict[str, Any]) -> dict[str, Any]:
        """An entry of `span`'s list whose token counts are on its answer's chat span
        (`sc.counts_left_out`), with them read back from there. Without that span among those
        read (a file cut short, spans dropped), they stay 0, and the session says so once."""
        answers = self._answers if self._answers is not None else self._index_answers()
        message_id = meta.get("id")
        found = answers.get(message_id) if isinstance(message_id, str) else None
        if found is None and self.everywhere is not None and isinstance(message_id, str):
            found = self.everywhere.find(message_id)
        if found is not None:
            return sc.usage_into_meta(meta, found.integer)
        if not self._told_missing:
            self._told_missing = True
            shown = message_id[:80] if isinstance(message_id, str) else message_id
            self.report(
                TraceWarning(
                    span.path,
                    span.line,
                    f"span {span.name!r}: the answer {shown!r} in its message list has its "
                    "token counts on the chat span that answered it, which is not among the "
                    "spans read; its counts read as 0",
                )
            )
        return meta

    def _index_answers(self) -> dict[str, SpanRecord]:
        """Each answered chat span of the session by its answer's id (its list's last entry);
        the first such span when ids repeat."""
        spans = (s for run in self.runs for s in sorted(run.chats, key=_by_time))
        self._answers = _answer_index(spans, self.store)
        return self._answers

    def entries(self, chat: Chat) -> Entries:
        return Entries(self, chat)

    def parse(self, span: SpanRecord, key: str) -> list[Any] | None:
        # Only a shared key's value may be a `SharedText` (an int): an integer found under any
        # other key is a wrong type, never a pointer into the store (another session's text).
        raw = span.shared(key) if key in _SHARED else span.get(key)
        if raw is None:
            return None
        if not isinstance(raw, str) and key not in _SHARED:
            self.unreadable(span, key, f"is not a JSON string (found {type(raw).__name__})")
            return None
        try:
            return self.store.items(raw)
        except ValueError as exc:
            self.unreadable(span, key, f"is not a JSON list ({_first_line(exc)})")
            return None

    def unreadable(self, span: SpanRecord, what: str, problem: str) -> None:
        """Tell once per span and attribute what could not be read there."""
        if self._reported is None:
            self._reported = set()
        if (id(span), what) in self._reported:
            return
        self._reported.add((id(span), what))
        self.report(
            TraceWarning(
                span.path,
                span.line,
                f"span {span.name!r}: {what} {problem}; its messages are read without it",
            )
        )

    def count(self, chat: Chat) -> int:
        """Messages in the span's own input list, counted without building them."""
        span = chat.span
        key = chat.meta_key
        if key in span:
            raw = span.shared(key)
            try:
                n = self.store.count(raw) if isinstance(raw, (str, int)) else 0
                return max(n - 1, 0) if chat.answered else n
            except ValueError:
                pass  # reported (once) by the parse below
        return self.entries(chat).count

    def window(self, chat: Chat, output: bool, start: int, stop: int | None) -> list[Ref]:
        """`refs(chat)` (plus its output) cut to [start:stop], without making the whole list
        when the span holds its whole input (no compact-mode offset)."""
        if chat.offset:
            refs = self.refs(chat)
            return [*refs, (chat, -1)][start:stop] if output else refs[start:stop]
        n = self.count(chat)
        total = n + 1 if output else n
        begin, end, _ = slice(start, stop).indices(total)
        refs = [(chat, j) for j in range(begin, min(end, n))]
        if output and end > n:
            refs.append((chat, -1))
        return refs

    def refs(self, chat: Chat) -> list[Ref]:
        """The chat's whole input, following compact-mode bases back to a full span.

        Bases always point to a span earlier in one order (see `_ours._link_bases`), so the
        chain ends; the `seen` check keeps it so whatever sets them."""
        chain = [chat]
        seen = {id(chat)}
        while chain[-1].offset and chain[-1].base is not None and id(chain[-1].base) not in seen:
            chain.append(chain[-1].base)
            seen.add(id(chain[-1]))
        refs: list[Ref] = []
        for c in reversed(chain):
            refs = refs[: c.offset] if c.offset else []
            refs.extend(zip(itertools.repeat(c), range(self.count(c))))
            if c is not chat and c.has_output:
                refs.append((c, -1))
        return refs

    def build(self, refs: list[Ref]) -> list[Message]:
        out: list[Message] = []
        for chat, group in itertools.groupby(refs, key=operator.itemgetter(0)):
            out.extend(self.entries(chat).messages(j for _, j in group))
        return out


class AnswerIndex:
    """Our answered chat spans of a whole load, by their answer's message id, indexed at the
    first look-up: where an answer's counts are found when its session's spans do not hold
    its chat span (a session `_stitch` put together, a run read alone to be stitched)."""

    def __init__(self, spans: list[SpanRecord], store: TextStore) -> None:
        self._spans: list[SpanRecord] | None = spans
        self._store = store
        self._index: dict[str, SpanRecord] = {}

    def find(self, message_id: str) -> SpanRecord | None:
        if self._spans is not None:
            self._index = _answer_index(self._spans, self._store)
            self._spans = None
        return self._index.get(message_id)


def _answer_index(spans: Iterable[SpanRecord], store: TextStore) -> dict[str, SpanRecord]:
    """Answered chat spans of the one-list layout by their answer's id (their list's last
    entry's), the first such span when ids repeat. A list that is not JSON is passed over (its
    session reports it when its messages are read)."""
    index: dict[str, SpanRecord] = {}
    for span in spans:
        if sc.ATTR_MESSAGES not in span or not sc.answered(span.__contains__):
            continue
        raw = span.shared(sc.ATTR_MESSAGES)
        try:
            found = store.items(raw) if isinstance(raw, (str, int)) else None
        except ValueError:
            continue
        last = found[-1] if found else None
        if isinstance(last, dict) and isinstance(last.get("id"), str):
            index.setdefault(last["id"], span)
    return index


def plain_usage_of(span: SpanRecord, messages: Messages, chat: Chat | None = None) -> Usage:
    """`Chat(span, messages).metrics()`'s counts and time to first token, read without a
    `Metrics` where `usage_of_chat` can (a listing sums them for every call; see
    `_sessions.ModelCall.gather`), else from `metrics()` of `chat`, or of a `Chat` made for
    that one look (not kept: a listing keeps no object per call)."""
    usage = usage_of_chat(span, messages)
    if usage is not None:
        return usage
    return plain_of((chat if chat is not None else Chat(span, messages)).metrics())


def usage_of_chat(span: SpanRecord, messages: Messages) -> Usage | None:
    """`Chat(span, messages).metrics()`'s token counts and time to first token, read without
    a `Metrics` (a listing sums them for every call) nor a `Chat`, or None when only
    `metrics()` can say: then ask it. Never different from `metrics()`.

    `metrics()` validates the answer's meta entry, with the counts it leaves out read back
    from the span (`sc.usage_into_meta`), else (no entry, or one that does not validate)
    takes the span's usage (`usage_of`). An entry whose metrics hold plain ints and floats is
    read here as pydantic would read it (`_plain_metrics`); anything else goes to
    `metrics()`, as does a call without an entry (a failed one).
    """
    # The list as `metrics()` reads it (`Entries.out_meta`); a damaged one is told once, here
    # or there.
    if _answered(span):
        found = messages.parse(span, sc.ATTR_MESSAGES)
        meta = found[-1] if found else None
    elif sc.ATTR_OUTPUT_META in span:
        meta = _first(_output_meta(span, messages))
    else:
        return None
    if not isinstance(meta, dict):
        return None
    return _plain_metrics(meta.get("metrics"), span)


def _output_meta(span: SpanRecord, messages: Messages) -> list[Any] | None:
    """`messages.parse(span, sc.ATTR_OUTPUT_META)`: that list (files written before) is a
    plain string, never shared, and for one `TextStore.items` is `orjson.loads` of it (a
    list). Read so here (a listing reads it of every call of such a file, and `parse`'s way
    there costs twice the parsing); anything else (not a string, not a JSON list) goes to
    `parse`, which tells."""
    raw = span.get(sc.ATTR_OUTPUT_META)
    if raw.__class__ is str:
        try:
            found: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            found = None
        if found.__class__ is list:
            items: list[Any] = found
            return items
    return messages.parse(span, sc.ATTR_OUTPUT_META)


def model_of(span: SpanRecord) -> str | None:
    """The model that answered a chat span, else the one asked for."""
    return first_text(span, sc.GEN_AI_RESPONSE_MODEL) or first_text(span, sc.GEN_AI_REQUEST_MODEL)


def _answered(span: SpanRecord) -> bool:
    """`Chat.answered`: the one list ends with the answer's entry."""
    return sc.ATTR_MESSAGES in span and sc.answered(span.__contains__)


_by_time = operator.attrgetter("start_ns", "end_ns")  # a run's chats in order of time

_COUNTS_READ = tuple(sc.USAGE_COUNTS.items())  # `_present_counts`


def _plain_metrics(data: Any, span: SpanRecord) -> Usage | None:
    """`sc.metrics_from_meta(sc.usage_into_meta({"metrics": data}, span.integer)["metrics"])`
    as counts and time to first token, when `data` holds only plain ints (counts) and floats
    or ints (times), which pydantic takes as they are (times as floats rounded to the
    microsecond, `Metrics._to_microseconds`); None for anything else (pydantic's lax
    conversions, its errors, counts out of range: `Chat.metrics` then decides).
    Hand-written: it stands in for a `Metrics` per call; tests/test_loading_facts.py checks
    it against pydantic."""
    if not isinstance(data, dict):
        return None
    counts = _plain_counts(data, span)
    if counts is None:
        return None
    duration = data.get("duration")
    first_token = data.get("time_to_first_token") if "time_to_first_token" in data else duration
    try:
        for value in (duration, first_token):
            if value is not None and value.__class__ is not float:
                if value.__class__ is not int:
                    return None
                float(value)  # an int too large for a float: pydantic refuses it
    except OverflowError:
        return None
    if first_token.__class__ is not float:
        first_token = None if first_token is None else float(first_token)
    return counts, seconds_kept(first_token)


def _plain_counts(data: dict[str, Any], span: SpanRecord) -> Counts | None:
    """`_plain_metrics`' counts, in the order of `Counts`: each a plain int in range, else
    None; one the entry leaves out is the span's (`_span_count`)."""
    low, high = -EXACT_INT, EXACT_INT
    found: list[int] = []
    present: dict[str, tuple[str, ...]] | None = None
    for name in _COUNT_NAMES:
        value: Any = data.get(name)
        if value.__class__ is not int:
            if value is not None or name in data:
                return None  # not an int (null included)
            if present is None:
                present = span.by_names(_PRESENT, _present_counts)
            attributes = present[name]
            value = _span_count(span, attributes) if attributes else 0  # in range
        elif not low < value < high:
            return None
        found.append(value)
    inputs, outputs, cache_read, cache_write, reasoning = found
    total: Any = data.get("total_tokens", inputs + outputs)
    if total.__class__ is not int or not low < total < high:
        return None
    return (inputs, outputs, total, cache_read, cache_write, reasoning)


_COUNT_NAMES = tuple(sc.USAGE_COUNTS)  # `_plain_metrics`
_PRESENT = "_rebuild.counts"  # `SpanRecord.by_names`' key for `_present_counts`


def _present_counts(span: SpanRecord) -> dict[str, tuple[str, ...]]:
    """For each count, the attributes of `sc.USAGE_COUNTS` a span of this shape has (most
    have two of the six): `_plain_metrics` asks for those alone, decided once per shape."""
    return {name: tuple(a for a in attributes if a in span) for name, attributes in _COUNTS_READ}


def _span_count(span: SpanRecord, attributes: tuple[str, ...]) -> int:
    """A count the meta entry leaves out, from the span as `sc.usage_into_meta` reads it:
    the first of `attributes` whose value is not 0 (a raw value that is not truthy never
    reads as an int that is: `SpanRecord.integer` is asked only of the others)."""
    for attribute in attributes:
        if span.get(attribute):
            value = span.integer(attribute)
            if value:
                return value
    return 0


# What `message_from_parts` raises on a part or meta of the wrong shape (pydantic's
# ValidationError is a ValueError; RecursionError: content nested too deep to validate).
_UNREADABLE = (AttributeError, KeyError, IndexError, TypeError, ValueError, RecursionError)


def _counts_out_of_range(metrics: Metrics) -> bool:
    """A count a JSON writer could not write back (compared one by one: read for every
    answer built, where a tuple and a generator per message cost more than the compares)."""
    low, high = -EXACT_INT, EXACT_INT
    return not (
        low < metrics.input_tokens < high
        and low < metrics.output_tokens < high
        and low < metrics.total_tokens < high
        and low < metrics.cache_read_tokens < high
        and low < metrics.cache_write_tokens < high
        and low < metrics.reasoning_tokens < high
    )


def _out_of_range(message: Message) -> str | None:
    """Integers a JSON writer could not write back (see `SpanRecord.integer`)."""
    if not -EXACT_INT < message.created_at < EXACT_INT:
        return "created_at beyond 2**53"
    if message.metrics is not None and _counts_out_of_range(message.metrics):
        return "a token count beyond 2**53"
    return None


def _first_line(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)  # pydantic: name the field, not the model
    if callable(errors):
        try:
            found: Any = errors()  # pydantic's list of dicts; anything else falls through
            first = found[0]
            return f"{'.'.join(map(str, first['loc'])) or 'value'}: {first['msg']}"[:200]
        except (IndexError, KeyError, TypeError):
            pass
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _with_ts(meta: Any, metas: list[Any] | None, j: int | None) -> Any:
    """A meta entry with the `ts` the writer left out when it repeated the one before
    (`sc.omit_repeated_ts`): the nearest earlier entry's in the list (for the answer's entry,
    `j` None: from the last input entry). Without one, `_build` falls back to the span start."""
    if not isinstance(meta, dict):
        return meta if meta is not None else {}
    if "ts" in meta or not metas:
        return meta
    for k in range((len(metas) if j is None else j) - 1, -1, -1):
        earlier = metas[k]
        if isinstance(earlier, dict) and _is_ts(earlier.get("ts")):  # damage is passed over
            return {**meta, "ts": earlier["ts"]}
    return meta


def _is_ts(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _first(items: list[Any] | None) -> dict[str, Any] | None:
    if not items or not isinstance(items[0], dict):
        return None
    first: dict[str, Any] = items[0]
    return first


def _starts_with_system(parts: list[Any] | None) -> bool:
    if not parts:
        return False
    first = parts[0]
    return isinstance(first, dict) and first.get("role") == "system"


_ROLES = frozenset(("system", "user", "assistant", "tool"))  # `Role`'s values


def plain_message(data: dict[str, Any], meta: dict[str, Any]) -> Message | None:
    """`sc.message_from_parts(data, meta)` when nothing in it is out of range
    (`_out_of_range`), for the plain shapes every writer we read writes: a known role; parts
    that are text (a string or null), a reasoning text, tool calls and their responses, or
    none at all (content not recorded); meta with a string id and an integer time; metrics
    whose counts are plain ints. None for anything else (media, values of other types,
    damage): the general path decides, as it does for every message a validation refuses here.

    The same function written straight for those shapes: no helper per part or per meta
    field, the metrics validated inside the message rather than apart (pydantic gives the
    same `Metrics`, with the same fields set), the range checks made on the inputs where they
    are plain. Every message of a history goes through it, and `message_from_parts`' helpers
    were most of a message's cost. tests/test_loading_list_messages.py compares the two on
    every message of the committed traces and on damaged ones."""
    role = data.get("role") or meta.get("role") or "user"
    if role.__class__ is not str or role not in _ROLES:
        return None
    fields: dict[str, Any] = {"role": role}
    parts: Any = data.get("parts")
    if parts.__class__ is list:
        if not _plain_parts(parts, fields):
            return None
    elif parts is not None:  # None: no content recorded, a message of its meta alone
        return None
    if data.get("name"):
        fields["name"] = data["name"]
    return _with_meta(fields, meta)


def _plain_parts(parts: list[Any], fields: dict[str, Any]) -> bool:
    """`message_from_parts`' reading of the parts into `fields`, when each is plain (see
    `plain_message`); False (and `fields` half filled) when one is not."""
    text: str | None = None
    calls: list[dict[str, Any]] = []
    for part in parts:
        if part.__class__ is not dict:
            return False
        kind = part.get("type")
        if kind == "text" or kind == "tool_call_response":
            found = _plain_text(part.get("content" if kind == "text" else "response"))
            if found is None:
                return False
            text = found if text is None else text + found
            if kind == "tool_call_response":
                fields["tool_call_id"] = part.get("id")
        elif kind == "tool_call":
            call = _plain_tool_call(part)
            if call is None:
                return False
            calls.append(call)
        elif kind == "reasoning":
            found = _plain_text(part.get("content"))
            if found is None:
                return False
            fields["reasoning_content"] = found
        else:  # media (`_media_from_parts`), and kinds `message_from_parts` passes over
            return False
    if text is not None:
        fields["content"] = text
    if calls:
        fields["tool_calls"] = calls
    return True


def _plain_text(value: Any) -> str | None:
    """`sc._as_text(value)` for a string or null; None for anything else."""
    if value is None:
        return ""
    return value if value.__class__ is str else None


def _plain_tool_call(part: dict[str, Any]) -> dict[str, Any] | None:
    """`sc._tool_call_from_part` for arguments that are a string or a JSON object."""
    arguments = part.get("arguments")
    if arguments.__class__ is not str:
        if arguments is None:
            arguments = {}
        if arguments.__class__ is not dict:
            return None
        try:
            arguments = orjson.dumps(arguments).decode()
        except TypeError:  # not JSON: the general path tells
            return None
    call_id, name = part.get("id"), part.get("name")
    if call_id is None:
        call_id = ""
    if name is None:
        name = ""
    if call_id.__class__ is not str or name.__class__ is not str:
        return None  # damaged: the general path reads it (`ToolCallPart`)
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _with_meta(fields: dict[str, Any], meta: dict[str, Any]) -> Message | None:
    """The message of `fields` with `sc._fields_from_meta(meta)` (id, time, metrics, tool call
    id), when those are plain (see `plain_message`)."""
    message_id: Any = meta.get("id")
    ts: Any = meta.get("ts")
    if message_id.__class__ is not str or ts.__class__ is not int:
        return None
    if not -EXACT_INT < ts < EXACT_INT:
        return None
    fields["id"] = message_id
    fields["created_at"] = ts
    metrics = meta.get("metrics")
    if metrics is not None:
        if metrics.__class__ is not dict:
            return None
        fields["metrics"] = metrics = dict(metrics)  # as `sc.metrics_from_meta` reads it:
        if "total_tokens" not in metrics:
            inputs = metrics.get("input_tokens") or 0
            outputs = metrics.get("output_tokens") or 0
            if inputs.__class__ is not int or outputs.__class__ is not int:
                return None
            metrics["total_tokens"] = inputs + outputs
        if "time_to_first_token" not in metrics and metrics.get("duration") is not None:
            metrics["time_to_first_token"] = metrics["duration"]
    if meta.get("tool_call_id") is not None:
        fields["tool_call_id"] = meta["tool_call_id"]
    try:
        message = Message(**fields)
    except ValueError:  # pydantic's ValidationError: the general path tells
        return None
    if message.metrics is not None and _counts_out_of_range(message.metrics):
        return None
    return message

"""What `load_traces` returns: `TraceSet` → `Session` → `Turn` → `ModelCall` / `ToolCall`.

Messages are rebuilt on demand, not at load time: a session's history is parsed from the spans
when `messages`, `history()` or a turn's `messages` is read, and nothing is cached, so listing
thousands of sessions keeps only their small summaries in memory. Each convention supplies the
rebuilding as a `TurnSource` (see `_ours`, `_foreign`); these classes only shape the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

import msgspec

from .._errors import SessionNotFoundError, TurnNotFoundError
from .._messages import Message, Metrics
from ._records import Interval, SpanRecord, TraceWarning, order_spans, to_datetime
from ._replayable import unreplayable

__all__ = [
    "CallFacts",
    "CallSource",
    "Lineage",
    "Listed",
    "ModelCall",
    "Session",
    "SessionNotFoundError",
    "ToolCall",
    "TraceSet",
    "Turn",
    "TurnSource",
    "plain_of",
]


class TurnSource(Protocol):
    """How a turn is read from its spans, each part when first asked for."""

    def count(self) -> int:
        """Messages in the history at the end of the turn."""
        ...

    def prior(self) -> int:
        """Messages in the history before the turn (what a fork at this turn starts from)."""
        ...

    def slice(self, start: int, stop: int | None = None) -> list[Message]: ...

    def model_calls(self) -> list[ModelCall]: ...

    def tool_calls(self) -> list[ToolCall]: ...

    def error(self) -> str | None: ...

    def spans(self) -> list[SpanRecord]: ...


@dataclass(frozen=True)
class Lineage:
    """Where a session came from: a `fork` of `parent_session` at `turn`, or a `replay` of it."""

    kind: str
    parent_session: str | None
    turn: int | None
    # None: the run completed; else "diverged", "interrupted" or "failed" (it stopped there).
    status: str | None = None


@dataclass
class ToolCall:
    """One tool call of a turn. `start`/`duration` are None when known only from the messages."""

    name: str
    call_id: str | None
    arguments: str | None
    result: str | None
    error: str | None
    start: datetime | None
    duration: float | None


class CallFacts(msgspec.Struct, frozen=True, gc=False):
    """What a model call's span says about it, read when first asked for.

    A frozen msgspec `Struct` (made for every call a listing reads the models of): its C
    constructor costs a tenth of a frozen dataclass's, and it holds only strings, so the
    garbage collector need not track it."""

    request_model: str | None
    response_model: str | None
    response_id: str | None
    finish_reason: str | None
    error: str | None


class CallSource(Protocol):
    """How a model call's facts, usage and messages are read from its span(s)."""

    def facts(self) -> CallFacts: ...

    def metrics(self) -> Metrics: ...

    def input_messages(self) -> list[Message] | None: ...

    def output_message(self) -> Message | None: ...


class PlainSource(Protocol):
    """A `CallSource` that also reads its usage as plain values (see `ModelCall.gather`)."""

    def plain_usage(self) -> Usage:
        """`metrics()`'s counts and time to first token, without making a `Metrics`."""
        ...


class ModelCall:
    """One model call: models, response id, finish reason, usage, and its messages on demand.

    `input_messages` is everything sent (system prompt first); `output_message` the answer.
    Both are None when the span carries no messages at all, and `output_message` also when
    the call failed (`error` then says why).
    """

    __slots__ = ("_facts", "_source", "span")

    def __init__(self, span: SpanRecord, source: CallSource) -> None:
        self.span = span
        self._source = source
        self._facts: CallFacts | None = None

    def __repr__(self) -> str:
        model = self.response_model or self.request_model
        return f"ModelCall({model!r}, finish_reason={self.finish_reason!r}, error={self.error!r})"

    def _known(self) -> CallFacts:
        if self._facts is None:
            self._facts = self._source.facts()
        return self._facts

    @property
    def request_model(self) -> str | None:
        return self._known().request_model

    @property
    def response_model(self) -> str | None:
        return self._known().response_model

    @property
    def response_id(self) -> str | None:
        return self._known().response_id

    @property
    def finish_reason(self) -> str | None:
        return self._known().finish_reason

    @property
    def error(self) -> str | None:
        return self._known().error

    @property
    def start(self) -> datetime:
        return self.span.start

    @property
    def metrics(self) -> Metrics:
        """Tokens, duration and (when known) time to first token of this call."""
        return self._source.metrics()

    def _model(self) -> str | None:
        """`response_model or request_model`, without keeping the call's facts (a listing
        reads this of every call and nothing else of them)."""
        facts = self._facts if self._facts is not None else self._source.facts()
        return facts.response_model or facts.request_model

    @property
    def input_messages(self) -> list[Message] | None:
        return self._source.input_messages()

    @property
    def output_message(self) -> Message | None:
        return self._source.output_message()

    def gather(self, listed: Listed) -> None:
        """Add this call's usage and model to a session's `Listed`: as plain values when its
        source reads them so (`PlainSource`), else from its `metrics`."""
        source = self._source
        if _has(source.__class__, "plain_usage"):
            listed.add_usage(cast(PlainSource, source).plain_usage())
        else:
            listed.add(source.metrics())
        listed.model(self._model())


_UNREAD: Any = object()


class Turn(Interval):
    """One turn: a run of our agent, or (other instrumentations) the calls after one user message.

    `start`/`end`/`duration` run from the turn's first span's start to its last span's end.

    `messages` are those the turn added (its user input first, then answers and tool results);
    `history` is the whole conversation at the end of the turn. Everything but the index and
    the times is read from the spans when first asked for, so that loading a large file and
    listing its sessions builds no more than that.
    """

    __slots__ = (
        "_error",
        "_model_calls",
        "_source",
        "_spans",
        "_tool_calls",
        "_unreplayable",
        "end_ns",
        "index",
        "run_id",
        "start_ns",
    )

    def __init__(
        self, *, index: int, run_id: str | None, start_ns: int, end_ns: int, source: TurnSource
    ) -> None:
        self.index = index
        self.run_id = run_id
        self.start_ns = start_ns
        self.end_ns = end_ns
        self._source = source
        self._model_calls: list[ModelCall] | None = None
        self._tool_calls: list[ToolCall] | None = None
        self._spans: list[SpanRecord] | None = None
        self._error: str | None = _UNREAD
        self._unreplayable: str | None = _UNREAD

    def __repr__(self) -> str:
        return f"Turn({self.index}, calls={len(self.model_calls)}, error={self.error!r})"

    @property
    def unreplayable(self) -> str | None:
        """Why this turn cannot be replayed, or None: its content was not recorded, was cut
        (an attribute size limit, a truncation marker) or was stored by reference (`*_ref`).
        Its history is then incomplete, not a shorter conversation (see `_replayable`)."""
        if self._unreplayable is _UNREAD:
            self._unreplayable = unreplayable(self.model_calls)
        return self._unreplayable

    @property
    def model_calls(self) -> list[ModelCall]:
        if self._model_calls is None:
            self._model_calls = self._source.model_calls()
        return self._model_calls

    @property
    def tool_calls(self) -> list[ToolCall]:
        if self._tool_calls is None:
            self._tool_calls = self._source.tool_calls()
        return self._tool_calls

    @tool_calls.setter
    def tool_calls(self, calls: list[ToolCall]) -> None:
        self._tool_calls = calls

    @property
    def error(self) -> str | None:
        """Why the turn failed (its run, else its last model call); a failed tool is not one."""
        if self._error is _UNREAD:
            self._error = self._source.error()
        return self._error

    @property
    def spans(self) -> list[SpanRecord]:
        """Every span behind the turn: parents before children, siblings by start time."""
        if self._spans is None:
            self._spans = order_spans(self._source.spans())
        return self._spans

    def add_spans(self, spans: Iterable[SpanRecord]) -> None:
        self._spans = order_spans([*self.spans, *spans])

    @property
    def messages(self) -> list[Message]:
        return self._source.slice(self._source.prior())

    @property
    def input(self) -> Message | None:
        """The user message that started the turn (None when the run had no new input)."""
        prior = self._source.prior()
        first = self._source.slice(prior, prior + 1)
        return first[0] if first and first[0].role == "user" else None

    @property
    def history(self) -> list[Message]:
        return self._source.slice(0)

    @property
    def history_count(self) -> int:
        """`len(history)`, counted without building the messages where the spans allow."""
        return self._source.count()

    @property
    def history_before(self) -> list[Message]:
        """The history the turn started from (before its user input)."""
        return self._source.slice(0, self._source.prior())

    @property
    def metrics(self) -> Metrics:
        """Tokens and durations summed over the turn's model calls."""
        return sum_metrics(call.metrics for call in self.model_calls)

    def gather(self, listed: Listed) -> None:
        """Add the turn's calls to `listed` (a session's token counts and models). A source
        that reads them from its spans without a `ModelCall` or `Metrics` per call
        (`ListedSource`: our runs) adds them itself; otherwise its calls are made for this
        one look and not kept (a listing of thousands of sessions would keep a list and a
        `ModelCall` per call, all tracked by the garbage collector), unless the turn has
        them already, and each adds its usage (`ModelCall.gather`)."""
        source = self._source
        calls = self._model_calls
        if calls is None:
            if _has(source.__class__, "gather"):
                cast(ListedSource, source).gather(listed)
                return
            calls = source.model_calls()
        for call in calls:
            call.gather(listed)


_HAS: dict[tuple[type, str], bool] = {}


def _has(kind: type, name: str) -> bool:
    """Whether a source class has the method `name` (asked once per class: a failed
    attribute look-up costs more than the rest of a call's share of a listing)."""
    found = _HAS.get((kind, name))
    if found is None:
        found = _HAS[kind, name] = callable(getattr(kind, name, None))
    return found


class Session:
    """One conversation, as its spans tell it.

    `has_content` is False when the spans carry no message text (content capture was off): the
    turns, usage and message roles are real, the texts are not there, and `messages` then holds
    content-free messages (role, id, time, metrics) rather than an invented conversation.
    `inferred` is True when no span named the session: its calls were then `stitched` together
    by the continuity of their histories (id `inferred-<hash>`, stable for the same input;
    `lineage.kind == "branch"` for a second continuation of one history), or, without content
    to compare, it is one trace (the id is the trace id). `id_inferred` is the old name.
    `duration` is wall-clock seconds from the first span to the last; `metrics.duration` is
    the sum of the turns' durations.
    """

    def __init__(
        self,
        *,
        id: str,
        turns: list[Turn],
        convention: str,
        inferred: bool,
        has_content: bool,
        lineage: Lineage | None,
        agent_name: str | None,
        messages: Callable[[], list[Message]],
        stitched: bool = False,
        message_count: Callable[[], int] | None = None,
    ) -> None:
        self.id = id
        self.turns = turns
        self.convention = convention
        self.inferred = inferred
        self.stitched = stitched
        self.has_content = has_content
        self.lineage = lineage
        self.agent_name = agent_name
        self._messages = messages
        self._count = message_count
        self._totals: _Totals | None = None
        start, end = _bounds(turns)
        self.start = to_datetime(start)
        self.end = to_datetime(end)

    def __repr__(self) -> str:
        content = "" if self.has_content else ", no content"
        return f"Session({self.id!r}, turns={len(self.turns)}, {self.convention}{content})"

    @property
    def replayable(self) -> bool:
        """Every turn has its content whole (see `Turn.unreplayable` for why not)."""
        return all(t.unreplayable is None for t in self.turns)

    @property
    def id_inferred(self) -> bool:
        """The name `inferred` had before stitching (kept for existing callers)."""
        return self.inferred

    @property
    def messages(self) -> list[Message]:
        """The whole conversation at the end of the last turn."""
        return self._messages()

    def history(self, before_turn: int) -> list[Message]:
        """What a fork at turn `before_turn` starts from: the history before that turn's input.

        Turns before the first recorded one (a fork records only the turns it ran) are cut out of
        the first turn's starting history at their user message.
        """
        if not self.turns:
            raise TurnNotFoundError(self.id, before_turn, 0)
        first, last = self.turns[0].index, self.turns[-1].index
        matching = [t for t in self.turns if t.index == before_turn]
        if matching:
            return matching[-1].history_before
        if before_turn == last + 1:
            return self.messages
        if 1 <= before_turn < first:
            return _cut_before_user(self.turns[0].history_before, before_turn, self.id)
        raise TurnNotFoundError(self.id, before_turn, last)

    @property
    def metrics(self) -> Metrics:
        """Tokens summed over every model call; `duration` is the sum of the turn durations.
        (Summed once, with `models`: a listing reads several of its fields; each read gets
        its own copy.)"""
        return self._totaled().metrics()

    def _totaled(self) -> _Totals:
        """One pass over the calls for `metrics` and `models` (a listing reads both): sums of
        ints, no `Metrics` kept (see `Listed`, `_Totals`)."""
        if self._totals is None:
            listed = Listed()
            for turn in self.turns:
                turn.gather(listed)
            self._totals = listed.totals(sum(t.duration for t in self.turns))
        return self._totals

    @property
    def message_count(self) -> int:
        """`len(messages)`, counted without building the messages when the turns can (ours
        count the entries of their lists): what listing thousands of sessions needs."""
        if self._count is not None:
            return self._count()
        return len(self.messages)

    @property
    def model_calls(self) -> int:
        return sum(len(t.model_calls) for t in self.turns)

    @property
    def models(self) -> list[str]:
        """The models that answered, in order of first use (the requested one if none said)."""
        totals = self._totaled()
        first = [totals.model] if totals.model is not None else []
        return [*first, *totals.more_models]

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()


def _bounds(turns: list[Turn]) -> tuple[int, int]:
    """The first start and the last end of the turns (0, 0 without turns): made for every
    session of a load, most of which have one to three turns."""
    if len(turns) == 1:
        return turns[0].start_ns, turns[0].end_ns
    if not turns:
        return 0, 0
    return min([t.start_ns for t in turns]), max([t.end_ns for t in turns])


_COUNTS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)

Counts = tuple[int, int, int, int, int, int]
"""A call's token counts as plain ints, in the order of `_COUNTS`."""

Usage = tuple[Counts, float | None]
"""A call's counts and time to first token (None when unknown)."""


def plain_of(metrics: Metrics) -> Usage:
    """A `Metrics`' counts and time to first token (what a `Listed` adds of it)."""
    return (
        metrics.input_tokens,
        metrics.output_tokens,
        metrics.total_tokens,
        metrics.cache_read_tokens,
        metrics.cache_write_tokens,
        metrics.reasoning_tokens,
    ), metrics.time_to_first_token


class ListedSource(Protocol):
    """A `TurnSource` that can also add its calls to a `Listed` itself (see `Turn.gather`)."""

    def gather(self, listed: Listed) -> None: ...


class Listed:
    """What a listing reads of a session's calls, gathered in one pass: token counts summed as
    ints, the first known time to first token, the models in order of first use.

    `sum_metrics` of every call's `Metrics` gives the same sums, but a `Metrics` per call (for
    ours rebuilt from the meta list) is most of what a listing of many short sessions costs;
    a source that reads a call's counts plainly adds them with `add_usage`, and the session
    gets one `Metrics` when asked (`_Totals`).
    """

    __slots__ = ("_first_token", "_found", "_known", "models")

    def __init__(self) -> None:
        self._found: list[Counts] = []  # each call's, summed once at the end (`totals`)
        self.models: dict[str, None] = {}
        self._first_token: float | None = None
        self._known = False  # a call has given its first token time (as `sum_metrics`)

    def add(self, metrics: Metrics) -> None:
        """A call's `Metrics` (what `sum_metrics` adds)."""
        self.add_usage(plain_of(metrics))

    def add_usage(self, usage: Usage) -> None:
        """A call's counts and time to first token, as `add` takes them from its `Metrics`."""
        found, first_token = usage
        self._found.append(found)
        if not self._known:
            self._first_token = first_token
            self._known = first_token is not None

    @property
    def counts(self) -> Counts:
        """The calls' counts summed (ints: in any order the same sums)."""
        found = self._found
        if len(found) == 1:
            return found[0]
        if not found:
            return (0, 0, 0, 0, 0, 0)
        summed = tuple(map(sum, zip(*found, strict=True)))
        return summed  # type: ignore[return-value]  # six sums of six columns

    def model(self, model: str | None) -> None:
        if model:
            self.models.setdefault(model)

    def totals(self, duration: float) -> _Totals:
        """What the session keeps; `duration`: the sum of its turns' durations."""
        models = list(self.models)
        inputs, outputs, total, cache_read, cache_write, reasoning = self.counts
        return _Totals(
            input_tokens=inputs,
            output_tokens=outputs,
            total_tokens=total,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            reasoning_tokens=reasoning,
            duration=duration,
            time_to_first_token=self._first_token,
            model=models[0] if models else None,
            more_models=tuple(models[1:]) if len(models) > 1 else (),
        )


_FIELDS = frozenset(Metrics.model_fields)


class _Totals(msgspec.Struct, frozen=True, gc=False):
    """A session's `metrics` and `models` as plain values: an object the garbage collector
    does not track instead of a `Metrics` (and its set of fields) and a tuple per session.
    A listing of thousands of sessions then adds so few objects that the collector's full
    pass over everything the load made does not come round during it (measured: 0.15 s of
    a 0.46 s listing of 6,454 sessions).

    `time_to_first_token` is as a `Metrics` validated it (rounded); `duration` as summed.
    `model` is the first model used (a session usually has one), `more_models` the others.
    """

    input_tokens: int
    output_tokens: int
    total_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    duration: float
    time_to_first_token: float | None
    model: str | None
    more_models: tuple[str, ...]

    def metrics(self) -> Metrics:
        """What the session's total was before: `sum_metrics(...).model_copy(update=
        {"duration": duration})` (every field set; the duration unrounded, as summed).
        A copy of a `Metrics` with every field set, updated (pydantic's `model_copy`, which
        does not validate: the values are a validated `Metrics`' already): half the cost of
        `model_construct`, read for every row of a listing."""
        return _EVERY_FIELD.model_copy(
            update={
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "total_tokens": self.total_tokens,
                "cache_read_tokens": self.cache_read_tokens,
                "cache_write_tokens": self.cache_write_tokens,
                "reasoning_tokens": self.reasoning_tokens,
                "duration": self.duration,
                "time_to_first_token": self.time_to_first_token,
            }
        )


# Never handed out: `_Totals.metrics` gives copies of it.
_EVERY_FIELD = Metrics.model_construct(set(_FIELDS), **dict.fromkeys(Metrics.model_fields, 0))


def sum_metrics(metrics: Iterable[Metrics]) -> Metrics:
    """`Metrics() + a + b + ...`, validated once instead of once per addition (a session's
    total is read for every row of a listing): counts and durations add up, the first known
    time to first token is kept."""
    counts = dict.fromkeys(_COUNTS, 0)
    duration: float | None = None
    first_token: float | None = None
    for item in metrics:
        for name in _COUNTS:
            counts[name] += getattr(item, name)
        if item.duration is not None:
            duration = item.duration if duration is None else duration + item.duration
        if first_token is None:
            first_token = item.time_to_first_token
    return Metrics(**counts, duration=duration, time_to_first_token=first_token)


def _cut_before_user(history: list[Message], turn: int, session_id: str) -> list[Message]:
    users = [i for i, m in enumerate(history) if m.role == "user"]
    if not 1 <= turn <= len(users):
        raise TurnNotFoundError(session_id, turn, len(users))
    return history[: users[turn - 1]]


class TraceSet:
    """The sessions found in the files (ordered by start) and the warnings about them.

    `warnings` holds every problem found while loading. Message lists are parsed only when
    first read, so reading a session (`messages`, a turn's `history`, a call's messages) may
    find more, a damaged list say: the accessor that finds one appends it to `warnings` before
    it returns. `take_warnings()` hands out those not taken yet: call it after loading and
    again after reading (the CLI does, before it exits), and none is missed or told twice.
    """

    def __init__(
        self,
        sessions: list[Session],
        warnings: list[TraceWarning],
        paths: list[str],
        *,
        named_ids: list[str] | None = None,
    ) -> None:
        self.sessions = sessions
        self.warnings = warnings
        self.paths = paths
        # Set by a one-session load (`load_traces(..., session=S)`) that found no line naming
        # S, so knows S is not in the input without loading it: the set is then empty, and
        # these, the session ids its lines name, are what `session()` suggests from.
        self.named_ids = named_ids
        self._by_id = {s.id: s for s in sessions}
        self._taken = 0

    def take_warnings(self) -> list[TraceWarning]:
        """The warnings added since the last call (all of them on the first)."""
        new = self.warnings[self._taken :]
        self._taken += len(new)
        return new

    def __repr__(self) -> str:
        return f"TraceSet({len(self.sessions)} sessions, {len(self.warnings)} warnings)"

    def __iter__(self) -> Iterator[Session]:
        return iter(self.sessions)

    def __len__(self) -> int:
        return len(self.sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._by_id

    def session(self, session_id: str) -> Session:
        """The session with this id; `SessionNotFoundError` (a `KeyError`) names close ones."""
        found = self._by_id.get(session_id)
        if found is None:
            if self.named_ids is not None:
                raise SessionNotFoundError(session_id, self.named_ids, scanned=True)
            raise SessionNotFoundError(session_id, list(self._by_id))
        return found

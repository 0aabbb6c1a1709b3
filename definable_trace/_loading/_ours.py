"""Our agent's spans back into turns, exactly: every message with its id, time and metrics.

A run is one turn: an `invoke_agent` span with `chat` and `execute_tool` children; the run and
tool spans carry `definable_trace.turn.index`. A run's id is its run span's span id, or the
`definable_trace.run.id` the run span carries (a caller's own id; every run's in files written
before run ids were span ids, when the tool and chat spans carried it too). The history at the
end of a turn is its last chat's input plus that chat's output; messages are rebuilt from the
semconv parts with `message_from_parts`, index-aligned with our content-free meta list.

In the compact history mode a chat span leaves out its first `definable_trace.input.messages
.offset` messages: they are the history (input and output) of the session's previous recorded
chat, which is found by time: the last successful chat of the same run that ended before this
one started, or else of the session before the run started.

Nothing is parsed while assembling: a turn holds `Chat` references and `_RunSource` rebuilds
its messages when asked (`Ref` = (chat, index in its own list), index -1 = its output).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from .. import _semconv as sc
from .._messages import Message
from ._calls import error_of, tool_call_of
from ._rebuild import AnswerIndex, Chat, Messages, Ref, model_of, plain_usage_of
from ._records import SpanRecord, TraceWarning
from ._sessions import Lineage, Listed, ModelCall, ToolCall, Turn
from ._store import TextStore

__all__ = ["OurRun", "build_our_turns", "lineage_of"]


Report = Callable[[TraceWarning], None]


class OurRun(msgspec.Struct, gc=False, eq=False):
    """The spans of one run, as the assembler gathered them (tools and others are rare enough
    that their lists are made only when there is something to put in them).

    A `Struct` the garbage collector does not track (one per run of a file, kept as long as
    its session): it holds spans and lists of spans, nothing that leads back to it. Compared
    by identity (`eq=False`), as a plain object."""

    run_id: str
    run: SpanRecord | None = None
    chats: list[SpanRecord] = []  # a new list for each run (msgspec copies empty defaults)
    tools: list[SpanRecord] | tuple[()] = ()
    others: list[SpanRecord] | tuple[()] = ()

    def add_tool(self, span: SpanRecord) -> None:
        if not isinstance(self.tools, list):
            self.tools = []
        self.tools.append(span)

    def add_other(self, span: SpanRecord) -> None:
        if not isinstance(self.others, list):
            self.others = []
        self.others.append(span)

    @property
    def start_ns(self) -> int:
        if self.run is not None:
            return self.run.start_ns
        return min(s.start_ns for s in self.spans())

    @property
    def end_ns(self) -> int:
        if self.run is not None:
            return self.run.end_ns
        return max(s.end_ns for s in self.spans())

    @property
    def index(self) -> int:
        """The turn number its run span carries, else its first chat or tool span that does
        (the run span first, without a tuple of every span: it nearly always has it)."""
        if self.run is not None:
            value: int | None = self.run.integer(sc.ATTR_TURN_INDEX)
            if value is not None:
                return value
        for spans in (self.chats, self.tools):
            for span in spans:
                value = span.integer(sc.ATTR_TURN_INDEX)
                if value is not None:
                    return value
        return 0

    def spans(self) -> list[SpanRecord]:
        head = [self.run] if self.run is not None else []
        return [*head, *self.chats, *self.tools, *self.others]


class _RunSource(msgspec.Struct, gc=False, eq=False):
    """One run read as a turn, each part when first asked for: its history is its last chat's
    input and output (or the previous turn's plus its own input, when it has no chat).

    A `Struct` the garbage collector does not track (one per run of a file, kept as long as
    its session): it leads to the session's `Messages`, its run's spans, the source before it
    and the chats it made, none of which leads back to it. Made with the `Messages`, the run
    and the previous source, in that order."""

    messages: Messages
    run: OurRun
    previous: _RunSource | None
    _chats: list[Chat] | None = None
    _run_input: Chat | bool | None = False  # False: not looked at yet
    _count: int | None = None
    _prior: int | None = None

    @property
    def chats(self) -> list[Chat]:
        if self._chats is None:
            self._chats = self._made_chats()
        return self._chats

    def _made_chats(self) -> list[Chat]:
        """The run's chats by time: those kept for its messages once they are read, else
        made for one look and not kept. A listing of thousands of sessions then keeps no
        object per call (each would be one more for the garbage collector to track)."""
        if self._chats is not None:
            return self._chats
        return [Chat(s, self.messages) for s in self._by_time()]

    def _last_chat(self) -> Chat | None:
        """`_made_chats()[-1]` (None without chats), making only that one `Chat`: the last
        of the chats sorted by time is the last of the latest among equal times, which is
        what `max` finds first going backwards."""
        if self._chats is not None:
            return self._chats[-1] if self._chats else None
        spans = self.run.chats
        return Chat(max(reversed(spans), key=_by_time), self.messages) if spans else None

    def _by_time(self) -> list[SpanRecord]:
        return sorted(self.run.chats, key=_by_time)

    @property
    def run_input(self) -> Chat | None:
        if self._run_input is False:
            head = self.run.run
            chat = Chat(head, self.messages) if head is not None else None
            self._run_input = chat if chat is not None and chat.has_input else None
        return self._run_input  # type: ignore[return-value]

    def model_calls(self) -> list[ModelCall]:
        return [ModelCall(c.span, c) for c in self.chats]

    def gather(self, listed: Listed) -> None:
        """The run's calls into a session's `Listed`, in the order of `model_calls` but
        without making them (nor a `Chat`, unless it must be asked): each call's counts
        read plainly (`plain_usage_of`), its whole `metrics()` only where that cannot say."""
        messages = self.messages
        chats = self._chats
        spans = [c.span for c in chats] if chats is not None else self._by_time()
        for span in spans:
            listed.add_usage(plain_usage_of(span, messages))
            listed.model(model_of(span))

    def tool_calls(self) -> list[ToolCall]:
        return [tool_call_of(s) for s in sorted(self.run.tools, key=_by_time)]

    def error(self) -> str | None:
        head = self.run.run
        error = error_of(head) if head is not None else None
        if error is None and self.chats:
            error = error_of(self.chats[-1].span)
        return error

    def spans(self) -> list[SpanRecord]:
        return self.run.spans()

    def _refs(self) -> list[Ref]:
        if self.chats:
            last = self.chats[-1]
            refs = self.messages.refs(last)
            return [*refs, (last, -1)] if last.has_output else refs
        refs = self.previous._refs() if self.previous is not None else []
        if self.run_input is not None:
            refs.extend((self.run_input, j) for j in range(self.messages.count(self.run_input)))
        return refs

    def count(self) -> int:
        if self._count is None:
            last = self._last_chat()
            if last is not None and not last.offset:  # `len(self._refs())`, no list made
                self._count = self.messages.count(last) + (1 if last.has_output else 0)
            else:
                self._count = len(self._refs())
        return self._count

    def prior(self) -> int:
        if self._prior is None:
            self._prior = self._find_prior()
        return self._prior

    def _find_prior(self) -> int:
        if not self.chats:
            return self.previous.count() if self.previous is not None else 0
        first = self.chats[0]
        sent = len(self.messages.refs(first)) if first.offset else self.messages.count(first)
        if self.run_input is not None:
            new = self.messages.count(self.run_input)
        else:  # run span lost: the new input is the trailing user message, if any
            last = self.messages.build(self.messages.window(first, False, sent - 1, sent))
            new = 1 if last and last[0].role == "user" else 0
        return max(sent - new, 0)

    def slice(self, start: int, stop: int | None = None) -> list[Message]:
        if self.chats:
            last = self.chats[-1]
            return self.messages.build(self.messages.window(last, last.has_output, start, stop))
        return self.messages.build(self._refs()[start:stop])


def build_our_turns(
    runs: list[OurRun],
    store: TextStore,
    report: Report,
    compact: bool,
    answers: AnswerIndex | None = None,
) -> list[Turn]:
    """The turns of one session from its runs, ordered by turn index then start.

    `compact`: some chat span has an input offset (compact history mode); its chats refer to
    each other then, so they are all read and linked now instead of when first needed.
    `answers`: the whole load's answered chat spans, for an answer whose token counts are on a
    chat span outside these runs (see `Messages.with_counts`).
    """
    # Each run's index and start read once (properties that look through its spans).
    keyed = sorted(((r.index, r.start_ns, n) for n, r in enumerate(runs)))
    runs = [runs[n] for _, _, n in keyed]
    messages = Messages(store, report, answers)
    sources: list[_RunSource] = []
    for run in runs:
        sources.append(_RunSource(messages, run, sources[-1] if sources else None))
    messages.runs = tuple(runs)  # of untracked runs: itself untracked after a collection
    if compact:
        _link_bases([s.chats for s in sources], messages, report)
    return [
        Turn(index=index, run_id=run.run_id, start_ns=start, end_ns=run.end_ns, source=source)
        for (index, start, _), run, source in zip(keyed, runs, sources, strict=True)
    ]


def _by_time(span: SpanRecord) -> tuple[int, int]:
    return span.start_ns, span.end_ns


def _link_bases(chats_by_run: list[list[Chat]], messages: Messages, report: Report) -> None:
    """Compact mode: give each chat with an offset the earlier chat that holds its prefix.

    Chats are taken in the order of their histories' lengths (then turn index, then time): a
    conversation's history only grows, so this order does not depend on timestamps, which a
    damaged or clock-skewed file may have moved. A chat's base is the nearest earlier chat
    whose history and answer cover the `offset` messages left out (an exact fit first); bases
    thus always point backwards in one order, and no chain of bases can loop.
    """
    ordered = sorted(
        (
            (chat.offset + messages.count(chat), run, n, chat)
            for run, chats in enumerate(chats_by_run)
            for n, chat in enumerate(chats)
        ),
        key=lambda item: item[:3],
    )
    done: list[Chat] = []  # earlier chats with an answer, nearest last
    for _, _, _, chat in ordered:
        chat.length = messages.count(chat)
        if chat.offset:
            chat.base = _base(chat, done)
            if chat.base is None:
                _no_base(chat, report)
            else:
                chat.length += min(chat.offset, (chat.base.length or 0) + 1)
        if chat.has_output:
            done.append(chat)


def _base(chat: Chat, done: list[Chat]) -> Chat | None:
    """The nearest earlier chat whose input and answer are exactly the `offset` messages,
    else the nearest that holds at least that many (the user passed an edited history)."""
    covering = None
    for earlier in reversed(done):
        total = (earlier.length or 0) + 1
        if total == chat.offset:
            return earlier
        if covering is None and total > chat.offset:
            covering = earlier
    return covering


def _no_base(chat: Chat, report: Report) -> None:
    report(
        TraceWarning(
            chat.span.path,
            chat.span.line,
            f"span {chat.span.name!r} (compact history mode) leaves out its first "
            f"{chat.offset} messages, and no earlier span of the session holds them: its "
            "history starts after them",
        )
    )


def lineage_of(runs: list[OurRun]) -> Lineage | None:
    """Set by the CLI on every span of a fork's or replay's runs: the first run's head says."""
    for run in sorted(runs, key=lambda r: r.start_ns):
        span = run.run or run.spans()[0]
        kind = span.text(sc.ATTR_LINEAGE_KIND)
        if kind:
            return Lineage(
                kind,
                span.text(sc.ATTR_LINEAGE_PARENT),
                span.integer(sc.ATTR_LINEAGE_TURN),
                _lineage_status(runs),
            )
    return None


def _lineage_status(runs: list[OurRun]) -> str | None:
    """How the run stopped when it did not complete (the status its failed spans carry)."""
    for run in runs:
        for span in run.spans():
            status = span.text(sc.ATTR_LINEAGE_STATUS)
            if status:
                return status
    return None

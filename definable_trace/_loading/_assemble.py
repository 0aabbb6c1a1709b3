"""From all spans read to sessions: classify each span, bucket it by session, build the turns.

Our runs are gathered by their run span: its `definable_trace.run.id` when it has one (files
written before run ids became span ids, and caller-given run ids), else its span id; a chat or
tool span's run is its parent's. Other
instrumentations' calls, tools and grouping spans by session. A model call of another
instrumentation made inside one of our runs (a tool that calls a model) belongs to that run's
spans, not to the conversation. Spans of no known role that sit under a turn's span (HTTP calls,
a tool's own spans) join that turn's `spans`. What the loader had to guess is said once per
file: sessions named by trace id, sessions without message content.
"""

from __future__ import annotations

import bisect
import functools
import operator
from collections.abc import Callable

import msgspec

from .. import _semconv as sc
from .._messages import Message
from .._semconv import ATTR_INPUT_OFFSET, ATTR_RUN_ID, ATTR_TURN_INDEX
from . import _conventions as conv
from ._calls import CallData, Memo
from ._foreign import build_foreign_turns, merged_history
from ._graph import SpanGraph, SpanIndex
from ._logs import LogIndex
from ._ours import OurRun, build_our_turns, lineage_of
from ._rebuild import AnswerIndex
from ._records import SpanRecord, TraceWarning
from ._sessions import Lineage, Session, Turn
from ._stitch import Unit, stitch
from ._store import TextStore

__all__ = ["assemble", "call_unit"]

_RUN_ID = ATTR_RUN_ID
_LISTED = 5
_NOTHING_ABOVE: tuple[bool, tuple[SpanRecord, ...]] = (False, ())
_START_END = operator.attrgetter("start_ns", "end_ns")
_LINE = operator.attrgetter("line")


class _Bucket(msgspec.Struct, gc=False, eq=False):
    """The spans of one session as they are placed. A `Struct` made by msgspec's C
    constructor (one per session and per trace that names none: thousands on a large file),
    untracked by the garbage collector: it holds strings, spans, runs and calls (untracked
    too) and containers of them, none of which leads back to it. Compared by identity."""

    id: str
    inferred: bool
    first: SpanRecord
    # Containers the collector would track are made when first filled (most buckets have
    # calls or runs, not both, and few have tools): thousands of buckets live through the
    # reading's collections. The conventions are a dict's keys (of strings: untracked), the
    # agent spans above each call a tuple (the one `_above` found). (msgspec gives each
    # bucket its own empty dicts.)
    runs: dict[str, OurRun] = {}
    calls: list[CallData] | tuple[()] = ()
    tools: list[SpanRecord] | tuple[()] = ()
    groupers: dict[str, tuple[SpanRecord, ...]] = {}
    conventions: dict[str, None] = {}
    compact: bool = False  # a chat span of ours leaves out messages (compact history mode)
    stitched: bool = False  # put together by history continuity (see `_stitch`)
    lineage: Lineage | None = None  # a stitched branch's
    family: str | None = None  # a stitched session's first ancestor (message ids come from it)

    def run(self, run_id: str) -> OurRun:
        found = self.runs.get(run_id)
        if found is None:
            found = self.runs[run_id] = OurRun(run_id)
        return found

    def add_call(self, call: CallData) -> None:
        if not self.calls:
            self.calls = []
        self.calls.append(call)

    def add_tool(self, span: SpanRecord) -> None:
        if not self.tools:
            self.tools = []
        self.tools.append(span)


class _Assembler:
    def __init__(
        self,
        index: SpanIndex,
        store: TextStore,
        warnings: list[TraceWarning],
        logs: LogIndex | None = None,
    ) -> None:
        self.graph = SpanGraph(index)
        self.store = store
        self.warnings = warnings
        self.logs = logs
        self.buckets: dict[str, _Bucket] = {}
        self.unplaced: list[SpanRecord] = []
        self.memo = Memo()  # other instrumentations' messages, each rebuilt once
        self.above: dict[SpanRecord, tuple[bool, tuple[SpanRecord, ...]]] = {}  # `_above`
        self.answers = AnswerIndex([], store)  # made in `run`, once every span is placed
        # What sessions keep (to warn about bad JSON when messages are rebuilt later) must not
        # be a bound method of the assembler, or every bucket would outlive the assembly.
        self.report = warnings.append

    def run(self) -> list[Session]:
        self.warnings.extend(self.graph.check())
        for span in self.graph.spans.values():
            self._place(span)
        # Every chat span of ours, for answers whose counts are on a chat span another session
        # (or, while stitching, another run) holds; stitching moves runs, not chat spans.
        chats = [s for b in self.buckets.values() for r in b.runs.values() for s in r.chats]
        self.answers = AnswerIndex(chats, self.store)
        self._stitch()
        sessions = [self._session(b) for b in self.buckets.values() if b.runs or b.calls]
        self._attach_unplaced(sessions)
        self._tell(sessions)
        return sorted(sessions, key=lambda s: (s.start, s.id))

    def _place(self, span: SpanRecord) -> None:
        found = conv.classify(span)
        role = found[1] if found is not None else None
        if found is None or role is None:
            self.unplaced.append(span)
            return
        convention = found[0]
        session, inferred = self.graph.session_of(span)
        bucket = self.buckets.get(session)
        if bucket is None:
            bucket = self.buckets[session] = _Bucket(session, inferred, span)
        if convention == conv.DEFINABLE:
            self._place_ours(bucket, span, role)
        elif role == "call":
            self._place_call(bucket, span, convention)
        elif role == "tool":
            bucket.add_tool(span)
        # "agent" spans are looked up from their calls (see _groupers)

    def _place_ours(self, bucket: _Bucket, span: SpanRecord, role: str) -> None:
        own = span.text(_RUN_ID)  # read once: `_run_key` falls back to it
        run = bucket.run((own or span.span_id) if role == "run" else self._run_key(span, own))
        if own is not None and run.run_id != own:
            run.run_id = own  # a run whose run span is missing, named by a tool span
        bucket.conventions[conv.DEFINABLE] = None
        if role == "call":  # the most common of our spans: a run has one or more
            run.chats.append(span)
            if ATTR_INPUT_OFFSET in span:
                bucket.compact = True
        elif role == "run":
            if run.run is None:
                run.run = span
            else:
                run.add_other(span)
        elif role == "tool":
            run.add_tool(span)
        else:
            run.add_other(span)

    def _run_key(self, span: SpanRecord, own: str | None) -> str:
        """The run of a chat or tool span: its parent's run id (the run span's attribute, else
        its span id), else its own (`own`: written on every span before chat spans left it to
        their parent) when the parent is in the files read too. A run whose run span is
        missing (a process killed mid-run) is keyed by that parent span's id, which is the
        run's id since run ids are span ids, so that its chat and tool spans still go
        together."""
        parent = self.graph.parent(span)
        if parent is not None:
            found = parent.text(_RUN_ID) or own
            if found is not None:
                return found
            if _is_our_run(parent):
                return parent.span_id
        return span.parent_span_id or f"span:{span.trace_id}/"

    def _place_call(self, bucket: _Bucket, span: SpanRecord, convention: str) -> None:
        inside, groupers = self._above(span)
        if inside:  # a model call made by one of our tools: part of that run
            self.unplaced.append(span)
            return
        index = self.logs
        # Most loads have no content in log records: no key made to find none.
        logs = index.content(span.trace_id, span.span_id) if index and index.by_span else None
        try:
            data = conv.call_data(span, convention, logs, self.memo)
        except ValueError as exc:
            self.report(
                TraceWarning(span.path, span.line, f"span {span.name!r}: unreadable ({exc})")
            )
            return
        bucket.add_call(data)
        bucket.conventions[convention] = None
        bucket.groupers[span.span_id] = groupers

    def _above(self, span: SpanRecord) -> tuple[bool, tuple[SpanRecord, ...]]:
        """Whether a call span sits under one of our runs, and the agent spans above it: the
        same for every call under one parent (a turn's calls), so found once per parent."""
        parent = self.graph.parent(span)
        if parent is None:
            return _NOTHING_ABOVE
        found = self.above.get(parent)  # by identity (spans are compared so)
        if found is None:
            chain = [parent, *self.graph.ancestors(parent)]
            agents = tuple(a for a in chain if (conv.classify(a) or ("", None))[1] == "agent")
            found = self.above[parent] = (any(map(_is_our_run, chain)), agents)
        return found

    def _session(self, bucket: _Bucket) -> Session:
        runs = list(bucket.runs.values())
        turns = (
            build_our_turns(runs, self.store, self.report, bucket.compact, self.answers)
            if runs
            else []
        )
        has_content = all(_has_content(r) for r in runs if r.chats)
        messages = _last_history(turns)
        count: Callable[[], int] | None = _last_count(turns) if runs else None
        if bucket.calls:
            first = (
                (bucket.lineage.turn or 1) if bucket.lineage is not None and bucket.stitched else 1
            )
            foreign = build_foreign_turns(
                bucket.id,
                bucket.calls,
                bucket.tools,
                bucket.groupers,
                first,
                bucket.family,
                self.memo.bodies,
            )
            has_content = has_content and foreign.has_content
            if runs:  # both kinds in one session: rare, so the general (slower) merge
                turns = _interleave(turns, foreign.turns)
                messages = functools.partial(merged_history, turns)
                count = None
            else:
                turns, messages, count = foreign.turns, foreign.messages, foreign.count
        return Session(
            id=bucket.id,
            turns=turns,
            convention=_convention(bucket.conventions),
            inferred=bucket.inferred,
            stitched=bucket.stitched,
            has_content=has_content and bool(turns),
            lineage=bucket.lineage or (lineage_of(runs) if runs else None),
            agent_name=_agent_name(bucket, runs),
            messages=messages,
            message_count=count,
        )

    # --- sessions named by no span -------------------------------------------------------

    def _stitch(self) -> None:
        """Calls and runs of traces that name no session go to the conversations their
        histories continue (see `_stitch`); what has no content stays in its trace's bucket."""
        units: list[Unit] = []
        owners: list[tuple[_Bucket, CallData | OurRun]] = []
        for bucket in [b for b in self.buckets.values() if b.inferred]:
            for call in bucket.calls:
                unit = call_unit(call)
                if unit is not None:
                    units.append(unit)
                    owners.append((bucket, call))
            for run in bucket.runs.values():
                unit = self._our_unit(run)
                if unit is not None:
                    units.append(unit)
                    owners.append((bucket, run))
        if not units:
            return
        moved: dict[int, list[tuple[int, _Bucket]]] = {}
        for (source, item), place in zip(owners, stitch(units), strict=True):
            target = self.buckets.get(place.session)
            if target is None:
                target = self.buckets[place.session] = _Bucket(
                    place.session,
                    True,
                    item.span if isinstance(item, CallData) else item.spans()[0],
                    stitched=True,
                    lineage=place.lineage,
                    family=place.family,
                )
            start = _move(source, target, item)
            moved.setdefault(id(source), []).append((start, target))
        gone = {id(item) for _, item in owners}
        for bucket in [b for b in self.buckets.values() if id(b) in moved]:
            bucket.calls = [c for c in bucket.calls if id(c) not in gone]
            _move_tools(bucket, sorted(moved[id(bucket)], key=lambda m: m[0]))

    def _our_unit(self, run: OurRun) -> Unit | None:
        """A run of ours as a unit: its first chat's input, and the history at its end."""
        if not run.chats:
            return None
        [turn] = build_our_turns([run], self.store, self.report, False, self.answers)
        sent = turn.model_calls[0].input_messages
        if not _has_content(run) or sent is None:
            return None
        head = run.run or min(run.chats, key=lambda s: s.start_ns)
        return Unit(head.trace_id, head.span_id, run.start_ns, sent, turn.history)

    def _attach_unplaced(self, sessions: list[Session]) -> None:
        """Spans of no role under a turn's span join that turn's `spans`."""
        if not self.unplaced:
            return
        owner: dict[tuple[str, str], Turn] = {}
        for session in sessions:
            for turn in session.turns:
                for span in turn.spans:
                    owner[(span.trace_id, span.span_id)] = turn
        for span in self.unplaced:
            for ancestor in self.graph.ancestors(span):
                found = owner.get((ancestor.trace_id, ancestor.span_id))
                if found is not None:
                    found.add_spans([span])
                    owner[(span.trace_id, span.span_id)] = found
                    break

    def _tell(self, sessions: list[Session]) -> None:
        stitched = [s for s in sessions if s.stitched]
        if stitched:
            self._summary(
                stitched,
                "session(s) stitched together from calls that name no session, by the "
                "continuity of their histories (ids are derived: inferred-...)",
            )
        inferred = [s for s in sessions if s.inferred and not s.stitched]
        if inferred:
            self._summary(
                inferred,
                f"trace(s) name no session ({sc.GEN_AI_CONVERSATION_ID}, {sc.SESSION_ID}, "
                f"{sc.TRACELOOP_SESSION_ID}): each is read as its own session, "
                "named by its trace id",
            )
        empty = [s for s in sessions if not s.has_content]
        if empty:
            self._summary(
                empty,
                "session(s) carry no message content (capture was off): their turns, roles and "
                "usage are loaded, their texts are not in the file",
            )
        self._unclaimed_logs()
        if not sessions and self.graph.spans:
            span = next(iter(self.graph.spans.values()))
            self.report(
                TraceWarning(
                    span.path,
                    None,
                    f"{len(self.graph.spans)} span(s) read, none of them a model call or agent "
                    "run of a known GenAI convention: no session",
                )
            )

    def _unclaimed_logs(self) -> None:
        """Content records whose span is not in the input (a logs file given without its
        spans file) are said once, not dropped in silence."""
        if self.logs is None:
            return
        missing = [c for k, c in self.logs.by_span.items() if k not in self.graph.spans]
        if missing:
            first = min(missing, key=lambda c: (c.path, c.line))
            self.report(
                TraceWarning(
                    first.path,
                    first.line,
                    f"{len(missing)} call(s) have message content in log records but no span "
                    "in the input (give the spans' file too): their content is not loaded",
                )
            )

    def _summary(self, sessions: list[Session], what: str) -> None:
        """One warning per file, at the first line of a session it names: each session is told
        in the file of its first span by line, so the least of those first lines in a file is
        the least line of their spans in that file (none of a session's spans there is before
        its first)."""
        by_file: dict[str, list[Session]] = {}
        lines: dict[str, int] = {}
        for session in sessions:
            first = min((s for t in session.turns for s in t.spans), key=_LINE)
            by_file.setdefault(first.path, []).append(session)
            lines[first.path] = min(lines.get(first.path, first.line), first.line)
        for path, group in by_file.items():
            line = lines[path]
            ids = ", ".join(s.id for s in group[:_LISTED])
            ids += ", ..." if len(group) > _LISTED else ""
            self.report(TraceWarning(path, line, f"{len(group)} {what} ({ids})"))


def call_unit(call: CallData) -> Unit | None:
    """Another instrumentation's call as a unit to stitch: its input, and its input plus its
    answer; None without content to compare."""
    if call.input is None:
        return None
    answer = call.output[:1] if call.output else []
    span = call.span
    return Unit(span.trace_id, span.span_id, span.start_ns, call.input, [*call.input, *answer])


def _move(source: _Bucket, target: _Bucket, item: CallData | OurRun) -> int:
    """Move a call or run from its trace's bucket to its session's; its start time. (Calls
    are taken out of `source.calls` afterwards, all at once.)"""
    if isinstance(item, CallData):
        target.add_call(item)
        target.conventions[item.convention] = None
        target.groupers[item.span.span_id] = source.groupers.pop(item.span.span_id, ())
        return item.span.start_ns
    key = item.run_id
    if source.runs.get(key) is not item:  # a run keyed by its missing run span (`_run_key`)
        key = next(k for k, r in source.runs.items() if r is item)
    del source.runs[key]
    target.runs[key] = item
    target.conventions[conv.DEFINABLE] = None
    return item.start_ns


def _move_tools(source: _Bucket, targets: list[tuple[int, _Bucket]]) -> None:
    """A trace's tool spans follow the call that ran before them (the first, if none did)."""
    if source.calls or source.runs:  # calls without content stayed: so do the tools
        return
    starts = [start for start, _ in targets]
    for tool in source.tools:
        i = max(bisect.bisect_right(starts, tool.start_ns) - 1, 0)
        targets[i][1].add_tool(tool)
    source.tools = ()


def _is_our_run(span: SpanRecord) -> bool:
    """One of our run (or tool) spans: they carry the turn number (and, before run ids were
    span ids, the run id)."""
    return ATTR_TURN_INDEX in span or _RUN_ID in span


def _has_content(run: OurRun) -> bool:
    last = max(run.chats, key=_START_END)
    return sc.INPUT_MESSAGES in last or sc.OUTPUT_MESSAGES in last


def _convention(conventions: dict[str, None]) -> str:
    if len(conventions) == 1:
        return next(iter(conventions))
    return conv.MIXED


def _agent_name(bucket: _Bucket, runs: list[OurRun]) -> str | None:
    """`gen_ai.agent.name` of the earliest run or grouping span that has one."""
    heads = [r.run for r in runs if r.run is not None]
    heads += [g for c in bucket.calls for g in bucket.groupers.get(c.span.span_id, ())]
    heads += [c.span for c in bucket.calls]
    # Only spans that have the attribute can name one: sorted alone (a stable sort keeps
    # their order among the others), most sessions have none to sort.
    named = [s for s in heads if sc.GEN_AI_AGENT_NAME in s]
    for span in sorted(named, key=lambda s: s.start_ns):
        name = span.text(sc.GEN_AI_AGENT_NAME)
        if name:
            return name
    return None


def _interleave(ours: list[Turn], others: list[Turn]) -> list[Turn]:
    """Mixed sessions: turns by start time, numbered 1, 2, ... in that order (the indexes
    our runs recorded would collide with the other instrumentation's)."""
    merged = sorted([*ours, *others], key=lambda t: t.start_ns)
    for index, turn in enumerate(merged, 1):
        turn.index = index
    return merged


class _LastHistory(msgspec.Struct, gc=False):
    """A session's history as its last turn's. A callable object instead of a closure: one
    per session of a large file, untracked by the garbage collector (it holds the turns
    list, which leads back to nothing that holds it)."""

    turns: list[Turn]

    def __call__(self) -> list[Message]:
        return self.turns[-1].history if self.turns else []


def _last_history(turns: list[Turn]) -> Callable[[], list[Message]]:
    return _LastHistory(turns)


def assemble(
    index: SpanIndex,
    store: TextStore,
    warnings: list[TraceWarning],
    logs: LogIndex | None = None,
) -> list[Session]:
    """The sessions of every span read (warnings about them are appended to `warnings`);
    `logs`: message content found in log records, by span."""
    return _Assembler(index, store, warnings, logs).run()


class _LastCount(msgspec.Struct, gc=False):
    """Our sessions' message count without building the messages (see
    `Session.message_count`); untracked, as `_LastHistory`."""

    turns: list[Turn]

    def __call__(self) -> int:
        return self.turns[-1].history_count if self.turns else 0


def _last_count(turns: list[Turn]) -> Callable[[], int]:
    return _LastCount(turns)

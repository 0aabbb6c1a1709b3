"""From all spans read to sessions: classify each span, bucket it by session, build the turns.

Our runs are gathered by `definable_trace.run.id`; other instrumentations' calls, tools and
grouping spans by session. A model call of another instrumentation made inside one of our runs
(a tool that calls a model) belongs to that run's spans, not to the conversation. Spans of no
known role that sit under a turn's span (HTTP calls, a tool's own spans) join that turn's
`spans`. What the loader had to guess is said once per file: sessions named by trace id,
sessions without message content.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from .._messages import Message
from .._semconv import ATTR_INPUT_OFFSET, ATTR_RUN_ID
from . import _conventions as conv
from ._calls import CallData
from ._foreign import build_foreign_turns, merged_history
from ._graph import SpanGraph, SpanIndex
from ._ours import OurRun, build_our_turns, lineage_of
from ._records import SpanRecord, TraceWarning
from ._sessions import Session, Turn
from ._store import TextStore

__all__ = ["assemble"]

_RUN_ID = ATTR_RUN_ID
_LISTED = 5


@dataclass
class _Bucket:
    id: str
    inferred: bool
    first: SpanRecord
    runs: dict[str, OurRun] = field(default_factory=dict)
    calls: list[CallData] = field(default_factory=list)
    tools: list[SpanRecord] = field(default_factory=list)
    groupers: dict[str, list[SpanRecord]] = field(default_factory=dict)
    conventions: set[str] = field(default_factory=set)
    compact: bool = False  # a chat span of ours leaves out messages (compact history mode)

    def run(self, run_id: str) -> OurRun:
        found = self.runs.get(run_id)
        if found is None:
            found = self.runs[run_id] = OurRun(run_id)
        return found


class _Assembler:
    def __init__(self, index: SpanIndex, store: TextStore, warnings: list[TraceWarning]) -> None:
        self.graph = SpanGraph(index)
        self.store = store
        self.warnings = warnings
        self.buckets: dict[str, _Bucket] = {}
        self.unplaced: list[SpanRecord] = []
        # What sessions keep (to warn about bad JSON when messages are rebuilt later) must not
        # be a bound method of the assembler, or every bucket would outlive the assembly.
        self.report = warnings.append

    def run(self) -> list[Session]:
        self.warnings.extend(self.graph.check())
        for span in self.graph.spans.values():
            self._place(span)
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
            bucket.tools.append(span)
        # "agent" spans are looked up from their calls (see _groupers)

    def _place_ours(self, bucket: _Bucket, span: SpanRecord, role: str) -> None:
        run = bucket.run(span.text(_RUN_ID) or "")
        bucket.conventions.add(conv.DEFINABLE)
        if role == "run" and run.run is None:
            run.run = span
        elif role == "call":
            run.chats.append(span)
            if ATTR_INPUT_OFFSET in span:
                bucket.compact = True
        elif role == "tool":
            run.add_tool(span)
        else:
            run.add_other(span)

    def _place_call(self, bucket: _Bucket, span: SpanRecord, convention: str) -> None:
        inside = next((a for a in self.graph.ancestors(span) if _RUN_ID in a), None)
        if inside is not None:  # a model call made by one of our tools: part of that run
            self.unplaced.append(span)
            return
        try:
            data = conv.call_data(span, convention)
        except ValueError as exc:
            self.report(
                TraceWarning(span.path, span.line, f"span {span.name!r}: unreadable ({exc})")
            )
            return
        bucket.calls.append(data)
        bucket.conventions.add(convention)
        bucket.groupers[span.span_id] = [
            a for a in self.graph.ancestors(span) if (conv.classify(a) or ("", None))[1] == "agent"
        ]

    def _session(self, bucket: _Bucket) -> Session:
        runs = list(bucket.runs.values())
        turns = build_our_turns(runs, self.store, self.report, bucket.compact) if runs else []
        has_content = all(_has_content(r) for r in runs if r.chats)
        messages = _last_history(turns)
        if bucket.calls:
            foreign = build_foreign_turns(bucket.id, bucket.calls, bucket.tools, bucket.groupers)
            has_content = has_content and foreign.has_content
            if runs:  # both kinds in one session: rare, so the general (slower) merge
                turns = _interleave(turns, foreign.turns)
                messages = functools.partial(merged_history, turns)
            else:
                turns, messages = foreign.turns, foreign.messages
        return Session(
            id=bucket.id,
            turns=turns,
            convention=_convention(bucket.conventions),
            id_inferred=bucket.inferred,
            has_content=has_content and bool(turns),
            lineage=lineage_of(runs) if runs else None,
            agent_name=_agent_name(bucket, runs),
            messages=messages,
            message_count=_last_count(turns) if runs and not bucket.calls else None,
        )

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
                turn = owner.get((ancestor.trace_id, ancestor.span_id))
                if turn is not None:
                    turn.add_spans([span])
                    owner[(span.trace_id, span.span_id)] = turn
                    break

    def _tell(self, sessions: list[Session]) -> None:
        inferred = [s for s in sessions if s.id_inferred]
        if inferred:
            self._summary(
                inferred,
                "trace(s) name no session (gen_ai.conversation.id, session.id, "
                "traceloop.association.properties.session_id): each is read as its own session, "
                "named by its trace id",
            )
        empty = [s for s in sessions if not s.has_content]
        if empty:
            self._summary(
                empty,
                "session(s) carry no message content (capture was off): their turns, roles and "
                "usage are loaded, their texts are not in the file",
            )
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

    def _summary(self, sessions: list[Session], what: str) -> None:
        by_file: dict[str, list[Session]] = {}
        for session in sessions:
            first = min((s for t in session.turns for s in t.spans), key=lambda s: s.line)
            by_file.setdefault(first.path, []).append(session)
        for path, group in by_file.items():
            line = min(s.line for g in group for t in g.turns for s in t.spans if s.path == path)
            ids = ", ".join(s.id for s in group[:_LISTED])
            ids += ", ..." if len(group) > _LISTED else ""
            self.report(TraceWarning(path, line, f"{len(group)} {what} ({ids})"))


def _has_content(run: OurRun) -> bool:
    last = max(run.chats, key=lambda s: (s.start_ns, s.end_ns))
    return "gen_ai.input.messages" in last or "gen_ai.output.messages" in last


def _convention(conventions: set[str]) -> str:
    if len(conventions) == 1:
        return next(iter(conventions))
    return conv.MIXED


def _agent_name(bucket: _Bucket, runs: list[OurRun]) -> str | None:
    """`gen_ai.agent.name` of the earliest run or grouping span that has one."""
    heads = [r.run for r in runs if r.run is not None]
    heads += [g for c in bucket.calls for g in bucket.groupers.get(c.span.span_id, ())]
    heads += [c.span for c in bucket.calls]
    for span in sorted(heads, key=lambda s: s.start_ns):
        name = span.text("gen_ai.agent.name")
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


def _last_history(turns: list[Turn]) -> Callable[[], list[Message]]:
    return lambda: turns[-1].history if turns else []


def assemble(index: SpanIndex, store: TextStore, warnings: list[TraceWarning]) -> list[Session]:
    """The sessions of every span read (warnings about them are appended to `warnings`)."""
    return _Assembler(index, store, warnings).run()


def _last_count(turns: list[Turn]) -> Callable[[], int]:
    """Our sessions' message count without building the messages (see `Session.message_count`)."""
    return lambda: turns[-1].history_count if turns else 0

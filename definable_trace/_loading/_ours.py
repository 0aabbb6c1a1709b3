"""Our agent's spans back into turns, exactly: every message with its id, time and metrics.

A run is one turn: an `invoke_agent` span with `chat` and `execute_tool` children, all tagged
with `definable_trace.run.id` and `definable_trace.turn.index`. The history at the end of a
turn is its last chat's input plus that chat's output; messages are rebuilt from the semconv
parts with `message_from_parts`, index-aligned with our content-free meta list.

In the compact history mode a chat span leaves out its first `definable_trace.input.messages
.offset` messages: they are the history (input and output) of the session's previous recorded
chat, which is found by time: the last successful chat of the same run that ended before this
one started, or else of the session before the run started.

Nothing is parsed while assembling: a turn holds `_Chat` references and `_RunSource` rebuilds
its messages when asked (`Ref` = (chat, index in its own list), index -1 = its output).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import _semconv as sc
from .._messages import Message, Metrics
from ._calls import error_of, finish_reason_of, first_text, tool_call_of, usage_of
from ._records import SpanRecord, TraceWarning
from ._sessions import Lineage, ModelCall, Turn
from ._store import SharedText, TextStore

__all__ = ["OPERATION", "OurRun", "build_our_turns", "lineage_of"]

OPERATION = "gen_ai.operation.name"
_LINEAGE_KIND = "definable_trace.lineage.kind"
_LINEAGE_PARENT = "definable_trace.lineage.parent_session"
_LINEAGE_TURN = "definable_trace.lineage.turn"

Report = Callable[[TraceWarning], None]


@dataclass
class OurRun:
    """The spans of one run, as the assembler gathered them."""

    run_id: str
    run: SpanRecord | None = None
    chats: list[SpanRecord] = field(default_factory=list)
    tools: list[SpanRecord] = field(default_factory=list)
    others: list[SpanRecord] = field(default_factory=list)

    @property
    def start_ns(self) -> int:
        if self.run is not None:
            return self.run.start_ns
        return min(s.start_ns for s in self.spans())

    @property
    def index(self) -> int:
        for span in (self.run, *self.chats, *self.tools):
            if span is not None:
                value = span.integer(sc.ATTR_TURN_INDEX)
                if value is not None:
                    return value
        return 0

    def spans(self) -> list[SpanRecord]:
        head = [self.run] if self.run is not None else []
        return [*head, *self.chats, *self.tools, *self.others]


class _Chat:
    """A span whose input/output messages we read: a chat span, or a run span's new input."""

    __slots__ = ("base", "offset", "span")

    def __init__(self, span: SpanRecord) -> None:
        self.span = span
        self.offset = span.integer(sc.ATTR_INPUT_OFFSET) or 0
        self.base: _Chat | None = None

    @property
    def has_output(self) -> bool:
        return sc.ATTR_OUTPUT_META in self.span or sc.OUTPUT_MESSAGES in self.span

    @property
    def has_input(self) -> bool:
        return sc.ATTR_INPUT_META in self.span or sc.INPUT_MESSAGES in self.span

    @property
    def has_content(self) -> bool:
        span = self.span
        return sc.INPUT_MESSAGES in span or sc.OUTPUT_MESSAGES in span


Ref = tuple[_Chat, int]


class _Entries:
    """A span's message lists, each parsed on first use: input meta and parts, the system
    prompt, the output. Bad JSON reads as absent (and is reported once)."""

    __slots__ = ("_found", "_messages", "_span", "skip")

    def __init__(self, messages: _Messages, chat: _Chat) -> None:
        self._messages = messages
        self._span = chat.span
        self.skip = chat.offset
        self._found: dict[str, list[Any] | None] = {}

    def _list(self, key: str) -> list[Any] | None:
        if key not in self._found:  # a plain dict: cached_property locks on every read
            self._found[key] = self._messages.parse(self._span, key)
        return self._found[key]

    @property
    def metas(self) -> list[Any] | None:
        return self._list(sc.ATTR_INPUT_META)

    @property
    def parts(self) -> list[Any] | None:
        return self._list(sc.INPUT_MESSAGES)

    @property
    def system(self) -> list[Any] | None:
        return self._list(sc.SYSTEM_INSTRUCTIONS)

    @property
    def out_meta(self) -> dict[str, Any] | None:
        return _first(self._list(sc.ATTR_OUTPUT_META))

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


class _Messages:
    """Rebuilds the messages of one session's spans; bad JSON becomes one warning per span."""

    def __init__(self, store: TextStore, report: Report) -> None:
        self.store = store
        self.report = report
        self._reported: set[tuple[int, str]] = set()

    def entries(self, chat: _Chat) -> _Entries:
        return _Entries(self, chat)

    def parse(self, span: SpanRecord, key: str) -> list[Any] | None:
        raw = span.raw(key)
        if raw is None:
            return None
        try:
            return self.store.items(raw) if isinstance(raw, (str, SharedText)) else None
        except ValueError as exc:
            if (id(span), key) not in self._reported:
                self._reported.add((id(span), key))
                self.report(
                    TraceWarning(
                        span.path,
                        span.line,
                        f"span {span.name!r}: {key} is not a JSON list ({exc}); "
                        "its messages are read without it",
                    )
                )
            return None

    def count(self, chat: _Chat) -> int:
        return self.entries(chat).count

    def refs(self, chat: _Chat) -> list[Ref]:
        """The chat's whole input, following compact-mode bases back to a full span."""
        chain = [chat]
        while chain[-1].offset and chain[-1].base is not None and len(chain) < 100_000:
            chain.append(chain[-1].base)  # type: ignore[arg-type]
        refs: list[Ref] = []
        for c in reversed(chain):
            refs = refs[: c.offset] if c.offset else []
            refs.extend(zip(itertools.repeat(c), range(self.count(c))))
            if c is not chat and c.has_output:
                refs.append((c, -1))
        return refs

    def build(self, refs: list[Ref]) -> list[Message]:
        parsed: dict[int, _Entries] = {}
        out: list[Message] = []
        for chat, j in refs:
            entries = parsed.get(id(chat))
            if entries is None:
                entries = parsed[id(chat)] = self.entries(chat)
            out.append(_message(entries, j))
        return out


def _first(items: list[Any] | None) -> dict[str, Any] | None:
    return items[0] if items and isinstance(items[0], dict) else None


def _message(entries: _Entries, j: int) -> Message:
    """Message `j` of a span's own input (-1: its output), from its parts and meta entries."""
    if j < 0:
        return sc.message_from_parts(entries.out_part or {}, entries.out_meta or {})
    metas = entries.metas
    meta = metas[j] if metas is not None and j < len(metas) else {}
    full = entries.skip + j
    if entries.system is not None and full == 0:
        return sc.message_from_parts({"role": "system", "parts": entries.system}, meta)
    part: Any = {}
    if entries.parts is not None:
        first = max(entries.skip, 1) if entries.system is not None else entries.skip
        k = full - first
        if 0 <= k < len(entries.parts):
            part = entries.parts[k]
    return sc.message_from_parts(part if isinstance(part, dict) else {}, meta)


class _RunSource:
    """A run's history: its last chat's input and output (or the previous turn's, if no chat)."""

    def __init__(
        self,
        messages: _Messages,
        chats: list[_Chat],
        run_input: _Chat | None,
        previous: _RunSource | None,
    ) -> None:
        self.messages = messages
        self.chats = chats
        self.run_input = run_input
        self.previous = previous

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
        return len(self._refs())

    def prior(self) -> int:
        if not self.chats:
            return self.previous.count() if self.previous is not None else 0
        sent = self.messages.refs(self.chats[0])
        if self.run_input is not None:
            new = self.messages.count(self.run_input)
        else:  # run span lost: the new input is the trailing user message, if any
            last = self.messages.build(sent[-1:])
            new = 1 if last and last[0].role == "user" else 0
        return max(len(sent) - new, 0)

    def slice(self, start: int, stop: int | None = None) -> list[Message]:
        return self.messages.build(self._refs()[start:stop])


def build_our_turns(runs: list[OurRun], store: TextStore, report: Report) -> list[Turn]:
    """The turns of one session from its runs, ordered by turn index then start."""
    runs = sorted(runs, key=lambda r: (r.index, r.start_ns))
    messages = _Messages(store, report)
    chats_by_run = [[_Chat(s) for s in sorted(r.chats, key=_by_time)] for r in runs]
    _link_bases(runs, chats_by_run, report)
    turns: list[Turn] = []
    previous: _RunSource | None = None
    for run, chats in zip(runs, chats_by_run, strict=True):
        run_input = _Chat(run.run) if run.run is not None else None
        if run_input is not None and not run_input.has_input:
            run_input = None
        source = _RunSource(messages, chats, run_input, previous)
        turns.append(_turn(run, chats, source, messages))
        previous = source
    return turns


def _by_time(span: SpanRecord) -> tuple[int, int]:
    return span.start_ns, span.end_ns


def _turn(run: OurRun, chats: list[_Chat], source: _RunSource, messages: _Messages) -> Turn:
    spans = run.spans()
    start = run.run.start_ns if run.run is not None else min(s.start_ns for s in spans)
    end = run.run.end_ns if run.run is not None else max(s.end_ns for s in spans)
    error = error_of(run.run) if run.run is not None else None
    if error is None and chats:
        error = error_of(chats[-1].span)
    head = run.run or spans[0]
    return Turn(
        index=run.index,
        run_id=run.run_id,
        model_calls=[_model_call(c, messages) for c in chats],
        tool_calls=[tool_call_of(s) for s in sorted(run.tools, key=_by_time)],
        start=head.start if run.run is not None else min(spans, key=_by_time).start,
        duration=max(end - start, 0) / 1e9,
        spans=order_spans(spans),
        error=error,
        source=source,
    )


def _model_call(chat: _Chat, messages: _Messages) -> ModelCall:
    span = chat.span

    def input_messages() -> list[Message] | None:
        return messages.build(messages.refs(chat)) if chat.has_input else None

    def output_message() -> Message | None:
        return messages.build([(chat, -1)])[0] if chat.has_output else None

    def metrics() -> Metrics:
        meta = messages.entries(chat).out_meta if sc.ATTR_OUTPUT_META in span else None
        if meta is not None and isinstance(meta.get("metrics"), dict):
            return Metrics.model_validate(meta["metrics"])
        return usage_of(span)

    return ModelCall(
        request_model=first_text(span, "gen_ai.request.model"),
        response_model=first_text(span, "gen_ai.response.model"),
        response_id=first_text(span, "gen_ai.response.id"),
        finish_reason=finish_reason_of(span),
        start=span.start,
        error=error_of(span),
        span=span,
        metrics=metrics,
        input_messages=input_messages,
        output_message=output_message,
    )


def _link_bases(runs: list[OurRun], chats_by_run: list[list[_Chat]], report: Report) -> None:
    """Compact mode: give each chat with an offset the earlier chat that holds its prefix."""
    done = sorted(
        ((c.span.end_ns, c) for chats in chats_by_run for c in chats if c.has_output),
        key=lambda item: item[0],
    )
    ends = [end for end, _ in done]
    for run, chats in zip(runs, chats_by_run, strict=True):
        run_start = run.start_ns
        for i, chat in enumerate(chats):
            if not chat.offset:
                continue
            earlier = [c for c in chats[:i] if c.has_output and c.span.end_ns <= chat.span.start_ns]
            if earlier:
                chat.base = earlier[-1]
            else:
                k = bisect.bisect_right(ends, run_start)
                candidates = [c for _, c in done[:k] if c not in chats]
                chat.base = candidates[-1] if candidates else None
            if chat.base is None:
                report(
                    TraceWarning(
                        chat.span.path,
                        chat.span.line,
                        f"span {chat.span.name!r} (compact history mode) leaves out its first "
                        f"{chat.offset} messages, and the earlier span holding them is not in "
                        "the input: its history starts after them",
                    )
                )


def lineage_of(runs: list[OurRun]) -> Lineage | None:
    """Set by the CLI on every span of a fork's or replay's runs."""
    for run in sorted(runs, key=lambda r: r.start_ns):
        for span in run.spans():
            kind = span.text(_LINEAGE_KIND)
            if kind:
                return Lineage(kind, span.text(_LINEAGE_PARENT), span.integer(_LINEAGE_TURN))
    return None

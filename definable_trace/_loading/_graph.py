"""Spans as a graph: dedup by (trace id, span id), parent links, and whose session a span is.

Files come with spans in any order (children before parents, runs split over lines), repeated
(at-least-once delivery), with parents that are not in the input, and even with parent links
that loop. The index keeps the first copy of a span; `check` reports dangling parents and breaks
cycles (the span where a loop is found is read as a root); `session_of` then follows the links:
a span's own session attribute, else its nearest ancestor's (the openai-v2 instrumentation puts
the session on the parent `invoke_agent` span only), else the one session its trace names
anywhere, else none: the trace id stands in and the session is marked inferred.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._otlp import SpanSink
from ._records import SpanRecord, TraceWarning

__all__ = ["SpanGraph", "SpanIndex"]

Key = tuple[str, str]


class SpanIndex(SpanSink):
    """Every span read, first copy kept, in reading order."""

    def __init__(self) -> None:
        self.spans: dict[Key, SpanRecord] = {}

    def add(self, record: SpanRecord) -> bool:
        """Whether the span is new (kept); one dict operation, once per span read."""
        return self.spans.setdefault((record.trace_id, record.span_id), record) is record


class SpanGraph:
    def __init__(self, index: SpanIndex) -> None:
        self.spans = index.spans
        self._cut: set[Key] = set()
        self._inherited: dict[SpanRecord, str | None] = {}
        self._by_trace: dict[str, str] | None = None

    def parent(self, span: SpanRecord) -> SpanRecord | None:
        """The parent span, or None for a root, a dangling parent or a cut cycle. (Asked for
        most spans, some more than once: no key is made for the cut test when nothing is cut,
        the usual case.)"""
        parent_id = span.parent_span_id
        if parent_id is None:
            return None
        if self._cut and (span.trace_id, span.span_id) in self._cut:
            return None
        return self.spans.get((span.trace_id, parent_id))

    def ancestors(self, span: SpanRecord) -> Iterator[SpanRecord]:
        current = self.parent(span)
        while current is not None:
            yield current
            current = self.parent(current)

    def check(self) -> list[TraceWarning]:
        """Warn about parents that are not in the input and cut parent loops (once each).

        One pass in reading order, one parent lookup per span: a span whose parent is missing
        counts as dangling (one warning per file), and from every other span the parent links
        are followed until a root, a missing parent or a span already followed (`done`); a
        span met twice on one walk closes a cycle, cut there. Spans are their own keys in
        `done` (compared by identity): no tuple made per span lives on for the collector."""
        spans = self.spans
        first: dict[str, SpanRecord] = {}
        count: dict[str, int] = {}
        cycles: list[TraceWarning] = []
        done: set[SpanRecord] = set()
        for span in spans.values():
            parent_id = span.parent_span_id
            if parent_id is None:
                continue
            parent = spans.get((span.trace_id, parent_id))
            if parent is None:
                first.setdefault(span.path, span)
                count[span.path] = count.get(span.path, 0) + 1
            elif span not in done and parent not in done:
                if parent.parent_span_id is None:  # the usual case: a child of a root
                    done.add(span)
                else:
                    self._walk(span, parent, done, cycles)
        dangling = [
            TraceWarning(
                path,
                span.line,
                f"{count[path]} span(s) name a parent that is not in the input (first: "
                f"{span.name!r}, parent {span.parent_span_id}); they are read as roots",
            )
            for path, span in first.items()
        ]
        return dangling + cycles

    def _walk(
        self,
        span: SpanRecord,
        parent: SpanRecord | None,
        done: set[SpanRecord],
        cycles: list[TraceWarning],
    ) -> None:
        """Follow the links up from `span` (whose parent is `parent`) to a root, a missing
        parent, a span already followed, or a span of this walk (a cycle: cut there)."""
        path = {span: None}  # in order, and a quick membership test on long chains
        while parent is not None and parent not in done:
            if parent in path:
                cycles.append(self._cut_at((parent.trace_id, parent.span_id)))
                break
            path[parent] = None
            parent_id = parent.parent_span_id
            if parent_id is None:
                break
            parent = self.spans.get((parent.trace_id, parent_id))
        done.update(path)

    def _cut_at(self, key: Key) -> TraceWarning:
        self._cut.add(key)
        span = self.spans[key]
        return TraceWarning(
            span.path,
            span.line,
            f"parent links form a cycle through span {span.name!r} ({span.span_id}); "
            "it is read as a root",
        )

    def session_of(self, span: SpanRecord) -> tuple[str, bool]:
        """(session id, inferred): inferred means no span named one and the trace id is used."""
        found = span.session_attribute()  # its own, found once per span and kept
        if found is None:
            found = self._inherit(span)
            if found is None:
                found = self._trace_sessions().get(span.trace_id) or None  # "": several
        return (found, False) if found is not None else (span.trace_id, True)

    def _inherit(self, span: SpanRecord) -> str | None:
        """The nearest ancestor's own session, remembered for every span of the walk. Spans
        are their own keys (compared by identity, as in `check`): no tuple made per span."""
        path: list[SpanRecord] = []
        found: str | None = None
        inherited = self._inherited
        ancestor = self.parent(span)  # `ancestors`, without a generator per span
        while ancestor is not None:
            if ancestor in inherited:
                found = inherited[ancestor]
                break
            path.append(ancestor)
            found = ancestor.session_attribute()
            if found is not None:
                break
            ancestor = self.parent(ancestor)
        for ancestor in path:
            inherited[ancestor] = found
        return found

    def _trace_sessions(self) -> dict[str, str]:
        """The session each trace names, by trace id; "" for a trace that names several
        (session ids are non-empty strings). Made when first needed: one pass over every
        span, strings only (a set per trace was one more object for the collector each)."""
        if self._by_trace is None:
            by_trace: dict[str, str] = {}
            for span in self.spans.values():
                name = span.session_attribute()
                if name is not None:
                    known = by_trace.setdefault(span.trace_id, name)
                    if known != name:
                        by_trace[span.trace_id] = ""
            self._by_trace = by_trace
        return self._by_trace

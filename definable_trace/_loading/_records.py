"""The loader's units: one span as read (`SpanRecord`) and one thing worth telling (`TraceWarning`).

A large trace file holds hundreds of thousands of spans, and every one of them stays in memory
until the sessions are assembled, so a record is kept small on purpose: attribute names live in
one tuple shared by every span of the same shape, values in a tuple of their own, and the big
growing message lists are `SharedText` references into one string per conversation (see
`_store`). `attributes` rebuilds the plain dict when someone asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import msgspec

from .._semconv import SESSION_KEYS
from ._store import SharedText, TextStore

__all__ = [
    "EXACT_INT",
    "STATUS_ERROR",
    "Interval",
    "Shape",
    "SpanRecord",
    "TraceWarning",
    "order_spans",
    "to_datetime",
]

_T = TypeVar("_T")
_UNREAD: Any = object()

STATUS_ERROR = 2  # OTLP Status.code: 0 unset, 1 ok, 2 error
EXACT_INT = 2**53  # integers read are below this in size (see `SpanRecord.integer`)


@dataclass(frozen=True)
class TraceWarning:
    """Something the loader skipped, repaired or could only guess, with where it was found."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class Shape:
    """The attribute names of a span, shared by every span that has the same names in order,
    and the store that `SharedText` values refer to."""

    __slots__ = ("index", "keys", "memo", "sessions", "shared", "store")

    def __init__(self, keys: tuple[str, ...], shared: frozenset[int], store: TextStore) -> None:
        self.keys = keys
        self.index = {key: i for i, key in enumerate(keys)}
        self.shared = shared  # positions holding a string or a `SharedText` (an int)
        self.store = store
        # Where a session id may be, in `SESSION_KEYS` order (see `SpanRecord.session_attribute`).
        self.sessions = tuple(self.index[key] for key in SESSION_KEYS if key in self.index)
        # What is decided by the attribute names alone (and the scope), decided once per
        # shape instead of once per span: see `SpanRecord.by_names`.
        self.memo: dict[tuple[str, str | None], Any] = {}


class Interval:
    """`start`, `end` and `duration` of anything with `start_ns` / `end_ns` (Unix nanoseconds)."""

    __slots__ = ()
    start_ns: int
    end_ns: int

    @property
    def start(self) -> datetime:
        return to_datetime(self.start_ns)

    @property
    def end(self) -> datetime:
        return to_datetime(self.end_ns)

    @property
    def duration(self) -> float:
        """Seconds; 0 when the end is missing or before the start."""
        return max(self.end_ns - self.start_ns, 0) / 1e9


class SpanRecord(msgspec.Struct, Interval, gc=False, eq=False):
    """One span: identity, timing, status, attributes, and the file and line it came from.

    `parent_span_id` is None for a root span. `kind` and `status_code` are the OTLP integers.

    A msgspec `Struct` made positionally (one per span read: its C constructor costs a fraction
    of a Python `__init__`), untracked by the garbage collector (`gc=False`: it holds strings,
    ints, a tuple of values and its shared `Shape`, never anything that leads back to it), so
    the hundreds of thousands of a large file are not scanned by every collection. Compared by
    identity (`eq=False`), as a plain object.
    """

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str | None
    scope: str | None
    _shape: Shape
    _values: tuple[Any, ...]
    path: str
    line: int
    _session: Any = _UNREAD  # `session_attribute`, found on first use

    def __repr__(self) -> str:
        return f"SpanRecord({self.name!r}, span_id={self.span_id!r}, {self.path}:{self.line})"

    @property
    def attributes(self) -> dict[str, Any]:
        """The span's attributes as plain values (a new dict on each access)."""
        return {key: self._plain(i) for i, key in enumerate(self._shape.keys)}

    @property
    def failed(self) -> bool:
        return self.status_code == STATUS_ERROR

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return self._shape.keys

    def by_names(self, name: str, decide: Callable[[SpanRecord], _T]) -> _T:
        """`decide(self)`, remembered for every span of the same attribute names and scope
        under `name`: for a test that reads only those (thousands of spans share a shape)."""
        memo = self._shape.memo
        key = (name, self.scope)
        if key in memo:
            found: _T = memo[key]
            return found
        found = memo[key] = decide(self)
        return found

    def __contains__(self, key: str) -> bool:
        return key in self._shape.index

    def _plain(self, i: int) -> Any:
        value = self._values[i]
        if i in self._shape.shared:
            return self._shape.store.text(value)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """One attribute as a plain value. (`_plain` inlined: the loader's most called method,
        hundreds of thousands of times on a large file, mostly for absent keys.)"""
        shape = self._shape
        i = shape.index.get(key)
        if i is None:
            return default
        if i in shape.shared:
            return shape.store.text(self._values[i])
        return self._values[i]

    def shared(self, key: str) -> SharedText | str | None:
        """A growing message list as stored: a `SharedText` stays a reference (for the store)."""
        i = self._shape.index.get(key)
        if i is None:
            return None
        value: SharedText | str = self._values[i]
        return value if i in self._shape.shared else self._plain(i)

    def session_attribute(self) -> str | None:
        """The first of `SESSION_KEYS` the span holds as a non-empty string (what `get` of
        each in turn would find), from positions found once per shape: asked of every span,
        and of its ancestors, when sessions are assigned (twice per span on many-short), so
        it is found once and kept (values never change)."""
        found: str | None = self._session
        if found is _UNREAD:
            found = self._session = self._session_attribute()
        return found

    def _session_attribute(self) -> str | None:
        shape = self._shape
        for i in shape.sessions:
            value = self._values[i]
            if i in shape.shared:
                value = shape.store.text(value)
            if isinstance(value, str) and value:
                return value
        return None

    def text(self, key: str) -> str | None:
        """A string attribute, or None when absent or not a string. (`get` inlined, as in
        `integer`: both are called for every span, often more than once.)"""
        shape = self._shape
        i = shape.index.get(key)
        if i is None:
            return None
        value = self._values[i]
        if i in shape.shared:
            return shape.store.text(value)
        return value if isinstance(value, str) else None

    def integer(self, key: str) -> int | None:
        """An integer attribute; numbers written as strings are accepted. Beyond 2**53 (what
        every JSON reader keeps exact, and far beyond any count, index or offset) it is
        damage, read as absent: sums of it would not even fit the 64 bits JSON writers take."""
        shape = self._shape
        i = shape.index.get(key)
        if i is None:  # the usual case (most names of `_calls` are absent): no further call
            return None
        raw: Any = self._values[i]
        if i in shape.shared:
            raw = shape.store.text(raw)
        if raw.__class__ is int:
            return raw if -EXACT_INT < raw < EXACT_INT else None
        if raw is None or isinstance(raw, bool):
            return None
        try:
            number = raw if isinstance(raw, int) else int(raw)
        except (TypeError, ValueError, OverflowError):
            return None
        return number if -EXACT_INT < number < EXACT_INT else None


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


_LAST_NS = (datetime.max.replace(tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1) * 1000


def to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch as an aware UTC datetime (exact to the microsecond).

    Total: the decoder refuses times outside OTLP's unsigned 64 bits, and what else reaches
    here (a sum, a default) is clamped to what `datetime` holds instead of overflowing."""
    return _EPOCH + timedelta(microseconds=min(max(ns, 0), _LAST_NS) // 1000)


def order_spans(spans: list[SpanRecord]) -> list[SpanRecord]:
    """Parents before children, siblings by start time; spans in a cycle come last."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanRecord]] = {}
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)
    for group in children.values():
        group.sort(key=_by_start)
    out: list[SpanRecord] = []
    seen: set[str] = set()
    stack = list(reversed(children.get(None, [])))
    while stack:
        span = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        out.append(span)
        stack.extend(reversed(children.get(span.span_id, [])))
    out.extend(sorted((s for s in spans if s.span_id not in seen), key=_by_start))
    return out


def _by_start(span: SpanRecord) -> tuple[int, int]:
    return span.start_ns, span.end_ns

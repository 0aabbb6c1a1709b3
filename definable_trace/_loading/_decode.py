"""One OTLP/JSON `ExportTraceServiceRequest` into `SpanRecord`s: the loader's hot loop.

Everything here runs once per span or per attribute of a possibly huge file, so it is written
for speed: one dict lookup decides what to do with an attribute, short strings are interned, and
the growing message lists go to the `TextStore`. The protobuf JSON mapping's variants (base64
ids, enum names for kind and status) are accepted, since some tools write them.
"""

from __future__ import annotations

import base64
import binascii
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
import orjson

from .. import _semconv as sc
from . import _typed
from ._records import Shape, SpanRecord
from ._store import TextStore

__all__ = ["MAX_DEPTH", "SESSION_KEYS", "SpanDecoder", "any_value"]

SESSION_KEYS = sc.SESSION_KEYS
"""Where a session id may be, first found wins (the table's list, see `_semconv`)."""

_SHARE, _INTERN, _SESSION = 1, 2, 3
_ACTIONS = {
    sc.INPUT_MESSAGES: _SHARE,
    sc.ATTR_MESSAGES: _SHARE,
    sc.ATTR_INPUT_META: _SHARE,  # files written before the one meta list
    sc.SYSTEM_INSTRUCTIONS: _INTERN,
    sc.TOOL_DEFINITIONS: _INTERN,
    **dict.fromkeys(SESSION_KEYS, _SESSION),
}
_INTERN_UP_TO = 200  # ids, names, models: repeated on every span of a run
_OTHER = _typed.OTHER  # an attribute value that is not a string
_NO_PARENT = "0" * 16
# Short values repeated on many spans (a run's id on all its spans, models, names): interned.
# Others are not: interning a value unique to one span would only cost time.
_REPEATED = frozenset(
    {
        sc.ATTR_RUN_ID,
        sc.GEN_AI_PROVIDER_NAME,
        sc.GEN_AI_SYSTEM,
        sc.GEN_AI_AGENT_NAME,
        sc.GEN_AI_OPERATION_NAME,
        sc.GEN_AI_REQUEST_MODEL,
        sc.GEN_AI_RESPONSE_MODEL,
        sc.GEN_AI_TOOL_NAME,
        sc.GEN_AI_TOOL_TYPE,
        sc.SERVER_ADDRESS,
        sc.USER_ID,
        sc.LLM_REQUEST_TYPE,
        sc.LLM_MODEL_NAME,
        sc.LLM_SYSTEM,
        sc.OPENINFERENCE_SPAN_KIND,
        sc.TRACELOOP_SPAN_KIND,
        sc.TRACELOOP_WORKFLOW_NAME,
        sc.TRACELOOP_ENTITY_NAME,
    }
)
_KINDS = sc.OTLP_SPAN_KINDS
_Head = tuple[str, str, str | None, int, int, Any, str]
"""A span's checked envelope: trace id, span id, parent, kind, status code and message, name."""
_STATUS = sc.OTLP_STATUS_CODES


class Reporter(Protocol):
    def warn(self, line: int | None, message: str, kind: str | None = None) -> None: ...


class SpanDecoder:
    """Decodes spans into compact records; shapes and strings are shared across files."""

    def __init__(self, store: TextStore) -> None:
        self.store = store
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._check_utf8 = False  # the request being read keeps raw strings not yet checked

    def spans(
        self, request: dict[str, Any], path: str, line: int, reporter: Reporter
    ) -> Iterator[SpanRecord]:
        """The spans of one request; a malformed span is reported and skipped."""
        for resource_spans in _objects(request.get("resourceSpans") or request.get("batches")):
            scope_spans = resource_spans.get("scopeSpans") or resource_spans.get(
                "instrumentationLibrarySpans"
            )
            for group in _objects(scope_spans):
                scope = group.get("scope") or group.get("instrumentationLibrary") or {}
                scope_name = scope.get("name") if isinstance(scope, dict) else None
                for span in _objects(group.get("spans")):
                    try:
                        record = self.record(span, scope_name, path, line)
                    except (
                        KeyError,
                        TypeError,
                        ValueError,
                        AttributeError,
                        ArithmeticError,
                    ) as exc:
                        name = span.get("name")
                        name = name if isinstance(name, str) else None  # repr: no deep lists
                        reporter.warn(
                            line,
                            f"malformed span {name!r} skipped ({type(exc).__name__}: {exc})",
                            kind="malformed",
                        )
                        continue
                    yield record

    def typed_spans(
        self, request: _typed.Request | _typed.RawRequest, path: str, line: int
    ) -> list[SpanRecord] | None:
        """The spans of a request decoded by `_typed`, or None when one of them needs the
        general path (`spans`), which then reads the line again and reports what it finds."""
        records: list[SpanRecord] = []
        raw = isinstance(request, _typed.RawRequest)
        self._check_utf8 = isinstance(request, _typed.UncheckedRawRequest)
        strings = self.store.strings
        try:
            for resource_spans in request.resourceSpans or ():
                groups: list[Any] | None = resource_spans.scopeSpans
                if not groups:
                    if resource_spans.instrumentationLibrarySpans is not None:
                        return None
                    continue
                for group in groups:
                    scope = group.scope or group.instrumentationLibrary or {}
                    scope_name = scope.get("name") if isinstance(scope, dict) else None
                    if raw:
                        for span in group.spans or ():
                            records.append(self._typed_record(span, scope_name, path, line))
                        continue
                    # What `_made` does per span, once per group.
                    if isinstance(scope_name, str):
                        scope_name = strings.setdefault(scope_name, scope_name)
                    else:
                        scope_name = None
                    span_record = self._span_record
                    records.extend(
                        [span_record(span, scope_name, path, line) for span in group.spans or ()]
                    )
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
            return None  # msgspec.DecodeError is a ValueError
        return records

    def _span_record(self, span: Any, scope: str | None, path: str, line: int) -> SpanRecord:
        """`record` for a typed span with its strings decoded (`_typed.Request`, the usual
        line): `_planned`, `_finish` and `_made` without their calls, the same checks in the
        same order. `scope`: interned. (tests/test_loading_typed.py and
        tests/test_loading_read_values.py compare it with the general path.)"""
        status = span.status
        trace, span_id, parent, kind, code, message, name = self._head(
            span.traceId,
            span.spanId,
            span.parentSpanId,
            span.kind,
            (status.code, status.message) if status is not None else None,
            span.name,
        )
        attributes = span.attributes or ()
        keys = tuple([item.key for item in attributes])
        values: list[Any] = [item.value.stringValue for item in attributes]
        plan = self._plans.get(keys)
        if plan is None:
            plan = self._plan(keys, values)
        if plan.numbers:
            _typed_others(attributes, values, plan.numbers)
        elif _OTHER in values:  # (`_typed_others` looks for them itself)
            _typed_others(attributes, values, ())
        self._intern(plan, values)
        if plan.shared:
            self._share(plan, keys, values, trace)
        start, end = _times(span.startTimeUnixNano, span.endTimeUnixNano)
        return SpanRecord(
            name,
            trace,
            span_id,
            parent,
            kind,
            start,
            end,
            code,
            message,
            scope,
            plan.shape,
            tuple(values),
            path,
            line,
        )

    def _typed_record(self, span: Any, scope: str | None, path: str, line: int) -> SpanRecord:
        """`record` for a typed span of a long line (`_typed.RawRequest`, strings raw): the
        same checks, read from fields instead of dict keys."""
        status = span.status
        head = self._head(
            span.traceId,
            span.spanId,
            span.parentSpanId,
            span.kind,
            (status.code, status.message) if status is not None else None,
            span.name,
        )
        shape, values = self._raw_attributes(span.attributes or (), head[0])
        times = (span.startTimeUnixNano, span.endTimeUnixNano)
        return self._made(head, times, scope, shape, values, path, line)

    def _planned(self, attributes: Any) -> tuple[tuple[str, ...], list[Any], _Plan]:
        """A typed span's names, its values (strings as decoded or raw, the others read as
        its plan says) and the plan of its shape: what both typed paths start from."""
        keys = tuple([item.key for item in attributes])
        values: list[Any] = [item.value.stringValue for item in attributes]
        plan = self._plans.get(keys)
        if plan is None:
            plan = self._plan(keys, values)
        _typed_others(attributes, values, plan.numbers)
        return keys, values, plan

    def _raw_attributes(self, attributes: Any, trace_id: str) -> tuple[Shape, tuple[Any, ...]]:
        """A long line's attributes: strings are raw JSON, decoded here, except the growing
        message lists, shared in their escaped form (`TextStore.share_escaped`)."""
        keys, values, plan = self._planned(attributes)
        shared = plan.shape.shared
        small = [
            i
            for i, value in enumerate(values)
            if value.__class__ is msgspec.Raw and i not in shared
        ]
        if small:  # one decoding for all of them: `[raw,raw,...]`
            decoded = _typed.decode_raws([values[i] for i in small])
            for i, value in zip(small, decoded, strict=True):
                values[i] = value
        done: list[int] = []
        if shared:
            group = next((values[i] for i in plan.sessions if values[i].__class__ is str), None)
            for i in plan.shared:
                value = values[i]
                if value.__class__ is msgspec.Raw:
                    found = self.store.share_escaped(
                        group or trace_id, keys[i], value, check_utf8=self._check_utf8
                    )
                    if found is None:
                        values[i] = _typed.decode_raw(value)
                    else:
                        values[i] = found
                        done.append(i)
        return self._finish(plan, keys, values, trace_id, frozenset(done))

    def record(self, span: dict[str, Any], scope: str | None, path: str, line: int) -> SpanRecord:
        status = span.get("status")
        head = self._head(
            span["traceId"],
            span["spanId"],
            span.get("parentSpanId"),
            span.get("kind", 0),
            (status.get("code", 0), status.get("message")) if status else None,
            span.get("name"),
        )
        shape, values = self._attributes(span.get("attributes") or (), head[0])
        times = (span.get("startTimeUnixNano"), span.get("endTimeUnixNano"))
        return self._made(head, times, scope, shape, values, path, line)

    def _head(
        self,
        trace: Any,
        span: Any,
        parent: Any,
        kind: Any,
        status: tuple[Any, Any] | None,
        name: Any,
    ) -> _Head:
        """The checked envelope of a span, however it was decoded (both paths must agree):
        ids as lowercase hex (the trace id interned), no parent for the all-zero id, kind
        and status code as OTLP numbers (enum names accepted), a name that is a string."""
        # The usual ids (lowercase hex of the right length) are taken as they are, without
        # a call: this runs once per span.
        usual = trace.__class__ is str and len(trace) == 32 and trace.islower()
        trace_id = trace if usual else _hex_id(trace, 16)
        usual = span.__class__ is str and len(span) == 16 and span.islower()
        span_id = span if usual else _hex_id(span, 8)
        parent = parent or None
        if parent is not None:
            if not (parent.__class__ is str and len(parent) == 16 and parent.islower()):
                parent = _hex_id(parent, 8)  # the all-zero id has no lowercase letter: here
            if parent == _NO_PARENT:
                parent = None
        if kind.__class__ is not int:
            kind = _KINDS.get(kind, 0) if isinstance(kind, str) else int(kind or 0)
        code, message = 0, None
        if status is not None:
            code, message = status[0], status[1] or None
            if code.__class__ is not int:
                code = _STATUS.get(code, 0) if isinstance(code, str) else int(code or 0)
        strings = self.store.strings
        name = strings.setdefault(name, name) if isinstance(name, str) and name else ""
        return strings.setdefault(trace_id, trace_id), span_id, parent, kind, code, message, name

    def _made(
        self,
        head: _Head,
        times: tuple[Any, Any],
        scope: str | None,
        shape: Shape,
        values: tuple[Any, ...],
        path: str,
        line: int,
    ) -> SpanRecord:
        trace_id, span_id, parent, kind, code, message, name = head
        strings = self.store.strings
        start, end = _times(*times)
        return SpanRecord(
            name,
            trace_id,
            span_id,
            parent,
            kind,
            start,
            end,
            code,
            message,
            strings.setdefault(scope, scope) if isinstance(scope, str) else None,
            shape,
            values,
            path,
            line,
        )

    def _attributes(self, attributes: Any, trace_id: str) -> tuple[Shape, tuple[Any, ...]]:
        """Values decoded and stored as the span's shape plans (see `_Plan`)."""
        items = attributes
        try:  # the common case in two comprehensions: far fewer Python steps per attribute
            keys = tuple([item["key"] for item in items])
            values: list[Any] = [item["value"].get("stringValue", _OTHER) for item in items]
            plan = self._plans.get(keys)
            if plan is None:
                plan = self._plan(keys, values)  # TypeError for a key that is not a string
        except (KeyError, TypeError, AttributeError):
            items = [a for a in attributes if isinstance(a, dict) and isinstance(a.get("key"), str)]
            keys = tuple(item["key"] for item in items)
            values = [_OTHER] * len(items)
            plan = self._plans.get(keys) or self._plan(keys, values)
        for value in values:
            if value.__class__ is dict or value.__class__ is list:
                _within_depth(value, 0)  # a `stringValue` that is JSON: damaged
        if plan.numbers:
            _decode_numbers(plan.numbers, items, values)
        if _OTHER in values:
            _decode_others(items, values)
        return self._finish(plan, keys, values, trace_id)

    def _finish(
        self,
        plan: _Plan,
        keys: tuple[str, ...],
        values: list[Any],
        trace_id: str,
        shared: frozenset[int] = frozenset(),
    ) -> tuple[Shape, tuple[Any, ...]]:
        """Repeated short strings interned, growing message lists shared (every path);
        `shared`: positions already shared (their values are `SharedText` ints)."""
        self._intern(plan, values)
        if plan.shared:
            self._share(plan, keys, values, trace_id, shared)
        return plan.shape, tuple(values)

    def _intern(self, plan: _Plan, values: list[Any]) -> None:
        """Repeated short strings, and the session ids and prompts, interned in place."""
        intern = self.store.strings.setdefault
        for i in plan.interned:
            value = values[i]
            if value.__class__ is str and len(value) <= _INTERN_UP_TO:
                values[i] = intern(value, value)
        for i in plan.always:
            value = values[i]
            if value.__class__ is str:
                values[i] = intern(value, value)

    def _share(
        self,
        plan: _Plan,
        keys: tuple[str, ...],
        values: list[Any],
        trace_id: str,
        done: frozenset[int] = frozenset(),
    ) -> None:
        """The growing message lists go to the store, grouped by session (else trace)."""
        group = trace_id
        for i in plan.sessions:  # (a loop, not `next` of a generator: once per span)
            if values[i].__class__ is str:
                group = values[i]
                break
        for i in plan.shared:
            if i in done:
                continue  # shared in escaped form already (`_raw_attributes`)
            value = values[i]
            if value.__class__ is not str:  # not what the conventions allow: kept as text
                value = value if isinstance(value, str) else _as_text(value)
            values[i] = self.store.share(group or trace_id, keys[i], value)

    def _plan(self, keys: tuple[str, ...], values: list[Any]) -> _Plan:
        if not all(key.__class__ is str for key in keys):
            raise TypeError("an attribute key is not a string")
        intern = self.store.intern
        actions = [_ACTIONS.get(key) for key in keys]
        shape = Shape(
            tuple(map(intern, keys)),
            frozenset(i for i, a in enumerate(actions) if a == _SHARE),
            self.store,
        )
        plan = _Plan(
            shape=shape,
            shared=tuple(i for i, a in enumerate(actions) if a == _SHARE),
            sessions=tuple(
                sorted(
                    (i for i, a in enumerate(actions) if a == _SESSION),
                    key=lambda i: SESSION_KEYS.index(keys[i]),
                )
            ),
            always=tuple(i for i, a in enumerate(actions) if a in (_INTERN, _SESSION)),
            interned=tuple(i for i, k in enumerate(keys) if k in _REPEATED),
            numbers=tuple(i for i, v in enumerate(values) if v is _OTHER),
        )
        self._plans[keys] = plan
        return plan


@dataclass(frozen=True)
class _Plan:
    """What to do with each attribute of one shape, worked out once for all its spans:
    which strings to intern (repeated ids and names), which to share (growing message lists),
    and where the session id is (the sharing group)."""

    shape: Shape
    shared: tuple[int, ...]
    sessions: tuple[int, ...]
    always: tuple[int, ...]
    interned: tuple[int, ...]
    numbers: tuple[int, ...]  # not strings in the first span of this shape: integers, mostly


_UINT64 = 1 << 64


def _times(start: Any, end: Any) -> tuple[int, int]:
    """A span's start and end as both decoding paths read them: OTLP/JSON's decimal strings,
    the usual case, without a further call (19 digits are in range), else `_nanoseconds`."""
    if start.__class__ is str and 0 < len(start) < 20 and start.isdigit():
        start = int(start)
    else:
        start = _nanoseconds(start)
    if end.__class__ is str and 0 < len(end) < 20 and end.isdigit():
        end = int(end)
    else:
        end = _nanoseconds(end)
    return start, end


def _nanoseconds(value: Any) -> int:
    """A span time (OTLP `fixed64`): missing is 0; anything else must be an integer in range
    (a float or out-of-range value would overflow `datetime` later, far from its line)."""
    if not value:
        return 0
    if value.__class__ is float and value.is_integer():  # 1.7e18 written as a JSON float
        value = int(value)
    if value.__class__ is not int:
        if not isinstance(value, str) or not value.isdigit():
            shown = repr(value[:40]) if isinstance(value, str) else f"a {type(value).__name__}"
            raise ValueError(f"time {shown} is not an unsigned integer (nanoseconds)")
        value = int(value)
    if not 0 <= value < _UINT64:
        raise ValueError(f"time {str(value)[:40]} ns is out of range")
    nanoseconds: int = value
    return nanoseconds


def _integer(number: Any) -> Any:
    """OTLP/JSON 64-bit integers are decimal strings (numbers accepted); junk stays as is."""
    try:
        return int(number)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e400)
        return number


def _decode_numbers(
    numbers: tuple[int, ...], items: list[dict[str, Any]], values: list[Any]
) -> None:
    """Where the shape had integers, decode them without searching for them."""
    for i in numbers:
        if values[i] is _OTHER:
            raw: Any = items[i].get("value")  # `__class__ is dict`: the fast check, not narrowed
            number = raw.get("intValue") if raw.__class__ is dict else None
            if number is not None:
                values[i] = _integer(number)


def _decode_others(items: list[dict[str, Any]], values: list[Any]) -> None:
    """Replace the `_OTHER` marks with the decoded values (integers first: the common case)."""
    i = values.index(_OTHER)
    while True:
        raw: Any = items[i].get("value")
        number = raw.get("intValue") if raw.__class__ is dict else None
        if number is not None:
            values[i] = _integer(number)
        else:
            values[i] = any_value(raw) if raw.__class__ is dict else None
        try:
            i = values.index(_OTHER, i + 1)
        except ValueError:
            return


_UNSET = msgspec.UNSET
_VALUE_FIELDS = ("intValue", "boolValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue")


def _typed_others(attributes: Any, values: list[Any], numbers: tuple[int, ...]) -> None:
    """`_decode_others` for typed values: first where the shape had them (`_Plan.numbers`),
    then any other left (a shape whose value types vary)."""
    for i in numbers:
        if values[i] is _OTHER:
            # `_typed_value`'s order without its call for the usual leaves: an integer, or a
            # bool or a float as JSON gives them (`bool(x)`, `float(x)`: x itself).
            value = attributes[i].value
            number = value.intValue
            if number.__class__ is str:  # OTLP/JSON's integers: `_integer` without the call
                try:
                    values[i] = int(number)
                except ValueError:
                    values[i] = number
            elif number is not _UNSET:
                values[i] = _typed_value(value)
            elif (flag := value.boolValue).__class__ is bool:
                values[i] = flag
            elif flag is _UNSET and (double := value.doubleValue).__class__ is float:
                values[i] = double
            else:
                values[i] = _typed_value(value)
    if _OTHER in values:
        for i, value in enumerate(values):
            if value is _OTHER:
                values[i] = _typed_value(attributes[i].value)


def _typed_value(value: Any) -> Any:
    """A typed `AnyValue` without a string, in `any_value`'s order (integer, bool, double);
    anything else by `any_value` from the fields that are set (the general path's dict)."""
    number = value.intValue
    if number is not _UNSET:
        return _integer(number) if number is not None else None
    if value.boolValue is not _UNSET:
        return bool(value.boolValue)
    if value.doubleValue is not _UNSET:
        return _float(value.doubleValue)
    array = value.arrayValue
    if array.__class__ is dict:
        strings = _strings(array)
        if strings is not None:
            return strings
    fields = {f: getattr(value, f) for f in _VALUE_FIELDS}  # lists, maps, bytes, nothing
    return any_value({k: v for k, v in fields.items() if v is not _UNSET})


def _strings(array: dict[str, Any]) -> tuple[Any, ...] | None:
    """An array whose every item holds a `stringValue` (finish reasons, stop sequences: the
    arrays conventions write) as `any_value` reads it, without a call per item; None for
    any other array (then read by `any_value`)."""
    items: Any = array.get("values")
    if items.__class__ is not list:
        return () if items is None else None  # `{}`: `any_value`'s empty tuple
    try:
        found = tuple(map(_STRING_VALUE, items))  # `item["stringValue"]` of each, in C
    except (KeyError, TypeError):  # an item without one, or not an object
        return None
    for text in found:
        if text.__class__ is not str and text is not None:
            return None  # damaged: `any_value` reads it (and checks how deep it nests)
    return found


_STRING_VALUE = operator.itemgetter("stringValue")


MAX_DEPTH = 64  # nested arrays / key-value lists in one attribute value; no convention nests


def any_value(value: dict[str, Any], depth: int = 0) -> Any:
    """An OTLP `AnyValue` as a plain value (arrays as tuples, key-value lists as dicts).

    Raises `ValueError` (or `TypeError` for wrong JSON types) on what is not an `AnyValue`,
    including nesting deeper than `MAX_DEPTH`, which would otherwise end in `RecursionError`.
    """
    if "stringValue" in value:
        found = value["stringValue"]
        if found.__class__ is dict or found.__class__ is list:
            _within_depth(found, depth)  # JSON where a string belongs: damaged
        return found
    if "intValue" in value:
        return _int(value["intValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "doubleValue" in value:
        return _float(value["doubleValue"])
    if depth >= MAX_DEPTH and ("arrayValue" in value or "kvlistValue" in value):
        raise ValueError(f"attribute value nested deeper than {MAX_DEPTH} levels")
    if "arrayValue" in value:
        items = (value["arrayValue"] or {}).get("values") or ()
        return tuple([any_value(item or {}, depth + 1) for item in items])
    if "kvlistValue" in value:
        pairs = (value["kvlistValue"] or {}).get("values") or ()
        return {pair["key"]: any_value(pair.get("value") or {}, depth + 1) for pair in pairs}
    if "bytesValue" in value:
        try:
            return base64.b64decode(value["bytesValue"])
        except (binascii.Error, TypeError, ValueError):
            return value["bytesValue"]
    return None


def _within_depth(value: Any, depth: int) -> None:
    """A `stringValue` that is JSON instead of a string (damaged input) is kept as read, as a
    value of another type is, but not when it nests deeper than `MAX_DEPTH` in all (`depth`:
    the levels above it): that is a `ValueError`, as for nested `AnyValue`s, not a value
    whose text no dump could make later. A loop, not recursion: it may be a thousand deep."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if item.__class__ is dict or item.__class__ is list:
            if level >= MAX_DEPTH:
                raise ValueError(f"attribute value nested deeper than {MAX_DEPTH} levels")
            inner = item.values() if item.__class__ is dict else item
            stack.extend((child, level + 1) for child in inner)


def _as_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return value


def _float(value: Any) -> Any:
    try:
        return float(value)  # also "NaN", "Infinity", "-Infinity" of the JSON mapping
    except (TypeError, ValueError):
        return value


def _hex_id(value: Any, size: int) -> str:
    """A trace or span id as lowercase hex; base64 (protobuf's JSON mapping) is converted."""
    if value.__class__ is str and len(value) == 2 * size and value.islower():
        return value  # the usual case, first
    if not isinstance(value, str):
        raise TypeError(f"id is a {type(value).__name__}, not a string")
    if len(value) == 2 * size:
        return value if value.isdigit() else value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value
    return raw.hex() if len(raw) == size else value


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item

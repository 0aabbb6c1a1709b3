"""One session out of a large file without reading the rest: `load_traces(..., session=S)`.

`show`, `export` and `replay` want one conversation; a production trace file holds tens of
thousands. Two streaming passes over the raw bytes pick the lines that matter, and only those
are parsed and assembled, through the same path as a whole file:

1. lines holding the session id as a JSON string (`"S"`); those with a span naming the session
   itself are kept and give its trace ids (a line that only mentions the id, e.g. a fork
   naming its parent session, is not read);
2. lines holding any of those trace ids: spans that inherit the session from a parent span
   (the openai-v2 instrumentation names it on `invoke_agent` only), spans of no convention
   under a turn, log records with the content. This pass counts lines, so spans and warnings
   keep their file:line.

The bytes are read 1 MB at a time into one buffer and searched by C/Rust loops (no Python per
line): Rust's SIMD memmem and an Aho-Corasick automaton (`ahocorasick-rs`), else `bytes.find`
and `re`. Time follows the file size at about twice the time of reading it once; memory
follows the block and the lines kept, never the number of sessions in the file. The trace file
is only read. What cannot be selected this way falls back to loading everything and picking
the session: gzip files, stdin, directories, one JSON document (not JSON lines), parsed
documents, a session or trace id that JSON may escape in more than one way, a trace id no line
holds as written, an id lines mention but no span names. A stitched session's id, which the
loader makes and no line holds, is read through the file's sidecar index (`_index`) once a
whole load has written it. An id no line holds at all names no session: the result is an
empty set that knows the ids the lines name, for `SessionNotFoundError`'s suggestions, found
without parsing (`_named_ids`). Warnings are those of the lines read: problems on other lines
of the file are not looked for.
"""

from __future__ import annotations

import bisect
import heapq
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from . import _index
from ._assemble import assemble
from ._decode import SESSION_KEYS, SpanDecoder
from ._graph import SpanIndex
from ._logs import LogIndex
from ._otlp import read_lines
from ._records import TraceWarning
from ._sessions import TraceSet
from ._stitch import PREFIX
from ._store import TextStore

if TYPE_CHECKING:
    from ahocorasick_rs import BytesAhoCorasick

    from ._load import TraceSource

STDIN = "-"  # as `_load.STDIN`, which imports this module

__all__ = ["load_one_session"]

_BLOCK = 1 << 20  # bytes read at a time: the memory the scan needs besides the lines kept


def _rust() -> type[BytesAhoCorasick] | None:
    """Rust's `aho-corasick` and `memchr` (SIMD memmem): searches ten times faster than
    `bytes.find`; a platform without its wheels gets `bytes.find` and `re`."""
    try:
        from ahocorasick_rs import BytesAhoCorasick
    except ImportError:  # pragma: no cover
        return None
    return BytesAhoCorasick


_AUTOMATON = _rust()
_RUST = _AUTOMATON is not None  # else `bytes.find` and `re` (the tests run both)
_LONG_LINES = 1024  # bytes a line from which finding each newline beats counting them
_TRACE_ID = re.compile(rb'"traceId":\s*"([^"\\]{1,64})"')  # a literal prefix: fast search
_PLAIN_ID = re.compile(r"[A-Za-z0-9 _.:@#+=,;()\[\]{}|~-]{1,512}")  # one JSON spelling only
_PLAIN_TRACE = re.compile(rb"[A-Za-z0-9_.:-]{1,64}")  # (hex, in practice)
_FIRST_LINE = 1 << 20  # bytes of the first line read to tell JSON lines from one document

# Where in a block (buffer, end, offset of the block in the file) a scan finds what it looks
# for: positions before `end`, in increasing order.
_Hits = Callable[[bytearray, int, int], Iterator[int]]


def load_one_session(sources: Sequence[TraceSource], session_id: str) -> TraceSet:
    """A `TraceSet` holding only `session_id` (when found), read from the lines that matter."""
    paths = [os.fspath(s) for s in sources if isinstance(s, (str, os.PathLike))]
    if len(paths) != len(sources) or not _PLAIN_ID.fullmatch(session_id):
        return _everything(sources, session_id)
    if any(path == STDIN or not os.path.isfile(path) for path in paths):  # `-`, directories
        return _everything(sources, session_id)
    needle = orjson.dumps(session_id)
    if not all(_json_lines(path) for path in paths):
        return _everything(sources, session_id)
    # Pass 1 in every file first: a trace named in one file may have spans in another.
    traces: set[bytes] = set()
    mentions = _Mentions()
    naming = {
        path: _naming(mentions.count(_scan(path, _needle_hits([needle]))), session_id, traces)
        for path in paths
    }
    if not mentions.found and _only_named(session_id):
        return TraceSet([], [], paths, named_ids=_named_ids(paths))
    if not all(_PLAIN_TRACE.fullmatch(trace) for trace in traces):
        return _everything(sources, session_id)  # a trace id JSON may spell in several ways
    picked = [(path, _second_pass(path, naming[path], traces)) for path in paths]
    picked = [(path, lines) for path, lines in picked if lines]
    if not picked:
        if session_id.startswith(PREFIX) and len(paths) == 1:
            return _stitched(paths[0], session_id)
        return _everything(sources, session_id)
    return _assemble_one(picked, paths, session_id)


def _stitched(path: str, session_id: str) -> TraceSet:
    """A stitched session, which no line names: its family's lines, from the file's sidecar
    index (`_index`). Without a current index, or when those lines do not give the session
    the whole load counted, the whole load, which then writes the index."""
    found = _index.lookup(path, session_id)
    if isinstance(found, _index.Unknown):  # the file's stitched sessions are known: not one
        return TraceSet([], [], [path], named_ids=found.ids)
    if found is not None:
        traces = _read_picked([(path, found.lines)], [path])
        if session_id in traces:
            session = traces.session(session_id)
            if (len(session.turns), session.message_count) == (found.turns, found.messages):
                return _only(traces, session_id)
    made_from = _index.stamp(path)
    from ._load import load_traces

    traces = load_traces(path)
    _index.write(path, made_from, traces)
    return _only(traces, session_id)


class _Mentions:
    """Whether pass 1 found the id in any line at all (its lines are not kept: an id such as
    `"1"` is in every line)."""

    def __init__(self) -> None:
        self.found = False

    def count(self, lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
        for line in lines:
            self.found = True
            yield line


def _only_named(session_id: str) -> bool:
    """Whether a session with this id exists only if a line holds it as a JSON string. Not so
    for the ids the loader makes: a stitched session's (`inferred-...`), and a trace id, the
    id of a session no span names, which the line may spell otherwise (`_decode._hex_id`
    lowercases any id of 32 characters and turns base64 into 32 hex digits)."""
    return not session_id.startswith(PREFIX) and len(session_id) != _TRACE_ID_LENGTH


_TRACE_ID_LENGTH = 32
_SESSION_VALUE = re.compile(
    rb'"key"\s*:\s*"(?:'
    + b"|".join(re.escape(key.encode()) for key in SESSION_KEYS)
    + rb')"\s*,\s*"value"\s*:\s*\{\s*"stringValue"\s*:\s*("(?:[^"\\]|\\.)*")'
)


def _named_ids(paths: Sequence[str]) -> list[str]:
    """The session ids the files' spans name (`SESSION_KEYS` string values, in the key-first
    order every OTLP/JSON writer uses), in order of first appearance: what `SessionNotFoundError`
    suggests from when the id asked for is in no line. One regular-expression pass over the
    blocks, nothing parsed: 1.3 s of CPU a gigabyte (1.5x faster than a bare parse), memory of
    one block (bench/one_session.py)."""
    found: dict[str, None] = {}
    for path in paths:
        for _, block, cut in _blocks(path):
            for match in _SESSION_VALUE.finditer(block, 0, cut):
                try:
                    value = orjson.loads(match.group(1))
                except orjson.JSONDecodeError:
                    continue  # damaged: the whole load would not read it either
                if isinstance(value, str) and value:
                    found.setdefault(value)
    return list(found)


def _assemble_one(
    picked: list[tuple[str, list[tuple[int, bytes]]]], paths: list[str], session_id: str
) -> TraceSet:
    traces = _read_picked(picked, paths)
    if session_id not in traces:  # the id was only mentioned (a fork's parent, a message's text)
        from ._load import load_traces

        return _only(load_traces(*paths), session_id)
    return _only(traces, session_id)


def _read_picked(picked: list[tuple[str, list[tuple[int, bytes]]]], paths: list[str]) -> TraceSet:
    """The sessions of the lines picked (path, [(line number, line)]), loaded as a file's."""
    store = TextStore()
    decoder = SpanDecoder(store)
    index = SpanIndex()
    logs = LogIndex()  # content in log records: their lines name the trace ids (pass 2)
    warnings: list[TraceWarning] = []
    for path, lines in picked:
        cut_off = _cut_off(path, lines)
        warnings.extend(read_lines(lines[:-1] if cut_off else lines, path, index, decoder, logs))
        warnings.extend(cut_off)
    return TraceSet(assemble(index, store, warnings, logs), warnings, paths)


def _cut_off(path: str, lines: list[tuple[int, bytes]]) -> list[TraceWarning]:
    """The warning about the last line picked when it is the file's last line, has no newline
    and is not JSON: a file still being written, which the whole load reports as such
    (`_otlp`), while `read_lines` takes every line it is given as ended. Same words."""
    if not lines:
        return []
    number, line = lines[-1]
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(size - len(line) - 1, 0))
        tail = f.read()
    if tail not in (line, b"\n" + line):
        return []  # not the last line, or ended by a newline
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        message = (
            f"truncated last line ({len(line)} bytes, no newline at the end): skipped; "
            "the lines before it are loaded"
        )
        return [TraceWarning(path, number, message)]
    return []


def _everything(sources: Sequence[TraceSource], session_id: str) -> TraceSet:
    from ._load import load_traces

    return _only(load_traces(*sources), session_id)


def _only(traces: TraceSet, session_id: str) -> TraceSet:
    """`traces` cut to the one session; an id not found keeps the whole set, from which
    `SessionNotFoundError` suggests close ids (so the caller need not load it again)."""
    if session_id not in traces:
        return traces
    return TraceSet([traces.session(session_id)], traces.warnings, traces.paths)


def _json_lines(path: str) -> bool:
    """Plain JSON lines (not gzip, not one pretty-printed document): the first non-blank line
    is a JSON value of its own, or at least starts like one and is longer than a document's
    first line would be (a huge export batch is not read twice to find out). Unreadable files
    are left to the full load to report."""
    try:
        with open(path, "rb") as f:
            while line := f.readline(_FIRST_LINE):
                if line.strip():
                    if len(line) == _FIRST_LINE and not line.endswith(b"\n"):
                        return line.lstrip()[:1] in (b"{", b"[")
                    orjson.loads(line)
                    return True
    except (OSError, orjson.JSONDecodeError):
        return False
    return False


def _needle_hits(needles: list[bytes]) -> _Hits:
    """Where the `needles` are (each a JSON string: `"id"`), one memory search each: an
    automaton of several needles that all start with `"` (as common a byte as any in JSON)
    finds no rare byte to skip to and is ten times slower than this."""
    searches = [_search(needle) for needle in needles]
    if len(searches) == 1:
        return lambda block, end, base: iter(searches[0](block, end))
    return lambda block, end, base: iter(sorted(at for s in searches for at in s(block, end)))


def _search(needle: bytes) -> Callable[[bytearray, int], list[int]]:
    """The offsets of `needle` in `block[:end]`."""
    if not _RUST:
        return lambda block, end: _finds(block, end, needle)
    automaton = _automaton([needle])

    def search(block: bytearray, end: int) -> list[int]:
        with memoryview(block) as view, view[:end] as part:  # released: the buffer may grow
            return [start for _, start, _ in automaton.find_matches_as_indexes(part)]

    return search


def _second_pass(path: str, starts: list[int], traces: set[bytes]) -> list[tuple[int, bytes]]:
    """(line number, line) of the lines found by the first pass (`starts`: their offsets)
    and of every line holding one of `traces`, in file order. The first pass only finds (no
    line counting); this one counts lines for both."""
    if not starts and not traces:
        return []
    trace_hits = _trace_finder(traces)

    def hits(block: bytearray, end: int, base: int) -> Iterator[int]:
        known = starts[bisect.bisect_left(starts, base) : bisect.bisect_left(starts, base + end)]
        if trace_hits is None:
            return (start - base for start in known)
        return heapq.merge((start - base for start in known), trace_hits(block, end, base))

    return list(_scan(path, hits, count=True))


def _trace_finder(traces: set[bytes]) -> _Hits | None:
    """Where in a block the lines naming `traces` are: each id as the value of an `...Id` key
    (`"traceId"`, as every OTLP/JSON writer spells it). The loader reads a trace id in any
    case as lowercase, and a line may spell an id otherwise than the line that named the
    session (another writer, a flipped byte). With `ahocorasick-rs`, one pass of an automaton
    finds the ids in their `_spellings`; without it, one pass of `re` finds them in any
    case."""
    if not traces:
        return None
    words = sorted({trace.lower() for trace in traces})
    pattern = re.compile(rb'Id"\s*:\s*"(?:' + _any_case(_tree(words)) + rb')"')

    def by_regex(block: bytearray, end: int, base: int) -> Iterator[int]:
        return (m.start() for m in pattern.finditer(block, 0, end))

    return _automaton_hits(words, by_regex) if _RUST else by_regex


def _any_case(pattern: bytes) -> bytes:
    """A pattern of lowercase hex ids (`_tree`'s) matching each letter in either case: what
    `re.IGNORECASE` does, which would also give up `re`'s fast search for the literal `Id"`
    (3.5 s a gigabyte instead of 0.3 s)."""
    return re.sub(rb"[a-f]", lambda m: b"[" + m.group(0) + m.group(0).upper() + b"]", pattern)


def _spellings(trace: bytes) -> list[bytes]:
    """The ways a file may write a trace id that the loader reads as `trace` (lowercase hex):
    as it is, in capitals (a writer may: OTLP/JSON ids are case-insensitive), and with one
    capital (a flipped byte). An id with several capitals among small letters (no writer
    writes one) is not looked for by the automaton."""
    capitals = [trace[:i] + trace[i : i + 1].upper() + trace[i + 1 :] for i in _letters(trace)]
    return [trace, trace.upper(), *(c for c in capitals if c != trace.upper())]


def _letters(trace: bytes) -> list[int]:
    return [i for i in range(len(trace)) if trace[i : i + 1].isalpha()]


# `Id"` spaced otherwise than `Id":"` or `Id": "`: a block holding one is read by `re`.
_ODD_SPACING = [
    *(b'Id"' + space for space in (b" ", b"\t", b"\n", b"\r")),
    *(b'Id":' + space for space in (b"\t", b"\n", b"\r")),
    *(b'Id": ' + space for space in (b" ", b"\t", b"\n", b"\r")),
]


def _automaton_hits(traces: list[bytes], by_regex: _Hits) -> _Hits:
    """Any of `traces` (each in its `_spellings`) in one pass of an Aho-Corasick automaton,
    about 0.02 s a gigabyte for one id or 500 (`re` takes 0.3 s): every pattern starts with
    `Id"`, whose `I` is rare in JSON, so the automaton skips from one `I` to the next at
    memory speed. Patterns hold the ids as compact (`"traceId":"id"`) and `json.dumps`
    (`"traceId": "id"`) write them; a block spelling an `Id"` key any other way is left to
    the regular expression."""
    spelled = [s for t in traces for s in _spellings(t)]
    patterns = [b'Id":"' + s + b'"' for s in spelled] + [b'Id": "' + s + b'"' for s in spelled]
    automaton = _automaton(patterns + _ODD_SPACING)
    odd = len(patterns)  # the index of the first odd spacing

    def hits(block: bytearray, end: int, base: int) -> Iterator[int]:
        with memoryview(block) as view, view[:end] as part:  # released: the buffer may grow
            found = automaton.find_matches_as_indexes(part)
        if any(index >= odd for index, _, _ in found):
            return by_regex(block, end, base)
        return iter([start for _, start, _ in found])

    return hits


def _tree(words: list[bytes]) -> bytes:
    """An alternation of `words` (distinct) as a tree of common prefixes, a group to concatenate:
    `re` tries alternatives one by one, so a flat `a|b|...` of 500 ids costs five times more."""
    if len(words) == 1:
        return re.escape(words[0])
    low, high = min(words), max(words)  # the prefix all share is the one these two share
    same = next((i for i, (a, b) in enumerate(zip(low, high, strict=False)) if a != b), len(low))
    prefix = low[:same]
    groups: dict[bytes, list[bytes]] = {}
    for word in words:
        groups.setdefault(word[len(prefix) : len(prefix) + 1], []).append(word[len(prefix) + 1 :])
    parts = [
        head and re.escape(head) + _tree(tails)  # `head` empty: a word that ends here
        for head, tails in sorted(groups.items())
    ]
    return re.escape(prefix) + b"(?:" + b"|".join(parts) + b")"


def _naming(found: Iterable[tuple[int, bytes]], session: str, traces: set[bytes]) -> list[int]:
    """The offsets of the lines `found` (offset, line) that hold a span naming the session
    itself, whose trace ids are added to `traces`. The others only mention the id (a fork
    names its parent session, a tool its argument) in an export batch of other sessions'
    spans, which would cost time and warn about their missing parents; log records are read
    with their trace (the second pass). Lines that are not a plain export request (damaged,
    wrapped in an API answer) are kept, with every trace id they hold. Only lines where the
    id is a string attribute's value or a trace id are parsed: an id such as `"1"` or
    `"chat"` is in every line, as other values."""
    naming = re.compile(rb'(?:stringValue|traceId)"\s*:\s*' + re.escape(orjson.dumps(session)))
    offsets = []
    for offset, line in found:
        if not naming.search(line):
            continue
        try:
            request = orjson.loads(line)
            spans = _spans_of(request)
            if spans is None and isinstance(request, dict) and "resourceLogs" in request:
                continue
            if spans is None:
                raise TypeError("not a plain export request")
            named = [
                s["traceId"] for s in spans if s.get("traceId") == session or _names(s, session)
            ]
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
            traces.update(_TRACE_ID.findall(line))
            offsets.append(offset)
            continue
        if named:
            # not a string: `b""`, which no plain id matches (the whole load decides)
            traces.update(t.encode() if isinstance(t, str) else b"" for t in named)
            offsets.append(offset)
    return offsets


def _spans_of(request: Any) -> list[dict[str, Any]] | None:
    """The spans of an `ExportTraceServiceRequest` (`batches`: Jaeger/Tempo's name), None for
    any other value."""
    if not isinstance(request, dict) or not ("resourceSpans" in request or "batches" in request):
        return None
    return [
        span
        for resource in request.get("resourceSpans") or request.get("batches") or ()
        for scope in resource.get("scopeSpans") or ()
        for span in scope.get("spans") or ()
    ]


def _names(span: dict[str, Any], session: str) -> bool:
    for item in span.get("attributes") or ():
        if (
            item.get("key") in SESSION_KEYS
            and (item.get("value") or {}).get("stringValue") == session
        ):
            return True
    return False


def _automaton(patterns: list[bytes]) -> BytesAhoCorasick:
    if _AUTOMATON is None:  # pragma: no cover - `_RUST` is False then
        raise RuntimeError("ahocorasick_rs is not installed")
    return _AUTOMATON(patterns)


def _finds(block: bytearray, end: int, needle: bytes) -> list[int]:
    found: list[int] = []
    at = block.find(needle, 0, end)
    while at >= 0:
        found.append(at)
        at = block.find(needle, at + len(needle), end)
    return found


def _scan(path: str, hits: _Hits, count: bool = False) -> Iterator[tuple[int, bytes]]:
    """The lines in which `hits(block, end, base)` finds positions, in order (before `end`;
    `base` is the block's offset in the file), as (line number, line) when `count`, else
    (offset of the line, line)."""
    lines = _Lines()
    for base, block, cut in _blocks(path):
        lines.block(block, cut)
        for start, line in _hit_lines(block, cut, hits(block, cut, base)):
            yield (lines.number(start) if count else base + start), line
        if count:
            lines.finish()


def _blocks(path: str) -> Iterator[tuple[int, bytearray, int]]:
    """(offset in the file, buffer, cut) for consecutive blocks of whole lines: `buffer[:cut]`,
    valid until the next block is asked for. Blocks end at a line end, so no line is split
    between two; a line longer than the buffer grows it. One buffer is read into again and
    again: no copy of the file but of the lines kept."""
    base = 0  # the block's offset in the file
    buffer = bytearray(_BLOCK)
    filled = 0  # bytes in the buffer: the rest of the last line of the previous block, then new
    with open(path, "rb", buffering=0) as f:
        while True:
            if filled == len(buffer):  # a line longer than the buffer: grow it
                buffer.extend(bytes(len(buffer)))
            with memoryview(buffer) as view:
                read = f.readinto(view[filled:])
            end = filled + read
            cut = end if not read else buffer.rfind(b"\n", 0, end) + 1
            if cut:
                yield base, buffer, cut
                base += cut
                buffer[: end - cut] = buffer[cut:end]
                filled = end - cut
            else:
                filled = end
            if not read:
                return


class _Lines:
    """Line numbers, counted block by block as far as they are asked for. `bytes.count` looks
    at each byte in turn (about 0.25 s a gigabyte); on lines of kilobytes (export batches)
    finding each newline (`memchr`) costs a fraction of that, so the way is chosen from the
    lines per byte of the blocks before."""

    def __init__(self) -> None:
        self.before = 0  # newlines before the current block
        self.counted = 0  # newlines in the current block before `self.at`
        self.at = 0
        self.long = False  # the previous block's lines were long: find each newline
        self.buffer: bytearray = bytearray()
        self.cut = 0

    def block(self, buffer: bytearray, cut: int) -> None:
        self.buffer, self.cut = buffer, cut
        self.counted = self.at = 0

    def number(self, start: int) -> int:
        """The 1-based number of the line starting at `start` in the current block."""
        self.counted += _newlines(self.buffer, self.at, start, self.long)
        self.at = start
        return self.before + self.counted + 1

    def finish(self) -> None:
        self.counted += _newlines(self.buffer, self.at, self.cut, self.long)
        self.long = self.counted * _LONG_LINES < self.cut
        self.before += self.counted


def _newlines(block: bytearray, start: int, end: int, long: bool) -> int:
    if not long:
        return block.count(b"\n", start, end)
    found = 0
    at = block.find(b"\n", start, end)
    while at >= 0:
        found += 1
        at = block.find(b"\n", at + 1, end)
    return found


def _hit_lines(block: bytearray, cut: int, hits: Iterator[int]) -> Iterator[tuple[int, bytes]]:
    """(start, line) of each line holding a hit (hits in increasing order)."""
    taken_to = -1
    for at in hits:
        if at < taken_to:
            continue  # another hit on a line already taken
        start = block.rfind(b"\n", 0, at) + 1
        stop = block.find(b"\n", at, cut)
        taken_to = cut if stop < 0 else stop
        yield start, bytes(block[start:taken_to])

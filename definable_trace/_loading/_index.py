"""The sidecar index of a trace file's stitched sessions: the lines holding each one's family.

A stitched session (`inferred-...`) is named by no line of the file: stitching every call that
names no session makes its id. `_select`'s scans cannot find its lines, so loading it alone took
a whole load (13 s and 1 GB on a 1 GB file). That load now leaves this index behind: for each
family of stitched sessions (a conversation and its branches, linked by their lineage) the
lines holding any span or log record of its traces. The next query for any of them reads
those lines only.

Stitching the lines of one family gives its sessions as stitching the whole file does: a call
is placed by the calls whose histories its input begins with, and a call whose input extends
any history of a family is in that family (docs/loading.md, "Sessions that name no id").
tests/test_loading_index.py compares the two on every committed trace and on replicated ones.

- Where: `DEFINABLE_TRACE_CACHE_DIR`, else `$XDG_CACHE_HOME/definable-trace`, else
  `~/.cache/definable-trace` (`off`: no index). Never beside the trace, which is only read.
- One file per trace file, named by a hash of its real path, stamped with the trace file's
  device, inode, size and modification time and the library's version. Any change (the file
  grew or was rewritten, another version of the loader) makes it stale, and the next whole
  load writes it again.
- Each line it names is checked when read: it must start and end a line of the file and have
  the checksum it had (CRC-32: an accidental change, not an adversary, is what it catches),
  and the session then assembled must have the turns and messages recorded; else the whole
  load decides. So a file rewritten within one tick of the clock at the same size (which the
  stamp cannot tell) is not read from stale offsets.
- A cache problem never fails a load: an index that cannot be read or written is no index.
- It holds ids, line numbers, byte offsets and checksums of lines: no content.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from .. import __version__
from ._sessions import Session, TraceSet

__all__ = ["ENV_CACHE_DIR", "Found", "Unknown", "lookup", "stamp", "write"]

ENV_CACHE_DIR = "DEFINABLE_TRACE_CACHE_DIR"
_OFF = "off"
_FORMAT = 2  # of the index file: a file of another format is stale

_log = logging.getLogger(__name__)

# (line number, byte offset, length with the newline, CRC-32) of one line of the trace file
_Line = tuple[int, int, int, int]


class _File(msgspec.Struct, forbid_unknown_fields=True):
    """The index file: what it was made from, and each stitched session's family."""

    format: int
    library: str
    stamp: tuple[int, int, int, int]
    sessions: dict[str, tuple[int, int, int]]  # id -> (family, turns, messages)
    families: list[list[_Line]]


@dataclass(frozen=True)
class Found:
    """A session the index knows: its family's lines (line number, line), read and checked,
    and what its whole load counted, to compare with."""

    lines: list[tuple[int, bytes]]
    turns: int
    messages: int


@dataclass(frozen=True)
class Unknown:
    """The index is current and the id is none of the file's stitched sessions: `ids` are."""

    ids: list[str]


def stamp(path: str) -> tuple[int, int, int, int] | None:
    """What identifies the file's present content: device, inode, size, modification time."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def lookup(path: str, session_id: str) -> Found | Unknown | None:
    """The family lines of `session_id` from a current index of `path`; `Unknown` when the
    index is current and has no such session; None when there is no usable index (none yet,
    stale, damaged, unreadable, or a line no longer where it was)."""
    index = _read(path)
    if index is None:
        return None
    known = index.sessions.get(session_id)
    if known is None:
        return Unknown(list(index.sessions))
    family, turns, messages = known
    if not 0 <= family < len(index.families):  # `_WHOLE`, or damaged
        return None
    lines = _lines(path, index.families[family], index.stamp[2])
    return None if lines is None else Found(lines, turns, messages)


def write(path: str, made_from: tuple[int, int, int, int] | None, traces: TraceSet) -> None:
    """Index the stitched sessions of a whole load of `path` alone (`made_from`: the file's
    stamp taken before that load). Nothing is written when the file changed meanwhile, when it
    has no stitched session, or where its lines cannot be told apart (trace ids not written as
    lowercase hex): such a session is loaded whole, as before."""
    where = _where(path)
    if where is None or made_from is None:
        return
    families = _families([s for s in traces if s.stitched])
    if not families:
        return
    try:
        found = _scan(path, families)
        if stamp(path) != made_from:
            return  # written to while it was read: the offsets may not be those of the load
        index = _index(families, found, made_from)
        os.makedirs(os.path.dirname(where), exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(where), suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as f:
                f.write(msgspec.json.encode(index))
            os.replace(temporary, where)  # readers see the old file or the new, never half
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        _log.debug("no session index for %s: %s", path, exc)


def _where(path: str) -> str | None:
    """The index file of `path`, or None when indexes are turned off."""
    directory = os.environ.get(ENV_CACHE_DIR, "").strip()
    if directory.lower() == _OFF:
        return None
    if not directory:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        directory = os.path.join(base, "definable-trace")
    name = hashlib.sha256(os.path.realpath(path).encode(errors="surrogateescape")).hexdigest()
    return os.path.join(directory, "sessions", name[:32] + ".json")


_DECODE = msgspec.json.Decoder(_File).decode


def _read(path: str) -> _File | None:
    where = _where(path)
    if where is None:
        return None
    try:
        with open(where, "rb") as f:
            index = _DECODE(f.read())
    except (OSError, msgspec.DecodeError):  # none yet, or damaged: made again by a whole load
        return None
    if index.format != _FORMAT or index.library != __version__ or index.stamp != stamp(path):
        return None
    return index


def _lines(path: str, lines: list[_Line], size: int) -> list[tuple[int, bytes]] | None:
    """The lines at their offsets, each checked to be a whole line of the file (after a
    newline or at its start, and ending with one or at its end) with its checksum; None if
    one is not."""
    out: list[tuple[int, bytes]] = []
    try:
        with open(path, "rb") as f:
            for number, offset, length, checksum in lines:
                if offset < 0 or length <= 0 or offset + length > size:
                    return None
                f.seek(max(offset - 1, 0))
                chunk = f.read(length + (offset > 0))
                if offset > 0 and chunk[:1] != b"\n":
                    return None
                line = chunk[1:] if offset > 0 else chunk
                if len(line) != length or not (line.endswith(b"\n") or offset + length == size):
                    return None
                if zlib.crc32(line) != checksum:
                    return None
                out.append((number, line[:-1] if line.endswith(b"\n") else line))
    except OSError:
        return None
    return out


@dataclass
class _Family:
    """Stitched sessions linked by lineage, their trace ids, and the lines of their spans."""

    sessions: list[Session]
    traces: set[str]
    span_lines: set[int]


def _families(stitched: list[Session]) -> list[_Family]:
    """The stitched sessions grouped by lineage: a branch with the session it branched from."""
    by_id = {s.id: s for s in stitched}
    root: dict[str, str] = {}

    def top(session_id: str) -> str:
        seen = []
        while session_id not in root:
            seen.append(session_id)
            lineage = by_id[session_id].lineage
            parent = lineage.parent_session if lineage is not None else None
            if parent is None or parent not in by_id or parent in seen:
                root[session_id] = session_id
                break
            session_id = parent
        found = root[session_id]
        root.update(dict.fromkeys(seen, found))
        return found

    groups: dict[str, _Family] = {}
    for session in stitched:
        family = groups.setdefault(top(session.id), _Family([], set(), set()))
        family.sessions.append(session)
        for turn in session.turns:
            for span in turn.spans:
                family.traces.add(span.trace_id)
                family.span_lines.add(span.line)
    return list(groups.values())


_TRACE_ID = re.compile(rb'"traceId"\s*:\s*"([0-9a-f]{32})"')


def _scan(path: str, families: list[_Family]) -> dict[int, list[_Line]]:
    """For each family (by position), the lines holding one of its trace ids: spans, and log
    records with the content. One pass over the lines, a regular expression on those that
    hold a `"traceId"` key."""
    by_trace: dict[bytes, list[int]] = {}
    for number, family in enumerate(families):
        for trace in family.traces:
            by_trace.setdefault(trace.encode(), []).append(number)
    found: dict[int, list[_Line]] = {}
    offset = 0
    with open(path, "rb", buffering=1 << 20) as f:
        for number, line in enumerate(f, 1):
            if b'"traceId"' in line:
                for held in _holding(_TRACE_ID.findall(line), by_trace):
                    found.setdefault(held, []).append((number, offset, len(line), zlib.crc32(line)))
            offset += len(line)
    return found


def _holding(traces: Iterable[bytes], by_trace: dict[bytes, list[int]]) -> set[int]:
    return {family for trace in traces for family in by_trace.get(trace, ())}


def _index(
    families: list[_Family], found: dict[int, list[_Line]], made_from: tuple[int, int, int, int]
) -> _File:
    """The index of the families whose span lines the scan found. A family whose lines it
    could not all find (trace ids written otherwise than the loader keeps them: capitals,
    base64) is listed as known but not indexed (`_WHOLE`): its sessions exist, and are
    loaded whole."""
    sessions: dict[str, tuple[int, int, int]] = {}
    kept: list[list[_Line]] = []
    for number, family in enumerate(families):
        lines = found.get(number, [])
        whole = not family.span_lines <= {line[0] for line in lines}
        for session in family.sessions:
            at = _WHOLE if whole else len(kept)
            sessions[session.id] = (at, len(session.turns), session.message_count)
        if not whole:
            kept.append(lines)
    return _File(_FORMAT, __version__, made_from, sessions, kept)


_WHOLE = -1  # the family of a session the index knows but whose lines it does not

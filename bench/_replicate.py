"""Large trace files made fast: real traces copied with fresh ids until the file is big enough.

The templates are real files (our agent's `sample_traces/` and the foreign instrumentations'
`tests/fixtures/`, each written by the real code). Copy k renames every trace id, span id
(parents follow) and session id, so each copy is new sessions with the same shapes; the
copies are written in interleaved order, as a production app's exporter would write them.
Copy k also asks about "Paris k" where the templates' conversation asks about Paris, in
every line (input, answers, tool arguments, log records alike, so each history still begins
with the one before): the conversations that name no session are then different
conversations in each copy, as real traffic is. Byte-identical copies would all stitch into
one family of regenerated answers (a root sending an earlier root's exact input is a branch).
Used by `one_session.py` and `load_throughput.py --replicate`.

    python bench/_replicate.py OUT.jsonl 1000     # about 1000 MB
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(
    [*ROOT.glob("sample_traces/*.jsonl"), *(ROOT / "tests" / "fixtures").glob("*.jsonl")]
)
_IDS = re.compile(rb'"(?:traceId|spanId|parentSpanId)":"([0-9a-f]{16,32})"')
_SESSION_KEYS = (
    b"gen_ai.conversation.id",
    b"session.id",
    b"traceloop.association.properties.session_id",
    b"definable_trace.lineage.parent_session",
)
_VARIED = b"Paris"  # the word of the templates' conversation that each copy varies
_SESSIONS = re.compile(
    rb'"key":"(?:'
    + b"|".join(re.escape(k) for k in _SESSION_KEYS)
    + rb')","value":\{"stringValue":"([^"]+)"'
)


def _template() -> list[bytes]:
    lines: list[bytes] = []
    for path in TEMPLATES:
        lines.extend(line for line in path.read_bytes().splitlines() if line.strip())
    return lines


def _names(lines: list[bytes]) -> tuple[set[bytes], set[bytes]]:
    ids: set[bytes] = set()
    sessions: set[bytes] = set()
    for line in lines:
        ids.update(_IDS.findall(line))
        sessions.update(_SESSIONS.findall(line))
    return ids, sessions


_Piece = bytes | tuple[bytes, str]  # as is, or (value, "id" | "session" | "word")


def _segments(lines: list[bytes]) -> list[list[_Piece]]:
    """Each line cut around its ids, session ids and varied words once; a copy only joins
    the pieces."""
    ids, sessions = _names(lines)
    pattern = re.compile(rb'"(?:stringValue":")?([^"]{1,120})"')
    out: list[list[_Piece]] = []
    for line in lines:
        pieces: list[_Piece] = []
        at = 0
        for match in pattern.finditer(line):
            value = match.group(1)
            session = match.group(0).startswith(b'"stringValue"')
            if (value in sessions) if session else (value in ids):
                pieces.extend(_words(line[at : match.start(1)]))
                pieces.append((value, "session" if session else "id"))
                at = match.end(1)
        pieces.extend(_words(line[at:]))
        out.append(pieces)
    return out


def _words(text: bytes) -> list[_Piece]:
    """`text` cut around the varied word."""
    parts = text.split(_VARIED)
    pieces: list[_Piece] = [parts[0]]
    for part in parts[1:]:
        pieces.extend([(_VARIED, "word"), part])
    return pieces


def _piece(piece: _Piece, tag: bytes, suffix: bytes, word: bytes) -> bytes:
    if isinstance(piece, bytes):
        return piece
    value, kind = piece
    if kind == "session":
        return value + suffix
    return value[:-8] + tag if kind == "id" else value + word


def replicate(out: Path, megabytes: float, *, label: str = "copy") -> dict[str, int]:
    """Write about `megabytes` MB of copies to `out`; return copies, lines, sessions per copy."""
    lines = _template()
    segments = _segments(lines)
    size = sum(len(line) + 1 for line in lines)
    copies = max(int(megabytes * 1_000_000 / size), 1)
    written = 0
    with open(out, "wb", buffering=1 << 22) as f:
        for k in range(copies):
            tag = f"{k:08x}".encode()
            suffix = f"-{label}{k}".encode()
            word = f" {k}".encode()
            for pieces in segments:
                f.write(b"".join(_piece(piece, tag, suffix, word) for piece in pieces))
                f.write(b"\n")
                written += 1
    _, sessions = _names(lines)
    return {"copies": copies, "lines": written, "sessions_per_copy": len(sessions)}


if __name__ == "__main__":
    print(replicate(Path(sys.argv[1]), float(sys.argv[2])))

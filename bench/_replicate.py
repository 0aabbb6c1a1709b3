"""Large trace files made fast: real traces copied with fresh ids until the file is big enough.

The templates are real files (our agent's `sample_traces/` and the foreign instrumentations'
`tests/fixtures/`, each written by the real code). Copy k renames every trace id, span id
(parents follow) and session id, so each copy is new sessions with the same shapes; the
copies are written in interleaved order, as a production app's exporter would write them.
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


def _segments(lines: list[bytes]) -> list[list[bytes | tuple[bytes, bool]]]:
    """Each line cut around its ids and session ids once; a copy only joins the pieces."""
    ids, sessions = _names(lines)
    pattern = re.compile(rb'"(?:stringValue":")?([^"]{1,120})"')
    out: list[list[bytes | tuple[bytes, bool]]] = []
    for line in lines:
        pieces: list[bytes | tuple[bytes, bool]] = []
        at = 0
        for match in pattern.finditer(line):
            value = match.group(1)
            session = match.group(0).startswith(b'"stringValue"')
            if (value in sessions) if session else (value in ids):
                pieces.append(line[at : match.start(1)])
                pieces.append((value, session))
                at = match.end(1)
        pieces.append(line[at:])
        out.append(pieces)
    return out


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
            for pieces in segments:
                f.write(
                    b"".join(
                        piece
                        if isinstance(piece, bytes)
                        else (piece[0] + suffix if piece[1] else piece[0][:-8] + tag)
                        for piece in pieces
                    )
                )
                f.write(b"\n")
                written += 1
    _, sessions = _names(lines)
    return {"copies": copies, "lines": written, "sessions_per_copy": len(sessions)}


if __name__ == "__main__":
    print(replicate(Path(sys.argv[1]), float(sys.argv[2])))

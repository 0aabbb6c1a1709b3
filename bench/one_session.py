"""One session out of a 1 GB trace file: `load_traces(path, session=S)`, against bare parsing.

    python bench/one_session.py               # 1000 MB in the temp dir (made once, then reused)
    python bench/one_session.py --mb 200      # a smaller file
    python bench/one_session.py --full        # also the whole load (slow, memory-hungry)

The file is many short sessions, ours and foreign: every committed real trace (our agent's
`sample_traces/`, the openai-v2 / OpenLLMetry / OpenInference fixtures) copied with fresh ids
until the size is reached (`_replicate.py`). Each step runs in its own process, so its peak
RSS is its own:

1. read: the file's bytes read once, nothing else (what any scan costs);
2. floor: `orjson.loads` of every line, nothing kept (what a reader that parses all pays);
3. one: `load_traces(path, session=S)`, then the session's whole history and every turn's
   messages (what `show`/`export`/`replay --session S` need), for sessions of each
   convention, from the file's start, middle and end: the first query of the file (there is
   no index to warm), each in a fresh process;
4. the same with `bytes.find` and `re` only (what a platform without `ahocorasick-rs` gets);
5. an id no line holds (a typo): `load_traces(path, session=S)` finds it absent and the ids
   the lines name, for the error's suggestions;
6. stitched sessions (`inferred-...`, which no line names), with a sidecar index in a fresh
   cache directory: the first query of the file (a whole load, which writes the index), then
   sessions from the file's start, middle and end and one of the largest family (a greeting
   every copy sends alike, answered alike: one family of branches), each from the index, and
   a mistyped stitched id, answered from the index;
7. with `--full`: `load_traces(path)` and the same session from it (what they did before).

Printed: wall and CPU seconds, peak RSS of each, and the time as a multiple of the first
baseline. The page cache is warm: the file was just written or read by the steps before (a
cold cache adds the disk's time to read 1 GB, to every reader alike). Goal: one session
<= 1 s, <= 100 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _replicate import TEMPLATES, replicate

MB = 1_000_000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB  # Linux: KiB


def _timed(work: Any) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    extra = work()
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "rss": _rss_mb(),
        **(extra or {}),
    }


def step_read(path: Path) -> dict[str, Any]:
    def work() -> None:
        buffer = bytearray(1 << 23)
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buffer):
                pass

    return _timed(work)


def step_floor(path: Path) -> dict[str, Any]:
    import orjson

    def work() -> dict[str, Any]:
        lines = 0
        with open(path, "rb", buffering=1 << 20) as f:
            for line in f:
                orjson.loads(line)
                lines += 1
        return {"lines": lines}

    return _timed(work)


def step_one(path: Path, session: str, full: bool = False, stdlib: bool = False) -> dict[str, Any]:
    from definable_trace._loading import _select
    from definable_trace.loading import load_traces

    _select._RUST = _select._RUST and not stdlib

    def work() -> dict[str, Any]:
        traces = load_traces(path) if full else load_traces(path, session=session)
        found = traces.session(session)
        messages = len(found.messages)
        turn_messages = sum(len(turn.messages) for turn in found.turns)
        return {
            "sessions": len(traces),
            "turns": len(found.turns),
            "messages": messages,
            "turn_messages": turn_messages,
            "convention": found.convention,
        }

    return _timed(work)


def step_absent(path: Path, session: str | None = None) -> dict[str, Any]:
    """An id no line holds (a typo): known absent without a whole load, with the ids the
    lines name for `SessionNotFoundError`'s suggestions."""
    from definable_trace.loading import SessionNotFoundError, load_traces

    asked = session or _ABSENT

    def work() -> dict[str, Any]:
        traces = load_traces(path, session=asked)
        try:
            traces.session(asked)
        except SessionNotFoundError:
            return {"named": len(traces.named_ids or ()), "sessions": len(traces)}
        raise AssertionError(f"{asked!r} was found")

    return _timed(work)


_ABSENT = "no-such-session"
_UNKNOWN_STITCHED = "inferred-0"


def step_index(path: Path) -> dict[str, Any]:
    """The first query of a stitched session: no index yet, so a whole load, which writes it.
    Returns stitched ids to ask for next: by their first line, the first, middle and last,
    and one of the largest family."""
    from definable_trace.loading import load_traces

    def work() -> dict[str, Any]:
        traces = load_traces(path, session=_UNKNOWN_STITCHED)  # not found: every session
        stitched = sorted((s for s in traces if s.stitched), key=lambda s: s.turns[0].spans[0].line)
        families: dict[str, int] = {}
        for s in stitched:
            parent = s.lineage.parent_session if s.lineage is not None else s.id
            families[parent or s.id] = families.get(parent or s.id, 0) + 1
        largest = max(families, key=families.__getitem__)
        member = next(s.id for s in stitched if s.lineage and s.lineage.parent_session == largest)
        return {
            "sessions": len(traces),
            "stitched": len(stitched),
            "picks": [stitched[0].id, stitched[len(stitched) // 2].id, stitched[-1].id, member],
            "largest": families[largest],
        }

    return _timed(work)


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


def _line(label: str, r: dict[str, Any]) -> str:
    return f"{label:<50} {r['wall']:5.2f} s wall {r['cpu']:5.2f} s CPU  peak RSS {r['rss']:4.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1000)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--session", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        steps = {
            "read": step_read,
            "floor": step_floor,
            "absent": step_absent,
            "index": step_index,
        }
        if args.step in steps:
            result = steps[args.step](args.file)
        elif args.step == "one-absent":
            result = step_absent(args.file, args.session)
        else:
            full, stdlib = args.step == "full", args.step == "stdlib"
            result = step_one(args.file, args.session, full=full, stdlib=stdlib)
        print(json.dumps(result))
        return
    path = args.file or Path(tempfile.gettempdir()) / f"definable-one-session-{args.mb:g}.jsonl"
    if not path.exists():
        print(f"writing {path} ...", file=sys.stderr)
        info = replicate(path, args.mb)
        print(f"  {info}", file=sys.stderr)
    size = os.path.getsize(path) / MB
    read = _child("--step=read", f"--file={path}")
    print(_line("read the bytes once", read))
    floor = _child("--step=floor", f"--file={path}")
    copies = floor["lines"] // _lines_per_copy()
    print(f"file: {path} ({size:.0f} MB, {copies} copies of the committed traces)")
    print(_line(f"orjson.loads of {floor['lines']} lines", floor))
    picks = [
        ("ours, start", "lisbon-copy0"),
        ("ours, middle", f"weather-copy{copies // 2}"),
        ("openai-v2 (inherited id), end", f"v2-s1-copy{copies - 1}"),
        ("openllmetry, middle", f"tl-s1-copy{copies // 3}"),
        ("openinference, end", f"oi-s2-copy{copies - 2}"),
    ]
    for step, title in (("one", "one session"), ("stdlib", "bytes.find/re only")):
        for label, session in picks:
            r = _child(f"--step={step}", f"--file={path}", f"--session={session}")
            print(
                _line(f"{title}: {label}", r)
                + f"  = {r['cpu'] / read['cpu']:.1f}x reading once"
                + f"  ({r['turns']} turns, {r['messages']} messages)"
            )
    r = _child("--step=absent", f"--file={path}")
    print(
        _line("an id no line holds (a typo)", r)
        + f"  = {r['cpu'] / read['cpu']:.1f}x reading once  ({r['named']} session ids named)"
    )
    _stitched(path, read)
    if args.full:
        r = _child("--step=full", f"--file={path}", f"--session={picks[1][1]}")
        print(_line(f"whole load ({r['sessions']} sessions)", r))
    print(
        "memory: the scans hold one 1 MB block and the lines kept; the session's own spans "
        "are then loaded as usual, so peak RSS follows the session's size (and the longest "
        "line), not the file's or the number of sessions in it"
    )


def _stitched(path: Path, read: dict[str, Any]) -> None:
    """Step 6: stitched sessions through a sidecar index made in a fresh cache directory."""
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DEFINABLE_TRACE_CACHE_DIR"] = cache  # the children's
        first = _child("--step=index", f"--file={path}")
        print(
            _line("stitched, first query (whole load, index written)", first)
            + f"  ({first['stitched']} stitched of {first['sessions']} sessions)"
        )
        labels = ("start", "middle", "end", f"largest family ({first['largest']} sessions)")
        for label, session in zip(labels, first["picks"], strict=True):
            r = _child("--step=one", f"--file={path}", f"--session={session}")
            print(
                _line(f"stitched from the index: {label}", r)
                + f"  = {r['cpu'] / read['cpu']:.1f}x reading once"
                + f"  ({r['turns']} turns, {r['messages']} messages)"
            )
        typo = first["picks"][1][:-1] + ("0" if first["picks"][1][-1] != "0" else "1")
        r = _child("--step=one-absent", f"--file={path}", f"--session={typo}")
        print(_line("a mistyped stitched id, from the index", r) + f"  ({r['named']} named)")


def _lines_per_copy() -> int:
    return sum(1 for p in TEMPLATES for line in p.read_bytes().splitlines() if line.strip())


if __name__ == "__main__":
    main()

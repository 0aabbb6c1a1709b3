"""Where a load of a trace file goes: CPU time of each step of `load_traces`, then a listing.

    python bench/load_phases.py FILE [--repeat 3]

A diagnostic beside `load_throughput.py` (which gives the ratios): it runs the loader's own
steps one by one (it reaches into the private `_load._Reading` and `_assemble._Assembler`, so
it changes when they do) and prints the CPU seconds of each, fastest of `--repeat` runs, with
the baseline of the same run: `orjson.loads` of every line of the file. Each run is in its own
process, so the collector and the caches start cold as in a real `deftrace sessions`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

STEPS = (
    ("read", "reading: lines into span records, log records by span"),
    ("check", "graph check (dangling parents, loops)"),
    ("place", "placing spans in sessions"),
    ("stitch", "stitching calls that name no session"),
    ("sessions", "sessions and turns built"),
    ("counts", "listing: turn and message counts"),
    ("facts", "listing: tokens, models, times, lineage"),
    ("messages", "every session's history as Messages"),
)


def floor(path: Path) -> float:
    import orjson

    cpu = time.process_time()
    with open(path, "rb", buffering=1 << 20) as f:
        for line in f:
            orjson.loads(line)
    return time.process_time() - cpu


def phases(path: Path) -> dict[str, float]:
    from definable_trace._loading import _assemble
    from definable_trace._loading._load import _collector_paused, _Reading
    from definable_trace._loading._sessions import TraceSet

    clock = time.process_time
    out: dict[str, float] = {}
    mark = clock()

    def step(name: str) -> None:
        nonlocal mark
        now = clock()
        out[name], mark = now - mark, now

    reading = _Reading()
    with _collector_paused():
        reading.source(str(path))
        step("read")
        run = _assemble._Assembler(reading.index, reading.store, reading.warnings, reading.logs)
        run.warnings.extend(run.graph.check())
        step("check")
        for span in run.graph.spans.values():
            run._place(span)
        step("place")
        chats = [s for b in run.buckets.values() for r in b.runs.values() for s in r.chats]
        run.answers = _assemble.AnswerIndex(chats, run.store)
        run._stitch()
        step("stitch")
        found = [run._session(b) for b in run.buckets.values() if b.runs or b.calls]
        run._attach_unplaced(found)
        run._tell(found)
        traces = TraceSet(found, reading.warnings, reading.names)
        # What `load_traces` drops when it returns: kept alive here, the listing's full
        # collections would also scan what a real load has already freed.
        del run, chats, reading, found
        step("sessions")
    counts = [(s.id, len(s.turns), s.message_count) for s in traces]
    step("counts")
    facts = [(s.metrics.input_tokens, s.start, s.end, s.models, s.lineage) for s in traces]
    step("facts")
    messages = sum(len(s.messages) for s in traces)
    step("messages")
    assert len(counts) == len(facts) and messages >= 0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--step", choices=["floor", "phases"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "floor":
        print(json.dumps({"floor": floor(args.file)}))
        return
    if args.step == "phases":
        print(json.dumps(phases(args.file)))
        return
    runs: list[dict[str, float]] = []
    floors: list[float] = []
    for _ in range(args.repeat):
        for step in ("floor", "phases"):
            out = subprocess.run(
                [sys.executable, __file__, str(args.file), f"--step={step}"],
                check=True,
                capture_output=True,
                text=True,
            )
            found = json.loads(out.stdout)
            if step == "floor":
                floors.append(found["floor"])
            else:
                runs.append(found)
    best = {name: min(r[name] for r in runs) for name, _ in STEPS}
    base = min(floors)
    print(f"file: {args.file}")
    print(f"{'orjson.loads of every line (baseline)':58} {base:6.3f} s")
    for name, label in STEPS:
        print(f"{label:58} {best[name]:6.3f} s  {best[name] / base:5.2f}x the baseline")
    total = sum(best.values())
    print(f"{'all of them (fastest run of each)':58} {total:6.3f} s  {total / base:5.2f}x")


if __name__ == "__main__":
    main()

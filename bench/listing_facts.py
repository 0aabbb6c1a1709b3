"""What a listing reads of every session, against the same facts read the way they were before.

    python bench/listing_facts.py                    # the many-short file (made when missing)
    python bench/listing_facts.py --file big.jsonl   # any trace file

After `load_traces`, a listing (`deftrace sessions`) reads of each session its turns, message
count, token totals, times, models and lineage. `Session.metrics` and `Session.models` now sum
plain ints in one pass, one `Metrics` per session and none per call (`_sessions.Listed`): our
calls' counts read from their meta entries, other instrumentations' from their span usage,
and no `ModelCall` kept. "before" reads the same facts the way `Session` did before: every
call's `ModelCall` and `Metrics` (for ours rebuilt from its meta list), added with
`sum_metrics`, the models from every call's facts. Both run on the same file in the same run,
each step in a fresh process (the garbage collector's state after a load is part of the
cost), alternating, `--repeat` times; the fastest counts.
Printed: CPU seconds of the load and of the listing after it, for each way, and their ratio;
the objects the garbage collector tracks that the listing made and left (each one more to
scan at every full collection after it); a check that both ways give the same rows.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _rows_now(traces: Any) -> list[Any]:
    rows = []
    for s in traces:
        metrics = s.metrics
        models = tuple(s.models)  # as the rows' other values, not tracked by the collector
        rows.append((s.id, len(s.turns), s.message_count, repr(metrics), s.start, s.end, models))
        _ = s.lineage
    return rows


def _rows_before(traces: Any) -> list[Any]:
    """The same facts as `Session` read them before: a `Metrics` per call, summed."""
    from definable_trace._loading._sessions import sum_metrics

    rows = []
    for s in traces:
        total = sum_metrics(call.metrics for turn in s.turns for call in turn.model_calls)
        metrics = total.model_copy(update={"duration": sum(t.duration for t in s.turns)})
        models: dict[str, None] = {}
        for turn in s.turns:
            for call in turn.model_calls:
                model = call.response_model or call.request_model
                if model:
                    models.setdefault(model)
        rows.append(
            (s.id, len(s.turns), s.message_count, repr(metrics), s.start, s.end, tuple(models))
        )
        _ = s.lineage
    return rows


def measure(path: Path, way: str) -> dict[str, Any]:
    from definable_trace.loading import load_traces

    read = _rows_now if way == "now" else _rows_before
    started = time.process_time()
    traces = load_traces(path)
    loaded = time.process_time()
    rows = read(traces)
    listed = time.process_time()
    del traces
    # Counted on a load of its own (collecting before the timed listing would change it).
    traces = load_traces(path)
    gc.collect()
    tracked = len(gc.get_objects())
    _ = read(traces)
    gc.collect()
    kept = len(gc.get_objects()) - tracked - 1  # less the list of rows (each is untracked)
    return {
        "load": loaded - started,
        "listing": listed - loaded,
        "kept": kept,
        "sessions": len(rows),
        "rows": hashlib.blake2b(repr(rows).encode(), digest_size=16).hexdigest(),
    }


def _child(path: Path, way: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, f"--file={path}", f"--way={way}"],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--file", type=Path, help="trace file (default: the many-short file)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--way", choices=["now", "before"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        print(json.dumps(measure(args.file, args.way)))
        return
    path = args.file or Path(tempfile.gettempdir()) / "definable-many-short-105.jsonl"
    if not path.exists():
        sys.path.insert(0, str(Path(__file__).parent))
        from _replicate import replicate

        print(f"writing {path}: {replicate(path, 105)}", file=sys.stderr)
    runs: dict[str, list[dict[str, Any]]] = {"now": [], "before": []}
    for _ in range(args.repeat):
        for way in ("before", "now"):
            runs[way].append(_child(path, way))
    best = {way: min(found, key=lambda r: r["listing"]) for way, found in runs.items()}
    now, before = best["now"], best["before"]
    print(f"file: {path} ({now['sessions']} sessions), CPU seconds, best of {args.repeat}")
    for way, found in (("before", before), ("now", now)):
        print(
            f"{way:7}: load_traces {found['load']:.3f} s, listing after it {found['listing']:.3f} s"
            f", tracked objects it left {found['kept']:,}"
        )
    print(
        f"listing now/before: {now['listing'] / before['listing']:.2f} "
        f"({before['listing'] / now['listing']:.1f}x faster); same rows: "
        f"{now['rows'] == before['rows']}"
    )


if __name__ == "__main__":
    main()

"""What pricing adds to `deftrace sessions`: CPU time of the listing with and without cost.

    python bench/cost_listing.py                 # 200 sessions (10-50 turns), short messages
    python bench/cost_listing.py --sessions 500

The file is written by the real agent (the scripted model of `load_throughput.py`, which
answers as `gpt-4o-mini`), once, into the temporary directory. Then, in one process, blocks
alternate (ABBA, best of `--repeat` each):

- baseline: `load_traces` and each session's tokens and models (what the listing needed
  before cost existed);
- with cost: the same plus `session_cost` (genai-prices per model call).

Printed: CPU seconds of each, the added time per model call, and the ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path


def _generator() -> object:
    spec = importlib.util.spec_from_file_location(
        "load_throughput", Path(__file__).with_name("load_throughput.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _listing(path: Path, with_cost: bool) -> tuple[float, int]:
    from definable_trace import load_traces
    from definable_trace._cost import session_cost

    start = time.process_time()
    calls = 0
    for session in load_traces(path).sessions:
        session.metrics  # noqa: B018 - the work being measured
        session.models  # noqa: B018
        calls += session.model_calls
        if with_cost:
            session_cost(session)
    return time.process_time() - start, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = Path(tempfile.gettempdir()) / f"deftrace-cost-bench-{args.sessions}.jsonl"
    if not path.exists():
        _generator().generate(path, args.sessions, 0, "short")  # type: ignore[attr-defined]
    size = path.stat().st_size / 1e6
    base: list[float] = []
    cost: list[float] = []
    calls = 0
    for i in range(args.repeat):
        for with_cost in (False, True) if i % 2 == 0 else (True, False):
            seconds, calls = _listing(path, with_cost)
            (cost if with_cost else base).append(seconds)
    b, c = min(base), min(cost)
    print(f"file: {path} ({size:.0f} MB, {args.sessions} sessions, {calls} model calls)")
    print(f"baseline (load, tokens, models): {b:.2f} s CPU")
    print(f"with cost (genai-prices):        {c:.2f} s CPU")
    print(f"added: {(c - b) / calls * 1e6:.1f} µs per model call; ratio {c / b:.2f}x")


if __name__ == "__main__":
    main()

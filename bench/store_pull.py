"""Benchmark: pulling sessions from a real Arize Phoenix, as `deftrace pull` / `show SOURCE` do.

    python bench/store_pull.py [--turns 200] [--sessions 500] [--small-turns 2]

Starts Phoenix (the test fixture's cached install and loopback launcher, tests/stores/), has
our agent export one `turns`-turn session and `sessions` small sessions to it over OTLP/HTTP
with only the standard OTEL_* variables (also writing the same spans to a local file), then
pulls them back through `definable_trace.sources`:

- the long session by id;
- every small session by id (one `fetch` per session, as `deftrace show SOURCE --session S`);
- all small sessions at once over the time window (`fetch(None, window)`, as `sessions SOURCE`).

For each it prints the time per session and where it went: waiting on the store (wall time of
the HTTP requests), our conversion of Phoenix's span JSON to OTLP/JSON (CPU), and loading the
documents into sessions (CPU). The baseline, from the same run: loading the same sessions from
the local OTLP file the agent wrote (CPU), i.e. what the session costs us without a store.
The timing wraps `HttpClient.get_json` and the Phoenix page converter from outside (this script
only); the product code is unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from stores.phoenix_server import (  # noqa: E402
    PHOENIX_VERSION,
    PhoenixServer,
    span_count,
    start_phoenix,
    stop_phoenix,
)

from definable_trace import load_traces  # noqa: E402
from definable_trace._sources import _http, _phoenix  # noqa: E402
from definable_trace.sources import TimeWindow, open_source  # noqa: E402


class Clock:
    """Time spent inside wrapped functions: wall for the store, CPU for ours."""

    def __init__(self) -> None:
        self.wait = 0.0
        self.convert = 0.0
        self.requests = 0

    @contextmanager
    def wrapped(self) -> Iterator[None]:
        get_json, document = _http.HttpClient.get_json, _phoenix._document

        def timed_get(client: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return get_json(client, *args, **kwargs)
            finally:
                self.wait += time.perf_counter() - start
                self.requests += 1

        def timed_document(spans: Any) -> Any:
            start = time.process_time()
            try:
                return document(spans)
            finally:
                self.convert += time.process_time() - start

        _http.HttpClient.get_json = timed_get  # type: ignore[method-assign]
        _phoenix._document = timed_document
        try:
            yield
        finally:
            _http.HttpClient.get_json = get_json  # type: ignore[method-assign]
            _phoenix._document = document


def measure(
    label: str, sessions: int, pull: Callable[[], Any], baseline: Callable[[], Any]
) -> None:
    clock = Clock()
    with clock.wrapped():
        wall = time.perf_counter()
        documents = pull()
        fetched = time.perf_counter() - wall
    cpu = time.process_time()
    traces = load_traces(iter(documents))
    load = time.process_time() - cpu
    total = fetched + load
    cpu = time.process_time()
    local = baseline()
    local_load = time.process_time() - cpu
    assert len(traces.sessions) == sessions == len(local.sessions), (len(traces.sessions), sessions)
    print(f"\n{label}: {sessions} session(s), {clock.requests} requests")
    per = 1000 / sessions
    print(
        f"  per session: {total * per:8.2f} ms  (pull {fetched * per:.2f} + load {load * per:.2f})"
    )
    rows = [
        ("waiting on Phoenix (HTTP + JSON parse, wall)", clock.wait),
        ("our conversion to OTLP/JSON (CPU)", clock.convert),
        ("loading into sessions (CPU)", load),
    ]
    for name, seconds in rows:
        print(f"  {name:<45} {seconds / total:6.1%}  {seconds * per:8.2f} ms")
    print(
        f"  baseline: the same sessions loaded from the local file (CPU) {local_load * per:.2f} ms"
    )
    print(f"  pulling from Phoenix / loading the local file: {total / local_load:.1f}x")


def export(
    server: PhoenixServer, project: str, local: Path, sessions: list[tuple[str, int]]
) -> None:
    """As `PhoenixServer.export`, in chunks so that one process's batch stays moderate; then
    wait until the project holds the spans of every chunk (each export waits for its own count
    only, which the project's earlier spans already reach)."""
    files = []
    for start in range(0, len(sessions), 100):
        files.append(local.with_suffix(f".{start}.jsonl"))
        server.export(project, files[-1], *sessions[start : start + 100])
    server.wait_for(project, sum(span_count(path) for path in files))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--small-turns", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "phoenix").mkdir()
        print("starting Phoenix …", flush=True)
        server = start_phoenix(work / "phoenix")
        try:
            run(server, work, args)
        finally:
            stop_phoenix(server)


def run(server: PhoenixServer, work: Path, args: argparse.Namespace) -> None:
    began = time.perf_counter()
    long_file = work / "long.jsonl"
    server.export("bench-long", long_file, ("long", args.turns))
    small = [(f"small-{i:04d}", args.small_turns) for i in range(args.sessions)]
    export(server, "bench-small", work / "small.jsonl", small)
    small_files = sorted(work.glob("small.*.jsonl"))
    print(f"exported in {time.perf_counter() - began:.0f} s", flush=True)
    window = TimeWindow.of(default=timedelta(hours=2))
    long_source = open_source(server.address("bench-long"))
    small_source = open_source(server.address("bench-small"))
    measure(
        f"one {args.turns}-turn session by id",
        1,
        lambda: list(long_source.fetch(["long"])),
        lambda: load_traces(long_file),
    )
    ids = [sid for sid, _ in small]
    measure(
        f"{args.sessions} {args.small_turns}-turn sessions, one fetch per id",
        args.sessions,
        lambda: [doc for sid in ids for doc in small_source.fetch([sid])],
        lambda: load_traces(*small_files),
    )
    measure(
        f"{args.sessions} {args.small_turns}-turn sessions, one fetch of the time window",
        args.sessions,
        lambda: list(small_source.fetch(None, window)),
        lambda: load_traces(*small_files),
    )
    print(f"\nmachine: {os.cpu_count()} CPUs; Phoenix {PHOENIX_VERSION} on 127.0.0.1")


if __name__ == "__main__":
    main()

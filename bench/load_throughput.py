"""How fast `load_traces` turns a large trace file into message histories, against bare parsing.

    python bench/load_throughput.py                  # 2,000 sessions (~2.3 GB), then measure
    python bench/load_throughput.py --words short    # the same with one-line messages (~1.4 GB)
    python bench/load_throughput.py --file big.jsonl # reuse (or create once and keep) a file

The file is written by the real `Agent` and the real tracing setup (`configure_tracing` and the
official OTLP JSON file exporter); only the model is a scripted stand-in that answers at once,
so the spans have exactly our agent's shapes: interleaved sessions of 10-50 turns, some turns
with tool calls, histories that grow turn by turn. Each step runs in its own process so that
"peak RSS" is the peak of that step alone:

1. floor: `orjson.loads` over every line, nothing kept (what any reader must pay at least);
2. load: `load_traces(path)`, then every session's full `messages` (whole histories, as
   `Message` objects); every turn's own `messages` is timed apart.

Each step runs `--repeat` times (alternating) and its fastest run counts. Printed: MB/s of
each (wall and CPU time), their ratio (goal >= 0.5), and peak RSS beside the file size. The
file is kept in the temporary directory for the next run; delete it when done.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

MB = 1_000_000


# --------------------------------------------------------------------------- the file


_SENTENCE = (
    "the a trace span model agent tool call history session turn token weather paris sunny "
    "rain forecast été naïve 東京 data answer question why how"
)
_VOCABULARY = tuple(_SENTENCE.split())


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(_VOCABULARY) for _ in range(rng.randint(low, high)))


# Words per message (user, assistant, tool result, system prompt), low and high.
PROFILES = {
    "typical": ((4, 24), (12, 60), (4, 20), (20, 30)),  # a chat answer of a few sentences
    "short": ((2, 8), (3, 12), (2, 5), (8, 12)),  # one-liners: spans hold little text
}


def _scripted_model(answer_words: tuple[int, int]) -> Any:
    """A `Model` that answers at once: text, or a tool call when the user mentions "tool"."""
    from definable_trace.model import Message, Metrics, Model, ModelDelta, ModelResponse

    class Scripted(Model):
        id = "gpt-4o-mini"

        def __init__(self) -> None:
            self.rng = random.Random(7)
            self.calls = 0
            self.words = answer_words

        def invoke(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> Any:
            self.calls += 1
            last = messages[-1]
            metrics = Metrics(
                input_tokens=10 * len(messages),
                output_tokens=self.rng.randint(5, 80),
                duration=self.rng.random(),
            )
            metrics.total_tokens = metrics.input_tokens + metrics.output_tokens
            if last.role == "user" and "tool" in (last.content or "") and tools:
                call = {
                    "id": f"call_{self.calls}",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"query":"weather"}'},
                }
                answer = Message(role="assistant", tool_calls=[call], metrics=metrics)
                return ModelResponse(answer, f"chatcmpl-{self.calls}", self.id, "tool_calls")
            text = _words(self.rng, *self.words)
            answer = Message(role="assistant", content=text, metrics=metrics)
            return ModelResponse(answer, f"chatcmpl-{self.calls}", self.id, "stop")

        async def ainvoke(self, messages: Sequence[Message], tools: Any) -> Any:
            return self.invoke(messages, tools)

        def invoke_stream(self, messages: Sequence[Message], tools: Any) -> Iterator[Any]:
            response = self.invoke(messages, tools)
            yield ModelDelta(content=response.message.content)
            yield response

        async def ainvoke_stream(
            self, messages: Sequence[Message], tools: Any
        ) -> AsyncIterator[Any]:
            for item in self.invoke_stream(messages, tools):
                yield item

    return Scripted()


def generate(
    path: Path, sessions: int, seed: int, profile: str, turns: tuple[int, int] = (10, 50)
) -> None:
    """Write the file with the real agent; sessions advance in interleaved batches."""
    import definable_trace as dt
    from definable_trace.agent import Agent

    user, answer, result, system = PROFILES[profile]

    def lookup(query: str) -> str:
        """Look something up."""
        return f"result for {query}: " + _words(rng, *result)

    rng = random.Random(seed)
    dt.configure_tracing(path)
    model = _scripted_model(answer)
    agent = Agent(model, instructions=_words(rng, *system), tools=[lookup], name="bench")
    active = 50
    for first in range(0, sessions, active):
        batch = [
            {"id": f"bench-{n}", "turns": rng.randint(*turns), "messages": None}
            for n in range(first, min(first + active, sessions))
        ]
        for turn in range(turns[1]):
            for state in batch:
                if turn >= state["turns"]:
                    continue
                text = _words(rng, *user) + (" tool" if rng.random() < 0.25 else "")
                out = agent.run(text, messages=state["messages"], session_id=state["id"])
                state["messages"] = out.messages
        print(f"  generated {min(first + active, sessions)}/{sessions} sessions", file=sys.stderr)
    dt.flush_tracing()


# --------------------------------------------------------------------------- the measures


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB  # Linux: KiB


def measure_floor(path: Path) -> dict[str, float]:
    import orjson

    started, cpu = time.perf_counter(), time.process_time()
    lines = 0
    with open(path, "rb", buffering=1 << 20) as f:  # lines read as the loader reads them
        for line in f:
            orjson.loads(line)
            lines += 1
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rss": _peak_rss_mb(),
        "lines": lines,
    }


def measure_load(path: Path) -> dict[str, float]:
    """`load_traces`, then every session's whole history as `Message`s (the measured path),
    then, timed apart, every turn's own messages (what `deftrace show` renders)."""
    from definable_trace.loading import load_traces

    started, cpu = time.perf_counter(), time.process_time()
    traces = load_traces(path)
    loaded = time.perf_counter() - started
    messages = sum(len(session.messages) for session in traces)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    turns = turn_messages = 0
    for session in traces:
        for turn in session.turns:
            turn_messages += len(turn.messages)
            turns += 1
    return {
        "seconds": seconds,
        "cpu": cpu,
        "loaded": loaded,
        "turn_seconds": time.perf_counter() - started - seconds,
        "rss": _peak_rss_mb(),
        "sessions": len(traces),
        "turns": turns,
        "messages": messages,
        "turn_messages": turn_messages,
        "warnings": len(traces.warnings),
    }


def measure_listing(path: Path) -> dict[str, float]:
    """What `deftrace sessions` needs of every session: id, turns, message count, tokens,
    times, models, lineage; no history built."""
    from definable_trace.loading import load_traces

    started, cpu = time.perf_counter(), time.process_time()
    traces = load_traces(path)
    rows = [
        (
            s.id,
            len(s.turns),
            s.message_count,
            s.metrics.input_tokens,
            s.metrics.output_tokens,
            s.start,
            s.end,
            s.models,
            s.lineage,
        )
        for s in traces
    ]
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rss": _peak_rss_mb(),
        "sessions": len(rows),
        "messages": sum(row[2] for row in rows),
    }


def _child(step: str, path: Path) -> dict[str, float]:
    """Run one step in a fresh interpreter, so its peak RSS is its own."""
    out = subprocess.run(
        [sys.executable, __file__, f"--step={step}", f"--file={path}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, help="trace file to reuse, created when missing")
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--words", choices=sorted(PROFILES), default="typical")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step (best counts)")
    parser.add_argument(
        "--shape",
        choices=["agent", "many-short", "few-long"],
        default="agent",
        help="agent: --sessions of 10-50 turns by the real agent (default); many-short: the "
        "committed real traces, ours and foreign, copied with fresh ids to --mb MB; few-long: "
        "20 sessions of 100-150 turns by the real agent",
    )
    parser.add_argument("--mb", type=float, default=105, help="many-short: file size")
    parser.add_argument(
        "--step", choices=["floor", "load", "listing", "generate"], help=argparse.SUPPRESS
    )
    parser.add_argument("--turns", default="10,50", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "generate":
        low, high = map(int, args.turns.split(","))
        generate(args.file, args.sessions, args.seed, args.words, (low, high))
        return
    if args.step:
        steps = {"floor": measure_floor, "load": measure_load, "listing": measure_listing}
        print(json.dumps(steps[args.step](args.file)))
        return
    if args.shape == "many-short":
        from _replicate import replicate

        path = args.file or Path(tempfile.gettempdir()) / f"definable-many-short-{args.mb:g}.jsonl"
        if not path.exists():
            print(f"writing {path}: {replicate(path, args.mb)}", file=sys.stderr)
        report(path, args.repeat)
        return
    turns = "10,50"
    if args.shape == "few-long":
        args.sessions, turns = 20, "100,150"
    name = f"definable-bench-{args.shape}-{args.sessions}-{args.words}.jsonl"
    path = args.file or Path(tempfile.gettempdir()) / name
    if not path.exists():
        print(f"writing {path} ...", file=sys.stderr)
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--step=generate",
                f"--file={path}",
                f"--sessions={args.sessions}",
                f"--seed={args.seed}",
                f"--words={args.words}",
                f"--turns={turns}",
            ],
            check=True,
        )
        print(f"written in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    report(path, args.repeat)


def report(path: Path, repeat: int) -> None:
    """Rates from wall time and from CPU time: on a shared machine the CPU ratio is the one
    other processes skew least (both steps are single-threaded). Each step runs `repeat`
    times, alternating, and the fastest run of each counts (as `timeit` does)."""
    size = os.path.getsize(path) / MB
    floors: list[dict[str, float]] = []
    loads: list[dict[str, float]] = []
    listings: list[dict[str, float]] = []
    for _ in range(repeat):
        floors.append(_child("floor", path))
        listings.append(_child("listing", path))
        loads.append(_child("load", path))
    floor = min(floors, key=lambda r: r["cpu"])
    load = min(loads, key=lambda r: r["cpu"])
    load["rss"] = max(r["rss"] for r in loads)
    listing = min(listings, key=lambda r: r["cpu"])
    print(f"file: {path} ({size:.0f} MB, {int(floor['lines'])} lines)")
    print(
        f"content: {load['sessions']} sessions, {load['turns']} turns, "
        f"{load['messages']} messages in final histories, {load['warnings']} warnings"
    )
    print(
        f"bare orjson.loads : {size / floor['seconds']:6.1f} MB/s wall, "
        f"{size / floor['cpu']:6.1f} MB/s CPU ({floor['cpu']:.2f} s)  "
        f"peak RSS {floor['rss']:.0f} MB"
    )
    print(
        f"load_traces+msgs  : {size / load['seconds']:6.1f} MB/s wall, "
        f"{size / load['cpu']:6.1f} MB/s CPU ({load['cpu']:.2f} s; load_traces "
        f"{load['loaded']:.2f} s wall)  peak RSS {load['rss']:.0f} MB"
    )
    print(
        f"listing (sessions): {size / listing['seconds']:6.1f} MB/s wall, "
        f"{size / listing['cpu']:6.1f} MB/s CPU ({listing['cpu']:.2f} s)  "
        f"peak RSS {listing['rss']:.0f} MB"
    )
    print(
        f"every turn's msgs : +{load['turn_seconds']:.2f} s wall "
        f"({load['turn_messages']} messages, not in the ratio)"
    )
    print(
        f"ratio load/bare   : {floor['cpu'] / load['cpu']:.2f} CPU, "
        f"{floor['seconds'] / load['seconds']:.2f} wall  (goal >= 0.45 many-short, >= 1 few-long)"
    )
    print(
        f"ratio listing/bare: {floor['cpu'] / listing['cpu']:.2f} CPU, "
        f"{floor['seconds'] / listing['seconds']:.2f} wall  (goal >= 0.6 many-short, >= 1 few-long)"
    )
    print(
        f"peak RSS / file   : {load['rss'] / size:.2f} (memory follows the sessions' final "
        "histories and their number: each growing list is kept once per session)"
    )


if __name__ == "__main__":
    main()

"""Benchmark: replaying many recorded sessions live, as `deftrace replay --all` does.

    python bench/batch_replay.py [--sessions 100] [--turns 5] [--latency 0.02] [-c 1 -c 16]

Records `sessions` conversations of `turns` turns with our agent (against a server without
latency), then replays all of them live through `definable_trace.replay.replay_all` against
a fake OpenAI server that answers every call after `latency` seconds, once per concurrency
level, spans written to a file as the CLI does. Prints the wall time against the ideal,
`calls × latency / concurrency`: what a client with no overhead of its own would take, and
against a second baseline measured in the same run: the same requests sent with the bare
`openai` SDK client (no agent, no tracing), the floor for any SDK-based client here.

The server runs in a child process, as a real provider would be elsewhere: in-process, its
threads would compete with the client for the GIL and the figure would measure both.
Files go to `bench/out/` (ignored by git).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

from definable_trace import Agent, OpenAIChat, configure_tracing, flush_tracing, load_traces
from definable_trace.replay import ReplayOptions, replay_all
from definable_trace.testing import FakeOpenAIServer

OUT = Path(__file__).resolve().parent / "out"
MODEL = "gpt-4o"


def serve(latency: float, conn: Connection) -> None:
    """Child process: run the fake server, send its URL, stop when the parent says so."""
    with FakeOpenAIServer(latency=latency) as server:
        conn.send(server.base_url)
        conn.recv()


class ServerProcess:
    """A `FakeOpenAIServer` in a child process, as a context manager giving its base URL."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=serve, args=(latency, child), daemon=True)

    def __enter__(self) -> str:
        self._process.start()
        return str(self._conn.recv())

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(timeout=10)


async def _record_one(agent: Agent, index: int, turns: int) -> None:
    session_id = f"bench-{index:03d}"
    messages: list = []
    for turn in range(1, turns + 1):
        text = f"Question {turn} of conversation {index}: what comes next?"
        output = await agent.arun(
            text, messages=messages, session_id=session_id, run_id=f"{session_id}-{turn}"
        )
        messages = output.messages


async def _record(base_url: str, sessions: int, turns: int) -> None:
    model = OpenAIChat(MODEL, base_url=base_url)
    agent = Agent(model, "You are a helpful assistant.", name="bench")
    try:
        await asyncio.gather(*(_record_one(agent, i, turns) for i in range(sessions)))
    finally:
        await model.async_client().close()


def record(path: Path, sessions: int, turns: int) -> None:
    """The recorded sessions the benchmark replays (fast: a server without latency)."""
    path.unlink(missing_ok=True)
    configure_tracing(path)
    with ServerProcess(0.0) as base_url:
        asyncio.run(_record(base_url, sessions, turns))
    flush_tracing()


def measure(source: Path, base_url: str, concurrency: int) -> tuple[float, int]:
    """Replay every session of `source` live; returns (wall seconds, model calls made)."""
    traces = load_traces(source)
    out = OUT / f"batch-replay-c{concurrency}.jsonl"
    out.unlink(missing_ok=True)
    configure_tracing(out)
    options = ReplayOptions(base_url=base_url, tag=f"c{concurrency}")
    started = time.perf_counter()
    outcomes = replay_all(traces.sessions, options, concurrency=concurrency)
    wall = time.perf_counter() - started
    flush_tracing()
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        raise SystemExit(f"{len(failed)} replays failed, first: {failed[0].error}")
    calls = sum(len(o.result.turns) for o in outcomes if o.result is not None)
    return wall, calls


async def _sdk_floor(base_url: str, traces: object, concurrency: int) -> float:
    """The same calls as a replay, sent with the bare SDK client: no agent, no tracing.

    Each session's recorded requests (its chat spans' inputs) are posted in order, sessions
    `concurrency` at a time, through one `AsyncOpenAI` client. This is the floor under any
    client built on the `openai` SDK in one Python process on this machine.
    """
    import openai
    from openai.types.chat import ChatCompletion

    from definable_trace._models._openai import to_openai_message

    requests = [
        [
            [to_openai_message(m) for m in call.input_messages or []]
            for turn in session.turns
            for call in turn.model_calls
        ]
        for session in traces.sessions  # type: ignore[attr-defined]
    ]
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(calls: list[list[dict[str, object]]]) -> None:
        async with gate:
            for messages in calls:
                body = {"model": MODEL, "messages": messages}
                await client.post("/chat/completions", body=body, cast_to=ChatCompletion)

    started = time.perf_counter()
    await asyncio.gather(*(one(calls) for calls in requests))
    wall = time.perf_counter() - started
    await client.close()
    return wall


def sdk_floor(source: Path, base_url: str, concurrency: int) -> float:
    return asyncio.run(_sdk_floor(base_url, load_traces(source), concurrency))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per model call")
    parser.add_argument("-c", "--concurrency", type=int, action="append")
    args = parser.parse_args(argv)
    levels = args.concurrency or [1, 16]
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / "batch-source.jsonl"
    record(source, args.sessions, args.turns)
    print(
        f"batch replay: {args.sessions} sessions × {args.turns} turns, "
        f"server latency {args.latency * 1000:.0f} ms (server in a child process)"
    )
    print(
        f"{'concurrency':>11}  {'calls':>5}  {'wall s':>7}  {'ideal s':>7}  {'ratio':>6}"
        f"  {'bare SDK s':>10}  {'SDK ratio':>9}  {'replay/SDK':>10}"
    )
    with ServerProcess(args.latency) as base_url:
        for concurrency in levels:
            wall, calls = measure(source, base_url, concurrency)
            floor = sdk_floor(source, base_url, concurrency)
            ideal = calls * args.latency / concurrency
            print(
                f"{concurrency:>11}  {calls:>5}  {wall:>7.3f}  {ideal:>7.3f}  {wall / ideal:>5.2f}×"
                f"  {floor:>10.3f}  {floor / ideal:>8.2f}×  {wall / floor:>9.2f}×"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

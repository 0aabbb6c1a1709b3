"""What tracing costs a conversation: time per model call, and trace bytes per turn.

    python bench/tracing_overhead.py           # full run, about 1.5 minutes
    python bench/tracing_overhead.py --quick   # a smaller run, about 15 seconds

One conversation shape throughout: a system prompt, and each turn a user message, a call of
the `get_weather` tool, its result and the answer (two model calls per turn). "Traced" writes
OTLP JSON lines to a temporary file (`configure_tracing(path)`); "untraced" is
`configure_tracing(tracer_provider=NoOpTracerProvider())`. Blocks of each alternate in one
process (ABBA order, so drift cancels), and a traced block's time includes flushing its spans
to the file, so export work is counted, not left to a background thread.

1. Over HTTP: the agent against a `FakeOpenAIServer` (zero latency) on 127.0.0.1 through the
   real `openai` SDK: median time per model call traced and untraced, the added µs, the ratio.
2. Directly: the same conversation with an in-process model that answers as the fake server
   does, without HTTP or the SDK, so the difference is the time spent in the span code
   (and in exporting), measured over many repetitions; split into caller thread and export.
3. Growth: one conversation of 10, 100, 500 turns: the file bytes the Nth turn adds and the
   tracing time per model call at that turn (the history every chat span records grows).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

# No background exports in the middle of a timed block: spans queue until the block's flush.
os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "600000"
os.environ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = "65536"
for _name in (
    "DEFINABLE_TRACE_FILE",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
):
    os.environ.pop(_name, None)  # the bench chooses where spans go
os.environ.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)  # content on

from opentelemetry import trace  # noqa: E402
from opentelemetry.trace import NoOpTracerProvider  # noqa: E402

from definable_trace import configure_tracing, flush_tracing  # noqa: E402
from definable_trace.agent import Agent  # noqa: E402
from definable_trace.model import Message, Metrics, Model, ModelDelta, ModelResponse, OpenAIChat  # noqa: E402
from definable_trace.testing import FakeOpenAIServer  # noqa: E402

SYSTEM = "You are a weather assistant. Answer briefly; use the get_weather tool."
MODEL_CALLS_PER_TURN = 2


def get_weather(city: str) -> dict[str, Any]:
    """The current weather in a city."""
    return {"city": city, "forecast": "sunny", "temp_c": 21}


def user_text(turn: int) -> str:
    return f"Turn {turn}: what is the weather like? Check it with the tool, please."


# --- an in-process model that answers as FakeOpenAIServer's default responder -----------------


class InstantModel(Model):
    """Calls the first tool after a user message, answers "Tool said: ..." after a tool result."""

    def __init__(self, id: str = "gpt-4o") -> None:
        self.id = id
        self._calls = 0

    def invoke(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ModelResponse:
        started = time.perf_counter()
        self._calls += 1
        last = messages[-1]
        prompt = sum(len((m.content or "").split()) + 3 for m in messages)
        if last.role == "tool":
            message = Message(role="assistant", content=f"Tool said: {last.content}")
            finish = "stop"
        else:
            name = tools[0]["function"]["name"]
            call = {
                "id": f"call_{self._calls}",
                "type": "function",
                "function": {"name": name, "arguments": '{"city":"x"}'},
            }
            message = Message(role="assistant", tool_calls=[call])
            finish = "tool_calls"
        elapsed = time.perf_counter() - started
        message.metrics = Metrics(
            input_tokens=prompt,
            output_tokens=4,
            total_tokens=prompt + 4,
            duration=elapsed,
            time_to_first_token=elapsed,
        )
        return ModelResponse(message, f"chatcmpl-{self._calls}", self.id, finish)

    async def ainvoke(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> ModelResponse:
        return self.invoke(messages, tools)

    def invoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> Iterator[ModelDelta | ModelResponse]:
        yield self.invoke(messages, tools)

    async def ainvoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> AsyncIterator[ModelDelta | ModelResponse]:
        yield self.invoke(messages, tools)


# --- measuring ----------------------------------------------------------------------------------


class Tracing:
    """Switches between tracing to a file and tracing off, outside the timed regions."""

    def __init__(self, path: Path, history: str = "full") -> None:
        self.path = path
        self.history = history

    def on(self) -> None:
        configure_tracing(self.path, history=self.history)  # type: ignore[arg-type]

    def off(self) -> None:
        configure_tracing(tracer_provider=NoOpTracerProvider())


def conversation(agent: Agent, turns: int, history: list[Message] | None = None) -> list[Message]:
    messages = list(history or [])
    for turn in range(turns):
        output = agent.run(user_text(turn), messages=messages, session_id="bench")
        messages = output.messages
    return messages


def timed(work: Callable[[], None], traced: bool) -> tuple[float, float]:
    """(seconds for the work, seconds for flushing its spans); flushing is a no-op untraced."""
    started = time.perf_counter()
    work()
    worked = time.perf_counter()
    if traced:
        flush_tracing()
    return worked - started, time.perf_counter() - worked


def interleaved(
    tracing: Tracing, work: Callable[[], None], calls: int, pairs: int
) -> dict[str, list[float]]:
    """Per-model-call seconds of `work` over `pairs` traced/untraced pairs, in ABBA order."""
    out: dict[str, list[float]] = {"traced": [], "untraced": [], "caller": [], "export": []}
    for i in range(pairs):
        order = (True, False) if i % 2 == 0 else (False, True)
        for traced in order:
            tracing.on() if traced else tracing.off()
            run, flush = timed(work, traced)
            if traced:
                out["traced"].append((run + flush) / calls)
                out["caller"].append(run / calls)
                out["export"].append(flush / calls)
            else:
                out["untraced"].append(run / calls)
    tracing.off()
    return out


def summary(results: dict[str, list[float]]) -> dict[str, float]:
    traced = statistics.median(results["traced"])
    untraced = statistics.median(results["untraced"])
    diffs = sorted(t - u for t, u in zip(results["traced"], results["untraced"], strict=True))
    q1, _, q3 = statistics.quantiles(diffs, n=4) if len(diffs) >= 2 else (diffs[0],) * 3
    return {
        "traced_us": traced * 1e6,
        "untraced_us": untraced * 1e6,
        "added_us": statistics.median(diffs) * 1e6,
        "added_q1_us": q1 * 1e6,
        "added_q3_us": q3 * 1e6,
        "ratio": traced / untraced,
        "caller_us": statistics.median(results["caller"]) * 1e6 - untraced * 1e6,
        "export_us": statistics.median(results["export"]) * 1e6,
    }


def print_summary(title: str, s: dict[str, float], calls: int, pairs: int) -> None:
    print(f"\n{title}  ({pairs} traced/untraced pairs, {calls} model calls per block)")
    print(f"  median per model call, traced:    {s['traced_us']:10.1f} µs")
    print(f"  median per model call, untraced:  {s['untraced_us']:10.1f} µs")
    print(
        f"  added per model call:             {s['added_us']:10.1f} µs"
        f"   (paired differences, IQR {s['added_q1_us']:.1f} … {s['added_q3_us']:.1f})"
    )
    print(f"  ratio traced / untraced:          {s['ratio']:10.3f}")


# --- the three parts ----------------------------------------------------------------------------


def measure(
    tracing: Tracing, agent: Agent, pairs: int, conversations: int, turns: int
) -> tuple[dict[str, float], int]:
    """The summary of `pairs` traced/untraced blocks of `conversations` conversations."""

    def work() -> None:
        for _ in range(conversations):
            conversation(agent, turns)

    calls = conversations * turns * MODEL_CALLS_PER_TURN
    return summary(interleaved(tracing, work, calls, pairs)), calls


def over_http(tracing: Tracing, pairs: int, conversations: int, turns: int) -> None:
    with FakeOpenAIServer() as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="bench")
        agent = Agent(model, SYSTEM, tools=[get_weather])
        conversation(agent, 2)  # warm up: SDK import, client, connection
        s, calls = measure(tracing, agent, pairs, conversations, turns)
    print_summary(
        f"1. Over HTTP: FakeOpenAIServer on 127.0.0.1, {turns}-turn conversations",
        s,
        calls,
        pairs,
    )


def direct(tracing: Tracing, pairs: int, conversations: int, turns: int) -> None:
    agent = Agent(InstantModel(), SYSTEM, tools=[get_weather])
    conversation(agent, 2)
    s, calls = measure(tracing, agent, pairs, conversations, turns)
    print_summary(
        f"2. Directly: in-process model (no HTTP, no SDK), {turns}-turn conversations",
        s,
        calls,
        pairs,
    )
    print(f"     of which in the caller's thread: {s['caller_us']:8.1f} µs (span code)")
    print(f"     of which exporting (encode+write): {s['export_us']:6.1f} µs (at flush)")
    floor = sdk_floor(tracing.path, agent, conversations, turns)
    print(
        f"  baseline, the OTel SDK alone (the same spans and attributes, no project code):\n"
        f"     caller's thread: {floor:8.1f} µs per model call"
        f"  → this project's own code: {s['caller_us'] - floor:.1f} µs per model call"
    )


def sdk_floor(path: Path, agent: Agent, conversations: int, turns: int) -> float:
    """What the SDK costs the caller for exactly the spans a run emits (µs per model call).

    The spans of the same conversations are captured once in memory, then re-created with bare
    `start_span(name, attributes=...)` / `end()` calls into a file-exporting provider: the
    floor under any instrumentation that emits these spans with this SDK.
    """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    capture = TracerProvider()
    capture.add_span_processor(SimpleSpanProcessor(memory))
    configure_tracing(tracer_provider=capture)
    for _ in range(conversations):
        conversation(agent, turns)
    shapes = [(s.name, s.kind, dict(s.attributes or {})) for s in memory.get_finished_spans()]
    configure_tracing(path)  # a fresh provider with the same batch processor and file exporter
    tracer = trace.get_tracer("floor", tracer_provider=_settings_provider())
    calls = conversations * turns * MODEL_CALLS_PER_TURN
    started = time.perf_counter()
    for name, kind, attributes in shapes:
        tracer.start_span(name, kind=kind, attributes=attributes).end()
    spanned = time.perf_counter()
    configure_tracing(tracer_provider=NoOpTracerProvider())
    return (spanned - started) / calls * 1e6


def _settings_provider() -> Any:
    from definable_trace._tracing._setup import get_settings

    return get_settings().provider


def growth(
    workdir: Path, checkpoints: Sequence[int], reps: int, http_check: bool, history: str = "full"
) -> None:
    print(
        f"\n3. Growth: one conversation of {checkpoints[-1]} turns, traced to a file"
        f" (history={history!r})"
    )
    path = workdir / f"growth-{history}.jsonl"
    tracing = Tracing(workdir / f"growth-timing-{history}.jsonl", history)
    agent = Agent(InstantModel(), SYSTEM, tools=[get_weather])
    configure_tracing(path, history=history)  # type: ignore[arg-type]
    messages: list[Message] = []
    per_turn: dict[int, int] = {}
    histories: dict[int, list[Message]] = {}
    size = 0
    started = time.perf_counter()
    for turn in range(1, checkpoints[-1] + 1):
        if turn in checkpoints:
            histories[turn] = messages
        messages = conversation(agent, 1, messages)
        if turn in checkpoints or turn == 1:
            flush_tracing()
            new_size = path.stat().st_size
            per_turn[turn] = new_size - size
            size = new_size
        elif turn + 1 in checkpoints:
            flush_tracing()
            size = path.stat().st_size
    flush_tracing()
    total = path.stat().st_size
    print(f"  (built in {time.perf_counter() - started:.1f} s; file {total / 1e6:.1f} MB)")
    header = ("turn N", "history msgs", "bytes added by turn N", "tracing µs/model call")
    print(f"  {header[0]:>7} {header[1]:>13} {header[2]:>22} {header[3]:>22}")
    for n in checkpoints:
        history = histories[n]

        def one_turn(history: list[Message] = history, n: int = n) -> None:
            conversation(agent, 1, history)

        s = summary(interleaved(tracing, one_turn, MODEL_CALLS_PER_TURN, reps))
        print(f"  {n:>7} {len(history):>13} {per_turn[n]:>22,} {s['added_us']:>22,.0f}")
    first, last = checkpoints[0], checkpoints[-1]
    slope = (per_turn[last] - per_turn[checkpoints[-2]]) / (last - checkpoints[-2])
    grows = per_turn[last] > 2 * per_turn[first]
    if grows:
        print(
            f"  → bytes per turn grow linearly with N (≈{slope:,.0f} more bytes per earlier turn):"
            " every chat span records the history so far, so the file grows QUADRATICALLY"
            f" with turns ({total / 1e6:.0f} MB after {last} turns)."
        )
    else:
        print("  → bytes per turn stay flat: the file grows LINEARLY with turns.")
    if http_check:
        http_bytes_check(workdir, first, per_turn[first])


def http_bytes_check(workdir: Path, turns: int, in_process: int) -> None:
    """The in-process model writes the same trace as the real HTTP path (ids and ports aside)."""
    path = workdir / "http-check.jsonl"
    configure_tracing(path)
    with FakeOpenAIServer() as server:
        agent = Agent(
            OpenAIChat("gpt-4o", base_url=server.base_url, api_key="b"), SYSTEM, tools=[get_weather]
        )
        history = conversation(agent, turns - 1)
        flush_tracing()
        before = path.stat().st_size
        conversation(agent, 1, history)
        flush_tracing()
    over_http = path.stat().st_size - before
    print(
        f"  check: turn {turns} over HTTP adds {over_http:,} bytes vs {in_process:,} in process"
        f" ({over_http / in_process - 1:+.1%})"
    )
    configure_tracing(tracer_provider=NoOpTracerProvider())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (about 15 s)")
    args = parser.parse_args(argv)
    quick = args.quick
    print(f"Python {sys.version.split()[0]}, {'quick' if quick else 'full'} run")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="definable-trace-bench-") as tmp:
        workdir = Path(tmp)
        tracing = Tracing(workdir / "timing.jsonl")
        over_http(tracing, pairs=8 if quick else 60, conversations=4, turns=5)
        direct(tracing, pairs=16 if quick else 100, conversations=20, turns=5)
        checkpoints = (10, 100) if quick else (10, 100, 500)
        reps = 5 if quick else 11
        growth(workdir, checkpoints, reps, http_check=True)
        growth(workdir, checkpoints, reps, http_check=False, history="delta")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

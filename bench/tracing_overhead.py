"""What tracing costs: process CPU per model call, and trace bytes per call.

    python bench/tracing_overhead.py           # full run, about 1-2 minutes
    python bench/tracing_overhead.py --quick   # sections 1-3, smaller, about 10 seconds

Every figure is printed with its baseline from the same run. Blocks of traced and baseline runs
alternate in one process (ABBA order, so drift cancels); a block's time is the process CPU time
(`time.process_time`: every thread, so the exporter's thread counts) of its runs plus flushing
their spans to the file, so export work is counted, not left to a background thread.

1. Cost per model call, the targets: one `Agent.run` with one model call, over an in-process
   model (no HTTP, no SDK: the difference is span code and export alone). Cells: a 1-turn call
   (system prompt + the user's message) and a call with a 10-turn history (21 messages before
   the new one), each not streamed and streamed. "traced" writes OTLP JSON lines to a file
   (`configure_tracing(path)`, the default full-history mode); the baseline is the same agent
   with `configure_tracing(tracer_provider=NoOpTracerProvider())`.
2. Tracing off: `DEFINABLE_TRACE_FILE=off` (no file, no collector) against the no-op provider,
   and the span code's own cost per call under the no-op provider (the spans of one call
   made and ended in a loop, against the same loop without them).
3. Bytes: the file bytes one call adds, a 1-turn call and one after a 10-turn history, against
   the same figures for the layout before the byte cuts (commit 4e3ad5a's package, run in a
   child process of the same run), and a check that the file rebuilds the exact history.
4. Growth (full run only): one conversation of 10, 100, 500 turns with a tool call each turn:
   the bytes the Nth turn adds and the tracing time per model call at that turn, in the full
   and the compact (`history="delta"`) modes.
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

from opentelemetry.trace import NoOpTracerProvider  # noqa: E402

from definable_trace import _semconv as sc  # noqa: E402
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
        if last.role == "tool" or not tools:
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
        response = self.invoke(messages, tools)
        for word in (response.message.content or "").split(" "):
            yield ModelDelta(content=word + " ")
        yield response

    async def ainvoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> AsyncIterator[ModelDelta | ModelResponse]:
        for item in self.invoke_stream(messages, tools):
            yield item


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


# --- sections 1-3: process CPU per model call, tracing off, bytes ---------------------------------

TARGETS_US = {"1-turn": 200.0, "10-turn history": 250.0}
OFF_TARGET_US = 10.0
BYTES_TARGET = 2_500


def one_call(agent: Agent, history: list[Message], stream: bool) -> Callable[[], None]:
    """One run with one model call: the user's message after `history` (a new session when
    the history is empty, as the seed page's first snippet)."""
    text = "What is the weather like in Paris today? Answer in one short sentence."

    if stream:

        def streamed() -> None:
            for _ in agent.run_stream(text, messages=history):
                pass

        return streamed

    def plain() -> None:
        agent.run(text, messages=history)

    return plain


def history_of(agent: Agent, turns: int) -> list[Message]:
    configure_tracing(tracer_provider=NoOpTracerProvider())
    messages: list[Message] = []
    for turn in range(turns):
        messages = agent.run(user_text(turn), messages=messages).messages
    return messages


def cpu_block(call: Callable[[], None], calls: int, flush: bool) -> float:
    """CPU seconds per call of `calls` calls, flushing the spans (export) inside the block."""
    started = time.process_time()
    for _ in range(calls):
        call()
    if flush:
        flush_tracing()
    return (time.process_time() - started) / calls


def paired(
    on: Callable[[], None],
    off: Callable[[], None],
    call: Callable[[], None],
    calls: int,
    pairs: int,
) -> tuple[float, float, float]:
    """(median µs per call with `on`, with `off`, median of the paired differences), ABBA."""
    with_on: list[float] = []
    with_off: list[float] = []
    for i in range(pairs):
        for first in (True, False) if i % 2 == 0 else (False, True):
            (on if first else off)()
            (with_on if first else with_off).append(cpu_block(call, calls, flush=first))
    off()
    diffs = [a - b for a, b in zip(with_on, with_off, strict=True)]
    median = statistics.median
    return median(with_on) * 1e6, median(with_off) * 1e6, median(diffs) * 1e6


def cost_per_call(workdir: Path, calls: int, pairs: int) -> None:
    print(
        f"\n1. Process CPU per model call, export included ({pairs} ABBA pairs of {calls} calls;"
        " baseline: the same agent with a no-op tracer provider)"
    )
    agent = Agent(InstantModel(), SYSTEM)
    tracing = Tracing(workdir / "cost.jsonl")
    histories = {"1-turn": [], "10-turn history": history_of(agent, 10)}
    header = ("call", "stream", "traced µs", "no-op µs", "added µs", "target", "")
    print(
        f"  {header[0]:<16} {header[1]:<6} {header[2]:>10} {header[3]:>9} {header[4]:>9}"
        f" {header[5]:>7}"
    )
    for name, history in histories.items():
        for stream in (False, True):
            call = one_call(agent, history, stream)
            for _ in range(20):
                call()  # warm up
            traced, noop, added = paired(tracing.on, tracing.off, call, calls, pairs)
            target = TARGETS_US[name]
            verdict = "ok" if added <= target else "OVER"
            print(
                f"  {name:<16} {'yes' if stream else 'no':<6} {traced:>10.1f} {noop:>9.1f}"
                f" {added:>9.1f} {target:>7.0f} {verdict}  (ratio {traced / noop:.2f})"
            )


def tracing_off(calls: int, pairs: int) -> None:
    print("\n2. Tracing off")
    agent = Agent(InstantModel(), SYSTEM)
    call = one_call(agent, [], stream=False)

    def env_off() -> None:
        os.environ["DEFINABLE_TRACE_FILE"] = "off"
        configure_tracing()
        del os.environ["DEFINABLE_TRACE_FILE"]

    def noop() -> None:
        configure_tracing(tracer_provider=NoOpTracerProvider())

    off, base, added = paired(env_off, noop, call, calls, pairs)
    verdict = "ok" if added <= OFF_TARGET_US else "OVER"
    print(
        f"  DEFINABLE_TRACE_FILE=off: {off:.1f} µs per call vs {base:.1f} µs with a no-op"
        f" provider: {added:+.1f} µs (target ≤ {OFF_TARGET_US:.0f}: {verdict})"
    )
    spans_alone(calls * pairs)


def spans_alone(n: int) -> None:
    """The span objects of one call (run span, chat span, their ends) under a no-op provider,
    against the same loop without them: what the span code costs when nothing records."""
    from definable_trace._tracing._setup import get_settings
    from definable_trace._tracing._spans import RunInfo, RunSpans

    configure_tracing(tracer_provider=NoOpTracerProvider())
    settings = get_settings()
    model = InstantModel()
    user = Message(role="user", content="hi")
    history = [Message(role="system", content=SYSTEM), user]
    response = model.invoke(history, [])
    metrics = Metrics()

    def with_spans() -> None:
        spans = RunSpans(settings, RunInfo("a", model, "r", "s", None, 1, {}))
        spans.record_input([user])
        spans.chat(history, [], False).finish(response)
        spans.finish(response.message, metrics)

    def without() -> None:
        RunInfo("a", model, "r", "s", None, 1, {})

    def loop(fn: Callable[[], None]) -> float:
        started = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - started) / n * 1e6

    costs = [loop(with_spans) - loop(without) for _ in range(5)]
    print(
        f"  span code per call under a no-op provider: {statistics.median(costs):.1f} µs"
        f" (median of 5 loops of {n}, each against the same loop without spans)"
    )


def measure_bytes(path: Path, calls: int) -> dict[str, float]:
    """File bytes per call, one 1-turn call and one call after a 10-turn history (each its own
    session, as an application serving many users writes them), over `calls` calls each, so
    the resource and batch framing are shared as in a real file. Also whether the file
    rebuilds each call's exact history.

    A 1-turn call passes no `session_id`: it gets a generated one, as a new conversation
    does. A call after the history passes a new generated id (the package's own generator,
    `resolve_session`, in this layout's form), or it would continue the history's session."""
    from definable_trace import load_traces
    from definable_trace._loop import resolve_session

    agent = Agent(InstantModel(), SYSTEM)
    history = history_of(agent, 10)
    configure_tracing(path)
    agent.run("warm up")
    flush_tracing()
    out: dict[str, float] = {}
    outputs = []
    for name, before_call in (("1-turn", []), ("10-turn history", history)):
        start = path.stat().st_size
        for i in range(calls):
            text = f"Question {i}: what is the weather like in Paris today?"
            session = resolve_session(None, []) if before_call else None  # one conversation each
            outputs.append(agent.run(text, messages=before_call, session_id=session))
        flush_tracing()
        out[name] = (path.stat().st_size - start) / calls
        out[f"{name} from"], out[f"{name} to"] = start, path.stat().st_size
    traces = load_traces(path)
    out["exact"] = float(all(traces.session(o.session_id).messages == o.messages for o in outputs))
    configure_tracing(tracer_provider=NoOpTracerProvider())
    return out


# The layout before issue 7 point 4's byte cuts (run id and turn number on every span, usage,
# model and mime types on the run span, full meta entries): measured by this same function with
# that commit's package first on the path, in a child process of this run.
BASELINE_COMMIT = "4e3ad5a"


def baseline_bytes(workdir: Path, calls: int, commit: str) -> dict[str, float] | None:
    """`measure_bytes` with the package as of `commit` (extracted with `git archive`), or None
    when this is not a git checkout that has it."""
    import json
    import subprocess

    root = Path(__file__).resolve().parent.parent
    tree = workdir / f"baseline-{commit}"
    tree.mkdir(exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", commit, "definable_trace"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    code = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        " import tracing_overhead as b;"
        " print(json.dumps(b.measure_bytes(Path(sys.argv[2]), int(sys.argv[3]))))"
    )
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{Path(__file__).parent}"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tree), str(workdir / "baseline.jsonl"), str(calls)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        print(f"  (baseline run failed: {done.stderr.strip().splitlines()[-1:]})")
        return None
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def bytes_per_call(workdir: Path, calls: int) -> None:
    print("\n3. Trace bytes per call (full-history mode, default content capture)")
    now = measure_bytes(workdir / "bytes.jsonl", calls)
    before = baseline_bytes(workdir, calls, BASELINE_COMMIT)
    for name in ("1-turn", "10-turn history"):
        line = f"  {name:<16} {now[name]:>7,.0f} bytes per call"
        if name == "1-turn":
            verdict = "ok" if now[name] <= BYTES_TARGET else "OVER"
            line += f" (target ≤ {BYTES_TARGET:,}: {verdict})"
        if before is not None:
            line += (
                f"; layout of {BASELINE_COMMIT}: {before[name]:,.0f}"
                f" ({now[name] / before[name] - 1:+.1%})"
            )
        print(line)
    print(f"  the file rebuilds every call's exact history: {'yes' if now['exact'] else 'NO'}")
    budget(workdir / "bytes.jsonl", int(now["1-turn from"]), int(now["1-turn to"]), calls)
    if before is not None:
        print(
            f"  (the {BASELINE_COMMIT} file, read by its own loader: exact {bool(before['exact'])})"
        )


# Where a 1-turn call's bytes go, by what each attribute is for (docs/traces.md, "Bytes per
# call"): measured on the file, not estimated.
def _budget_table() -> tuple[tuple[str, frozenset[str]], ...]:
    """The table, made when asked: the baseline's child process imports this module with an
    older package whose `_semconv` lacks some names (it never prints the table)."""
    return (
        ("session: conversation id + session id", frozenset(sc.SESSION_KEYS)),
        (
            "provider, operation, request model",
            frozenset({sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_REQUEST_MODEL}),
        ),
        (
            "response id/model/finish reasons, usage",
            frozenset(
                {
                    sc.GEN_AI_RESPONSE_ID,
                    sc.GEN_AI_RESPONSE_MODEL,
                    sc.GEN_AI_RESPONSE_FINISH_REASONS,
                    sc.GEN_AI_USAGE_INPUT_TOKENS,
                    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
                }
            ),
        ),
        (
            "content: system, input, output messages",
            frozenset({sc.SYSTEM_INSTRUCTIONS, sc.INPUT_MESSAGES, sc.OUTPUT_MESSAGES}),
        ),
        ("summary: input.value, output.value", frozenset({sc.INPUT_VALUE, sc.OUTPUT_VALUE})),
        (
            "meta list (ids, times, metrics)",
            frozenset({sc.ATTR_MESSAGES, sc.ATTR_INPUT_META, sc.ATTR_OUTPUT_META}),
        ),
        (
            "turn index (a run id only when the caller gave one)",
            frozenset({sc.ATTR_TURN_INDEX, sc.ATTR_RUN_ID}),
        ),
    )


def budget(path: Path, start: int, stop: int, calls: int) -> None:
    """Print where the 1-turn calls' bytes (file offsets `start`-`stop`) go, per call."""
    import orjson

    with path.open("rb") as f:
        f.seek(start)
        lines = f.read(stop - start).splitlines()
    table = _budget_table()
    sizes: dict[str, int] = dict.fromkeys([label for label, _ in table], 0)
    envelope = 0
    for line in lines:
        for resource in orjson.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    attributes = span["attributes"]
                    shell = {k: v for k, v in span.items() if k != "attributes"}
                    envelope += len(orjson.dumps(shell))
                    for item in attributes:
                        size = len(orjson.dumps(item)) + 1  # its comma
                        label = next((lb for lb, keys in table if item["key"] in keys), None)
                        if label is not None:
                            sizes[label] += size
    total = stop - start
    print("  where a 1-turn call's bytes go (measured on the file above):")
    shell = "span envelopes (ids, times, kind, name; status when set)"
    print(f"    {shell:<56} {envelope / calls:>6,.0f}")
    for label, size in sizes.items():
        print(f"    {label:<56} {size / calls:>6,.0f}")
    rest = total - envelope - sum(sizes.values())
    print(f"    {'resource, batch framing, attribute lists':<56} {rest / calls:>6,.0f}")


# --- growth (section 4) ---------------------------------------------------------------------


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
    parser.add_argument("--quick", action="store_true", help="a smaller run (about 20 s)")
    args = parser.parse_args(argv)
    quick = args.quick
    print(f"Python {sys.version.split()[0]}, {'quick' if quick else 'full'} run")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="definable-trace-bench-") as tmp:
        workdir = Path(tmp)
        calls, pairs = (200, 6) if quick else (400, 24)
        cost_per_call(workdir, calls, pairs)
        tracing_off(calls, pairs)
        bytes_per_call(workdir, 200)
        if not quick:
            print("\n4. Growth")
            growth(workdir, (10, 100, 500), 11, http_check=True)
            growth(workdir, (10, 100, 500), 11, http_check=False, history="delta")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What a run pays for tracing when tracing is turned off.

    python bench/tracing_off_cost.py          # about 15 seconds

Process CPU per `Agent.run` (one model call, in-process model, no HTTP), median of ABBA
rounds, same run:

- **off now**: `DEFINABLE_TRACE_FILE=off` and no collector: OpenTelemetry's no-op tracer;
- **off before** (the baseline): a recording SDK provider with no processor, which is what
  "off" used to be: every attribute encoded, then dropped;
- **no-op span calls**: the OpenTelemetry calls a run makes for its two spans under the no-op
  tracer (start, set attributes, end), timed alone: an estimate of what "off now" still pays.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from definable_trace import Message, configure_tracing
from definable_trace.agent import Agent
from definable_trace.model import Model, ModelDelta, ModelResponse


class EchoModel(Model):
    """Answers at once, without HTTP, so the run's own work is what is measured."""

    id = "echo"

    def invoke(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ModelResponse:
        return ModelResponse(Message(role="assistant", content="ok"), "r1", self.id, "stop")

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


def cpu_per_call(work: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        work()
    return (time.process_time() - start) / calls


def off_now() -> None:
    os.environ["DEFINABLE_TRACE_FILE"] = "off"
    settings = configure_tracing()
    assert isinstance(settings.provider, trace.NoOpTracerProvider)


def off_before() -> None:
    configure_tracing(tracer_provider=TracerProvider())


def noop_span_calls() -> None:
    tracer = trace.NoOpTracerProvider().get_tracer("definable_trace")
    attributes = {f"gen_ai.attribute.{i}": "value" for i in range(12)}
    for name in ("invoke_agent", "chat echo"):
        span = tracer.start_span(name, attributes=attributes)
        if span.is_recording():
            span.set_attributes(attributes)
        span.end()


def main() -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        os.environ.pop(name, None)
    agent = Agent(EchoModel(), "Be brief.")
    calls = 3000
    samples: dict[str, list[float]] = {"off now": [], "off before (baseline)": []}
    setups = {"off now": off_now, "off before (baseline)": off_before}
    for round_ in range(6):
        names = list(setups) if round_ % 2 == 0 else list(reversed(setups))  # ABBA
        for name in names:
            setups[name]()
            samples[name].append(cpu_per_call(lambda: agent.run("hello"), calls))
    now = statistics.median(samples["off now"])
    before = statistics.median(samples["off before (baseline)"])
    spans = cpu_per_call(noop_span_calls, 20_000)
    print(f"process CPU per Agent.run, median of 6 ABBA rounds of {calls} runs")
    print(f"  off now (no-op tracer)              {now * 1e6:7.1f} µs/run")
    print(f"  off before (recording, no exporter) {before * 1e6:7.1f} µs/run")
    print(f"  saved by the no-op tracer           {(before - now) * 1e6:7.1f} µs/run")
    print(f"  no-op span calls of one run (est.)  {spans * 1e6:7.1f} µs/run")


if __name__ == "__main__":
    main()

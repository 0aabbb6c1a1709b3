"""CPU per exported span batch: our OTLP/JSON-lines exporter against the official one.

    python bench/export_cost.py            # about 20 seconds
    python bench/export_cost.py --quick    # about 5 seconds

The batches are real agent spans: the agent runs against a `FakeOpenAIServer` (one turn, and a
turn with a 10-turn history), its spans are kept in memory, then each exporter writes the same
batch to its own temporary file again and again. Process CPU time (`time.process_time`) per
batch, encoding and writing included; the exporters alternate in ABBA rounds so drift cancels.
Baselines in the same run: the official `opentelemetry-exporter-otlp-json-file` (what we
replaced) and the SDK's protobuf encoder (what OTLP/HTTP sends).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from definable_trace import configure_tracing
from definable_trace._tracing._export import JsonLinesSpanExporter
from definable_trace.agent import Agent
from definable_trace.model import OpenAIChat
from definable_trace.testing import FakeOpenAIServer


def agent_batches() -> dict[str, Sequence[ReadableSpan]]:
    """The spans of a 1-turn call and of a call with a 10-turn history, as exported."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    configure_tracing(tracer_provider=provider)
    with FakeOpenAIServer() as server:
        agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k"), "Be brief.")
        agent.run("hello", session_id="one")
        one_turn = memory.get_finished_spans()
        memory.clear()
        output = None
        for n in range(11):
            memory.clear()
            messages = output.messages if output else None
            output = agent.run(f"turn {n}", messages=messages, session_id="ten")
        ten_turns = memory.get_finished_spans()
    return {"1-turn call": one_turn, "10-turn history": ten_turns}


def cpu_per_call(export: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        export()
    return (time.process_time() - start) / calls


def measure(exporters: dict[str, SpanExporter], batch: Sequence[ReadableSpan], calls: int) -> dict:
    samples: dict[str, list[float]] = {name: [] for name in exporters}
    order = list(exporters)
    for round_ in range(6):
        for name in order if round_ % 2 == 0 else reversed(order):  # ABBA
            exporter = exporters[name]
            samples[name].append(cpu_per_call(lambda e=exporter: e.export(batch), calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    calls = 300 if parser.parse_args().quick else 1500
    try:
        from opentelemetry.exporter.otlp.json.file import FileSpanExporter
    except ImportError:
        sys.exit(
            "the baseline needs opentelemetry-exporter-otlp-json-file (pip install -e '.[test]')"
        )
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    class ProtobufEncodeOnly(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            return encode_spans(spans).SerializeToString()

    with tempfile.TemporaryDirectory() as folder:
        exporters: dict[str, SpanExporter] = {
            "ours (orjson, file)": JsonLinesSpanExporter(Path(folder) / "ours.jsonl"),
            "official json-file": FileSpanExporter(Path(folder) / "official.jsonl"),
            "protobuf encode only": ProtobufEncodeOnly(),
        }
        print(f"process CPU per exported batch, median of 6 ABBA rounds of {calls} exports")
        for label, batch in agent_batches().items():
            figures = measure(exporters, batch, calls)
            ours = figures["ours (orjson, file)"]
            size = len((Path(folder) / "ours.jsonl").read_bytes().splitlines()[-1])
            print(f"\n{label}: {len(batch)} spans, {size:,} bytes per line")
            for name, seconds in figures.items():
                ratio = seconds / ours
                print(f"  {name:<22} {seconds * 1e6:8.1f} µs/batch   {ratio:5.1f}× ours")
        for exporter in exporters.values():
            exporter.shutdown()


if __name__ == "__main__":
    main()

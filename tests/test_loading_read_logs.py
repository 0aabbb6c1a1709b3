"""What the log index keeps of each record it has read, to tell a repeated delivery, is the
fingerprint's bytes and no more (`_logs._kept`): `orjson.dumps` returns bytes that hold the
whole buffer it wrote into (kilobytes for a short output), which thousands of log records
turned into tens of megabytes."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import orjson

from definable_trace._loading import _logs
from definable_trace._loading._decode import SpanDecoder
from definable_trace._loading._graph import SpanIndex
from definable_trace._loading._logs import LogIndex
from definable_trace._loading._otlp import read_file
from definable_trace._loading._store import TextStore

FIXTURES = Path(__file__).parent / "fixtures"


def _record(i: int) -> list[object]:
    return ["trace", "span", "gen_ai.choice", str(i), {"n": i}]


def test_a_kept_fingerprint_is_the_same_bytes_in_their_own_size() -> None:
    tracemalloc.start()
    try:
        kept = [_logs._kept(orjson.dumps(_record(i))) for i in range(1000)]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept == [orjson.dumps(_record(i)) for i in range(1000)]
    assert all(type(k) is bytes for k in kept)
    # The bytes themselves, a bytes object's header each, and the list: nothing beside.
    assert held < sum(len(k) + 64 for k in kept) + 16 * len(kept)


def test_every_fingerprint_kept_is_the_bytes_of_its_record() -> None:
    """Reading real log lines twice (at-least-once delivery): the records of the second
    reading are all recognised, and what is kept is no larger than what it stands for."""
    for name in ("openai_v2_events.logs.jsonl", "openai_v2_legacy_events.jsonl"):
        path = FIXTURES / name
        logs = LogIndex()
        decoder = SpanDecoder(TextStore())
        read_file(path, SpanIndex(), decoder, logs)
        content = {
            key: {k: list(v) for k, v in c.values.items()} for key, c in logs.by_span.items()
        }
        seen = set(logs._seen)
        assert seen
        read_file(path, SpanIndex(), decoder, logs)
        assert logs._seen == seen
        assert {key: c.values for key, c in logs.by_span.items()} == content

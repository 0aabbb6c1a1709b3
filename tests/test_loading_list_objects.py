"""What a load of our sessions keeps for the garbage collector, and that it is all freed.

A turn's source (`_ours._RunSource`) and its session's `_rebuild.Messages` are `Struct`s the
collector does not track: thousands of them live as long as a load, and every full collection
after it would scan each. That is safe only while nothing they lead to leads back to them (a
cycle through an untracked object is never collected): `Messages` keeps the session's runs,
not their sources. Checked here by counting the tracked objects a load adds and by dropping
loads whose every part was read (compact mode's linked chats, answers' counts found on other
spans, cached calls) and finding their objects gone.
"""

from __future__ import annotations

import gc
import weakref
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_loading_facts import _write
from test_loading_support import replicated

from definable_trace.loading import TraceSet, load_traces


def _tracked() -> Counter[str]:
    gc.collect()
    return Counter(type(o).__name__ for o in gc.get_objects())


def test_a_load_tracks_no_source_per_turn(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    replicated(path, 3)
    load_traces(path)  # what a first load sets up once (imports, caches)
    before = _tracked()
    traces = load_traces(path)
    _ = [(s.message_count, s.metrics, s.messages) for s in traces]  # read: chats kept
    after = _tracked()
    ours = [s for s in traces if s.convention == "definable"]
    assert len(ours) > 50
    for kind in ("_RunSource", "Messages"):
        assert after[kind] - before[kind] < len(ours) // 10, kind


def _read_everything(traces: TraceSet) -> int:
    """Every part of every session, so that each cache a session has is filled."""
    read = 0
    for session in traces:
        read += len(session.messages) + session.message_count
        _ = (session.metrics, session.models, session.replayable, session.lineage)
        for turn in session.turns:
            read += len(turn.messages) + len(turn.history_before) + turn.history_count
            _ = (turn.error, turn.tool_calls, turn.spans, turn.metrics, turn.input)
            for call in turn.model_calls:
                _ = (call.metrics, call.input_messages, call.output_message, call.error)
    return read


def _dropped(load: Any) -> None:
    """A load read whole, then dropped: its sessions and its store are freed."""
    traces = load()
    assert _read_everything(traces) > 0
    store = next(
        t._source.messages.store for s in traces if s.convention == "definable" for t in s.turns
    )
    refs = [weakref.ref(traces), weakref.ref(store), *(weakref.ref(s) for s in traces)]
    del traces, store
    gc.collect()
    assert [r for r in refs if r() is not None] == []


@pytest.mark.parametrize("tracing", [{}, {"history": "delta"}], ids=["one-list", "compact"])
def test_a_load_written_now_is_freed_when_dropped(tmp_path: Path, tracing: dict[str, Any]) -> None:
    path = tmp_path / "t.jsonl"
    _write(path, **tracing)
    _dropped(lambda: load_traces(path))


def test_a_replicated_load_is_freed_when_dropped(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    replicated(path, 1)
    _dropped(lambda: load_traces(path))

"""`load_traces(path, session=S)`: one session read from the lines that matter, the same as
when the whole file is loaded.

The input is every committed trace (our agent's samples and the foreign instrumentations'
fixtures) in one file, so a session may inherit its id from a parent span (openai-v2), be
named only by its trace id, or be a fork naming another session as its parent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from loading_mutations import SOURCES
from test_loading_support import write_lines

from definable_trace.loading import SessionNotFoundError, load_traces


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    lines = [line for source in SOURCES for line in source.read_bytes().splitlines() if line]
    lines.insert(3, b"{not json")  # a damaged line: later lines keep their numbers
    return write_lines(tmp_path / "mixed.jsonl", lines)


def _summary(traces, session_id):  # type: ignore[no-untyped-def]
    session = traces.session(session_id)
    return (
        session.messages,
        [(t.index, t.messages, t.start, [s.span_id for s in t.spans]) for t in session.turns],
        session.metrics,
        session.lineage,
        session.has_content,
        session.convention,
    )


def test_each_session_alone_is_the_session_of_the_whole_file(mixed: Path) -> None:
    whole = load_traces(mixed)
    assert len(whole) > 8
    for session in whole:
        alone = load_traces(mixed, session=session.id)
        assert [s.id for s in alone] == [session.id]
        assert _summary(alone, session.id) == _summary(whole, session.id)
        assert {str(w) for w in alone.warnings} <= {str(w) for w in whole.warnings} | {
            str(w) for w in alone.warnings if "name no session" in w.message
        }


def test_lines_keep_their_numbers(mixed: Path) -> None:
    whole = load_traces(mixed)
    session = max(whole, key=lambda s: max(span.line for t in s.turns for span in t.spans))
    alone = load_traces(mixed, session=session.id)
    lines = {(s.path, s.line) for t in alone.session(session.id).turns for s in t.spans}
    assert lines == {(s.path, s.line) for t in session.turns for s in t.spans}
    assert any(line > 4 for _, line in lines)  # after the damaged line 4


def test_an_unknown_session_names_close_ones(mixed: Path) -> None:
    known = load_traces(mixed).sessions[0].id
    with pytest.raises(SessionNotFoundError) as caught:
        load_traces(mixed, session=known + "x").session(known + "x")
    assert known in str(caught.value)


def test_a_session_over_several_files_is_read_from_each(tmp_path: Path, mixed: Path) -> None:
    lines = mixed.read_bytes().splitlines()
    first = write_lines(tmp_path / "a.jsonl", lines[::2])
    second = write_lines(tmp_path / "b.jsonl", lines[1::2])
    whole = load_traces(first, second)
    for session in whole:
        alone = load_traces(first, second, session=session.id)
        assert _summary(alone, session.id) == _summary(whole, session.id)


def test_gzip_and_documents_fall_back_to_the_whole_load(tmp_path: Path, mixed: Path) -> None:
    import gzip

    import orjson

    packed = tmp_path / "t.jsonl.gz"
    packed.write_bytes(gzip.compress(mixed.read_bytes()))
    whole = load_traces(mixed)
    session = whole.sessions[0].id
    assert _summary(load_traces(packed, session=session), session) == _summary(whole, session)
    documents = [orjson.loads(line) for line in SOURCES[0].read_bytes().splitlines() if line]
    first = load_traces(documents).sessions[0].id
    assert [s.id for s in load_traces(documents, session=first)] == [first]


# --- what listing reads, without building histories -------------------------------------------


def test_counts_and_totals_for_listing_match_the_built_histories(mixed: Path) -> None:
    from functools import reduce

    from definable_trace import Metrics

    traces = load_traces(mixed)
    for session in traces:
        assert session.message_count == len(session.messages)
        assert [t.history_count for t in session.turns] == [len(t.history) for t in session.turns]
        calls = [c.metrics for t in session.turns for c in t.model_calls]
        added = reduce(Metrics.__add__, calls, Metrics())
        assert session.metrics == added.model_copy(
            update={"duration": sum(t.duration for t in session.turns)}
        )
        for turn in session.turns:
            turn_calls = [c.metrics for c in turn.model_calls]
            assert turn.metrics == reduce(Metrics.__add__, turn_calls, Metrics())

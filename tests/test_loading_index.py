"""The sidecar index of stitched sessions: `load_traces(path, session="inferred-...")` reads
the lines of the session's family only, once a whole load of the file has written the index,
and gives the session of the whole load.

The files are real traces replicated by bench/_replicate.py (each copy its own conversations,
ours and the foreign instrumentations', content on spans and in log records), with a damaged
line far from every session: the whole load warns about it, a read of the family's lines does
not, which tells the two paths apart from outside.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from loading_mutations import damaged_copies
from test_loading_support import replicated, session_summary, write_lines

from definable_trace import DefinableTraceError
from definable_trace.loading import SessionNotFoundError, TraceSet, load_traces

ROOT = Path(__file__).parent.parent
DAMAGED = b'{"resourceSpans": [oops'


@pytest.fixture
def traces_file(tmp_path: Path) -> Path:
    (tmp_path / "traces").mkdir()
    path = replicated(tmp_path / "traces" / "many.jsonl", 1.5)
    lines = path.read_bytes().splitlines()
    return write_lines(path, [*lines[:-5], DAMAGED, *lines[-5:]])


def _index_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").rglob("*.json"))


def _damage_told(traces: TraceSet) -> bool:
    return any(w.message.startswith("not JSON") for w in traces.warnings)


def test_each_stitched_session_from_the_index_is_the_session_of_the_whole_load(
    traces_file: Path, tmp_path: Path
) -> None:
    whole = load_traces(traces_file)
    assert _damage_told(whole)
    stitched = [s.id for s in whole if s.stitched]
    branches = [s.id for s in whole if s.stitched and s.lineage is not None]
    assert len(stitched) >= 8 and branches
    assert not _index_files(tmp_path)  # a plain load writes none
    first = load_traces(traces_file, session=stitched[0])
    assert _damage_told(first)  # no index yet: the whole load, which writes it
    assert len(_index_files(tmp_path)) == 1
    for session_id in stitched:
        alone = load_traces(traces_file, session=session_id)
        assert [s.id for s in alone] == [session_id]
        assert session_summary(alone, session_id) == session_summary(whole, session_id)
        assert not _damage_told(alone)  # only the family's lines were read


def test_the_index_is_in_the_cache_holds_no_content_and_the_trace_is_untouched(
    traces_file: Path, tmp_path: Path
) -> None:
    before = traces_file.read_bytes()
    stitched = next(s.id for s in load_traces(traces_file) if s.stitched)
    traces_file.chmod(0o444)
    load_traces(traces_file, session=stitched)
    assert traces_file.read_bytes() == before
    assert sorted(p.name for p in traces_file.parent.iterdir()) == ["many.jsonl"]
    (index,) = _index_files(tmp_path)
    assert index.is_relative_to(tmp_path / "cache")
    held = index.read_bytes()
    assert stitched.encode() in held
    for text in (b"Paris", b"weather", b"content", b"parts"):
        assert text not in held


def test_a_file_that_grew_is_loaded_whole_and_indexed_again(
    traces_file: Path, tmp_path: Path
) -> None:
    stitched = [s.id for s in load_traces(traces_file) if s.stitched]
    load_traces(traces_file, session=stitched[0])
    (index,) = _index_files(tmp_path)
    old = index.read_bytes()
    with open(traces_file, "ab") as f:  # another copy's lines: new conversations
        f.write(replicated(tmp_path / "more.jsonl", 0.2).read_bytes())
    whole = load_traces(traces_file)
    grown = load_traces(traces_file, session=stitched[1])
    assert _damage_told(grown)  # stale: loaded whole
    assert session_summary(grown, stitched[1]) == session_summary(whole, stitched[1])
    assert index.read_bytes() != old  # written again, for the file as it is now
    again = load_traces(traces_file, session=stitched[1])
    assert not _damage_told(again)
    assert session_summary(again, stitched[1]) == session_summary(whole, stitched[1])


def test_a_file_rewritten_under_the_same_stamp_still_gives_the_right_session(
    traces_file: Path,
) -> None:
    """Same size, same modification time, same inode, other lines: the stamp cannot tell, the
    check of each line and of the session found then does, and the whole load decides."""
    stitched = [s.id for s in load_traces(traces_file) if s.stitched]
    load_traces(traces_file, session=stitched[0])
    times = os.stat(traces_file)
    lines = traces_file.read_bytes().splitlines(keepends=True)
    with open(traces_file, "r+b") as f:  # in place: the same inode
        f.write(b"".join(reversed(lines)))
    os.utime(traces_file, ns=(times.st_atime_ns, times.st_mtime_ns))
    whole = load_traces(traces_file)
    for session_id in stitched:
        alone = load_traces(traces_file, session=session_id)
        assert session_summary(alone, session_id) == session_summary(whole, session_id)


def test_a_mistyped_stitched_id_is_answered_from_the_index(traces_file: Path) -> None:
    stitched = [s.id for s in load_traces(traces_file) if s.stitched]
    load_traces(traces_file, session=stitched[0])
    typo = stitched[3][:-1] + ("0" if stitched[3][-1] != "0" else "1")
    found = load_traces(traces_file, session=typo)
    assert len(found) == 0 and not _damage_told(found)  # not loaded: the index knows them all
    assert found.named_ids == stitched
    with pytest.raises(SessionNotFoundError, match="did you mean") as caught:
        found.session(typo)
    assert stitched[3] in caught.value.close_matches


def test_a_damaged_index_is_no_index(traces_file: Path, tmp_path: Path) -> None:
    stitched = [s.id for s in load_traces(traces_file) if s.stitched]
    load_traces(traces_file, session=stitched[0])
    (index,) = _index_files(tmp_path)
    good = orjson.loads(index.read_bytes())
    for damage in (b"\x00garbage", b"{}", orjson.dumps({**good, "families": [[[1, -5, 3, 0]]]})):
        index.write_bytes(damage)
        alone = load_traces(traces_file, session=stitched[1])
        assert alone.session(stitched[1]).id == stitched[1]
    assert orjson.loads(index.read_bytes())["sessions"] == good["sessions"]  # made again


@pytest.mark.parametrize("setting", ["off", "file"])
def test_no_index_when_turned_off_or_the_cache_cannot_be_written(
    traces_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(
        "DEFINABLE_TRACE_CACHE_DIR", "off" if setting == "off" else str(blocker / "cache")
    )
    whole = load_traces(traces_file)
    stitched = [s.id for s in whole if s.stitched]
    for session_id in stitched[:2]:
        alone = load_traces(traces_file, session=session_id)
        assert _damage_told(alone)  # each loaded whole
        assert session_summary(alone, session_id) == session_summary(whole, session_id)
    assert not (tmp_path / "cache").exists()


def _family_of(index: Path, session_id: str) -> tuple[dict[str, Any], list[list[int]]]:
    held = orjson.loads(index.read_bytes())
    return held, held["families"][held["sessions"][session_id][0]]


def test_an_index_missing_a_line_of_the_family_is_not_believed(
    traces_file: Path, tmp_path: Path
) -> None:
    """The session read from the family's lines must have what the whole load counted (its
    turns and messages), else the whole load decides: a line lost from the index (or one
    whose trace ids the scan could not see) does not give a shorter conversation."""
    whole = load_traces(traces_file)
    longest = max((s for s in whole if s.stitched), key=lambda s: len(s.turns))
    assert len(longest.turns) > 1
    load_traces(traces_file, session=longest.id)
    (index,) = _index_files(tmp_path)
    held, lines = _family_of(index, longest.id)
    last_turn = max(span.line for span in longest.turns[-1].spans)
    lines[:] = [line for line in lines if line[0] != last_turn]
    index.write_bytes(orjson.dumps(held))
    alone = load_traces(traces_file, session=longest.id)
    assert _damage_told(alone)  # loaded whole
    assert session_summary(alone, longest.id) == session_summary(whole, longest.id)


def test_an_index_line_that_is_not_a_whole_line_of_the_file_is_not_read(
    traces_file: Path, tmp_path: Path
) -> None:
    from definable_trace._loading import _index

    stitched = next(s.id for s in load_traces(traces_file) if s.stitched)
    load_traces(traces_file, session=stitched)
    (index,) = _index_files(tmp_path)
    assert isinstance(_index.lookup(str(traces_file), stitched), _index.Found)
    held, lines = _family_of(index, stitched)
    number, offset, length, checksum = lines[0]
    for moved in (
        [number, offset + 1, length - 1, checksum],  # starts after a line's first byte
        [number, offset, length - 1, checksum],  # ends before its newline
        [number, offset, length, checksum ^ 1],  # holds other bytes than it did
    ):
        lines[0] = moved
        index.write_bytes(orjson.dumps(held))
        assert _index.lookup(str(traces_file), stitched) is None


def _same_from_the_index(path: Path) -> int:
    """Every stitched session of `path` asked twice (a whole load writing the index, then the
    index) is the whole load's; returns how many there were."""
    try:
        whole = load_traces(path)
    except DefinableTraceError:
        return 0  # refused as a whole
    stitched = [s.id for s in whole if s.stitched]
    for session_id in stitched * 2:
        assert session_summary(
            load_traces(path, session=session_id), session_id
        ) == session_summary(whole, session_id)
    return len(stitched)


def test_in_any_order_of_lines_and_on_damaged_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stitching does not depend on the order of the lines, nor does a family's: shuffled
    lines of a replicated file, and damaged copies of every committed trace (the fuzz test's
    mutations: flips, cuts, wrong types, huge numbers, ...)."""
    path = replicated(tmp_path / "many.jsonl", 0.6)
    lines = path.read_bytes().splitlines()
    random.Random(8).shuffle(lines)
    assert _same_from_the_index(write_lines(tmp_path / "shuffled.jsonl", lines)) >= 4
    found = 0
    (tmp_path / "damaged").mkdir()
    for k, copy in enumerate(damaged_copies(tmp_path / "damaged", per_source=12, seed=8)):
        monkeypatch.setenv("DEFINABLE_TRACE_CACHE_DIR", str(tmp_path / "cache" / str(k)))
        found += _same_from_the_index(copy)
    assert found >= 16


def test_sessions_whose_lines_the_index_cannot_find_are_loaded_whole(tmp_path: Path) -> None:
    """Trace ids written in capitals (the loader reads them as lowercase hex) hide a family's
    lines from the index's scan: its sessions are still known, and loaded whole, never
    reported absent."""
    lines = replicated(tmp_path / "many.jsonl", 0.6).read_bytes().splitlines()
    capitals = write_lines(
        tmp_path / "capitals.jsonl",
        [
            re.sub(
                rb'"traceId":"[0-9a-f]{32}"', lambda m: m.group(0)[:11] + m.group(0)[11:].upper(), x
            )
            for x in lines
        ],
    )
    whole = load_traces(capitals)
    stitched = [s.id for s in whole if s.stitched]
    assert len(stitched) >= 4
    for session_id in stitched * 2:  # the first writes the index, the others read it
        alone = load_traces(capitals, session=session_id)
        assert session_summary(alone, session_id) == session_summary(whole, session_id)
    typo = stitched[0][:-1] + ("0" if stitched[0][-1] != "0" else "1")
    assert load_traces(capitals, session=typo).named_ids == stitched

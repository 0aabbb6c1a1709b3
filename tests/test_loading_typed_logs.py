"""The typed path for OTLP log lines reads every line it accepts exactly as the general path.

Each log line is read twice with fresh indexes: generically (`_loads`, then `LogIndex.read` on
dicts) and typed (`_typed.decode_logs`, then `LogIndex.read_typed` on Structs). Where the typed
path accepts a line, the indexed content, the answer (used or not) and the warnings must be
the general path's; a line it refuses is read by the general path alone. Real files written
by the real instrumentation, then the fuzz test's damaged versions of them, then whole files
read with the typed path switched off.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading_mutations import MUTATIONS, SOURCES, mutate

from definable_trace._loading import _typed
from definable_trace._loading._logs import LogIndex
from definable_trace._loading._otlp import _loads
from definable_trace.loading import load_traces

LOG_SOURCES = [p for p in SOURCES if b'"resourceLogs"' in p.read_bytes()]


class _Warnings:
    def __init__(self) -> None:
        self.found: list[tuple[int | None, str, str | None]] = []

    def warn(self, line: int | None, message: str, kind: str | None = None) -> None:
        self.found.append((line, message, kind))


def _general(line: bytes) -> tuple[bool, dict[Any, Any], list[Any]] | None:
    try:
        value = _loads(line)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    index, warnings = LogIndex(), _Warnings()
    used = index.read(value, "f.jsonl", 3, warnings)
    return used, index.by_span, warnings.found


def _typed_way(line: bytes) -> tuple[bool, dict[Any, Any], list[Any]] | None:
    request = _typed.decode_logs(line)
    if request is None:
        return None
    index, warnings = LogIndex(), _Warnings()
    used = index.read_typed(request, "f.jsonl", 3, warnings)
    if used is None:
        assert index.by_span == {} and warnings.found == [], "a refused line left something"
        return None
    return used, index.by_span, warnings.found


def _check(line: bytes) -> bool:
    typed = _typed_way(line)
    if typed is not None:
        assert typed == _general(line)
    return typed is not None


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if b'"resourceLogs"' in line]


def test_there_are_log_lines_to_compare() -> None:
    assert len(LOG_SOURCES) >= 2
    assert sum(len(_lines(p)) for p in LOG_SOURCES) >= 20


@pytest.mark.parametrize("path", LOG_SOURCES, ids=lambda p: p.name)
def test_real_log_lines_read_the_same_typed(path: Path) -> None:
    lines = _lines(path)
    assert [_check(line) for line in lines] == [True] * len(lines)
    assert any(_general(line)[0] for line in lines)  # type: ignore[index]  # content is read


def test_odd_log_lines_go_to_the_general_path_or_read_the_same() -> None:
    line = _lines(LOG_SOURCES[0])[0]
    records = line.index(b'"logRecords"')
    wrong = line[:records] + line[records:].replace(b'"stringValue":"', b'"stringValue":1,"x":"', 1)
    for other in (
        line.replace(b'"scopeLogs"', b'"instrumentationLibraryLogs"', 1),  # the old name
        line.replace(b'"logRecords":[{', b'"logRecords":[{"unknownField":1,', 1),
        wrong,  # a string value of the wrong type (and an unknown field)
        b'{"resourceLogs":[]}',
        b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[5]}]}]}',
    ):
        assert not _check(other)
    # A name that is a list (an array value): the general path tells, so the typed refuses.
    at = line.index(b'"logRecords":[{') + len(b'"logRecords":[{')
    named = line[:at] + b'"eventName":["x"],' + line[at:]
    assert not _check(named)
    # Several records in one line, one of them of no GenAI kind (first or last): the line is
    # used all the same.
    other = {"attributes": [{"key": "event.name", "value": {"stringValue": "app.click"}}]}
    for place in (0, None):
        value = orjson.loads(line)
        records = value["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        records.insert(len(records) if place is None else place, other)
        several = orjson.dumps(value)
        assert _check(several)
        assert _typed_way(several)[0] is True  # type: ignore[index]
    deep = b'{"arrayValue":{"values":[' * 70 + b"{}" + b"]}}" * 70
    nested = line[:at] + b'"body":' + deep + b"," + line[at:].replace(b'"body"', b'"b0dy"')
    _check(nested)  # refused (the general path warns) or the same


_FUZZ = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@_FUZZ
@given(
    source=st.sampled_from(LOG_SOURCES),
    kinds=st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=2),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_damaged_log_lines_read_the_same_or_fall_back(
    source: Path, kinds: list[str], seed: int
) -> None:
    data = mutate(source.read_bytes(), kinds, seed)
    lines = [line for line in data.splitlines() if line.strip()]
    for line in random.Random(seed).sample(lines, min(len(lines), 4)):
        _check(line)


def _summary(path: Path) -> list[Any]:
    traces = load_traces(path, *sorted(path.parent.glob(path.stem + ".logs.jsonl")))
    return [
        [str(w) for w in traces.warnings],
        [(s.id, s.message_count, s.messages, s.metrics) for s in traces],
    ]


@pytest.mark.parametrize("path", LOG_SOURCES, ids=lambda p: p.name)
def test_whole_files_load_the_same_without_the_typed_log_path(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = path.with_name(path.name.replace(".logs.jsonl", ".jsonl"))
    source = spans if spans.exists() else path
    expected = _summary(source)
    monkeypatch.setattr(_typed, "decode_logs", lambda line: None)
    assert _summary(source) == expected


def _pool() -> list[Any]:
    """Every log record of the committed files, and records of other kinds or without ids."""
    records: list[Any] = []
    for path in LOG_SOURCES:
        for line in _lines(path):
            for resource in orjson.loads(line)["resourceLogs"]:
                for scope in resource["scopeLogs"]:
                    records.extend(scope["logRecords"])
    other = {"attributes": [{"key": "event.name", "value": {"stringValue": "app.click"}}]}
    no_ids = {**records[0], "traceId": "", "spanId": 5}
    return [*records, other, no_ids]


_POOL = _pool()


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(
    picks=st.lists(
        st.lists(st.integers(min_value=0, max_value=len(_POOL) - 1), max_size=4),
        min_size=1,
        max_size=3,
    )
)
def test_lines_of_several_records_read_the_same_typed(picks: list[list[int]]) -> None:
    """Records of real files (repeated ones too), of other kinds and without ids, grouped
    into scopes of one line in any order: read the same both ways."""
    scopes = [{"logRecords": [_POOL[i] for i in group]} for group in picks]
    line = orjson.dumps({"resourceLogs": [{"scopeLogs": scopes}]})
    assert _check(line)


def test_every_pair_of_records_reads_the_same_typed() -> None:
    """Each record of the pool before each other (itself too: a repeat), in one scope and in
    two: whether the line is used, what is kept and what is told agree both ways."""
    for a in _POOL:
        for b in _POOL:
            for scopes in ([[a, b]], [[a], [b]]):
                groups = [{"logRecords": group} for group in scopes]
                assert _check(orjson.dumps({"resourceLogs": [{"scopeLogs": groups}]}))


def test_a_file_with_logs_of_other_kinds_warns_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Log lines with no GenAI record are counted as another signal, typed or not: the same
    one warning naming the first such line."""
    spans = next(p for p in SOURCES if p.name == "openai_v2_events.jsonl").read_bytes()
    other = {"attributes": [{"key": "event.name", "value": {"stringValue": "app.click"}}]}
    logs = orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [other]}]}]})
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(spans + logs + b"\n" + _lines(LOG_SOURCES[0])[0] + b"\n" + logs + b"\n")
    expected = _summary(path)
    assert any("value(s) hold OTLP logs or metrics" in w for w in expected[0])
    monkeypatch.setattr(_typed, "decode_logs", lambda line: None)
    assert _summary(path) == expected

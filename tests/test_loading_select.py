"""`load_traces(path, session=S)`: one session read from the lines that matter, the same as
when the whole file is loaded.

The input is every committed trace (our agent's samples and the foreign instrumentations'
fixtures) in one file, so a session may inherit its id from a parent span (openai-v2), be
named only by its trace id, or be a fork naming another session as its parent.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading_mutations import MUTATIONS, SOURCES, mutate
from test_loading_support import session_summary, write_lines

from definable_trace.loading import SessionNotFoundError, load_traces

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    lines = [line for source in SOURCES for line in source.read_bytes().splitlines() if line]
    lines.insert(3, b"{not json")  # a damaged line: later lines keep their numbers
    return write_lines(tmp_path / "mixed.jsonl", lines)


def test_each_session_alone_is_the_session_of_the_whole_file(mixed: Path) -> None:
    whole = load_traces(mixed)
    assert len(whole) > 8
    for session in whole:
        alone = load_traces(mixed, session=session.id)
        assert [s.id for s in alone] == [session.id]
        assert session_summary(alone, session.id) == session_summary(whole, session.id)
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


def test_an_id_no_line_holds_is_known_absent_without_a_whole_load(mixed: Path) -> None:
    for asked in ("no-such-session", "math-tutr"):
        traces = load_traces(mixed, session=asked)
        assert len(traces) == 0 and traces.named_ids is not None
        assert traces.warnings == []  # a whole load warns about the damaged line 4
        with pytest.raises(SessionNotFoundError) as caught:
            traces.session(asked)
        if asked == "math-tutr":
            assert caught.value.close_matches[0] == "math-tutor"
        else:
            assert str(caught.value) == (
                "no session 'no-such-session' (no line of the input names it)"
            )


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_the_ids_lines_name_are_those_a_whole_load_finds(source: Path) -> None:
    """What an absent id's error suggests from: the sessions spans name, as the loader reads
    them (not those it makes: stitched ids and trace ids)."""
    named = load_traces(source, session="zz-no-such-session").named_ids
    assert named is not None
    assert named == [s.id for s in _by_first_line(load_traces(source)) if not s.inferred]


def _by_first_line(traces):  # type: ignore[no-untyped-def]
    return sorted(traces, key=lambda s: min(span.line for t in s.turns for span in t.spans))


def test_a_session_named_by_a_trace_id_in_capitals_is_found(tmp_path: Path) -> None:
    """Found by the fuzz test run long: calls whose session-naming parent is lost are a session
    named by their trace id, which the loader lowercases; a trace id written with a capital
    is then in no line as the session's id is."""
    lines = []
    for line in (FIXTURES / "openai_v2_events.jsonl").read_bytes().splitlines():
        request = orjson.loads(line)
        for resource in request.get("resourceSpans", ()):
            for scope in resource["scopeSpans"]:
                scope["spans"] = [s for s in scope["spans"] if "invoke_agent" not in s["name"]]
                for span in scope["spans"]:  # a capital, and no hex digit (as a flip made)
                    span["traceId"] = span["traceId"][:10] + "O" + span["traceId"][11:]
        lines.append(orjson.dumps(request))
    path = write_lines(tmp_path / "capitals.jsonl", lines)
    whole = load_traces(path)
    named_by_trace = [s.id for s in whole if len(s.id) == 32 and "o" in s.id]
    assert named_by_trace
    for session_id in named_by_trace:
        alone = load_traces(path, session=session_id)
        assert [s.id for s in alone] == [session_id]
        assert alone.session(session_id).messages == whole.session(session_id).messages


@pytest.mark.parametrize(
    "asked",
    [
        "inferred-0123456789abcdef",  # stitched ids are made by the loader: no line holds them
        "0123456789abcdef0123456789abcdef",  # a trace id may be written otherwise (base64)
        "0123456789abcdef0123456789abcdez",  # any id of 32 characters is lowercased when read
        "chat",  # in lines, but no span names it as its session: the whole load decides
    ],
)
def test_ids_the_loader_may_make_or_that_lines_mention_are_looked_for_in_a_whole_load(
    mixed: Path, asked: str
) -> None:
    traces = load_traces(mixed, session=asked)
    assert traces.named_ids is None
    assert len(traces) == len(load_traces(mixed))
    with pytest.raises(SessionNotFoundError, match=r"the input holds|did you mean"):
        traces.session(asked)


def test_a_session_over_several_files_is_read_from_each(tmp_path: Path, mixed: Path) -> None:
    lines = mixed.read_bytes().splitlines()
    first = write_lines(tmp_path / "a.jsonl", lines[::2])
    second = write_lines(tmp_path / "b.jsonl", lines[1::2])
    whole = load_traces(first, second)
    for session in whole:
        alone = load_traces(first, second, session=session.id)
        assert session_summary(alone, session.id) == session_summary(whole, session.id)


def test_gzip_and_documents_fall_back_to_the_whole_load(tmp_path: Path, mixed: Path) -> None:
    import gzip

    packed = tmp_path / "t.jsonl.gz"
    packed.write_bytes(gzip.compress(mixed.read_bytes()))
    whole = load_traces(mixed)
    session = whole.sessions[0].id
    assert session_summary(load_traces(packed, session=session), session) == session_summary(
        whole, session
    )
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


# --- the scan: blocks, line ends, huge lines, the two ways of finding trace ids --------------
# `_BLOCK` (bytes read at a time) and `_RUST` (Rust searches, else `bytes.find` and `re`) are
# settings of the scan; setting them makes every line cross a block boundary and grow the
# buffer, and sends every session through each way of finding its lines.


def _one_span_a_line(lines: list[bytes]) -> list[bytes]:
    """Export requests split into one request per span; other lines as they are."""
    out = []
    for line in lines:
        try:
            resources = orjson.loads(line)["resourceSpans"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            out.append(line)  # damaged, or log records
            continue
        for resource in resources:
            for scope in resource.get("scopeSpans", ()):
                for span in scope.get("spans", ()):
                    one = {**resource, "scopeSpans": [{**scope, "spans": [span]}]}
                    out.append(orjson.dumps({"resourceSpans": [one]}))
    return out


@pytest.fixture
def exploded(tmp_path: Path, mixed: Path) -> Path:
    """`mixed` with one span a line: a trace's spans that do not name their session (the
    calls under openai-v2's `invoke_agent`) are then on lines of their own, found by trace."""
    lines = _one_span_a_line(mixed.read_bytes().splitlines())
    return write_lines(tmp_path / "exploded.jsonl", lines)


def _same_as_whole(*paths: Path) -> int:
    """Each session alone is the session of the whole load, down to its spans' file:line, and
    was read from the lines that matter, not by loading everything (which would give the
    same session, slowly): the warning about the damaged line, which names no session, is
    not among its warnings. Stitched sessions (an id no line holds) are loaded whole the
    first time, then through the index (tests/test_loading_index.py)."""
    whole = load_traces(*paths)
    damaged = [str(w) for w in whole.warnings if "not JSON" in w.message]
    for session in whole:
        alone = load_traces(*paths, session=session.id)
        assert [s.id for s in alone] == [session.id]
        assert session_summary(alone, session.id) == session_summary(whole, session.id)
        assert _places(alone.session(session.id)) == _places(session)
        if not session.inferred:
            assert not set(damaged) & {str(w) for w in alone.warnings}, session.id
        assert {str(w) for w in alone.warnings} <= {str(w) for w in whole.warnings} | {
            str(w) for w in alone.warnings if "name no session" in w.message
        }
    return len(whole)


def _places(session):  # type: ignore[no-untyped-def]
    return sorted((s.span_id, s.path, s.line) for t in session.turns for s in t.spans)


@pytest.mark.parametrize("block", [7, 100, 4096])
@pytest.mark.parametrize("rust", [True, False])
def test_blocks_of_any_size_and_every_way_of_searching(
    mixed: Path, monkeypatch: pytest.MonkeyPatch, block: int, rust: bool
) -> None:
    from definable_trace._loading import _select

    monkeypatch.setattr(_select, "_BLOCK", block)
    monkeypatch.setattr(_select, "_RUST", rust)
    assert _same_as_whole(mixed) > 8


@pytest.mark.parametrize("rust", [True, False])
def test_spans_a_line_found_by_their_trace_every_way(
    exploded: Path, monkeypatch: pytest.MonkeyPatch, rust: bool
) -> None:
    from definable_trace._loading import _select

    monkeypatch.setattr(_select, "_RUST", rust)
    assert _same_as_whole(exploded) > 8


@pytest.mark.parametrize("rust", [True, False])
def test_a_trace_id_spelled_in_capitals_on_some_lines_is_found_on_all(
    tmp_path: Path, exploded: Path, monkeypatch: pytest.MonkeyPatch, rust: bool
) -> None:
    """Found by the damaged-file test run long: a flipped byte put a capital in the trace id
    of the line naming the session, which the loader reads as lowercase; the lines of the same
    trace, written in lowercase, were then not found by the id as written. Here each line
    writes its trace ids as they are, in capitals, or with one capital."""
    from definable_trace._loading import _select

    monkeypatch.setattr(_select, "_RUST", rust)

    def respelled(number: int, match: re.Match[bytes]) -> bytes:
        key, trace = match.group(1), match.group(2)
        letters = [i for i, c in enumerate(trace) if chr(c).isalpha()]
        if number % 3 == 0 or not letters:
            return match.group(0)
        if number % 3 == 1:
            return key + trace.upper() + b'"'
        at = letters[number % len(letters)]
        return key + trace[:at] + trace[at : at + 1].upper() + trace[at + 1 :] + b'"'

    lines = [
        re.sub(rb'("traceId":")([0-9a-f]{32})"', lambda m, n=n: respelled(n, m), line)
        for n, line in enumerate(exploded.read_bytes().splitlines())
    ]
    assert _same_as_whole(write_lines(tmp_path / "capitals.jsonl", lines)) > 8


@pytest.mark.parametrize("separator", [b": ", b" : ", b":\t", b"\t:"])
@pytest.mark.parametrize("rust", [True, False])
def test_lines_spaced_as_json_dumps_or_otherwise(
    tmp_path: Path, exploded: Path, monkeypatch: pytest.MonkeyPatch, separator: bytes, rust: bool
) -> None:
    """Trace ids are found whatever the spacing around the colons (`json.dumps` writes
    `"traceId": "…"`), also where they are looked for as the value of an `Id` key."""
    import json

    from definable_trace._loading import _select

    monkeypatch.setattr(_select, "_RUST", rust)
    lines = []
    for line in exploded.read_bytes().splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            lines.append(line)  # the damaged line stays as it is
            continue
        lines.append(json.dumps(value, separators=(", ", separator.decode())).encode())
    assert _same_as_whole(write_lines(tmp_path / "spaced.jsonl", lines)) > 8


def test_crlf_blank_lines_and_a_last_line_without_newline(
    tmp_path: Path, mixed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from definable_trace._loading import _select

    lines = mixed.read_bytes().splitlines()
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(b"\r\n".join(lines))  # no newline after the last line
    _same_as_whole(crlf)
    # many short (blank) lines between the long ones: newlines are counted, not found one by
    # one, in the blocks where lines are short; both ways give the same numbers
    spaced = tmp_path / "spaced.jsonl"
    spaced.write_bytes(
        b"".join(line + b"\n" + b"\n" * (i % 3) * 700 for i, line in enumerate(lines))
    )
    monkeypatch.setattr(_select, "_BLOCK", 2048)
    _same_as_whole(spaced)
    whole = load_traces(spaced)
    numbers = {(s.line) for session in whole for t in session.turns for s in t.spans}
    assert max(numbers) > 1000


def test_a_last_line_cut_off_while_written_is_reported_as_the_whole_load_does(
    tmp_path: Path,
) -> None:
    lines = [line for line in (FIXTURES / "openai_v2.jsonl").read_bytes().splitlines() if line]
    whole = load_traces(write_lines(tmp_path / "whole.jsonl", lines))
    session = whole.sessions[-1].id
    naming = next(line for line in lines if orjson.dumps(session) in line)
    cut = naming[: naming.index(orjson.dumps(session)) + 10]  # names the session, not JSON
    path = tmp_path / "writing.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n" + cut)
    whole = load_traces(path)
    alone = load_traces(path, session=session)
    assert any("truncated last line" in w.message for w in whole.warnings)
    assert {str(w) for w in alone.warnings} == {str(w) for w in whole.warnings}
    assert session_summary(alone, session) == session_summary(whole, session)


def test_a_huge_line_across_blocks(tmp_path: Path, mixed: Path) -> None:
    """Lines longer than the block the scan reads (JSON whitespace pads them to 1.5 MB), one
    of them the first line (not parsed twice to tell JSON lines from a document)."""
    lines = mixed.read_bytes().splitlines()
    pad = b" " * 1_500_000
    padded = [line[:1] + pad + line[1:] if i % 7 == 0 else line for i, line in enumerate(lines)]
    assert padded[0].startswith(b"{ ")
    _same_as_whole(write_lines(tmp_path / "huge.jsonl", padded))


def test_a_trace_whose_other_spans_are_in_a_file_that_never_names_the_session(
    tmp_path: Path,
) -> None:
    """openai-v2 names the session on `invoke_agent` only: its calls, in another file, are
    found by their trace id."""
    lines = [line for line in (FIXTURES / "openai_v2.jsonl").read_bytes().splitlines() if line]
    naming = [line for line in lines if b"gen_ai.conversation.id" in line]
    others = [line for line in lines if b"gen_ai.conversation.id" not in line]
    assert naming and others
    first = write_lines(tmp_path / "a.jsonl", [*naming, b"{not json"])  # read if loaded whole
    second = write_lines(tmp_path / "b.jsonl", others)
    assert _same_as_whole(first, second) >= 1
    whole = load_traces(first, second)
    alone = load_traces(first, second, session=whole.sessions[0].id)
    paths = {s.path for t in alone.sessions[0].turns for s in t.spans}
    assert paths == {str(first), str(second)}


def test_ids_json_may_spell_in_several_ways_fall_back_to_the_whole_load(tmp_path: Path) -> None:
    lines = [line for line in (FIXTURES / "openai_v2.jsonl").read_bytes().splitlines() if line]
    whole = load_traces(write_lines(tmp_path / "plain.jsonl", lines))
    session = whole.sessions[0].id
    trace = whole.sessions[0].turns[0].spans[0].trace_id
    # a session id spelled with an escaped slash
    escaped = [line.replace(orjson.dumps(session), b'"a\\/b"') for line in lines]
    path = write_lines(tmp_path / "escaped-session.jsonl", escaped)
    whole = load_traces(path)
    assert session_summary(load_traces(path, session="a/b"), "a/b") == session_summary(whole, "a/b")
    # a trace id with a slash, spelled plainly where the session is named and escaped
    # elsewhere: one needle would find the one spelling only
    escaped = [
        line.replace(
            trace.encode(),
            (b"tr/" if b"gen_ai.conversation.id" in line else b"tr\\/") + trace.encode(),
        )
        for line in lines
    ]
    path = write_lines(tmp_path / "escaped-trace.jsonl", escaped)
    whole = load_traces(path)
    assert len(whole.session(session).turns[0].spans) > 1
    assert session_summary(load_traces(path, session=session), session) == session_summary(
        whole, session
    )


def test_the_tree_of_ids_matches_what_the_flat_alternation_matches() -> None:
    """`_tree` against `re`'s own `a|b|...` (the oracle): ids that are prefixes of others,
    shared prefixes, characters `re` must escape."""
    import random
    import re

    from definable_trace._loading._select import _tree

    rng = random.Random(8)
    alphabet = b"ab.:-9"
    for _ in range(300):
        words = {
            bytes(rng.choices(alphabet, k=rng.randint(0, 6))) for _ in range(rng.randint(1, 9))
        }
        tree = re.compile(_tree(sorted(words)))
        flat = re.compile(b"|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
        for _ in range(30):
            probe = bytes(rng.choices(alphabet, k=rng.randint(0, 7)))
            assert bool(tree.fullmatch(probe)) == bool(flat.fullmatch(probe)) == (probe in words)


# --- damaged files: the session alone is still the session of the whole load ---------------


@pytest.fixture(scope="module")
def exploded_bytes() -> bytes:
    lines = [line for source in SOURCES for line in source.read_bytes().splitlines() if line]
    return b"\n".join(_one_span_a_line(lines)) + b"\n"


@settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    kinds=st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=2),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_session_of_a_damaged_file_alone_is_its_session_of_the_whole_load(
    tmp_path: Path, exploded_bytes: bytes, kinds: list[str], seed: int
) -> None:
    """Mutations of every committed trace, one span a line (see `loading_mutations`): every
    session's messages, turns, metrics and spans' file:line are those of the whole load.
    (Warnings may differ in which ones are listed when a kind repeats past the cap.)"""
    from definable_trace import DefinableTraceError

    path = tmp_path / "mutant.jsonl"
    path.write_bytes(mutate(exploded_bytes, kinds, seed))
    try:
        whole = load_traces(path)
    except DefinableTraceError:
        return
    for session in whole:
        alone = load_traces(path, session=session.id)
        assert [s.id for s in alone] == [session.id]
        assert session_summary(alone, session.id) == session_summary(whole, session.id)
        assert _places(alone.session(session.id)) == _places(session)


def test_content_in_log_records_of_a_file_given_alongside(tmp_path: Path) -> None:
    """Event-only openai-v2: the content is in log records of another file, found there by
    the trace ids of the session's spans (one span a line: most of them name no session)."""
    spans = (FIXTURES / "openai_v2_events.jsonl").read_bytes().splitlines()
    lines = [*_one_span_a_line([s for s in spans if s]), b"{not json"]  # read if loaded whole
    path = write_lines(tmp_path / "spans.jsonl", lines)
    logs = FIXTURES / "openai_v2_events.logs.jsonl"
    whole = load_traces(path, logs)
    assert any(session.has_content for session in whole)
    assert _same_as_whole(path, logs) >= 1
    for session in whole:
        alone = load_traces(path, logs, session=session.id)
        assert alone.session(session.id).messages == session.messages


@pytest.mark.parametrize("common", ["chat", "1", "gpt-4o"])
def test_a_session_id_that_is_also_a_common_value(
    tmp_path: Path, exploded: Path, common: str
) -> None:
    """An id such as "1" or "chat" is also a token count, an operation name, a model: the
    lines holding it are many, those naming the session few."""
    data = exploded.read_bytes().replace(
        b'"stringValue":"lisbon"', b'"stringValue":"%s"' % common.encode()
    )
    path = tmp_path / "common.jsonl"
    path.write_bytes(data)
    whole = load_traces(path)
    assert common in whole
    holding = sum(orjson.dumps(common) in line for line in data.splitlines())
    assert holding > 2 * len({s.line for t in whole.session(common).turns for s in t.spans})
    assert _same_as_whole(path) > 8


def test_a_damaged_line_first_among_those_picked_is_a_warning_as_in_the_whole_load(
    tmp_path: Path,
) -> None:
    """Found by the damaged-file test run long: a line naming the session whose
    `resourceSpans` key a byte flip damaged is kept (damaged lines naming the id are), and
    was then the first line read, which a reader takes as the file's first value: "not
    OTLP trace data" raised, while the whole load only warns about that line."""
    lines = [line for source in SOURCES for line in source.read_bytes().splitlines() if line]
    at = next(i for i, line in enumerate(lines) if b'"stringValue":"tl-s2"' in line)
    assert at > 0
    damaged = lines[at].replace(b'"resourceSpans"', b'"r:sourceSpans"', 1)
    path = write_lines(tmp_path / "damaged.jsonl", [*lines[:at], damaged, *lines[at:]])
    whole = load_traces(path)
    assert any(w.line == at + 1 and "not OTLP" in w.message for w in whole.warnings)
    alone = load_traces(path, session="tl-s2")
    assert session_summary(alone, "tl-s2") == session_summary(whole, "tl-s2")
    assert any(w.line == at + 1 and "not OTLP" in w.message for w in alone.warnings)

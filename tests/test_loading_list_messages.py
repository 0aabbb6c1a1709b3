"""Our histories' messages are built by `_rebuild.plain_message` where it can, and never differ.

`plain_message(part, meta)` is `sc.message_from_parts(part, meta)` written straight for the
plain shapes (text, reasoning, tool calls and their responses, plain meta and metrics); it
returns None for anything else, and the general path (`Entries._general`) builds and warns as
before. Each message it builds is compared here with the general path's on the same inputs:
equal values of the same types, the same fields set (the message's and its metrics'), and
none where the general path would have refused the input (a warning) or found a value out of
range. The inputs are what the loader gives `_build` (`Entries.inputs`) for every message of
every committed trace, of damaged copies of them, and real inputs with one value replaced by
one of another type or size.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading_mutations import MUTATIONS, SOURCES, mutate
from test_loading_facts import _write
from test_loading_support import replicated

from definable_trace import DefinableTraceError, Message
from definable_trace import _semconv as sc
from definable_trace._loading._rebuild import (
    _UNREADABLE,
    Chat,
    Entries,
    _out_of_range,
    plain_message,
)
from definable_trace.loading import TraceSet, load_traces

FIXTURES = Path(__file__).parent / "fixtures"
LOGS = FIXTURES / "openai_v2_events.logs.jsonl"
COMMITTED = [p for p in SOURCES if not p.name.endswith(".logs.jsonl")]


def _chats(traces: TraceSet) -> Iterator[Chat]:
    """Every chat span of ours and every run span with a new input, as the turns read them."""
    for session in traces:
        if session.convention != "definable":
            continue
        for turn in session.turns:
            source: Any = turn._source
            yield from source.chats
            if source.run_input is not None:
                yield source.run_input


def _inputs(traces: TraceSet) -> Iterator[tuple[Entries, dict[str, Any], Any, int]]:
    """What `_build` is given for every message of every chat (its own list and answer)."""
    for chat in _chats(traces):
        entries = chat.messages.entries(chat)
        indexes = [*range(chat.messages.count(chat)), *([-1] if chat.has_output else [])]
        for part, meta, j in entries.inputs(indexes):
            yield entries, part, meta, j


def _general(part: dict[str, Any], meta: dict[str, Any]) -> Message | None:
    """The general path's message, None where it warns (`Entries._general`)."""
    try:
        message = sc.message_from_parts(part, meta)
    except _UNREADABLE:
        return None
    return message if _out_of_range(message) is None else None


def _described(message: Message) -> tuple[str, frozenset[str], frozenset[str] | None]:
    """Values with their types (`repr` tells 1 from 1.0 and True), and the fields set."""
    metrics = message.metrics
    return (
        repr(message),
        frozenset(message.model_fields_set),
        frozenset(metrics.model_fields_set) if metrics is not None else None,
    )


def _check(part: dict[str, Any], meta: Any) -> bool:
    """`plain_message` builds what the general path builds, or leaves it to it. Whether it
    built the message."""
    fast = plain_message(part, meta)
    if fast is None:
        return False
    slow = _general(part, meta)
    assert slow is not None, (part, meta)
    assert fast == slow
    assert _described(fast) == _described(slow)
    return True


def _checked(entries: Entries, part: dict[str, Any], meta: Any, j: int) -> bool:
    """`_check` of one of `_build`'s inputs, with the meta `_build` completes first."""
    meta = meta if isinstance(meta, dict) else {}
    if "id" not in meta or "ts" not in meta:
        meta = {**entries._fallback(j), **meta}
    return _check(part, meta)


def _all_checked(traces: TraceSet) -> tuple[int, int]:
    """(messages built by `plain_message`, messages)."""
    results = [_checked(*found) for found in _inputs(traces)]
    return sum(results), len(results)


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_every_committed_message_is_the_general_paths(path: Path) -> None:
    sources = [path, LOGS] if path.name == "openai_v2_events.jsonl" else [path]
    plain, total = _all_checked(load_traces(*sources))
    if total:
        assert plain > 0  # the plain path was taken


def test_the_plain_path_builds_nearly_every_committed_message() -> None:
    """Not a rare shortcut: of every message of ours in the committed traces, all but those
    with media (and damage) are built by it."""
    plain = total = 0
    for path in COMMITTED:
        sources = [path, LOGS] if path.name == "openai_v2_events.jsonl" else [path]
        found, count = _all_checked(load_traces(*sources))
        plain, total = plain + found, total + count
    assert total > 100
    assert plain > 0.8 * total


def test_histories_are_the_same_whichever_path_builds_them() -> None:
    """A whole history read twice, from two loads: equal, field by field (the plain path
    is deterministic; the general one, which tests/test_loading_roundtrip.py pins to what
    the agent wrote, is compared message by message above)."""
    for path in COMMITTED:
        a, b = load_traces(path), load_traces(path)
        for first, second in zip(a, b, strict=True):
            assert [_described(m) for m in first.messages] == [
                _described(m) for m in second.messages
            ]
        assert [str(w) for w in a.warnings] == [str(w) for w in b.warnings]


@pytest.mark.parametrize(
    "tracing",
    [{}, {"capture_content": False}, {"history": "delta"}],
    ids=["full", "no-content", "compact"],
)
def test_every_message_written_now_is_the_general_paths(
    tmp_path: Path, tracing: dict[str, Any]
) -> None:
    """The one meta list, answers whose counts are on their chat span (read back before
    `_build`), streamed calls, a failed call, a recorded fork, compact mode, no content."""
    path = tmp_path / "t.jsonl"
    _write(path, **tracing)
    plain, total = _all_checked(load_traces(path))
    assert total > 20 and plain == total  # none of these has media or damage


def test_every_message_of_a_replicated_file_is_the_general_paths(tmp_path: Path) -> None:
    """What the bench's many-short file is made of."""
    path = tmp_path / "many.jsonl"
    replicated(path, 2)
    plain, total = _all_checked(load_traces(path))
    assert total > 500 and plain > 0.8 * total


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    source=st.sampled_from(COMMITTED),
    kinds=st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=2),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_messages_of_damaged_files_are_the_general_paths(
    source: Path, kinds: list[str], seed: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / source.name
        path.write_bytes(mutate(source.read_bytes(), kinds, seed))
        try:
            traces = load_traces(path)
        except DefinableTraceError:
            return  # refused as a whole: no message to build
        _all_checked(traces)


# --- real inputs with one value replaced -------------------------------------------------


def _real_inputs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Distinct (part, meta) pairs `_build` is given by the committed traces, its meta
    completed as `_build` does."""
    found: dict[bytes, tuple[dict[str, Any], dict[str, Any]]] = {}
    for path in COMMITTED:
        for entries, part, meta, j in _inputs(load_traces(path)):
            meta = meta if isinstance(meta, dict) else {}
            if "id" not in meta or "ts" not in meta:
                meta = {**entries._fallback(j), **meta}
            key = orjson.dumps([part, meta], option=orjson.OPT_SORT_KEYS)
            found.setdefault(key, (part, meta))
    return list(found.values())


REAL = _real_inputs()

_WRONG: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**53,
    -(2**53),
    2**70,
    1.5,
    float("nan"),
    float("inf"),
    "",
    "x",
    "12",
    "robot",
    "system",
    [],
    {},
    [1, "a", None],
    {"type": "text"},
    {"type": "text", "content": 5},
    {"type": "tool_call", "arguments": [1]},
    {"type": "tool_call", "arguments": {"deep": [[[[{}]]]]}},
    {"type": "uri", "uri": "https://example.com/a.png"},
    {"input_tokens": True},
    {"input_tokens": "7", "output_tokens": 1},
    {"duration": 1e308, "time_to_first_token": None},
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_paths(item, (*prefix, i)))
    return out


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    step, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[step] = _replaced(value[step], rest, new)
    return copy


@settings(max_examples=600, deadline=None, derandomize=True, database=None)
@given(
    pair=st.sampled_from(REAL),
    where=st.integers(min_value=0, max_value=10**6),
    wrong=st.sampled_from(_WRONG),
    added=st.booleans(),
)
def test_real_inputs_with_a_wrong_value_are_the_general_paths(
    pair: tuple[dict[str, Any], dict[str, Any]], where: int, wrong: Any, added: bool
) -> None:
    """One value of a real part or meta entry replaced (or a key added beside it) by one of
    another type or size: built the same, or left to the general path."""
    data = [pair[0], pair[1]]
    paths = _paths(data)[1:]
    path = paths[where % len(paths)]
    if added:  # a new key in the object at that path, else a value appended to a list
        rng = random.Random(where)
        parent = path if isinstance(_at(data, path), (dict, list)) else path[:-1]
        target = _at(data, parent)
        key = rng.choice(["name", "content", "metrics", "tool_call_id", "ts", "id", "role"])
        if isinstance(target, dict):
            data = _replaced(data, parent, {**target, key: wrong})
        else:
            data = _replaced(data, parent, [*target, wrong])
    else:
        data = _replaced(data, path, wrong)
    part, meta = data
    if isinstance(part, dict) and isinstance(meta, dict):
        _check(part, meta)


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


# --- the shapes, one by one --------------------------------------------------------------

_META = {"id": "m1", "ts": 1_700_000_000}


@pytest.mark.parametrize(
    ("part", "meta"),
    [
        ({"role": "user", "parts": [{"type": "text", "content": "hi"}]}, _META),
        ({"role": "user", "parts": [{"type": "text", "content": None}]}, _META),
        (
            {
                "role": "user",
                "parts": [{"type": "text", "content": c} for c in ("a", "b", "c")],
            },
            _META,
        ),
        ({"role": "user", "parts": []}, {**_META, "role": "system"}),
        ({"parts": [{"type": "text", "content": "x"}]}, _META),
        ({"role": "user", "name": "ann", "parts": []}, _META),
        (
            {"role": "assistant", "parts": [{"type": "reasoning", "content": "hm"}]},
            {**_META, "metrics": {"input_tokens": 3, "output_tokens": 2}},
        ),
        (
            {
                "role": "assistant",
                "parts": [
                    {"type": "tool_call", "id": "c1", "name": "f", "arguments": {"a": 1}},
                    {"type": "tool_call", "id": None, "name": None, "arguments": None},
                    {"type": "tool_call", "id": "c3", "name": "g", "arguments": '{"b":2}'},
                ],
            },
            {**_META, "metrics": {"duration": 0.1234567, "time_to_first_token": None}},
        ),
        (
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": "c1", "response": "ok"}],
            },
            {**_META, "tool_call_id": "c1"},
        ),
        (
            {"role": "tool", "parts": [{"type": "tool_call_response", "response": None}]},
            _META,
        ),
        (
            {"role": "assistant", "parts": [{"type": "text", "content": "x"}]},
            {**_META, "metrics": {"input_tokens": 1, "total_tokens": 9, "duration": 2}},
        ),
    ],
)
def test_plain_shapes_are_built_plainly_and_the_same(
    part: dict[str, Any], meta: dict[str, Any]
) -> None:
    assert _check(part, meta)


@pytest.mark.parametrize(
    ("part", "meta"),
    [
        ({"role": "robot", "parts": []}, _META),  # not a role: the general path warns
        ({"role": "user", "parts": [{"type": "uri", "uri": "https://x/a.png"}]}, _META),
        ({"role": "user", "parts": [{"type": "text", "content": {"a": 1}}]}, _META),
        ({"role": "user", "parts": ["text"]}, _META),
        ({"role": "user", "parts": "text"}, _META),
        ({"role": "user", "parts": []}, {**_META, "ts": 2**53}),
        ({"role": "user", "parts": []}, {**_META, "ts": True}),
        ({"role": "user", "parts": []}, {**_META, "ts": "1700000000"}),
        ({"role": "user", "parts": []}, {**_META, "id": 7}),
        ({"role": "user", "parts": []}, {**_META, "metrics": [1]}),
        ({"role": "user", "parts": []}, {**_META, "metrics": {"input_tokens": True}}),
        ({"role": "user", "parts": []}, {**_META, "metrics": {"input_tokens": 2**53}}),
        ({"role": "user", "parts": []}, {**_META, "metrics": {"output_tokens": "3"}}),
        ({"role": "user", "parts": []}, {**_META, "metrics": {"duration": "fast"}}),
        ({"role": "user", "name": 5, "parts": []}, _META),
    ],
)
def test_other_shapes_are_left_to_the_general_path(
    part: dict[str, Any], meta: dict[str, Any]
) -> None:
    assert plain_message(part, meta) is None

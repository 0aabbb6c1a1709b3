"""The span layout's byte-saving choices, and that the loader reads both layouts.

Since issue 7 point 4 a chat span leaves the run id and turn number to its parent run span,
meta entries leave out what reading restores, and the run span carries no usage, model or mime
types. Files written before (`fixtures/layout-v1.jsonl`, by the writer at commit 4e3ad5a) must
still rebuild exactly; so must a file whose run spans are missing (a process killed mid-run).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_loading_support import Reply, ToolCallReply, attribute, conversation, spans_of

from definable_trace import Message, Metrics, OpenAIChat, configure_tracing, flush_tracing
from definable_trace.agent import Agent
from definable_trace.loading import load_traces
from definable_trace.testing import FakeOpenAIServer

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_file_of_the_previous_layout_rebuilds_exactly() -> None:
    path = FIXTURES / "layout-v1.jsonl"
    expected = json.loads((FIXTURES / "layout-v1.expected.json").read_text())
    chats = [s for _, s in spans_of(path) if s["name"].startswith("chat")]
    assert chats and all(  # the fixture is the old layout: the run id on every chat span
        any(a["key"] == "definable_trace.run.id" for a in s["attributes"]) for s in chats
    )
    traces = load_traces(path)
    session = traces.session("v1")
    assert session.messages == [Message.model_validate(m) for m in expected["messages"]]
    assert [t.run_id for t in session.turns] == expected["run_ids"]
    assert [t.index for t in session.turns] == [1, 2]
    assert traces.warnings == []


def _without_run_spans(source: Path, target: Path) -> None:
    lines = []
    for line in source.read_bytes().splitlines():
        body: dict[str, Any] = orjson.loads(line)
        for resource in body["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                scope["spans"] = [s for s in scope["spans"] if s["name"] != "invoke_agent tester"]
        lines.append(orjson.dumps(body))
    target.write_bytes(b"\n".join(lines) + b"\n")


def test_chat_spans_whose_run_span_is_missing_still_make_their_turns(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    script = [
        Reply(content="Hello!"),
        Reply(tool_calls=[ToolCallReply("weather", {"city": "Paris"})]),
        Reply(content="Sunny."),
    ]
    outputs = conversation(path, script, ["hi", "weather in Paris?"])
    cut = tmp_path / "cut.jsonl"
    _without_run_spans(path, cut)
    assert not [s for _, s in spans_of(cut) if s["name"].startswith("invoke_agent")]
    session = load_traces(cut).session("s1")
    # The turns are found by their chats' parent span; the history is exact.
    assert len(session.turns) == 2
    assert session.messages == outputs[-1].messages
    # The tool span still names its run (and turn); the chats of that run join it.
    assert session.turns[1].run_id == outputs[1].run_id
    assert [len(t.model_calls) for t in session.turns] == [1, 2]


def test_the_new_layout_round_trips_through_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    script = [Reply(content="Hello!"), Reply(content="Fine.")]
    outputs = conversation(path, script, ["hi", "how are you?"])
    session = load_traces(path).session("s1")
    assert session.messages == outputs[-1].messages
    assert [t.run_id for t in session.turns] == [o.run_id for o in outputs]
    assert [t.index for t in session.turns] == [1, 2]


def _history() -> list[Message]:
    """A history made at different times, some in the same second, with metrics on answers."""
    m = Metrics
    return [
        Message(role="system", content="Be brief.", created_at=1_000),
        Message(role="user", content="a", created_at=1_000),
        Message(role="assistant", content="b", created_at=1_000, metrics=m(input_tokens=3)),
        Message(role="user", content="c", created_at=2_000),
        Message(role="assistant", content="d", created_at=2_000, metrics=m(output_tokens=9)),
        Message(role="user", content="e", created_at=2_001),
        Message(
            role="assistant",
            content="f",
            created_at=2_001,
            metrics=m(input_tokens=5, output_tokens=1, cache_read_tokens=2, duration=0.5),
        ),
    ]


@pytest.mark.parametrize(
    "tracing",
    [{}, {"capture_content": False}, {"history": "delta"}],
    ids=["full", "no-content", "compact"],
)
def test_left_out_times_and_counts_are_read_back(tmp_path: Path, tracing: dict[str, Any]) -> None:
    path = tmp_path / "t.jsonl"
    configure_tracing(path, **tracing)
    script = [Reply(content="one"), Reply(content="two")]
    with FakeOpenAIServer(script) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model)
        first = agent.run("g", messages=_history(), session_id="t")
        second = agent.run("h", messages=first.messages, session_id="t")
    flush_tracing()
    metas = [
        orjson.loads(attribute(s, "definable_trace.messages")["stringValue"])
        for _, s in spans_of(path)
        if s["name"].startswith("chat")
    ]
    assert "ts" not in metas[0][1] and metas[0][3]["ts"] == 2_000  # repeated: left out
    session = load_traces(path).session("t")
    if tracing.get("capture_content") is False:  # no text: ids, times, roles and metrics
        rebuilt = session.messages
        assert [(m.id, m.role, m.created_at, m.metrics) for m in rebuilt] == [
            (m.id, m.role, m.created_at, m.metrics) for m in second.messages
        ]
    else:
        assert session.messages == second.messages


def test_meta_lists_without_roles_are_still_cut_without_parsing() -> None:
    """The loader's `TextStore` counts a shared list's elements by what starts each: `{"id":`
    in meta lists written with content (no role), `{"role":` in the others."""
    from definable_trace._loading._store import TextStore

    entries = [{"id": f"{i:032x}", "ts": 1_000 + i, "metrics": {"duration": 0.5}} for i in range(9)]
    with_media = [*entries, {"id": "m", "media": [{"id": "file-1", "kind": "file"}]}]
    for items, countable in ((entries, True), (with_media, False)):
        store = TextStore()
        texts = [orjson.dumps(items[:n]).decode() for n in (4, 7, len(items))]
        refs = [store.share("s", "meta", t) for t in texts]
        assert [store.count(r) for r in refs] == [4, 7, len(items)]
        assert [store.items(r) for r in refs] == [items[:4], items[:7], items]
        # An `{"id":` nested in an element (a media entry's) makes counting unsafe: parsed.
        assert bool(store._countable[0]) is countable


@pytest.mark.parametrize("capture", [True, False], ids=["content", "no-content"])
def test_a_run_whose_input_is_not_one_user_message_round_trips(
    tmp_path: Path, capture: bool
) -> None:
    """The run span then holds its input's meta list too (written with the same cuts)."""
    path = tmp_path / "t.jsonl"
    configure_tracing(path, capture_content=capture)
    history = _history()[:3]
    note = Message(role="assistant", content="(a note)", created_at=5_000)
    with FakeOpenAIServer([Reply(content="one"), Reply(content="two")]) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model)
        first = agent.run(note, messages=history, session_id="r")  # an assistant message
        second = agent.run(None, messages=first.messages, session_id="r")  # no new input
    flush_tracing()
    session = load_traces(path).session("r")
    key = (lambda m: m) if capture else (lambda m: (m.id, m.role, m.created_at, m.metrics))
    assert [key(m) for m in session.messages] == [key(m) for m in second.messages]
    assert [key(m) for m in session.turns[0].messages] == [key(m) for m in first.messages[3:]]

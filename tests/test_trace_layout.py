"""The span layout's byte-saving choices, and that the loader reads both layouts.

Since issue 7 point 4 a chat span leaves the run id and turn number to its parent run span,
meta entries leave out what reading restores, and the run span carries no usage, model or mime
types. Files written before (`fixtures/layout-v1.jsonl`, by the writer at commit 4e3ad5a) must
still rebuild exactly; so must a file whose run spans are missing (a process killed mid-run).
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_loading_support import (
    Reply,
    ToolCallReply,
    attribute,
    conversation,
    spans_of,
    weather,
)

from definable_trace import (
    Message,
    Metrics,
    ModelError,
    OpenAIChat,
    configure_tracing,
    flush_tracing,
)
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


# --- issue 7 point 4, the ids and the one meta list -------------------------------------------

HEX16 = re.compile("[0-9a-f]{16}")


def _has(span: dict[str, Any], key: str) -> bool:
    return any(a["key"] == key for a in span["attributes"])


def _layout_v2() -> dict[str, Any]:
    expected: dict[str, Any] = json.loads((FIXTURES / "layout-v2.expected.json").read_text())
    return expected


@pytest.mark.parametrize("session", ["v2", "v2-off"])
def test_a_file_of_the_two_list_layout_rebuilds_exactly(session: str) -> None:
    """Written at commit 127e583: the run id (a uuid) on the run span, two meta lists per chat
    span, 32-hex ids; with content (`v2`) and without (`v2-off`)."""
    path = FIXTURES / "layout-v2.jsonl"
    chats = [s for _, s in spans_of(path) if s["name"].startswith("chat")]
    keys = {a["key"] for s in chats for a in s["attributes"]}
    assert {"definable_trace.input.messages.meta", "definable_trace.output.messages.meta"} <= keys
    assert "definable_trace.messages" not in keys
    expected = _layout_v2()[session]
    traces = load_traces(path)
    rebuilt = traces.session(session)
    messages = [Message.model_validate(m) for m in expected["messages"]]
    if session == "v2":
        assert rebuilt.messages == messages
    else:  # no text: ids, roles, times and metrics exact
        key = [(m.id, m.role, m.created_at, m.metrics, m.tool_call_id) for m in messages]
        assert [
            (m.id, m.role, m.created_at, m.metrics, m.tool_call_id) for m in rebuilt.messages
        ] == key
    assert [t.run_id for t in rebuilt.turns] == expected["run_ids"]
    assert [len(t.model_calls) for t in rebuilt.turns] == [1, 2]
    # The one warning: the session without content (said once, whatever the layout).
    [warning] = traces.warnings
    assert "carry no message content" in warning.message and "(v2-off)" in warning.message


def test_the_run_id_is_the_run_spans_id_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    script = [
        Reply(content="Hello!"),
        Reply(tool_calls=[ToolCallReply("weather", {"city": "Paris"})]),
        Reply(content="Sunny."),
    ]
    outputs = conversation(path, script, ["hi", "weather in Paris?"])
    spans = [s for _, s in spans_of(path)]
    runs = [s for s in spans if s["name"].startswith("invoke_agent")]
    assert [s["spanId"] for s in runs] == [o.run_id for o in outputs]
    assert all(HEX16.fullmatch(o.run_id) for o in outputs)
    assert not [s for s in spans if _has(s, "definable_trace.run.id")]
    session = load_traces(path).session("s1")
    assert [t.run_id for t in session.turns] == [o.run_id for o in outputs]
    assert session.messages == outputs[-1].messages


def test_a_run_id_the_caller_gives_is_written_on_the_run_span_and_reloads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.jsonl"
    configure_tracing(path)
    script = [Reply(tool_calls=[ToolCallReply("weather", {"city": "Rome"})]), Reply(content="ok")]
    with FakeOpenAIServer(script) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model, "Be brief.", tools=[weather])
        first = agent.run("weather?", session_id="c", run_id="order-42/1")
    flush_tracing()
    assert first.run_id == "order-42/1"
    spans = [s for _, s in spans_of(path)]
    marked = [s["name"] for s in spans if _has(s, "definable_trace.run.id")]
    assert marked == ["invoke_agent"]  # not on its chat and tool spans: their parent says it
    assert attribute(spans[-1], "definable_trace.run.id") == {"stringValue": "order-42/1"}
    session = load_traces(path).session("c")
    assert [t.run_id for t in session.turns] == ["order-42/1"]
    assert [len(t.model_calls) for t in session.turns] == [2]
    assert session.messages == first.messages


def test_generated_ids_are_16_hex_digits_and_given_ones_are_kept(tmp_path: Path) -> None:
    from opentelemetry.trace import NoOpTracerProvider

    assert HEX16.fullmatch(Message(role="user", content="x").id)
    assert Message(role="user", content="x", id="mine").id == "mine"
    configure_tracing(tracer_provider=NoOpTracerProvider())  # no span: a random run id
    with FakeOpenAIServer([Reply(content="a"), Reply(content="b"), Reply(content="c")]) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model)
        one, two = agent.run("hi"), agent.run("hi")
        given = agent.run("hi", session_id="user-7-chat", run_id="r")
    for output in (one, two):
        assert HEX16.fullmatch(output.session_id) and HEX16.fullmatch(output.run_id)
        assert all(HEX16.fullmatch(m.id) for m in output.messages)
    assert one.session_id != two.session_id and one.run_id != two.run_id
    assert (given.session_id, given.run_id) == ("user-7-chat", "r")


def _messages_attribute(span: dict[str, Any]) -> str:
    value = attribute(span, "definable_trace.messages")
    assert value is not None, span["name"]
    text: str = value["stringValue"]
    return text


def test_one_meta_list_per_chat_span_is_a_prefix_of_the_next(tmp_path: Path) -> None:
    """The messages sent, then the answer (in the form the next call's list gives it), so the
    loader's store keeps a conversation's lists once; the span's usage marks the answer. The
    session's own answers leave their token counts to their chat spans in every list; the
    answers of the history given keep theirs (`output_tokens` even when 0)."""
    path = tmp_path / "t.jsonl"
    configure_tracing(path)
    history = _history()  # made long ago: no first entry's time is left out as the start's
    script = [
        Reply(tool_calls=[ToolCallReply("weather", {"city": "Oslo"})], prompt_tokens=9),
        Reply(content="Cold.", prompt_tokens=11, completion_tokens=2),
        Reply(content="Yes.", prompt_tokens=15, completion_tokens=1),
    ]
    with FakeOpenAIServer(script) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model, tools=[weather])
        first = agent.run("weather in Oslo?", messages=history, session_id="p")
        second = agent.run("sure?", messages=first.messages, session_id="p")
    flush_tracing()
    chats = [s for _, s in spans_of(path) if s["name"].startswith("chat")]
    keys = {a["key"] for s in chats for a in s["attributes"]}
    assert not {"definable_trace.input.messages.meta", "definable_trace.output.messages.meta"} & (
        keys
    )
    lists = [_messages_attribute(s) for s in chats]
    assert [len(orjson.loads(t)) for t in lists] == [9, 11, 13]  # sent + the answer
    for shorter, longer in itertools.pairwise(lists):
        assert longer.startswith(shorter[:-1] + ",")
    last = orjson.loads(lists[-1])
    assert [e["id"] for e in last] == [m.id for m in second.messages]
    counts = {"input_tokens", "output_tokens", "cache_read_tokens"}
    given = {m.id for m in history}
    for entry, message in zip(last, second.messages, strict=True):
        if message.metrics is None:
            assert "metrics" not in entry
        elif message.id in given:  # inherited: the counts are here, output_tokens always
            assert entry["metrics"]["output_tokens"] == message.metrics.output_tokens
            assert counts & set(entry["metrics"]) >= {"output_tokens"}
        else:  # answered in this session: its chat span's usage holds them
            assert not counts & set(entry["metrics"])
    assert last[2]["metrics"] == {"input_tokens": 3, "total_tokens": 0, "output_tokens": 0}
    session = load_traces(path).session("p")
    assert session.messages == second.messages
    assert [c.output_message for c in session.turns[0].model_calls] == first.messages[8:11:2]


@pytest.mark.parametrize("capture", [True, False], ids=["content", "no-content"])
def test_a_failed_call_has_no_answer_entry_and_reloads_exactly(
    tmp_path: Path, capture: bool
) -> None:
    path = tmp_path / "t.jsonl"
    configure_tracing(path, capture_content=capture)
    script = [Reply(content="Hello!"), Reply(status=400, error_message="bad request")]
    with FakeOpenAIServer(script) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model, "Be brief.")
        first = agent.run("hi", session_id="f")
        with pytest.raises(ModelError):
            agent.run("again", messages=first.messages, session_id="f")
    flush_tracing()
    chats = [s for _, s in spans_of(path) if s["name"].startswith("chat")]
    failed = orjson.loads(_messages_attribute(chats[1]))
    assert [e["id"] for e in failed[:3]] == [m.id for m in first.messages] and len(failed) == 4
    assert not _has(chats[1], "gen_ai.usage.output_tokens")  # so: no answer in it
    assert _has(chats[0], "gen_ai.usage.output_tokens")
    session = load_traces(path).session("f")

    def key(m: Message) -> Any:
        return m if capture else (m.id, m.role, m.created_at, m.metrics)

    assert [key(m) for m in session.turns[0].history] == [key(m) for m in first.messages]
    [call] = session.turns[1].model_calls
    assert call.output_message is None
    sent = call.input_messages
    assert sent is not None and len(sent) == 4
    assert [key(m) for m in sent[:3]] == [key(m) for m in first.messages]
    assert sent[3].id == failed[3]["id"] and sent[3].role == "user"
    assert (sent[3].content == "again") is capture


def test_times_are_kept_to_the_microsecond_and_read_back_equal(tmp_path: Path) -> None:
    """`Metrics` rounds its times where they are set (construction and assignment), so a trace
    holds `0.277036`, not `0.27703584499977296`, and what it holds reads back equal."""
    metrics = Metrics(duration=0.27703584499977296, time_to_first_token=1 / 3)
    assert (metrics.duration, metrics.time_to_first_token) == (0.277036, 0.333333)
    metrics.duration = 2 / 3
    assert metrics.duration == 0.666667
    assert (metrics + metrics).duration == 1.333334
    path = tmp_path / "t.jsonl"
    outputs = conversation(path, [Reply(content="Hello!"), Reply(content="Bye.")], ["hi", "bye"])
    [_, chat] = [s for _, s in spans_of(path) if s["name"].startswith("chat")]
    entries = orjson.loads(_messages_attribute(chat))
    times = [e["metrics"]["duration"] for e in entries if "metrics" in e]
    assert len(times) == 2 and all(t > 0 for t in times)
    for value in times:
        assert round(value, 6) == value  # a raw perf_counter difference has 17 digits
    assert load_traces(path).session("s1").messages == outputs[-1].messages

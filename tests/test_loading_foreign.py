"""Traces of other instrumentations, from real library output (see tests/fixtures/README.md).

Every fixture holds the same two conversations, played through the real `openai` client against
`FakeOpenAIServer`: a weather session (system prompt, a tool call and its result, an answer,
then a streamed second turn) and a one-turn greeting. Whatever the convention, the loader must
give the same OpenAI-style history and the same usage per call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from test_loading_support import (
    FIXTURES,
    ToolCallReply,
    attribute,
    conversation,
    request_of,
    spans_of,
)

from definable_trace.loading import Session, load_traces
from definable_trace.testing import Reply

CONVENTIONS = {
    "openai_v2.jsonl": ("openai-v2", "v2-"),
    "openllmetry.jsonl": ("openllmetry", "tl-"),
    "openllmetry_old.jsonl": ("openllmetry", "tl-"),
    "openinference.jsonl": ("openinference", "oi-"),
}

WEATHER_HISTORY = [
    ("system", "You are a terse weather bot.", None, None),
    ("user", "What's the weather in Paris?", None, None),
    ("assistant", None, [("call_w1", "get_weather", '{"city":"Paris"}')], None),
    ("tool", "sunny, 24 °C", None, "call_w1"),
    ("assistant", "Sunny, 24 °C in Paris.", None, None),
    ("user", "And in Tōkyō? 🌸", None, None),
    ("assistant", "Rainy in Tōkyō 🌸, 17 °C.", None, None),
]
CALL_TOKENS = [[(17, 1), (26, 5)], [(41, 6)]]


def shape(session: Session) -> list[tuple[Any, ...]]:
    """The OpenAI-style content of a history, without ids and times."""
    out = []
    for m in session.messages:
        calls = [
            (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in m.tool_calls or ()
        ] or None
        out.append((m.role, m.content, calls, m.tool_call_id))
    return out


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_the_weather_session_reads_the_same_in_every_convention(name: str) -> None:
    convention, prefix = CONVENTIONS[name]
    traces = load_traces(FIXTURES / name)
    assert [s.id for s in traces] == [f"{prefix}s1", f"{prefix}s2"]
    assert traces.warnings == []
    session = traces.session(f"{prefix}s1")
    assert session.convention == convention and session.has_content
    assert not session.id_inferred
    assert shape(session) == WEATHER_HISTORY
    assert [t.index for t in session.turns] == [1, 2]
    tokens = [
        [(c.metrics.input_tokens, c.metrics.output_tokens) for c in t.model_calls]
        for t in session.turns
    ]
    assert tokens == CALL_TOKENS
    assert session.metrics.input_tokens == 84 and session.metrics.output_tokens == 12
    assert session.models == ["gpt-4o-mini"] and session.model_calls == 3


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_turns_group_calls_by_user_message(name: str) -> None:
    _, prefix = CONVENTIONS[name]
    session = load_traces(FIXTURES / name).session(f"{prefix}s1")
    first, second = session.turns
    assert first.input is not None and first.input.content == "What's the weather in Paris?"
    assert [m.role for m in first.messages] == ["user", "assistant", "tool", "assistant"]
    assert [(c.name, c.call_id, c.result) for c in first.tool_calls] == [
        ("get_weather", "call_w1", "sunny, 24 °C")
    ]
    assert [c.response_id for c in first.model_calls] == ["chatcmpl-1", "chatcmpl-2"]
    assert first.model_calls[0].finish_reason in ("tool_calls", "tool_call")
    assert second.messages == session.messages[5:]
    assert session.history(before_turn=2) == session.messages[:5]
    assert first.model_calls[1].input_messages == session.messages[:4]
    assert first.model_calls[1].output_message == session.messages[4]
    answer = session.messages[4]
    assert answer.metrics is not None and answer.metrics.output_tokens == 5


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_message_ids_and_times_are_stable(name: str) -> None:
    _, prefix = CONVENTIONS[name]
    once = load_traces(FIXTURES / name).session(f"{prefix}s1").messages
    again = load_traces(FIXTURES / name).session(f"{prefix}s1").messages
    assert once == again
    assert len({m.id for m in once}) == len(once)
    assert [m.created_at for m in once] == sorted(m.created_at for m in once)


def test_openai_v2_children_inherit_the_session_of_their_invoke_agent_parent() -> None:
    calls = [s for _, s in spans_of(FIXTURES / "openai_v2.jsonl") if s["name"].startswith("chat")]
    assert calls and all(
        a["key"] != "gen_ai.conversation.id" for s in calls for a in s["attributes"]
    )
    session = load_traces(FIXTURES / "openai_v2.jsonl").session("v2-s1")
    assert session.agent_name == "weather-bot"
    assert any(s.name == "invoke_agent weather-bot" for s in session.turns[0].spans)


def test_openllmetry_entity_input_and_output_are_not_messages() -> None:
    raw = (FIXTURES / "openllmetry.jsonl").read_text()
    assert "traceloop.entity.input" in raw and "traceloop.entity.output" in raw
    session = load_traces(FIXTURES / "openllmetry.jsonl").session("tl-s1")
    assert [m.role for m in session.messages].count("user") == 2
    workflows = [s for t in session.turns for s in t.spans if s.name.endswith(".workflow")]
    assert len(workflows) == 2
    assert "Sunny" in workflows[0].attributes["traceloop.entity.output"]


def test_old_and_new_openllmetry_agree() -> None:
    old = load_traces(FIXTURES / "openllmetry_old.jsonl").session("tl-s1")
    new = load_traces(FIXTURES / "openllmetry.jsonl").session("tl-s1")
    assert "gen_ai.prompt.0.content" in old.turns[0].spans[-1].attributes
    assert "gen_ai.input.messages" in new.turns[0].model_calls[0].span.attributes
    assert [(m.role, m.content, m.tool_calls, m.tool_call_id) for m in old.messages] == [
        (m.role, m.content, m.tool_calls, m.tool_call_id) for m in new.messages
    ]


def test_openinference_calls_in_separate_root_traces_form_one_session() -> None:
    session = load_traces(FIXTURES / "openinference.jsonl").session("oi-s1")
    spans = [c.span for t in session.turns for c in t.model_calls]
    assert len({s.trace_id for s in spans}) == 3
    assert all(s.parent_span_id is None for s in spans)
    assert shape(session) == WEATHER_HISTORY


def test_without_content_traces_naming_no_session_are_one_session_each(tmp_path: Path) -> None:
    """Nothing to stitch by (see test_loading_stitch.py): each trace stays its own session."""
    spans = []
    for _, span in spans_of(FIXTURES / "openai_v2_nocontent.jsonl"):
        span["attributes"] = [a for a in span["attributes"] if a["key"] != "gen_ai.conversation.id"]
        spans.append(span)
    path = tmp_path / "nosession.jsonl"
    path.write_bytes(request_of(spans) + b"\n")
    traces = load_traces(path)
    assert len(traces) == 3 and all(s.inferred and not s.stitched for s in traces)
    assert {s.id for s in traces} == {s["traceId"] for s in spans}
    assert all(s.id_inferred for s in traces)  # the old name still answers
    naming, content = traces.warnings
    assert str(naming).startswith(f"{path}:1: 3 trace(s) name no session")
    assert "no message content" in content.message


def test_no_content_is_reported_with_turns_and_usage() -> None:
    traces = load_traces(FIXTURES / "openai_v2_nocontent.jsonl")
    session = traces.session("v2-s1")
    assert not session.has_content
    assert session.messages == []
    assert [len(t.model_calls) for t in session.turns] == [2, 1]
    assert session.metrics.input_tokens == 84 and session.metrics.output_tokens == 12
    assert all(c.input_messages is None for t in session.turns for c in t.model_calls)
    [warning] = traces.warnings
    assert warning.line == 1 and "no message content" in warning.message
    assert "v2-s1, v2-s2" in warning.message


def test_a_file_mixing_conventions_keeps_each_session_whole(tmp_path: Path) -> None:
    ours = tmp_path / "ours.jsonl"
    conversation(ours, [Reply(content="ok")], ["hello"], session_id="ours-1")
    mixed = tmp_path / "mixed.jsonl"
    lines: list[bytes] = []
    for name in [*sorted(CONVENTIONS), "openai_v2_nocontent.jsonl"]:
        lines.extend((FIXTURES / name).read_bytes().splitlines())
    lines.extend(ours.read_bytes().splitlines())
    mixed.write_bytes(b"\n".join(sorted(lines, key=len)) + b"\n")  # any order
    traces = load_traces(mixed)
    by_id = {s.id: s for s in traces}
    assert {s.convention for s in traces} == {
        "definable",
        "openai-v2",
        "openllmetry",
        "openinference",
    }
    assert by_id["ours-1"].messages[-1].content == "ok"
    assert shape(by_id["oi-s1"]) == WEATHER_HISTORY
    assert shape(by_id["v2-s1"]) == WEATHER_HISTORY
    # both OpenLLMetry fixtures use tl-s1: one session, six calls, history from the latest
    assert by_id["tl-s1"].model_calls == 6
    assert [s.start for s in traces] == sorted(s.start for s in traces)


def test_a_model_call_made_inside_our_tool_is_not_part_of_the_conversation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ours.jsonl"
    script = [Reply(tool_calls=[ToolCallReply("weather", {"city": "Nice"})]), Reply(content="done")]
    [output] = conversation(path, script, ["weather?"])
    [(_, tool)] = [(r, s) for r, s in spans_of(path) if s["name"].startswith("execute_tool")]
    [(_, v2_call)] = [
        (r, s) for r, s in spans_of(FIXTURES / "openai_v2.jsonl") if s["name"].startswith("chat")
    ][:1]
    v2_call = {**v2_call, "traceId": tool["traceId"], "parentSpanId": tool["spanId"]}
    with path.open("ab") as f:
        f.write(request_of([v2_call]) + b"\n")
    session = load_traces(path).session("s1")
    assert session.convention == "definable"
    assert session.messages == output.messages
    assert session.model_calls == 2
    assert v2_call["spanId"] in {s.span_id for s in session.turns[0].spans}


def test_fixture_attributes_are_what_the_libraries_wrote() -> None:
    """Guards the fixtures themselves: each carries its library's own markers."""
    markers = {
        "openai_v2.jsonl": "gen_ai.input.messages",
        "openllmetry.jsonl": "traceloop.association.properties.session_id",
        "openllmetry_old.jsonl": "gen_ai.prompt.0.role",
        "openinference.jsonl": "llm.input_messages.0.message.role",
    }
    for name, key in markers.items():
        keys = {a["key"] for _, s in spans_of(FIXTURES / name) for a in s["attributes"]}
        assert key in keys, name
    first = next(s for _, s in spans_of(FIXTURES / "openinference.jsonl"))
    assert orjson.loads(attribute(first, "output.value")["stringValue"])["id"] == "chatcmpl-1"


def test_another_instrumentation_in_one_of_our_sessions_makes_it_mixed(tmp_path: Path) -> None:
    path = tmp_path / "ours.jsonl"
    [output] = conversation(path, [Reply(content="ours")], ["first"], session_id="s1")
    v2 = [s for _, s in spans_of(FIXTURES / "openai_v2.jsonl") if s["name"].startswith("chat")][-1]
    v2["attributes"].append({"key": "gen_ai.conversation.id", "value": {"stringValue": "s1"}})
    v2["parentSpanId"] = ""
    with path.open("ab") as f:
        f.write(request_of([v2]) + b"\n")
    session = load_traces(path).session("s1")
    assert session.convention == "mixed"
    assert [t.run_id is not None for t in session.turns] == [False, True]  # by start time
    assert [t.index for t in session.turns] == [1, 2]  # renumbered by start time
    assert session.model_calls == 2
    assert [m.content for m in session.messages] == ["Say hi.", "Hi!", "Be brief.", "first", "ours"]
    assert session.messages[2:] == output.messages

"""Turns whose content is off, cut or stored elsewhere say so, and replay refuses them.

The damaged files are real traces (our agent's, the foreign fixtures) with one attribute
changed the way a backend or an upload hook changes it: Tempo cutting a value at 2,048 bytes,
a processor appending a truncation marker, util-genai's upload hook leaving a `*_ref`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from test_loading_support import FIXTURES, Reply, conversation, request_of, spans_of

from definable_trace.loading import load_traces
from definable_trace.replay import ReplayError, ReplayOptions, replay

TEMPO_LIMIT = 2048


def _rewrite(source: Path, target: Path, change: Any) -> Path:
    """Every span of `source` through `change(span)` (which edits it in place), one per line."""
    lines = []
    for _, span in spans_of(source):
        change(span)
        lines.append(request_of([span]))
    target.write_bytes(b"\n".join(lines) + b"\n")
    return target


def _value(span: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((a["value"] for a in span["attributes"] if a["key"] == key), None)


def test_complete_sessions_are_replayable() -> None:
    for name in ("openai_v2.jsonl", "openinference.jsonl", "openllmetry_old.jsonl"):
        for session in load_traces(FIXTURES / name):
            assert session.replayable
            assert [t.unreplayable for t in session.turns] == [None] * len(session.turns)


def test_a_message_list_cut_by_tempo_flags_its_turn(tmp_path: Path) -> None:
    path = tmp_path / "ours.jsonl"
    long_question = "Tell me about Lisbon. " * 150  # ~3.3 kB: over Tempo's default limit
    conversation(path, [Reply(content="ok"), Reply(content="fine")], ["hi", long_question])

    def cut(span: dict[str, Any]) -> None:
        value = _value(span, "gen_ai.input.messages")
        if value is not None and len(value["stringValue"].encode()) > TEMPO_LIMIT:
            value["stringValue"] = (
                value["stringValue"].encode()[:TEMPO_LIMIT].decode(errors="ignore")
            )

    cut_path = _rewrite(path, tmp_path / "cut.jsonl", cut)
    session = load_traces(cut_path).session("s1")
    first, second = session.turns
    assert first.unreplayable is None
    assert second.unreplayable is not None
    assert "gen_ai.input.messages was truncated" in second.unreplayable
    assert "not valid JSON" in second.unreplayable
    assert not session.replayable
    with pytest.raises(ReplayError, match=r"turn 2: gen_ai.input.messages was truncated"):
        replay(session, ReplayOptions(recorded=True, session_id="again"))


def test_a_value_of_exactly_the_limit_and_a_marker_flag_their_turn(tmp_path: Path) -> None:
    key = "llm.input_messages.1.message.content"

    def exact(span: dict[str, Any]) -> None:
        value = _value(span, "llm.input_messages.0.message.content")
        if value is not None and value["stringValue"] == "Say hi.":
            value["stringValue"] = "x" * TEMPO_LIMIT

    def marked(span: dict[str, Any]) -> None:
        value = _value(span, key)
        if value is not None and value["stringValue"] == "What's the weather in Paris?":
            value["stringValue"] = "What's the weather in…[truncated]"

    source = FIXTURES / "openinference.jsonl"
    traces = load_traces(_rewrite(source, tmp_path / "exact.jsonl", exact))
    hello = traces.session("oi-s2")
    assert (
        hello.turns[0].unreplayable
        == "llm.input_messages.0.message.content was truncated (exactly 2048 bytes, an "
        "attribute size limit)"
    )
    assert traces.session("oi-s1").replayable
    weather = load_traces(_rewrite(source, tmp_path / "marked.jsonl", marked)).session("oi-s1")
    assert (
        weather.turns[0].unreplayable == f"{key} was truncated (it ends with a truncation marker)"
    )
    assert (
        weather.turns[1].unreplayable == f"{key} was truncated (it ends with a truncation marker)"
    )


def test_content_stored_by_reference_flags_its_turn_without_the_reference(tmp_path: Path) -> None:
    secret_url = "https://store.example/messages/1.json?X-Amz-Signature=s3cr3t"

    def upload(span: dict[str, Any]) -> None:
        if _value(span, "gen_ai.input.messages") is None:
            return
        span["attributes"] = [
            a for a in span["attributes"] if not a["key"].startswith("gen_ai.input.messages")
        ]
        span["attributes"].append(
            {"key": "gen_ai.input.messages_ref", "value": {"stringValue": secret_url}}
        )

    path = _rewrite(FIXTURES / "openai_v2.jsonl", tmp_path / "refs.jsonl", upload)
    session = load_traces(path).session("v2-s1")
    reason = session.turns[0].unreplayable
    assert reason is not None and "gen_ai.input.messages_ref" in reason
    assert "by reference" in reason and "s3cr3t" not in reason
    assert not session.replayable


def test_content_off_flags_every_turn() -> None:
    session = load_traces(FIXTURES / "openai_v2_nocontent.jsonl").session("v2-s1")
    assert [t.unreplayable for t in session.turns] == [
        "message content was not recorded (content capture was off)"
    ] * 2
    assert not session.replayable


def test_our_spans_without_content_flag_every_turn(tmp_path: Path) -> None:
    path = tmp_path / "off.jsonl"
    conversation(path, [Reply(content="ok")], ["hi"], capture_content=False)
    session = load_traces(path).session("s1")
    assert session.turns[0].unreplayable is not None
    assert "not recorded" in session.turns[0].unreplayable


def test_the_reason_is_plain_text() -> None:
    """What the CLI prints: one line, no trace content in it."""
    session = load_traces(FIXTURES / "openai_v2_nocontent.jsonl").session("v2-s1")
    reason = session.turns[0].unreplayable
    assert reason is not None and "\n" not in reason
    assert orjson.dumps(reason)  # serialisable for --json

"""`ToolCallPart`, the typed tool call, against the openai SDK's own tool call model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletionMessageToolCall

from definable_trace import _semconv as sc
from definable_trace._semconv import ToolCallPart
from definable_trace.loading import load_traces

FIXTURES = Path(__file__).parent / "fixtures"


def _sdk_call(arguments: str) -> dict[str, Any]:
    call = ChatCompletionMessageToolCall.model_validate(
        {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": arguments}}
    )
    return call.model_dump()


def test_an_sdk_tool_call_reads_and_writes_back_unchanged() -> None:
    for arguments in ('{"a": 1, "b": 2}', "", "not json", '{ "spaced" : true }'):
        dumped = _sdk_call(arguments)
        part = ToolCallPart.from_openai(dumped)
        assert (part.id, part.name, part.arguments) == ("call_1", "add", arguments)
        assert part.to_openai() == dumped
        assert ChatCompletionMessageToolCall.model_validate(part.to_openai()).model_dump() == dumped


def test_damaged_calls_read_as_none_and_write_the_openai_shape() -> None:
    part = ToolCallPart.from_openai({"id": 7, "function": "add"})
    assert (part.id, part.name, part.arguments) == (None, None, None)
    assert part.to_openai() == {
        "id": "",
        "type": "function",
        "function": {"name": "", "arguments": "{}"},
    }
    # another writer's object arguments become the compact JSON the API would have sent
    written = ToolCallPart("c", "f", {"x": [1, 2]}).to_openai()
    assert written["function"]["arguments"] == '{"x":[1,2]}'
    ChatCompletionMessageToolCall.model_validate(written)


@pytest.mark.parametrize("fixture", ["openai_v2.jsonl", "openllmetry.jsonl"])
def test_a_tool_call_part_with_a_damaged_id_loads_and_dumps(tmp_path: Path, fixture: str) -> None:
    """Found by the fuzz test run long: a `tool_call` part whose id is arrays nested a thousand
    deep (JSON that reads, but that neither orjson nor pydantic will write again) was kept as
    the id, and the message ids' hashing then failed with pydantic's own ValueError."""
    deep = "[" * 1000 + "]" * 1000
    lines = []
    for line in (FIXTURES / fixture).read_bytes().splitlines():
        request = orjson.loads(line)
        for span in _spans(request):
            for attribute in span.get("attributes", ()):
                value = attribute["value"].get("stringValue", "")
                if attribute["key"] == sc.INPUT_MESSAGES and '"tool_call"' in value:
                    messages = orjson.loads(value)
                    for message in messages:
                        for part in message.get("parts", ()):
                            if part.get("type") == "tool_call":
                                part["id"], part["name"] = "DEEP", 5
                    text = orjson.dumps(messages).decode().replace('"DEEP"', deep)
                    attribute["value"]["stringValue"] = text
        lines.append(orjson.dumps(request))
    path = tmp_path / fixture
    path.write_bytes(b"\n".join(lines) + b"\n")
    traces = load_traces(path)
    calls = [c for s in traces for m in s.messages for c in m.tool_calls or ()]
    assert any(c["id"] == "" and c["function"]["name"] == "" for c in calls)
    for session in traces:
        for message in session.messages:
            message.model_dump_json()


def _spans(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for r in request["resourceSpans"] for g in r["scopeSpans"] for s in g["spans"]]

"""`ToolCallPart`, the typed tool call, against the openai SDK's own tool call model."""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletionMessageToolCall

from definable_trace._semconv import ToolCallPart


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

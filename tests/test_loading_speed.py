"""The loader's hand-written fast paths give what the libraries they stand in for give.

`_foreign._body` stands in for pydantic's `model_dump(mode="json")` when deriving message ids;
the ids of sessions read from the real fixtures must be exactly the hashes of pydantic's dump.
"""

from __future__ import annotations

import hashlib

import orjson
import pytest
from test_loading_support import FIXTURES

from definable_trace._loading._foreign import _body
from definable_trace.loading import load_traces
from definable_trace.model import Image, Message

FOREIGN = sorted(p.name for p in FIXTURES.glob("*.jsonl") if not p.name.endswith(".logs.jsonl"))


def _library_id(session_id: str, position: int, message: Message) -> str:
    body = message.model_dump(mode="json", exclude={"id", "created_at", "metrics"})
    data = orjson.dumps([session_id, position, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@pytest.mark.parametrize("name", FOREIGN)
def test_foreign_message_ids_are_the_hash_of_pydantics_dump(name: str) -> None:
    traces = load_traces(FIXTURES / name)
    checked = 0
    for session in traces:
        if session.convention == "definable" or session.lineage is not None:
            continue  # ours keep their written ids; a stitched branch derives from its family
        for turn in session.turns:
            for position, message in enumerate(turn.history):
                assert message.id == _library_id(session.id, position, message)
                checked += 1
    if any(s.has_content and s.convention != "definable" for s in traces):
        assert checked > 0


def _dumped(message: Message) -> bytes:
    return orjson.dumps(_body(message), option=orjson.OPT_SORT_KEYS)


def test_the_fast_body_serialises_as_pydantic_does() -> None:
    messages = [
        Message(role="user", content="héllo 東京"),
        Message(
            role="assistant",
            tool_calls=[
                {
                    "id": 7,
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"b":1,"a":[1,2]}', "x": (1, None)},
                }
            ],
            reasoning_content="because",
        ),
        Message(role="tool", content="24", tool_call_id="call_1", name="weather"),
        Message(role="user", content="look", images=[Image(url="https://x/y.png", detail="low")]),
    ]
    for traces in (load_traces(FIXTURES / name) for name in FOREIGN):
        messages += [m for s in traces for m in s.messages]
    for message in messages:
        library = message.model_dump(mode="json", exclude={"id", "created_at", "metrics"})
        assert _dumped(message) == orjson.dumps(library, option=orjson.OPT_SORT_KEYS)


# `_otlp._loads` stands in for `orjson.loads` on every line of a file.

_EDGES = [
    b'{"a":1,"a":2}',
    b'{"n":18446744073709551615,"f":1.0000000000000002,"z":-0.0,"t":0.1e-400}',
    b'  {"s":"\\u00e9\\ud83c\\udf38 \\"q\\" \\n"}  \n',
    b"[]",
]
_BAD = [
    b'"\\ud800"',
    b'"\\udc00x"',
    b"NaN",
    b'"\xff"',
    b'{"a":1} x',
    b'"\x01"',
    b"\xef\xbb\xbf{}",
    b"1e400",
    b"[" * 1100 + b"]" * 1100,
    b'{"resourceSpans":[',
]


def test_lines_decode_as_orjson_decodes_them() -> None:
    from definable_trace._loading._otlp import _loads

    lines = [line for p in sorted(FIXTURES.glob("*.jsonl")) for line in p.read_bytes().splitlines()]
    for line in [*lines, *_EDGES]:
        assert _loads(line) == orjson.loads(line)
    for line in _BAD:
        with pytest.raises(orjson.JSONDecodeError) as ours:
            _loads(line)
        with pytest.raises(orjson.JSONDecodeError) as library:
            orjson.loads(line)
        assert str(ours.value) == str(library.value)

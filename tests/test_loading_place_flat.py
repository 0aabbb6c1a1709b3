"""Flattened messages (OpenLLMetry before 0.55, OpenInference) are gathered by a per-shape plan
and looked up in the load's `Memo` by their names and values (`_flat.span_messages`), with no
dict made per message: the same messages, the same sharing and the same errors, in the same
order, as the plain way (`test_loading_support`'s `span_unflatten`, then `memo_message` on each
dict), on every span of
the committed traces, of damaged versions of them (the fuzz test's mutations) and of awkward
names (an index written twice, one `int` refuses, values that are not strings).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from loading_mutations import damaged_copies
from test_loading_support import memo_message, span_unflatten

from definable_trace import DefinableTraceError
from definable_trace import _semconv as sc
from definable_trace._loading import _openinference, _openllmetry
from definable_trace._loading._calls import Memo
from definable_trace._loading._flat import span_field, span_messages
from definable_trace._loading._load import _Reading
from definable_trace._loading._records import SpanRecord
from definable_trace.model import Message

_PAIRS = (
    (sc.LLM_INPUT_MESSAGES_PREFIX, sc.LLM_OUTPUT_MESSAGES_PREFIX),
    (sc.LEGACY_GEN_AI_PROMPT_PREFIX, sc.LEGACY_GEN_AI_COMPLETION_PREFIX),
)
_BUILDERS: tuple[tuple[str, Callable[[dict[str, Any]], Message]], ...] = (
    (_openinference.NAME, _openinference._message),
    (_openllmetry.NAME, _openllmetry._message),
)
_MUTANTS_PER_SOURCE = 10


def _files(tmp: Path) -> Iterator[Path]:
    """The committed traces, then damaged versions of each (the same ones every run)."""
    return damaged_copies(tmp, _MUTANTS_PER_SOURCE, seed=20261131)


def _value(value: object) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": value}


def _awkward(tmp: Path) -> Path:
    """Indexes written twice (`01` and `1`), a superscript index, values of other types,
    tool calls and contents nested under messages, the same message on two spans."""
    names: list[tuple[str, object]] = [
        ("llm.input_messages.1.message.role", "user"),
        ("llm.input_messages.01.message.role", "assistant"),
        ("llm.input_messages.0.message.content", "first"),
        ("llm.input_messages.0.message.role", "system"),
        ("llm.input_messages.2.message.role", "user"),
        ("llm.input_messages.2.message.content", 7),
        ("llm.input_messages.3.message.role", "user"),
        ("llm.input_messages.3.message.contents.0.message_content.type", "text"),
        ("llm.input_messages.3.message.contents.0.message_content.text", "hi"),
        ("llm.output_messages.0.message.role", "assistant"),
        ("llm.output_messages.0.message.tool_calls.1.tool_call.id", "b"),
        ("llm.output_messages.0.message.tool_calls.0.tool_call.id", "a"),
        ("llm.output_messages.0.message.tool_calls.0.tool_call.function.name", "f"),
        ("gen_ai.prompt.0.role", "user"),
        ("gen_ai.prompt.0.content", ["a", "list"]),
        ("gen_ai.prompt.1.role", "user"),
        ("gen_ai.prompt.1.content", "same"),
        ("gen_ai.completion.0.role", "assistant"),
        ("gen_ai.completion.0.finish_reason", 3),
        ("gen_ai.completion.1.role", "assistant"),
        ("gen_ai.completion.1.finish_reason", "stop"),
        ("openinference.span.kind", "LLM"),
    ]
    lines = []
    superscript: list[tuple[str, object]] = [("llm.input_messages.\u00b2.role", "user")]
    for n, chosen in enumerate([names, names[:5], superscript]):
        trace = hashlib.md5(str(n).encode()).hexdigest()
        span = {
            "traceId": trace,
            "spanId": trace[:16],
            "name": "ChatCompletion",
            "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000001000000000",
            "attributes": [{"key": k, "value": _value(v)} for k, v in chosen],
        }
        lines.append(orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}))
    path = tmp / "awkward.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture(scope="module")
def spans(tmp_path_factory: pytest.TempPathFactory) -> list[SpanRecord]:
    tmp = tmp_path_factory.mktemp("flat")
    found: list[SpanRecord] = []
    for path in [*_files(tmp), _awkward(tmp)]:
        reading = _Reading()
        with contextlib.suppress(DefinableTraceError):
            reading.source(path)
        found.extend(reading.index.spans.values())
    return found


def _plain(
    span: SpanRecord,
    prefixes: tuple[str, ...],
    kind: str,
    build: Callable[[dict[str, Any]], Message],
    memo: Memo | None,
) -> list[list[Message]]:
    lists = [span_unflatten(span, prefix) for prefix in prefixes]
    return [[memo_message(memo, kind, m, build) for m in found] for found in lists]


def _outcome(run: Callable[..., list[list[Message]]], *args: Any) -> Any:
    try:
        return ("ok", [[m.model_dump() for m in found] for found in run(*args)])
    except (ValueError, TypeError) as exc:
        return ("raised", type(exc).__name__, str(exc))


def test_flattened_messages_are_the_plain_ones(spans: list[SpanRecord]) -> None:
    built = raised = 0
    for kind, build in _BUILDERS:
        memos = (Memo(), Memo())
        for span in spans:
            for prefixes in _PAIRS:
                for memo, plain_memo in (memos, (None, None)):
                    found = _outcome(span_messages, span, prefixes, kind, build, memo)
                    assert found == _outcome(_plain, span, prefixes, kind, build, plain_memo)
                    built += found[0] == "ok" and sum(map(len, found[1]))
                    raised += found[0] == "raised"
    assert built > 1000 and raised > 0


def test_messages_are_shared_as_the_plain_way_shares_them(spans: list[SpanRecord]) -> None:
    """Within one memo, two messages are one object exactly when the plain way's are."""
    for kind, build in _BUILDERS:
        memo, plain_memo = Memo(), Memo()
        ours: list[Message] = []
        theirs: list[Message] = []
        for span in spans:
            for prefixes in _PAIRS:
                with contextlib.suppress(ValueError, TypeError):
                    theirs.extend(
                        m for f in _plain(span, prefixes, kind, build, plain_memo) for m in f
                    )
                    ours.extend(
                        m for f in span_messages(span, prefixes, kind, build, memo) for m in f
                    )
        assert len(ours) == len(theirs) > 100
        first_ours: dict[int, int] = {}
        first_theirs: dict[int, int] = {}
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert first_ours.setdefault(id(a), i) == first_theirs.setdefault(id(b), i)


def test_a_field_of_every_message_is_the_plain_one(spans: list[SpanRecord]) -> None:
    seen = 0
    for span in spans:
        for prefix in (p for pair in _PAIRS for p in pair):
            for name in ("finish_reason", "role", "message.role"):
                try:
                    plain: Any = [m[name] for m in span_unflatten(span, prefix) if name in m]
                except ValueError as exc:
                    plain = ("raised", str(exc))
                try:
                    found: Any = span_field(span, prefix, name)
                except ValueError as exc:
                    found = ("raised", str(exc))
                assert found == plain
                seen += isinstance(found, list) and len(found)
    assert seen > 100

"""Attribute values no JSON writer takes back: found by the fuzz test run long (20,000 examples,
random seeds), each made here on a real trace, each failing before its fix.

- JSON where a string belongs (`"stringValue": [[...]]`), nested far deeper than the levels
  `any_value` allows nested `AnyValue`s: kept as read, it made the content's text fail later.
- Integers beyond 64 bits, which JSON allows and orjson does not write (a tool call's
  arguments, a message content): `compact_json` writes them.
- Times that are no finite number (`"NaN"`, which pydantic reads as one): no measurement.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from loading_mutations import touch_everything

from definable_trace import Metrics
from definable_trace import _semconv as sc
from definable_trace.loading import load_traces

ROOT = Path(__file__).parent.parent
_BIG = 2**70
_DEEP_ANY = '{"arrayValue":{"values":[' * 100 + '{"stringValue":"x"}' + "]}}" * 100


def _rewritten(source: Path, key: str, value: str, out: Path) -> Path:
    """`source` with the JSON `value` (text, spliced as is) for every attribute `key`."""
    lines = []
    for line in source.read_bytes().splitlines():
        request = orjson.loads(line)
        for resource in request.get("resourceSpans", ()):
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    for attribute in span.get("attributes", ()):
                        if attribute["key"] == key:
                            attribute["value"] = "SPLICED"
        lines.append(orjson.dumps(request).replace(b'"SPLICED"', value.encode()))
    out.write_bytes(b"\n".join(lines) + b"\n")
    return out


def test_deep_json_as_a_string_value_skips_the_span_with_a_warning(tmp_path: Path) -> None:
    source = ROOT / "tests" / "fixtures" / "openllmetry_old.jsonl"
    key = "gen_ai.completion.0.content"
    path = _rewritten(source, key, '{"stringValue":' + _DEEP_ANY + "}", tmp_path / "deep.jsonl")
    traces = load_traces(path)
    touch_everything(traces)
    assert any("nested deeper than 64 levels" in str(w) for w in traces.warnings)
    # the same nesting as an array of values says the same, as before
    other = _rewritten(source, key, _DEEP_ANY, tmp_path / "deep-any.jsonl")
    assert any("nested deeper than 64 levels" in str(w) for w in load_traces(other).warnings)


def test_an_integer_beyond_64_bits_as_a_content_is_its_text(tmp_path: Path) -> None:
    source = ROOT / "tests" / "fixtures" / "openllmetry_old.jsonl"
    key = "gen_ai.completion.0.content"
    value = '{"arrayValue":{"values":[{"intValue":"' + str(_BIG) + '"}]}}'
    path = _rewritten(source, key, value, tmp_path / "big.jsonl")
    traces = load_traces(path)
    touch_everything(traces)
    contents = [m.content for s in traces for m in s.messages]
    assert f"[{_BIG}]" in contents


def test_tool_arguments_beyond_64_bits_are_their_text(tmp_path: Path) -> None:
    source = ROOT / "sample_traces" / "tools.jsonl"
    value = '{"kvlistValue":{"values":[{"key":"n","value":{"intValue":"' + str(_BIG) + '"}}]}}'
    path = _rewritten(source, sc.GEN_AI_TOOL_CALL_ARGUMENTS, value, tmp_path / "big.jsonl")
    traces = load_traces(path)
    touch_everything(traces)
    arguments = {c.arguments for s in traces for t in s.turns for c in t.tool_calls}
    assert f'{{"n":{_BIG}}}' in arguments


@pytest.mark.parametrize(
    "value",
    [None, True, 1.5, "é", [1, "a", None], {"b": 1, "a": [2]}, 2**63 - 1, -(2**63)],
)
def test_compact_json_is_orjson_where_orjson_writes(value: Any) -> None:
    assert sc.compact_json(value) == orjson.dumps(value).decode()


def test_compact_json_writes_what_orjson_refuses_as_the_standard_library_does() -> None:
    value = {"n": _BIG, "m": [-_BIG, "é"]}
    assert sc.compact_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(sc.compact_json(value)) == value
    with pytest.raises(TypeError):
        sc.compact_json({"n": _BIG, "b": b"bytes"})  # no JSON, as orjson says
    assert sc.compact_json({"n": _BIG, "b": b"x"}, default=str) == f'{{"n":{_BIG},"b":"b\'x\'"}}'
    deep: Any = []
    for _ in range(5000):
        deep = [deep, _BIG]
    with pytest.raises(TypeError):
        sc.compact_json(deep)


def test_times_that_are_no_number_are_no_measurement(tmp_path: Path) -> None:
    """Found by the fuzz test run long: a meta entry's `"duration": "NaN"` became a NaN time
    (pydantic reads the string), which made the message unequal to itself and sums NaN."""
    data = (ROOT / "tests" / "fixtures" / "layout-v1.jsonl").read_bytes()
    found = list(dict.fromkeys(re.findall(rb'\\"duration\\":([0-9.]+)', data)))
    for value, word in zip(found, [b"NaN", b"Infinity"], strict=False):  # every copy of two
        data = data.replace(b'duration\\":' + value, b'duration\\":\\"' + word + b'\\"')
    path = tmp_path / "nan.jsonl"
    path.write_bytes(data)
    traces = load_traces(path)
    times = [
        time
        for s in traces
        for m in s.messages
        if m.metrics is not None
        for time in (m.metrics.duration, m.metrics.time_to_first_token)
    ]
    assert None in times and all(t is None or math.isfinite(t) for t in times)
    for session in traces:
        assert load_traces(path, session=session.id).session(session.id).messages == (
            session.messages
        )
        first_token = session.metrics.time_to_first_token
        assert first_token is None or math.isfinite(first_token)
    assert Metrics(duration=float("nan"), time_to_first_token=float("-inf")) == Metrics()


def test_a_time_to_first_token_beyond_any_float_is_no_time(tmp_path: Path) -> None:
    """Found reading the change again: an integer time to first token too large for a float
    raised OverflowError when a listing or a `Metrics` read it."""
    lines = []
    for line in (ROOT / "tests" / "fixtures" / "openai_v2.jsonl").read_bytes().splitlines():
        request = orjson.loads(line)
        for resource in request.get("resourceSpans", ()):
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    if span["name"].startswith("chat"):
                        span.setdefault("attributes", []).append(
                            {
                                "key": sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
                                "value": {"intValue": "1" + "0" * 400},
                            }
                        )
        lines.append(orjson.dumps(request))
    path = tmp_path / "first-token.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    traces = load_traces(path)
    touch_everything(traces)
    assert traces.sessions
    for session in traces:
        assert session.metrics.time_to_first_token is None
        assert all(
            c.metrics.time_to_first_token is None for t in session.turns for c in t.model_calls
        )

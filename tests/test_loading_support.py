"""Helpers shared by the `test_loading_*` files (this module holds no tests).

Traces are produced the way users produce them: our `Agent` against a live `FakeOpenAIServer`,
written by the real tracing setup to a file; the awkward-input tests then take such a file apart
(`spans_of`, `write_lines`) to build the broken, shuffled or repeated versions they need.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

import definable_trace as dt
from definable_trace.agent import Agent
from definable_trace.testing import FakeOpenAIServer, Reply, ToolCallReply

FIXTURES = Path(__file__).parent / "fixtures"

__all__ = [
    "FIXTURES",
    "Reply",
    "ToolCallReply",
    "conversation",
    "memo_message",
    "replicated",
    "request_of",
    "session_summary",
    "span_unflatten",
    "spans_of",
    "weather",
    "write_lines",
]


def weather(city: str) -> str:
    """The weather of a city."""
    return f"sunny in {city}"


def conversation(
    path: Path,
    script: Sequence[Reply],
    inputs: Sequence[str],
    *,
    session_id: str | None = "s1",
    tools: Sequence[Callable[..., Any]] = (weather,),
    instructions: str | None = "Be brief.",
    **tracing: Any,
) -> list[Any]:
    """Run `inputs` as consecutive turns of one conversation; return each turn's `RunOutput`."""
    dt.configure_tracing(path, **tracing)
    outputs: list[Any] = []
    with FakeOpenAIServer(list(script)) as server:
        model = dt.OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k", max_retries=0)
        agent = Agent(model, instructions, tools=list(tools), name="tester")
        messages = None
        for text in inputs:
            output = agent.run(text, messages=messages, session_id=session_id)
            outputs.append(output)
            messages = output.messages
    dt.flush_tracing()
    return outputs


def spans_of(path: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(resource spans without their spans, span) for every span of an OTLP JSON lines file."""
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        for resource in orjson.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    yield {"resource": resource.get("resource", {}), "scope": scope["scope"]}, span


def request_of(spans: Sequence[dict[str, Any]], scope: dict[str, Any] | None = None) -> bytes:
    """One `ExportTraceServiceRequest` line holding `spans`."""
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [{"scope": scope or {"name": "definable_trace"}, "spans": spans}],
            }
        ]
    }
    return orjson.dumps(body)


def replicated(path: Path, megabytes: float) -> Path:
    """About `megabytes` MB of copies of every committed trace (bench/_replicate.py)."""
    bench = Path(__file__).parent.parent / "bench" / "_replicate.py"
    spec = importlib.util.spec_from_file_location("_replicate", bench)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.replicate(path, megabytes)
    return path


def session_summary(traces: Any, session_id: str) -> tuple[Any, ...]:
    """What two loads of one session must agree on: its id and kind, messages, turns (with
    their spans), usage, lineage, content and convention."""
    session = traces.session(session_id)
    return (
        session.id,
        session.stitched,
        session.messages,
        [(t.index, t.messages, t.start, [s.span_id for s in t.spans]) for t in session.turns],
        session.metrics,
        session.lineage,
        session.has_content,
        session.convention,
        session.message_count,
    )


def span_unflatten(span: Any, prefix: str) -> list[dict[str, Any]]:
    """The plain way `_flat.span_messages` and `span_field` are checked against:
    `unflatten(span.attributes, prefix)`, read through `_flat`'s per-shape plan (which names
    go where, worked out once per shape), so that the plan is checked too."""
    from definable_trace._loading import _flat

    plan = span.by_names("test-unflatten:" + prefix, _flat._planner(prefix))
    return [{rest: span.get(key) for rest, key in fields} for fields in plan]


def memo_message(
    memo: Any, kind: str, fields: dict[str, Any], build: Callable[[dict[str, Any]], Any]
) -> Any:
    """The plain way `_flat.span_messages` shares messages: `build(fields)`, once per
    distinct fields of a `kind` of flattened message when all their values are strings (what
    else a damaged span holds is built each time, so that no two values that compare equal,
    1 and 1.0 say, share a message); the names keep their order in the key."""
    if memo is None or not all(v.__class__ is str for v in fields.values()):
        return build(fields)
    key = (kind, *fields.items())
    found = memo.messages.get(key)
    if found is None:
        found = memo.messages[key] = build(fields)
    return found


def write_lines(path: Path, lines: Sequence[bytes], *, end: bytes = b"\n") -> Path:
    path.write_bytes(b"\n".join(lines) + end)
    return path


def attribute(span: dict[str, Any], key: str) -> Any:
    """A span attribute's OTLP value dict."""
    for item in span["attributes"]:
        if item["key"] == key:
            return item["value"]
    raise KeyError(key)


def environ_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}

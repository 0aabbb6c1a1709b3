"""Tools in replays: recorded results for identical calls, the user's functions otherwise."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import orjson
from pydantic import PydanticUserError

from .._diff import (
    canonical_arguments,
)
from .._errors import ReplayError, ToolNotRecordedError
from .._semconv import TOOL_DEFINITIONS
from .._tools import Tool, ToolResult, as_tool
from ._types import ModelFactory

if TYPE_CHECKING:
    from .._loading import Session, ToolCall

# --- tools --------------------------------------------------------------------------------------


class _ToolRecording:
    """Recorded tool results by (name, canonical arguments), each key's results in order.

    A key called more often than recorded gets its last result again: the same call, the same
    answer. `turn` is set by the runner so that errors can name the turn.
    """

    def __init__(self, calls: Iterable[ToolCall]) -> None:
        self._results: dict[tuple[str, str], list[ToolResult]] = {}
        self._used: dict[tuple[str, str], int] = {}
        self.turn: int | None = None
        for call in calls:
            key = (call.name, canonical_arguments(call.arguments or ""))
            result = ToolResult(call.result or "", error=call.error)
            self._results.setdefault(key, []).append(result)

    def take(self, name: str, arguments: str) -> ToolResult | None:
        key = (name, canonical_arguments(arguments))
        results = self._results.get(key)
        if not results:
            return None
        position = self._used.get(key, 0)
        self._used[key] = position + 1
        return results[min(position, len(results) - 1)]


def _not_recorded(**arguments: Any) -> str:
    """Stand-in function of a recorded tool; never called (`_ReplayTool` answers first)."""
    raise AssertionError("unreachable")


@dataclass
class _ReplayTool(Tool):
    """A tool offered to the model in a replay: recorded result first, then the live tool."""

    recording: _ToolRecording | None = field(default=None, kw_only=True)
    live: Tool | None = field(default=None, kw_only=True)

    def run(self, arguments: str) -> ToolResult:
        recorded = self._recorded(arguments)
        if recorded is not None:
            return recorded
        return self.live.run(arguments) if self.live else self._missing(arguments)

    async def arun(self, arguments: str) -> ToolResult:
        recorded = self._recorded(arguments)
        if recorded is not None:
            return recorded
        return await self.live.arun(arguments) if self.live else self._missing(arguments)

    def _recorded(self, arguments: str) -> ToolResult | None:
        return self.recording.take(self.name, arguments) if self.recording else None

    def _missing(self, arguments: str) -> ToolResult:
        turn = self.recording.turn if self.recording else None
        raise ToolNotRecordedError(turn, self.name, arguments)


def _replay_tools(session: Session, recording: _ToolRecording, live: Sequence[Tool]) -> list[Tool]:
    """The recorded tools (their recorded definitions) and the live ones, by name."""
    by_name = {tool.name: tool for tool in live}
    definitions = _recorded_definitions(session)
    tools: list[Tool] = []
    for name in [*definitions, *(n for n in by_name if n not in definitions)]:
        own = by_name.get(name)
        function = definitions.get(name) or {}
        tools.append(
            _ReplayTool(
                function=own.function if own else _not_recorded,
                name=name,
                description=own.description if own else function.get("description"),
                parameters=own.parameters if own else _parameters(function),
                recording=recording,
                live=own,
            )
        )
    return tools


def _recorded_definitions(session: Session) -> dict[str, dict[str, Any]]:
    """Tool definitions as the model calls recorded them (`gen_ai.tool.definitions`), then
    any tool that was called without a recorded definition (by name only)."""
    definitions: dict[str, dict[str, Any]] = {}
    for turn in session.turns:
        for call in turn.model_calls:
            for definition in _span_definitions(call.span.text(TOOL_DEFINITIONS)):
                definitions.setdefault(definition["name"], definition)
        for tool_call in turn.tool_calls:
            definitions.setdefault(tool_call.name, {"name": tool_call.name})
    return definitions


def _span_definitions(raw: str | None) -> list[dict[str, Any]]:
    """The semconv tool definitions (`{"type", "name", "description"?, "parameters"?}`);
    the OpenAI nesting under "function" is accepted too."""
    try:
        parsed = orjson.loads(raw) if raw else []
    except orjson.JSONDecodeError:
        return []
    found = []
    for item in parsed if isinstance(parsed, list) else []:
        function = item.get("function", item) if isinstance(item, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found.append(function)
    return found


def _parameters(function: dict[str, Any]) -> dict[str, Any]:
    parameters = function.get("parameters")
    return parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}}


def load_tools(specs: Iterable[str]) -> list[Tool]:
    """Import tool functions named `module:attr`.

    The attribute may be a function, a `Tool`, or a list, tuple or dict of them. The current
    directory is importable, as with `python -m`, so a user's `tools.py` is found.
    """
    tools: list[Tool] = []
    for spec in specs:
        for item in _import_tools(spec):
            try:
                tools.append(as_tool(item))
            except (TypeError, ValueError, PydanticUserError) as exc:
                name = getattr(item, "__name__", repr(item))
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ReplayError(f"tools {spec!r}: {name} cannot be a tool: {reason}") from exc
    return tools


def load_model_factory(spec: str) -> ModelFactory:
    """Import a model factory named `module:attr`: a callable taking a model id and returning
    any `Model` (another provider, a local model). A `Model` subclass itself qualifies when its
    constructor takes the id first. Used where a replay, fork or chat needs a live model."""
    value = _import(spec, "model factory", "my_models:make_model")
    if not callable(value):
        raise ReplayError(f"model factory {spec!r}: not callable; expected f(model_id) -> Model")
    return cast("ModelFactory", value)  # what it returns is checked where it is called


def _import(spec: str, what: str, example: str) -> Any:
    """`module:attr` imported, the current directory importable (as with `python -m`)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ReplayError(f"{what} {spec!r}: expected module:attr, e.g. {example}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ReplayError(f"{what} {spec!r}: cannot import it: {exc}") from exc


def _import_tools(spec: str) -> list[Any]:
    value = _import(spec, "tools", "my_tools:TOOLS")
    if isinstance(value, dict):
        value = list(value.values())
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not all(callable(item) or isinstance(item, Tool) for item in items):
        raise ReplayError(f"tools {spec!r}: not a function or a list of functions")
    return items

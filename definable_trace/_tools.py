"""Plain typed Python functions as tools: their JSON schema, and running one tool call.

The schema comes from the signature through pydantic (`validate_call` builds the arguments
model; its JSON schema is what the model sees), so a tool is just a function with type hints and
a docstring. Running a call never raises into the run loop: bad arguments or an exception in the
tool become the tool message's content, so the model can see what went wrong and go on.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from pydantic import PydanticUserError, TypeAdapter, ValidationError

from ._errors import InvalidInputError

__all__ = ["Tool", "ToolResult", "as_tool"]


@dataclass(frozen=True)
class ToolResult:
    """The text sent back to the model, and whether the tool failed."""

    content: str
    error: str | None = None


@dataclass
class Tool:
    """A callable the model may invoke, with the definition sent to the model."""

    function: Callable[..., Any]
    name: str
    description: str | None
    parameters: dict[str, Any]
    is_async: bool = field(init=False)
    _validator: TypeAdapter[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.is_async = inspect.iscoroutinefunction(self.function)
        self._validator = TypeAdapter(cast(Any, self.function))

    def definition(self) -> dict[str, Any]:
        """The OpenAI `tools` entry for this tool."""
        function: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}

    def run(self, arguments: str) -> ToolResult:
        """Run the tool synchronously (an async tool runs in a private event loop)."""
        try:
            kwargs = _parse_arguments(arguments)
            value = self._validator.validate_python(kwargs)
            if inspect.isawaitable(value):
                value = _run_coroutine(value)
        except Exception as exc:  # a failing tool is reported to the model, not raised
            return _failure(self.name, exc)
        return ToolResult(_to_text(value))

    async def arun(self, arguments: str) -> ToolResult:
        """Run the tool from async code; a sync tool runs in a worker thread."""
        try:
            kwargs = _parse_arguments(arguments)
            if self.is_async:
                value = await self._validator.validate_python(kwargs)
            else:
                value = await asyncio.to_thread(self._validator.validate_python, kwargs)
        except Exception as exc:  # a failing tool is reported to the model, not raised
            return _failure(self.name, exc)
        return ToolResult(_to_text(value))


def as_tool(function: Callable[..., Any] | Tool) -> Tool:
    """Build a `Tool` from a typed function (its name, docstring and parameter schema).

    A function whose parameters have no JSON schema (an arbitrary class, `*args`) cannot be
    offered to a model: `InvalidInputError` names the tool and says why, when the agent is made.
    """
    if isinstance(function, Tool):
        return function
    if not callable(function):
        raise InvalidInputError(f"a tool must be a function, got a {type(function).__name__}")
    name = getattr(function, "__name__", None) or type(function).__name__
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"tool {name!r} has no readable signature: {exc}") from None
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.POSITIONAL_ONLY):
            raise InvalidInputError(
                f"tool {name!r}: parameter {parameter.name!r} cannot be passed by name "
                "(a model calls tools with named arguments)"
            )
    try:
        return Tool(
            function=function,
            name=name,
            description=inspect.getdoc(function),
            parameters=_parameters_schema(function),
        )
    except PydanticUserError:
        raise InvalidInputError(f"tool {name!r}: {_unschemable(function)}") from None


def _unschemable(function: Callable[..., Any]) -> str:
    """Which parameter has a type that pydantic cannot describe as JSON schema."""
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # unresolvable annotations: say so rather than guess
        return "its type annotations cannot be resolved"
    hints.pop("return", None)
    for parameter, annotation in hints.items():
        try:
            TypeAdapter(annotation).json_schema()
        except PydanticUserError:
            return f"parameter {parameter!r} has a type with no JSON schema ({annotation!r})"
    return "its parameters have no JSON schema"


def _parameters_schema(function: Callable[..., Any]) -> dict[str, Any]:
    schema = TypeAdapter(cast(Any, function)).json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema.setdefault("properties", {})
    schema.setdefault("type", "object")
    return schema


def _parse_arguments(arguments: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    parsed = orjson.loads(arguments)
    if not isinstance(parsed, dict):
        raise ValueError(f"tool arguments must be a JSON object, got {arguments!r}")
    return cast("dict[str, Any]", parsed)


def _run_coroutine(awaitable: Any) -> Any:
    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # Called from inside a running loop (a sync run inside async code): use a fresh thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wait()).result()


def _failure(name: str, exc: Exception) -> ToolResult:
    if isinstance(exc, ValidationError):
        detail = f"invalid arguments: {exc.errors(include_url=False)}"
    elif isinstance(exc, orjson.JSONDecodeError):
        detail = f"arguments are not valid JSON: {exc}"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    text = f"Error running tool {name}: {detail}"
    return ToolResult(content=text, error=type(exc).__name__)


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        return str(value)

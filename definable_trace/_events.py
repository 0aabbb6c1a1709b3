"""What a run returns (`RunOutput`) and what a streamed run yields (the events).

Events are dataclasses with an `event` name, as in the definable framework, so the seed's loop
(`if event.event == "RunContent": ...`) works unchanged. `RunCompleted.output` carries the whole
`RunOutput`, so a streaming loop can carry `event.output.messages` into the next turn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from ._messages import Message, Metrics

__all__ = [
    "RunCompleted",
    "RunContent",
    "RunError",
    "RunEvent",
    "RunOutput",
    "RunStarted",
    "ToolCallCompleted",
    "ToolCallStarted",
]


@dataclass
class RunOutput:
    """The result of one run: the answer, the whole history (system prompt first), usage.

    `session_id` is always set: the one the run was given, the one its history continued, or
    a new one (see `Agent.run_stream`).
    """

    content: str | None
    messages: list[Message]
    metrics: Metrics
    run_id: str
    session_id: str
    model: str
    status: Literal["completed", "error"] = "completed"
    user_id: str | None = None
    agent_name: str | None = None

    @property
    def last_message(self) -> Message | None:
        return self.messages[-1] if self.messages else None


@dataclass
class _Event:
    run_id: str
    session_id: str
    created_at: float = field(default_factory=time.time, kw_only=True)


@dataclass
class RunStarted(_Event):
    model: str
    event: Literal["RunStarted"] = "RunStarted"


@dataclass
class RunContent(_Event):
    """A piece of the answer as it streams (and, for reasoning models, of the reasoning)."""

    content: str | None
    reasoning_content: str | None = None
    event: Literal["RunContent"] = "RunContent"


@dataclass
class ToolCallStarted(_Event):
    tool_call: dict[str, Any]
    event: Literal["ToolCallStarted"] = "ToolCallStarted"


@dataclass
class ToolCallCompleted(_Event):
    tool_call: dict[str, Any]
    result: Message
    error: str | None = None
    event: Literal["ToolCallCompleted"] = "ToolCallCompleted"


@dataclass
class RunCompleted(_Event):
    content: str | None
    output: RunOutput
    event: Literal["RunCompleted"] = "RunCompleted"


@dataclass
class RunError(_Event):
    """The run failed; the same exception is raised to the caller right after this event."""

    error: str
    exception: BaseException
    event: Literal["RunError"] = "RunError"


RunEvent = RunStarted | RunContent | ToolCallStarted | ToolCallCompleted | RunCompleted | RunError

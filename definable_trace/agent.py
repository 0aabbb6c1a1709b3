"""Public import path of the agent, as in the definable framework (`definable.agent`)."""

from ._agent import Agent
from ._events import (
    RunCompleted,
    RunContent,
    RunError,
    RunEvent,
    RunOutput,
    RunStarted,
    ToolCallCompleted,
    ToolCallStarted,
)
from ._tools import Tool, as_tool

__all__ = [
    "Agent",
    "RunCompleted",
    "RunContent",
    "RunError",
    "RunEvent",
    "RunOutput",
    "RunStarted",
    "Tool",
    "ToolCallCompleted",
    "ToolCallStarted",
    "as_tool",
]

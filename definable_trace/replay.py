"""Public import path of replay, fork and diff: re-running recorded sessions, comparing two.

    from definable_trace import load_traces
    from definable_trace.replay import ForkOptions, fork

    session = load_traces("traces.jsonl").session("math-tutor")
    result = fork(session, ForkOptions(at=2, message="Now multiply it by 3.", recorded=False))

The CLI (`deftrace replay|fork|diff`) is a thin face over these functions.
"""

from ._diff import (
    FieldChange,
    SessionDiff,
    ToolCallView,
    TurnDiff,
    TurnView,
    compare_turns,
    diff_sessions,
    session_views,
)
from ._replay import (
    DivergenceError,
    ForkOptions,
    ModelFactory,
    RecordedModel,
    ReplayedTurn,
    ReplayError,
    ReplayOptions,
    ReplayOutcome,
    ReplayResult,
    RunOptions,
    ToolNotRecordedError,
    afork,
    areplay,
    areplay_all,
    fork,
    load_model_factory,
    load_tools,
    new_session_id,
    replay,
    replay_all,
)

__all__ = [
    "DivergenceError",
    "FieldChange",
    "ForkOptions",
    "ModelFactory",
    "RecordedModel",
    "ReplayError",
    "ReplayOptions",
    "ReplayOutcome",
    "ReplayResult",
    "ReplayedTurn",
    "RunOptions",
    "SessionDiff",
    "ToolCallView",
    "ToolNotRecordedError",
    "TurnDiff",
    "TurnView",
    "afork",
    "areplay",
    "areplay_all",
    "compare_turns",
    "diff_sessions",
    "fork",
    "load_model_factory",
    "load_tools",
    "new_session_id",
    "replay",
    "replay_all",
    "session_views",
]

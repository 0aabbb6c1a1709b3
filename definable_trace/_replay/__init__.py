"""Replay a recorded session, or fork it at a turn: new runs of our agent, traced as new sessions.

A replay re-runs the recorded user turns in order, building a fresh history from the new
answers; a fork keeps turns 1..N-1 exactly as recorded (same messages, same ids: the fork
shares its parent's prefix) and runs turn N with a new or the recorded input. Either way the
answers come from a live model (`OpenAIChat` by default, any `Model` through the options'
`model_factory`) or, offline, from the recording itself through
`RecordedModel`, which checks that every request is the one recorded and stops at the first
that is not. Every span of the new runs carries the lineage attributes below, which the
loader exposes as `Session.lineage`.

Tool calls are answered from the recording when a recorded call had the same name and the same
arguments; otherwise by the user's own functions (`load_tools("module:attr")`) when given;
otherwise the run stops with `ToolNotRecordedError`, because inventing a result would make the
replay say something the recording never did.

Errors, all `DefinableTraceError`s:

    ReplayError            the replay cannot start: no content recorded, a turn out of range,
                           tools that cannot be imported (bad usage)
    DivergenceError        a recorded replay sent a request the recording never answered
    ToolNotRecordedError   a tool call with no recorded result and no live tool to run it

Sync functions (`replay`, `fork`, `replay_all`) run their async twins in `asyncio.run`, so
there is one implementation; call the async ones from async code.
"""

from .._errors import DivergenceError, ReplayError, ToolNotRecordedError
from ._recorded import RecordedModel
from ._run import afork, areplay, areplay_all, fork, new_session_id, replay, replay_all
from ._tools import load_model_factory, load_tools
from ._types import (
    LINEAGE_KIND,
    LINEAGE_PARENT,
    LINEAGE_TURN,
    ForkOptions,
    ModelFactory,
    ReplayedTurn,
    ReplayOptions,
    ReplayOutcome,
    ReplayResult,
    RunOptions,
)

__all__ = [
    "LINEAGE_KIND",
    "LINEAGE_PARENT",
    "LINEAGE_TURN",
    "DivergenceError",
    "ForkOptions",
    "ModelFactory",
    "RecordedModel",
    "ReplayError",
    "ReplayOptions",
    "ReplayOutcome",
    "ReplayResult",
    "ReplayedTurn",
    "RunOptions",
    "ToolNotRecordedError",
    "afork",
    "areplay",
    "areplay_all",
    "fork",
    "load_model_factory",
    "load_tools",
    "new_session_id",
    "replay",
    "replay_all",
]

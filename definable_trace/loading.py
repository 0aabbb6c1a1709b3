"""Public import path of the trace loader: `load_traces(*sources) -> TraceSet`.

    from definable_trace.loading import load_traces

    traces = load_traces("traces.jsonl")    # also: a directory, "-" (stdin), parsed documents
    for warning in traces.warnings:
        print(warning)                      # path:line: what was skipped or guessed
    session = traces.session("s1")
    session.messages                        # the whole history, as `Message` objects
    session.history(before_turn=3)          # what a fork at turn 3 starts from
    session.replayable                      # False: some turn's `unreplayable` says why
    session.stitched                        # no span named it: put together from histories

See `docs/loading.md` for what is read and how other instrumentations' traces are detected.
"""

from ._loading import (
    Lineage,
    ModelCall,
    Session,
    SessionNotFoundError,
    SpanRecord,
    ToolCall,
    TraceSet,
    TraceWarning,
    Turn,
    load_traces,
)

__all__ = [
    "Lineage",
    "ModelCall",
    "Session",
    "SessionNotFoundError",
    "SpanRecord",
    "ToolCall",
    "TraceSet",
    "TraceWarning",
    "Turn",
    "load_traces",
]

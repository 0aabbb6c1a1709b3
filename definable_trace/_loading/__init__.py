"""Reloading exported traces as message histories (ours and other instrumentations').

Modules, one job each: `_load` is the entry point; `_otlp` reads files (lines, documents,
gzip) into JSON values; `_decode` turns requests into compact `SpanRecord`s (`_records`);
`_store` keeps growing message lists once; `_graph` dedupes and links spans and finds their
session; `_conventions` tells which instrumentation wrote a span and reads other
instrumentations' calls (`_openai_v2`, `_openllmetry`, `_openinference`, `_flat`, `_calls`);
`_ours` builds our runs' turns and `_rebuild` their messages; `_foreign` builds the turns of
other instrumentations; `_assemble` puts it together; `_sessions` holds the public types.
See docs/loading.md.
"""

from .._errors import SessionNotFoundError
from ._load import load_traces
from ._records import SpanRecord, TraceWarning
from ._sessions import (
    Lineage,
    ModelCall,
    Session,
    ToolCall,
    TraceSet,
    Turn,
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

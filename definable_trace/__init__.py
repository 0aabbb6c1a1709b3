"""definable-trace: LLM conversations you can trace, reload, replay and fork.

The main names are importable from here; attributes are resolved lazily (PEP 562) so that
`import definable_trace` stays cheap for the CLI's read-only commands, which never need the
`openai` SDK or the OpenTelemetry SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Agent": "._agent",
    "Audio": "._messages",
    "DefinableTraceError": "._errors",
    "TurnNotFoundError": "._errors",
    "ToolNotRecordedError": "._errors",
    "SourceError": "._errors",
    "ReplayError": "._errors",
    "InvalidInputError": "._errors",
    "DivergenceError": "._errors",
    "File": "._messages",
    "Image": "._messages",
    "MaxToolRoundsExceeded": "._errors",
    "Message": "._messages",
    "Metrics": "._messages",
    "Model": "._models._base",
    "ModelError": "._errors",
    "ModelAuthenticationError": "._errors",
    "ModelConfigurationError": "._errors",
    "ModelConnectionError": "._errors",
    "ModelRateLimitError": "._errors",
    "ModelResponseError": "._errors",
    "OpenAIChat": "._models._openai",
    "RunOutput": "._events",
    "TraceFormatError": "._errors",
    "Video": "._messages",
    "configure_tracing": "._tracing._setup",
    "flush_tracing": "._tracing._setup",
    "load_traces": "._loading",
    "Lineage": "._loading",
    "ModelCall": "._loading",
    "SessionNotFoundError": "._errors",
    "SpanRecord": "._loading",
    "ToolCall": "._loading",
    "TraceWarning": "._loading",
    "Session": "._loading",
    "TraceSet": "._loading",
    "Turn": "._loading",
}

__all__ = [
    "Agent",
    "Audio",
    "DefinableTraceError",
    "DivergenceError",
    "File",
    "Image",
    "InvalidInputError",
    "Lineage",
    "MaxToolRoundsExceeded",
    "Message",
    "Metrics",
    "Model",
    "ModelAuthenticationError",
    "ModelCall",
    "ModelConfigurationError",
    "ModelConnectionError",
    "ModelError",
    "ModelRateLimitError",
    "ModelResponseError",
    "OpenAIChat",
    "ReplayError",
    "RunOutput",
    "Session",
    "SessionNotFoundError",
    "SourceError",
    "SpanRecord",
    "ToolCall",
    "ToolNotRecordedError",
    "TraceFormatError",
    "TraceSet",
    "TraceWarning",
    "Turn",
    "TurnNotFoundError",
    "Video",
    "__version__",
    "configure_tracing",
    "flush_tracing",
    "load_traces",
]

if TYPE_CHECKING:
    from ._agent import Agent
    from ._errors import (
        DefinableTraceError,
        DivergenceError,
        InvalidInputError,
        MaxToolRoundsExceeded,
        ModelAuthenticationError,
        ModelConfigurationError,
        ModelConnectionError,
        ModelError,
        ModelRateLimitError,
        ModelResponseError,
        ReplayError,
        SessionNotFoundError,
        SourceError,
        ToolNotRecordedError,
        TraceFormatError,
        TurnNotFoundError,
    )
    from ._events import RunOutput
    from ._loading import (
        Lineage,
        ModelCall,
        Session,
        SpanRecord,
        ToolCall,
        TraceSet,
        TraceWarning,
        Turn,
        load_traces,
    )
    from ._messages import Audio, File, Image, Message, Metrics, Video
    from ._models._base import Model
    from ._models._openai import OpenAIChat
    from ._tracing._setup import configure_tracing, flush_tracing


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'definable_trace' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__

"""The exceptions definable-trace raises, as one small tree.

    DefinableTraceError
    ├── ModelError                    a model call failed; `status_code` when the server answered
    │   ├── ModelConfigurationError   no API key, bad base URL: fix the setup, retrying won't help
    │   ├── ModelAuthenticationError  the server refused the credentials (401/403)
    │   ├── ModelRateLimitError       429: retry later
    │   ├── ModelConnectionError      the server could not be reached or timed out
    │   └── ModelResponseError        any other error status or an unusable answer
    ├── MaxToolRoundsExceeded         the model kept calling tools past the agent's bound
    └── TraceFormatError              a trace file cannot be read; names the file and line

SDK errors are translated in one place (`definable_trace._models._openai`), with the original
kept as `__cause__`, so callers never need to import `openai` to handle a failure.
"""

from __future__ import annotations

__all__ = [
    "DefinableTraceError",
    "MaxToolRoundsExceeded",
    "ModelAuthenticationError",
    "ModelConfigurationError",
    "ModelConnectionError",
    "ModelError",
    "ModelRateLimitError",
    "ModelResponseError",
    "TraceFormatError",
]


class DefinableTraceError(Exception):
    """Base of every error this package raises on purpose."""


class ModelError(DefinableTraceError):
    """A model call failed. `status_code` is the HTTP status when the server answered."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code

    @property
    def error_type(self) -> str:
        """Low-cardinality value for the span's `error.type` attribute."""
        return str(self.status_code) if self.status_code else type(self).__name__


class ModelConfigurationError(ModelError):
    """The model is not usable as configured (typically: no API key)."""


class ModelAuthenticationError(ModelError):
    """The server rejected the credentials."""


class ModelRateLimitError(ModelError):
    """The server answered 429 Too Many Requests."""


class ModelConnectionError(ModelError):
    """The server could not be reached, or did not answer in time."""


class ModelResponseError(ModelError):
    """The server answered with an error status, or with something that is not a completion."""


class MaxToolRoundsExceeded(DefinableTraceError):
    """The model was still calling tools after the agent's `max_tool_rounds` model calls."""


class TraceFormatError(DefinableTraceError):
    """A trace input cannot be read. The message names the file and, when known, the line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line
        self.reason = message

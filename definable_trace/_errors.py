"""Every exception definable-trace raises on purpose, as one tree in one module.

    DefinableTraceError
    ├── ModelError                    a model call failed; `status_code` when the server answered
    │   ├── ModelConfigurationError   no API key, bad base URL: fix the setup, retrying won't help
    │   ├── ModelAuthenticationError  the server refused the credentials (401/403)
    │   ├── ModelRateLimitError       429: retry later
    │   ├── ModelConnectionError      the server could not be reached or timed out
    │   └── ModelResponseError        any other error status or an unusable answer
    ├── MaxToolRoundsExceeded         the model kept calling tools past the agent's bound
    ├── InvalidInputError             an argument the library cannot use (a message, a tool, an
    │                                 option); the message names what was wrong (also ValueError)
    ├── TraceFormatError              a trace input cannot be read; names the file and line
    ├── SessionNotFoundError          no session with that id (also KeyError); suggests close ids
    ├── TurnNotFoundError             the session has no such turn (also ValueError)
    ├── ReplayError                   a replay or fork cannot start as asked
    │   ├── DivergenceError           a recorded replay asked what the recording never answered
    │   └── ToolNotRecordedError      a tool call with no recorded result and no live tool
    └── SourceError                   a trace store could not be read (unreachable, refused,
                                      malformed answer); names the source, never its credentials

SDK errors are translated in one place (`definable_trace._models._openai_errors`), with the
original kept as `__cause__`, so callers never need to import `openai` to handle a failure; the
texts of both are scrubbed of anything that looks like a credential. Messages use
the library's words (argument names); the CLI adds its own flags when it reports them.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

__all__ = [
    "DefinableTraceError",
    "DivergenceError",
    "InvalidInputError",
    "MaxToolRoundsExceeded",
    "ModelAuthenticationError",
    "ModelConfigurationError",
    "ModelConnectionError",
    "ModelError",
    "ModelRateLimitError",
    "ModelResponseError",
    "ReplayError",
    "SessionNotFoundError",
    "SourceError",
    "ToolNotRecordedError",
    "TraceFormatError",
    "TurnNotFoundError",
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


class InvalidInputError(ValueError, DefinableTraceError):
    """An argument the library cannot use: a history item that is not a message, a message
    dict with a wrong field, an unknown option, a tool whose signature has no JSON schema."""


class SessionNotFoundError(KeyError, DefinableTraceError):
    """No session has the id asked for; the message names the closest ids there are.

    `scanned`: `known` are the session ids the input names, found by a scan of its lines
    rather than by loading it (a one-session load that found no line naming the id), so the
    message says so instead of counting the input's sessions."""

    def __init__(self, session_id: str, known: Sequence[str], *, scanned: bool = False) -> None:
        self.session_id = session_id
        self.close_matches = _close(session_id, known)
        if self.close_matches:
            hint = f"; did you mean {', '.join(map(repr, self.close_matches))}?"
        elif scanned:
            hint = " (no line of the input names it)"
        else:
            hint = f" (the input holds {len(known)} session(s))"
        self.message = f"no session {session_id!r}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.message


def _close(session_id: str, known: Sequence[str]) -> list[str]:
    prefixed = [k for k in known if k.startswith(session_id) or session_id.startswith(k)]
    similar = difflib.get_close_matches(session_id, known, n=5, cutoff=0.5)
    return list(dict.fromkeys([*prefixed[:5], *similar]))[:5]


class TurnNotFoundError(ValueError, DefinableTraceError):
    """The session has no turn with that number (turns count from 1)."""

    def __init__(self, session_id: str, turn: int, turns: int) -> None:
        self.session_id = session_id
        self.turn = turn
        self.turns = turns
        self.message = f"session {session_id!r} has no turn {turn} (it has turns 1 to {turns})"
        if turns == 0:
            self.message = f"session {session_id!r} has no turn {turn} (it has no turns)"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ReplayError(DefinableTraceError):
    """The replay or fork cannot start as asked (the session, the turn or the tools are wrong)."""


class DivergenceError(ReplayError):
    """A recorded replay asked the model something the recording has no answer for."""

    def __init__(self, turn: int, detail: str) -> None:
        super().__init__(f"diverged at turn {turn}: {detail}")
        self.turn = turn
        self.detail = detail


class ToolNotRecordedError(ReplayError):
    """The model called a tool in a way the recording never saw, and no live tool was given."""

    def __init__(self, turn: int | None, name: str, arguments: str) -> None:
        where = f"turn {turn}: " if turn is not None else ""
        super().__init__(
            f"{where}the model called {name}({arguments}), which has no recorded result; "
            "give the tool functions to run them live"
        )
        self.turn = turn
        self.name = name
        self.arguments = arguments


class SourceError(DefinableTraceError):
    """A trace store could not be read: unreachable, refused, timed out or answered nonsense.

    `source` is the source's address without credentials; `status_code` the HTTP status when
    the store answered. What was fetched before the failure is never presented as complete.
    """

    def __init__(
        self, message: str, *, source: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source
        self.status_code = status_code
        self.reason = message

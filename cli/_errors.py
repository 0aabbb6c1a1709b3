"""How a failure leaves the CLI: one line on stderr and an exit code, never a traceback.

    0  ok
    1  the run failed: the model was unreachable or refused, a recorded replay diverged, a tool
       call had no recorded result
    2  bad usage or bad input: an unreadable trace file, an unknown session, a turn out of
       range, missing configuration (no API key), tools that cannot be imported

The library raises `DefinableTraceError`s; `translate` is the one place that sorts them into
these two kinds (simonw/llm and httpx do the same at their edges).
"""

from __future__ import annotations

import click

from definable_trace._errors import (
    DefinableTraceError,
    DivergenceError,
    InvalidInputError,
    ModelConfigurationError,
    ReplayError,
    ToolNotRecordedError,
    TraceFormatError,
    TurnNotFoundError,
)

# Replay errors that mean the run itself failed (exit 1), not that it was asked wrongly.
_RUN_FAILURES = (DivergenceError, ToolNotRecordedError)

__all__ = ["RunFailure", "UsageFailure", "translate", "translate_os_error"]


class UsageFailure(click.ClickException):
    """Bad usage or bad input: exit 2."""

    exit_code = 2

    def format_message(self) -> str:
        """Messages quote trace content (session ids, errors recorded): escaped, never obeyed."""
        from ._escape import safe

        return safe(self.message)


class RunFailure(click.ClickException):
    """The run failed: exit 1."""

    exit_code = 1

    def format_message(self) -> str:
        """Messages quote trace content (session ids, errors recorded): escaped, never obeyed."""
        from ._escape import safe

        return safe(self.message)


def translate(exc: DefinableTraceError) -> click.ClickException:
    """The CLI error for a library error."""
    # `SessionNotFoundError` is also a KeyError, whose str() would wrap the message in quotes.
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        message = exc.args[0]
    else:
        message = str(exc)
    if isinstance(exc, ToolNotRecordedError):
        message += " (--tools module:attr)"
    return UsageFailure(message) if _is_usage_error(exc) else RunFailure(message)


def translate_os_error(exc: OSError) -> UsageFailure:
    """A file the user named cannot be read or written."""
    where = f"{exc.filename}: " if exc.filename else ""
    return UsageFailure(f"{where}{exc.strerror or exc}")


def _is_usage_error(exc: DefinableTraceError) -> bool:
    return isinstance(
        exc,
        (TraceFormatError, ModelConfigurationError, KeyError, TurnNotFoundError, InvalidInputError),
    ) or (isinstance(exc, ReplayError) and not isinstance(exc, _RUN_FAILURES))

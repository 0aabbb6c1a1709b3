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

import sys

import click

from definable_trace._errors import (
    DefinableTraceError,
    ModelConfigurationError,
    TraceFormatError,
)

__all__ = ["RunFailure", "UsageFailure", "translate", "translate_os_error"]


class UsageFailure(click.ClickException):
    """Bad usage or bad input: exit 2."""

    exit_code = 2


class RunFailure(click.ClickException):
    """The run failed: exit 1."""

    exit_code = 1


def translate(exc: DefinableTraceError) -> click.ClickException:
    """The CLI error for a library error."""
    # `SessionNotFoundError` is also a KeyError, whose str() would wrap the message in quotes.
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        message = exc.args[0]
    else:
        message = str(exc)
    return UsageFailure(message) if _is_usage_error(exc) else RunFailure(message)


def translate_os_error(exc: OSError) -> UsageFailure:
    """A file the user named cannot be read or written."""
    where = f"{exc.filename}: " if exc.filename else ""
    return UsageFailure(f"{where}{exc.strerror or exc}")


def _is_usage_error(exc: DefinableTraceError) -> bool:
    if isinstance(exc, (TraceFormatError, ModelConfigurationError, KeyError)):
        return True
    # `ReplayError` lives with the replay code, which imports the agent and the OTel SDK; only
    # a command that imported it can have raised one, so look it up instead of importing it.
    replay = sys.modules.get("definable_trace._replay")
    return replay is not None and isinstance(exc, replay.ReplayError)

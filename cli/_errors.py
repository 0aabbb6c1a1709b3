"""How a failure leaves the CLI: one line on stderr and an exit code, never a traceback.

    0  ok
    1  the run failed: the model was unreachable or refused, a recorded replay diverged, a tool
       call had no recorded result
    2  bad usage or bad input: an unreadable trace file, an unknown session, a turn out of
       range, missing configuration (no API key), tools that cannot be imported

    130 interrupted (Ctrl-C); 143 terminated (SIGTERM): the answered turns are kept

The library raises `DefinableTraceError`s; `translate` is the one place that sorts them into
these two kinds (simonw/llm and httpx do the same at their edges), and that rewrites the
library's words for a fix (`OpenAIChat(api_key=...)`) into the CLI's (`OPENAI_API_KEY`,
`--base-url`).
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

__all__ = ["RunFailure", "UsageFailure", "cli_words", "translate", "translate_os_error"]

# The library names its arguments; the CLI user needs the flag or variable that sets them.
_LIBRARY_WORDS = (
    (
        "set OPENAI_API_KEY, or pass OpenAIChat(api_key=...); "
        "for a local OpenAI-compatible server pass base_url=... instead.",
        "set OPENAI_API_KEY; for a local OpenAI-compatible server pass --base-url "
        "(or set OPENAI_BASE_URL) instead",
    ),
    ("OpenAIChat(api_key=...)", "OPENAI_API_KEY"),
    ("base_url=...", "--base-url"),
    ("give the tool functions to run them live", "run them live with --tools module:attr"),
    ("pass a model", "pass --model"),
    ("give a message", "pass --message"),
    ("pass OpenAIChat(timeout=...) to wait longer", "pass --timeout SECONDS to wait longer"),
)


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
    message = cli_words(message)
    return UsageFailure(message) if _is_usage_error(exc) else RunFailure(message)


def cli_words(message: str) -> str:
    """A library message with its argument names replaced by the CLI's flags."""
    for library, cli in _LIBRARY_WORDS:
        message = message.replace(library, cli)
    return message


def translate_os_error(exc: OSError) -> UsageFailure:
    """A file the user named cannot be read or written."""
    where = f"{exc.filename}: " if exc.filename else ""
    return UsageFailure(f"{where}{exc.strerror or exc}")


def _is_usage_error(exc: DefinableTraceError) -> bool:
    return isinstance(
        exc,
        (TraceFormatError, ModelConfigurationError, KeyError, TurnNotFoundError, InvalidInputError),
    ) or (isinstance(exc, ReplayError) and not isinstance(exc, _RUN_FAILURES))

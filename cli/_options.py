"""Options several commands share, declared once, with their validation.

Everything that can be checked from the command line alone is checked here, by click, before
any file is read or any model called: a bad value is a usage error (exit 2) naming the option.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click
from click.shell_completion import CompletionItem

from ._errors import UsageFailure

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "BaseUrl",
    "check_model_factory",
    "complete_sessions",
    "files_argument",
    "json_option",
    "live_model_options",
    "retries_option",
    "session_option",
    "timeout_option",
    "tools_option",
    "trace_out_option",
    "user_import",
    "user_model_factory",
]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT = 60.0  # seconds, as OpenAIChat's own default: a hung server ends the run


if TYPE_CHECKING:  # generic in click >= 8.2 only; the runtime base works with 8.1 too
    _StrParam = click.ParamType[str, Any]
else:
    _StrParam = click.ParamType


class BaseUrl(_StrParam):
    """An http(s) URL with a host: `not-a-url` is a usage error, not a "Connection error"."""

    name = "URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            self.fail(f"{text!r} is not a URL: {exc}", param, ctx)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(f"{text!r} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1", param, ctx)
        return text


def complete_sessions(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """`--session`'s completion: the session ids of the files already on the command line."""
    from ._complete import session_ids

    return session_ids(ctx, incomplete)


files_argument = click.argument(
    "files",
    nargs=-1,
    required=True,
    # Checked by `_common.expand_inputs`: "-" is stdin, a quoted glob is expanded, a directory
    # is read recursively; click's Path(exists=True) would refuse the first two.
    type=click.Path(path_type=str),
    metavar="FILES...",
)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of tables."
)


def session_option(
    help: str, *, dest: str = "session_id", multiple: bool = False, required: bool = False
) -> Callable[[F], F]:
    """--session, completed from the session ids of the files already on the command line.
    Every command declares its `--session` here, so every one of them completes."""
    return click.option(
        "--session",
        dest,
        help=help,
        multiple=multiple,
        required=required,
        shell_complete=complete_sessions,
    )


trace_out_option = click.option(
    "--trace-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=(
        "File the new spans are appended to (default: DEFINABLE_TRACE_FILE when set, else a "
        "new file under $XDG_DATA_HOME/definable-trace/runs/; never beside the input)."
    ),
)

tools_option = click.option(
    "--tools",
    "tool_specs",
    multiple=True,
    metavar="MODULE:ATTR",
    help="Tool functions to run live when a call has no recorded result (repeatable).",
)

model_factory_option = click.option(
    "--model-factory",
    "factory_spec",
    metavar="MODULE:ATTR",
    help=(
        "A callable f(model_id) -> Model answering live turns instead of OpenAIChat (any "
        "provider, a local model); then --base-url, --timeout and --retries do not apply."
    ),
)

timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Seconds to wait for the model server on each request attempt.",
)

DEFAULT_RETRIES = 2  # the openai SDK's own default


retries_option = click.option(
    "--retries",
    type=click.IntRange(min=0),
    metavar="N",
    default=DEFAULT_RETRIES,
    show_default=True,
    help=(
        "Attempts after the first when a request times out, cannot connect, or gets 429 or "
        "5xx (--retries 0 --timeout N: give up after N seconds)."
    ),
)


def live_model_options(
    model_help: str = "Model id (default: the recorded one).",
) -> Callable[[F], F]:
    """--model, --base-url, --timeout and --retries: which model answers, where, and how long
    to wait for it."""

    def decorate(function: F) -> F:
        function = model_factory_option(function)
        function = retries_option(function)
        function = timeout_option(function)
        function = click.option(
            "--base-url",
            type=BaseUrl(),
            help="OpenAI-compatible server (default: OPENAI_BASE_URL, else api.openai.com).",
        )(function)
        return click.option("--model", help=model_help)(function)

    return decorate


def check_model_factory(ctx: click.Context) -> None:
    """`--model-factory` builds the model: the options about OpenAIChat's server would be
    ignored, so they are refused (exit 2) before anything runs."""
    if ctx.params.get("factory_spec") is None:
        return
    for name in ("base_url", "timeout", "retries"):
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            flag = "--" + name.replace("_", "-")
            raise UsageFailure(f"--model-factory builds the model: {flag} does not apply")


def user_model_factory(spec: str | None) -> Callable[[str], Any] | None:
    """`--model-factory` imported; a failure of the user's module is one line and exit 2."""
    if spec is None:
        return None
    from definable_trace.replay import load_model_factory

    return user_import("--model-factory", spec, load_model_factory)


_T = TypeVar("_T")


def user_import(flag: str, spec: str, load: Callable[[str], _T]) -> _T:
    """`load(spec)` of the user's `module:attr`: our own errors pass as they are (they name
    what was wrong), anything the user's module raised while importing is one line, exit 2."""
    from definable_trace import DefinableTraceError

    try:
        return load(spec)
    except DefinableTraceError:
        raise
    except Exception as exc:  # the user's module raised while importing: not our bug
        raise UsageFailure(
            f"{flag} {spec!r}: cannot import it: {type(exc).__name__}: {exc}"
        ) from exc

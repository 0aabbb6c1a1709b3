"""Options several commands share, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = [
    "files_argument",
    "json_option",
    "live_model_options",
    "tools_option",
    "trace_out_option",
]

F = TypeVar("F", bound=Callable[..., Any])

files_argument = click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, path_type=Path),  # a directory means its trace files
)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of tables."
)

trace_out_option = click.option(
    "--trace-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File the new spans are appended to (default: a new file beside the first input).",
)

tools_option = click.option(
    "--tools",
    "tool_specs",
    multiple=True,
    metavar="MODULE:ATTR",
    help="Tool functions to run live when a call has no recorded result (repeatable).",
)


def live_model_options(function: F) -> F:
    """--model and --base-url: which model answers, and where."""
    function = click.option(
        "--base-url",
        help="OpenAI-compatible server (default: OPENAI_BASE_URL, else api.openai.com).",
    )(function)
    return click.option("--model", help="Model id (default: the recorded one).")(function)

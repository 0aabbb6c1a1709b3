"""The click group: the commands, and the one place where errors become exit codes."""

from __future__ import annotations

from typing import Any

import click

from definable_trace import __version__
from definable_trace._errors import DefinableTraceError

from ._chat import chat
from ._errors import translate, translate_os_error
from ._inspect import diff, export, sessions, show
from ._pull import pull
from ._run import fork, replay
from ._stores import accept_sources

__all__ = ["cli"]


class _Group(click.Group):
    """Lists commands in the order they were added, and translates library errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DefinableTraceError as exc:
            raise translate(exc) from exc
        except OSError as exc:
            raise translate_os_error(exc) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deftrace")
def cli() -> None:
    """Inspect, export, replay, fork and diff conversations recorded as OpenTelemetry traces.

    Every command reads one or more OTLP JSON-lines trace files and takes --json for scripts.
    Exit codes: 0 ok, 1 the run failed, 2 bad usage or bad input.
    """


for command in (sessions, show, export, diff, replay, fork, chat):
    cli.add_command(command)

# Trace stores wherever trace files are read (cli/_stores.py), and `pull` to save their sessions.
for command in (sessions, show, export, diff, replay, fork):
    accept_sources(command)
cli.add_command(pull)

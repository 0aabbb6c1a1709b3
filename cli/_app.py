"""The click group: the commands, and the one place where errors and signals become exit codes."""

from __future__ import annotations

import signal
from typing import Any

import click

from definable_trace import __version__
from definable_trace._errors import DefinableTraceError

from ._chat import chat
from ._common import SPANS_META, report_late_warnings
from ._errors import translate, translate_os_error
from ._inspect import diff, export, sessions, show
from ._pull import pull
from ._run import fork, replay
from ._stores import accept_sources

__all__ = ["EXIT_INTERRUPTED", "EXIT_TERMINATED", "cli", "handle_sigterm"]

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM

_terminated = False


class _Group(click.Group):
    """Lists commands in the order they were added, and translates library errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return self._invoke(ctx)
        finally:
            report_late_warnings(ctx)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DefinableTraceError as exc:
            raise translate(exc) from exc
        except OSError as exc:
            raise translate_os_error(exc) from exc
        except KeyboardInterrupt:
            # Reached after every `finally` below ran: spans ended and flushed, files in place.
            what = "terminated" if _terminated else "interrupted"
            spans = ctx.meta.get(SPANS_META)
            kept = f": the turns answered so far are kept in {spans}" if spans else ""
            click.echo(f"\n{what}{kept}", err=True)
            raise click.exceptions.Exit(
                EXIT_TERMINATED if _terminated else EXIT_INTERRUPTED
            ) from None


def handle_sigterm() -> None:
    """SIGTERM stops a run the way Ctrl-C does (spans ended and flushed, answered turns kept),
    instead of killing the process with the buffered spans in it: the handler re-sends the
    signal as SIGINT, which `asyncio.run` turns into a clean cancellation and synchronous code
    into `KeyboardInterrupt`."""

    def on_term(signum: int, frame: Any) -> None:
        global _terminated
        _terminated = True
        if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
            # SIGINT ignored (a background job of a script, `nohup`): stop here instead.
            raise KeyboardInterrupt
        signal.raise_signal(signal.SIGINT)

    signal.signal(signal.SIGTERM, on_term)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deftrace")
def cli() -> None:
    """Inspect, export, replay, fork and diff conversations recorded as OpenTelemetry traces.

    FILES are OTLP JSON-lines trace files (gzipped or not), directories (read recursively),
    quoted globs, or - for standard input. Every command takes --json for scripts.

    Exit codes: 0 ok, 1 the run failed, 2 bad usage or bad input, 130 interrupted (Ctrl-C),
    143 terminated (SIGTERM); an interrupted run keeps the turns answered so far.

    Shell completion (commands, options, session ids of the files on the command line):
    eval "$(_DEFTRACE_COMPLETE=bash_source deftrace)" in ~/.bashrc (zsh_source, fish_source).
    """


for command in (sessions, show, export, diff, replay, fork, chat):
    cli.add_command(command)

# Trace stores wherever trace files are read (cli/_stores.py), and `pull` to save their sessions.
for command in (sessions, show, export, diff, replay, fork):
    accept_sources(command)
cli.add_command(pull)

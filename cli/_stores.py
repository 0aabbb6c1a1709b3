"""Trace stores wherever the CLI takes trace files: `phoenix+http://…`, `jaeger+http://…`,
`tempo+http://…`, `clickhouse+http://…` (and https).

`accept_sources(command)` lets a command's FILES argument take store addresses and adds the
store options (`--since`, `--until`, `--header`, `--timeout`) to it. The options are not passed
to the command's function (`expose_value=False`): they are kept on the click context, where
`load` reads them, so no command changes for stores. A store is asked only for the sessions
the command names with `--session` (every session in the window otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._errors import UsageFailure
from ._select import TimeSpec

if TYPE_CHECKING:
    from definable_trace import TraceSet
    from definable_trace.sources import Documents, Source, TimeWindow

__all__ = [
    "SourceInput",
    "accept_sources",
    "check_loaded",
    "default_spans_file",
    "documents_for",
    "is_source",
    "listed_sessions",
    "open_input",
    "store_options",
    "window_of",
]

_META = "deftrace.store"
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class SourceInput:
    """A store address given where a trace file could be; shown without credentials."""

    def __init__(self, url: str) -> None:
        from definable_trace._sources._address import _shown

        self.url = url
        self.shown = _shown(url)

    def __repr__(self) -> str:
        return f"SourceInput({self.shown!r})"

    def __str__(self) -> str:
        return self.shown


def is_source(item: object) -> bool:
    return isinstance(item, SourceInput)


class _TraceInput(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3 on
    """A store address, or anything else `_common.expand_inputs` takes (a file, a directory,
    `-` for stdin, a quoted glob), which it checks."""

    name = "FILE|SOURCE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from definable_trace.sources import looks_like_source

        if isinstance(value, str) and looks_like_source(value):
            return SourceInput(value)
        return value


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta.setdefault(_META, {})[param.name] = value
    return value


def store_options(*, exposed: bool) -> list[click.Option]:
    """The options of reading a store; `exposed=False` keeps them on the context only."""
    shared: dict[str, Any] = {"expose_value": exposed, "callback": _remember}
    return [
        click.Option(
            ["--since"],
            type=TimeSpec(),
            metavar="2d|ISO",
            help="Stores: start of the time window (30m, 2h, 7d before now, or ISO time; "
            "default: 24h before --until).",
            **shared,
        ),
        click.Option(
            ["--until"],
            type=TimeSpec(),
            metavar="2d|ISO",
            help="Stores: end of the time window (default: now).",
            **shared,
        ),
        click.Option(
            ["--header", "headers"],
            multiple=True,
            metavar="'NAME: VALUE'",
            help="Stores: an HTTP header for every request (repeatable), e.g. "
            "'Authorization: Bearer …'. Never printed.",
            **shared,
        ),
        click.Option(
            ["--timeout"],
            type=click.FloatRange(min=0, min_open=True),
            default=30.0,
            show_default=True,
            metavar="SECONDS",
            help="Stores: seconds to wait for each answer.",
            **shared,
        ),
    ]


def accept_sources(command: click.Command) -> None:
    """Let `command`'s FILES argument take store addresses, and add the store options."""
    for param in command.params:
        if isinstance(param, click.Argument) and param.name == "files":
            param.type = _TraceInput()
            param.metavar = "FILES_OR_STORES..."
    have = {param.name: param for param in command.params}
    for option in store_options(exposed=False):
        existing = have.get(option.name)
        if existing is None:
            command.params.append(option)
        else:  # the command has its own (`sessions --since`): one option, remembered for stores
            existing.callback = _also_remember(existing.callback)


def _also_remember(callback: Any) -> Any:
    def both(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        value = callback(ctx, param, value) if callback is not None else value
        return _remember(ctx, param, value)

    return both


def _settings() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_META, {}) if ctx is not None else {}


def window_of(settings: dict[str, Any]) -> TimeWindow:
    from definable_trace.sources import TimeWindow

    return TimeWindow.of(settings.get("since"), settings.get("until"))


def open_input(item: SourceInput, settings: dict[str, Any] | None = None) -> Source:
    from definable_trace.sources import open_source

    settings = _settings() if settings is None else settings
    return open_source(
        item.url,
        headers=tuple(settings.get("headers") or ()),
        timeout=settings.get("timeout") or 30.0,
    )


def _asked_sessions() -> list[str] | None:
    """The sessions the running command names (`--session`), None when it names none."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    single = ctx.params.get("session_id")
    many = ctx.params.get("session_ids")
    if single:
        return [single]
    return list(many) if many else None


def documents_for(
    items: Sequence[Path | SourceInput], sessions: Sequence[str] | None = None
) -> list[Path | Documents]:
    """What `load_traces` reads: files as they are, each store as a fetch of `sessions`, else
    of the sessions the command names (else of every session in the window)."""
    settings = _settings()
    window = window_of(settings)
    asked = list(sessions) if sessions is not None else _asked_sessions()
    return [
        open_input(item, settings).fetch(asked, window) if isinstance(item, SourceInput) else item
        for item in items
    ]


def listed_sessions(items: Sequence[SourceInput]) -> list[str]:
    """The ids of the sessions the stores hold in the command's window, as they list them, each
    once: what `replay --all` fetches a page at a time. (A store that cannot list sessions
    itself, Jaeger, Tempo, reads the window's spans to list them, one answer at a time.)"""
    settings = _settings()
    window = window_of(settings)
    found: dict[str, None] = {}
    for item in items:
        for summary in open_input(item, settings).sessions(window):
            found.setdefault(summary.id)
    return list(found)


def check_loaded(
    items: Iterable[Path | SourceInput], readers: Iterable[object], traces: TraceSet
) -> None:
    """After loading: what a store noted about its data becomes warnings; a session asked of a
    store and not found is an error saying where and when it was looked for."""
    for reader in readers:
        for note in getattr(reader, "notes", ()):
            click.echo(f"warning: {getattr(reader, 'name', '')}: {note}", err=True)
    stores = [item for item in items if isinstance(item, SourceInput)]
    asked = _asked_sessions()
    if not stores or not asked:
        return
    missing = [sid for sid in asked if sid not in traces]
    if missing:
        window = window_of(_settings())
        raise UsageFailure(
            f"no session {missing[0]!r} in {', '.join(map(str, stores))} between "
            f"{window.start:%Y-%m-%d %H:%M} and {window.end:%Y-%m-%d %H:%M} UTC; check the id "
            "(`deftrace sessions SOURCE`), or widen the window with --since/--until"
        )


def default_spans_file(option: Path | None) -> Path:
    """Where a replay or fork of a store's session writes: `--trace-out`, else where spans
    normally go (`DEFINABLE_TRACE_FILE`, else the user's default trace file)."""
    import os

    from definable_trace._tracing._setup import ENV_TRACE_FILE, default_trace_file

    return option or Path(os.environ.get(ENV_TRACE_FILE) or default_trace_file())

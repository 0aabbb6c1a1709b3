"""`deftrace pull`: save sessions from a trace store as OTLP JSON lines, for offline use."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import click

from ._common import emit_json
from ._errors import UsageFailure
from ._options import json_option, session_option
from ._stores import SourceInput, open_input, store_options, window_of

__all__ = ["pull"]


def _source_argument(ctx: click.Context, param: click.Parameter, value: str) -> SourceInput:
    from definable_trace.sources import looks_like_source

    if not looks_like_source(value):
        raise click.BadParameter(
            "expected a store address such as phoenix+http://127.0.0.1:6006/default "
            "(jaeger+, tempo+, clickhouse+ too)",
            ctx,
            param,
        )
    return SourceInput(value)


@click.command()
@click.argument("source", callback=_source_argument)
@session_option(
    "Session to pull (repeatable; default: every session in the time window).",
    dest="session_ids",
    multiple=True,
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    help="File to write (OTLP JSON lines); '-' is stdout.",
)
@json_option
def pull(
    source: SourceInput, session_ids: tuple[str, ...], output: str, as_json: bool, **store: Any
) -> None:
    """Save sessions from a trace store as OTLP JSON lines that every command (and any OTLP
    reader) loads offline, exactly as the store holds them.

    Everything is fetched before anything is written: a store failing midway leaves no file
    and no partial output (exit 1).
    """
    import orjson

    from definable_trace import load_traces

    window = window_of(store)
    documents = list(open_input(source, store).fetch(list(session_ids) or None, window))
    traces = load_traces(iter(documents))  # what the file will hold, checked before writing
    missing = [sid for sid in session_ids if sid not in traces]
    if missing:
        raise UsageFailure(
            f"no session {missing[0]!r} in {source} between {window.start:%Y-%m-%d %H:%M} and "
            f"{window.end:%Y-%m-%d %H:%M} UTC; check the id, or widen --since/--until"
        )
    data = b"".join(orjson.dumps(doc) + b"\n" for doc in documents)
    if output == "-":
        click.echo(data, nl=False)  # bytes go to the binary stream as they are
    else:
        _write_whole(Path(output), data)
    summary = {
        "source": str(source),
        "output": output,
        "sessions": [s.id for s in traces.sessions],
        "documents": len(documents),
    }
    if as_json and output != "-":
        emit_json(summary)
    else:
        click.echo(
            f"pulled {len(traces.sessions)} session(s), {len(documents)} document(s) from "
            f"{source} to {'stdout' if output == '-' else output}",
            err=True,
        )


def _write_whole(path: Path, data: bytes) -> None:
    """Write `data` to `path` all at once: a temporary file beside it, renamed over it."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


pull.params.extend(store_options(exposed=True))

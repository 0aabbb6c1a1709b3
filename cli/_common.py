"""What every command does around the library: load the files, pick a session, print.

The library is imported inside each function, never at module level, so that importing the
CLI (for `--help`) costs only click.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._errors import UsageFailure
from ._stores import check_loaded, default_spans_file, documents_for, is_source

if TYPE_CHECKING:
    from rich.console import Console

    from definable_trace import Session, TraceSet

__all__ = [
    "console",
    "emit_json",
    "load",
    "pick_session",
    "resolve_trace_out",
    "trace_files",
    "tracing_to",
]

_LISTED = 10  # session ids named in "pick one" errors


_TRACE_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz")


def trace_files(paths: Sequence[Path]) -> list[Path]:
    """The files to read: each file as given, each directory's trace files (by name)."""
    files: list[Path] = []
    for path in paths:
        if is_source(path) or not path.is_dir():  # a trace store: read by `load`
            files.append(path)
            continue
        found = sorted(
            p for p in path.iterdir() if p.is_file() and p.name.endswith(_TRACE_SUFFIXES)
        )
        if not found:
            raise UsageFailure(f"{path}: no trace files (*.jsonl, *.json, gzipped or not)")
        files.extend(found)
    return files


def load(paths: Sequence[Path]) -> TraceSet:
    """Load the trace files (directories expanded); what the loader skipped is reported on
    stderr, one line each."""
    from definable_trace import load_traces

    inputs = trace_files(paths)
    readers = documents_for(inputs)  # trace stores are fetched here (cli/_stores.py)
    traces = load_traces(*readers)
    check_loaded(inputs, readers, traces)
    from ._escape import safe

    for warning in traces.warnings:
        click.echo(f"warning: {safe(warning)}", err=True)  # may quote trace content
    return traces


def pick_session(traces: TraceSet, session_id: str | None) -> Session:
    """The session asked for, or the only one in the files."""
    if session_id is not None:
        return traces.session(session_id)
    found = traces.sessions
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageFailure("the files hold no session")
    ids = ", ".join(s.id for s in found[:_LISTED]) + (", ..." if len(found) > _LISTED else "")
    raise UsageFailure(f"the files hold {len(found)} sessions; pick one with --session: {ids}")


def emit_json(data: Any, *, line: bool = False) -> None:
    """JSON on stdout, datetimes as ISO 8601: indented, or on one line (JSON Lines) for streams
    of records such as `chat --json`'s turns."""
    import orjson

    option = 0 if line else orjson.OPT_INDENT_2
    click.echo(orjson.dumps(data, option=option, default=str).decode())


def console(stderr: bool = False) -> Console:
    """A rich console on the current stdout (or stderr); no highlighting of user text."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def resolve_trace_out(
    option: Path | None, inputs: Sequence[Path], kind: str, short_id: str
) -> Path:
    """Where new spans go: `--trace-out`, else `<stem>.<kind>-<short id>.jsonl` beside the input.

    Never one of the inputs: a replay appended to its own source would show up in the next
    replay of that file.
    """
    if is_source(inputs[0]):
        return default_spans_file(option)
    path = option or inputs[0].with_name(f"{inputs[0].stem}.{kind}-{short_id}.jsonl")
    for source in inputs:
        if not is_source(source) and _same_file(path, source):
            raise UsageFailure(f"--trace-out {path} is an input file; new spans never go there")
    return path


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


@contextmanager
def tracing_to(path: Path | None) -> Iterator[Path | None]:
    """Send the spans of the runs inside to `path` (None: the default trace file); flush after.

    Yields the file the spans go to. Flushing even when the run failed keeps the spans of the
    turns that did complete.
    """
    from definable_trace import configure_tracing, flush_tracing

    settings = configure_tracing(path)
    try:
        yield settings.file
    finally:
        flush_tracing()

"""What every command does around the library: find the inputs, load them, pick a session,
choose where new spans and outputs go, print.

The library is imported inside each function, never at module level, so that importing the
CLI (for `--help`) costs only click.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from ._errors import UsageFailure
from ._stores import SourceInput, check_loaded, default_spans_file, documents_for, is_source

if TYPE_CHECKING:
    from rich.console import Console

    from definable_trace import Session, TraceSet

__all__ = [
    "SPANS_META",
    "STDIN",
    "Inputs",
    "check_writable",
    "console",
    "done_with",
    "emit_json",
    "expand_inputs",
    "load",
    "open_output",
    "pick_session",
    "report_late_warnings",
    "resolve_trace_out",
    "runs_dir",
    "staged_spans",
    "tracing_to",
]

_LISTED = 10  # session ids named in "pick one" errors
_LOADED_META = "deftrace.loaded"  # the TraceSets a command loaded, for their late warnings
SPANS_META = "deftrace.spans"  # the file a running command's spans go to, for Ctrl-C's message
STDIN = "-"
_GLOB_CHARS = frozenset("*?[")
_EMPTY_DIRECTORY = "directory holds no trace file"  # the loader's warning (`_loading._load`)


# --- inputs -------------------------------------------------------------------------------------


@dataclass
class Inputs:
    """The inputs as the loader takes them, in order: files, directories (the loader walks
    them, skipping what is not trace data with a warning), and `-` for standard input.
    `found` are the files a pattern matched: like a directory's, one that turns out not to be
    a trace is skipped with a warning (a file named one by one must be a trace)."""

    files: list[Path | SourceInput]
    found: set[Path] = field(default_factory=set)

    @property
    def first(self) -> Path | SourceInput:
        return self.files[0]

    @property
    def paths(self) -> list[Path]:
        """The inputs that are files or directories (not standard input, not trace stores)."""
        return [f for f in self.files if isinstance(f, Path) and str(f) != STDIN]

    def stem(self) -> str:
        """A name for what was read, for the files derived from it."""
        first = self.first
        if is_source(first):
            return "store"
        assert isinstance(first, Path)
        return "stdin" if str(first) == STDIN else (first.name.split(".")[0] or "traces")


def expand_inputs(args: Sequence[str | Path | SourceInput]) -> Inputs:
    """Command-line inputs like other tools take them: `-` is standard input (once), a
    directory is read recursively and a gzip file decompressed by the loader itself, and a
    quoted glob (`'traces/**/*.jsonl.gz'`) is expanded here, since no shell did. A trace
    store's address (`cli/_stores.py`) is kept as it is: `load` fetches it."""
    files: list[Path | SourceInput] = []
    found: set[Path] = set()
    for item in args:
        if isinstance(item, SourceInput):
            files.append(item)
            continue
        arg = str(item)
        if arg == STDIN:
            files.append(Path(STDIN))
            continue
        path = Path(arg)
        if path.exists():
            files.append(path)
        elif _GLOB_CHARS & set(arg):
            matched = [Path(m) for m in sorted(glob.glob(arg, recursive=True))]
            if not matched:
                raise UsageFailure(f"{arg}: no file matches this pattern")
            files.extend(matched)
            found.update(m for m in matched if m.is_file())
        else:
            raise UsageFailure(f"{arg}: file or directory does not exist")
    if not files:
        raise UsageFailure("no input files")
    return Inputs(list(dict.fromkeys(files)), found)


def load(
    paths: Sequence[str | Path | SourceInput] | Inputs,
    *,
    session: str | None = None,
    page: Sequence[str] | None = None,
) -> TraceSet:
    """Load the inputs (see `expand_inputs`); what the loader skipped is reported on stderr,
    one line each.

    `session`: the one session the command needs. From plain files the loader then reads only
    that session's lines (`load_traces(..., session=)`), so `show` of one conversation in a
    large file does not parse the others. When no line names it, the loader says so without
    loading the rest, and its `SessionNotFoundError` suggests from the ids the lines name; when
    it cannot tell (a stitched id, a trace id), it loads everything itself: the set then holds
    every session, which the error suggests from. Either way nothing is loaded twice.

    `page`: the sessions to fetch from trace stores (`replay --all` reads a store a page at a
    time), instead of those the command names.

    The `TraceSet` is remembered for the running command: the warnings it finds later, when a
    message list is first read, are printed when the command ends (`report_late_warnings`),
    or when the command is done with it (`done_with`).
    """
    inputs = paths if isinstance(paths, Inputs) else expand_inputs(paths)
    files = list(inputs.files)
    one = session if session is not None and _plain_files(files) else None
    traces, readers = _read(inputs, files, one, page)
    check_loaded(files, readers, traces)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta.setdefault(_LOADED_META, []).append(traces)
    warnings = traces.take_warnings()
    _print_warnings(warnings)
    empty = [w.path for w in warnings if w.message == _EMPTY_DIRECTORY]
    if empty:  # named on the command line, it was meant to hold traces: a usage error
        raise UsageFailure(f"{empty[0]}: no trace files in this directory or below it")
    return traces


def _plain_files(files: Sequence[Path | SourceInput]) -> bool:
    """Every input is a regular file: what the loader's one-session scan reads (it would fall
    back to a full load for a directory or stdin itself; a store is fetched per session)."""
    return all(isinstance(f, Path) and str(f) != STDIN and f.is_file() for f in files)


def _read(
    inputs: Inputs,
    files: list[Path | SourceInput],
    session: str | None,
    page: Sequence[str] | None = None,
) -> tuple[TraceSet, list[Any]]:
    """`load_traces` over `files`, dropping (with a warning) a file a pattern matched that is
    not a trace; `files` loses those files."""
    from definable_trace import TraceFormatError, load_traces

    from ._escape import safe

    while True:
        readers = documents_for(files, page)  # trace stores are fetched here (cli/_stores.py)
        sources = (str(r) if isinstance(r, Path) else r for r in readers)
        try:
            return load_traces(*sources, session=session), list(readers)
        except TraceFormatError as exc:
            bad = Path(exc.path) if exc.path else None
            if bad is None or bad not in inputs.found or bad not in files:
                raise
            click.echo(f"warning: {bad}: skipped: {safe(exc.reason)}", err=True)
            files.remove(bad)
            if not files:
                raise UsageFailure("no trace files among the inputs") from exc


def _print_warnings(warnings: Sequence[object]) -> None:
    from ._escape import safe

    for warning in warnings:
        click.echo(f"warning: {safe(warning)}", err=True)  # may quote trace content


def report_late_warnings(ctx: click.Context) -> None:
    """Print the warnings the command's `TraceSet`s found after loading, when messages were
    first read (a damaged message list, say), so that a cut-off history never shows as
    "(no content recorded)" with nothing said on stderr. Called once a command has ended,
    however it ended; each warning is printed once (`TraceSet.take_warnings`)."""
    for traces in ctx.meta.get(_LOADED_META, ()):
        _print_warnings(traces.take_warnings())


def done_with(traces: TraceSet) -> None:
    """Print `traces`' late warnings now and stop remembering it, so that a command reading
    many `TraceSet`s one after another (`replay --all` of a store, page by page) does not
    keep them all in memory."""
    _print_warnings(traces.take_warnings())
    ctx = click.get_current_context(silent=True)
    loaded = ctx.meta.get(_LOADED_META, []) if ctx is not None else []
    if any(t is traces for t in loaded):
        loaded[:] = [t for t in loaded if t is not traces]


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


# --- outputs ------------------------------------------------------------------------------------


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


@contextmanager
def open_output(path: str | Path) -> Generator[IO[bytes], None, None]:
    """A binary stream for `-o PATH`: `-` is standard output (never a file named `-`).

    A file is written to a temporary name beside it and renamed into place only when the
    block completes, so a failed write leaves the old file (or nothing), never half a file.
    """
    if str(path) == STDIN:
        sys.stdout.flush()  # text printed before stays before
        stream = sys.stdout.buffer
        yield stream
        stream.flush()
        return
    target = Path(path)
    check_writable(target, "-o")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_writable(path: Path, option: str = "--trace-out") -> None:
    """A usage error now, before any run, if `path` cannot be created or appended to."""
    if path.is_dir():
        raise UsageFailure(f"{option} {path}: is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageFailure(f"{option} {path}: no such directory {parent}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageFailure(f"{option} {path}: not writable")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise UsageFailure(f"{option} {path}: cannot create files in {parent}")


def runs_dir() -> Path:
    """Where replays, forks and resumed chats write by default: beside the user's default
    trace file (`$XDG_DATA_HOME/definable-trace/`), in `runs/`, never in the input's folder
    (a sample or shared folder would grow with every run)."""
    from definable_trace._tracing._setup import default_trace_file

    return default_trace_file().parent / "runs"


def resolve_trace_out(option: Path | None, inputs: Inputs, kind: str, short_id: str) -> Path:
    """Where new spans go: `--trace-out`, else `DEFINABLE_TRACE_FILE` when the user set it
    (where they want every span), else `runs_dir()/<stem>.<kind>-<short id>.jsonl`.

    Never one of the inputs: a replay appended to its own source would show up in the next
    replay of that file. Checked writable here, before anything runs.
    """
    from definable_trace._tracing._setup import ENV_TRACE_FILE

    if option is None and os.environ.get(ENV_TRACE_FILE):
        option = Path(os.environ[ENV_TRACE_FILE])
    if option is None and any(is_source(f) for f in inputs.files):
        option = default_spans_file(None)  # a store's session: where spans normally go
    if option is None:
        stem = inputs.stem()
        directory = runs_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageFailure(f"cannot create {directory}: {exc.strerror or exc}") from exc
        option = directory / f"{stem}.{kind}-{short_id}.jsonl"
    for source in inputs.paths:
        if _same_file(option, source):
            raise UsageFailure(f"--trace-out {option} is an input file; new spans never go there")
    check_writable(option)
    return option


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


# --- where spans go -----------------------------------------------------------------------------


@contextmanager
def tracing_to(path: Path | None) -> Generator[Path | None, None, None]:
    """Send the spans of the runs inside to `path` (None: the default trace file); flush after.

    Yields the file the spans go to. Flushing even when the run failed (or was interrupted)
    keeps the spans of the turns that did complete, and the failed turn's, marked as failed.
    """
    from definable_trace import configure_tracing, flush_tracing

    settings = configure_tracing(path)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[SPANS_META] = settings.file
    try:
        yield settings.file
    finally:
        flush_tracing()


@contextmanager
def staged_spans(path: Path) -> Generator[Path, None, None]:
    """Spans of one replay or fork: written to a hidden file beside `path`, then added to
    `path` when the run has ended (completed, failed or interrupted), so that `path` is only
    ever created by a run that wrote spans, and never holds half of a flush.

    A run that wrote no span (it was refused before its first turn) leaves no file at all.
    """
    from opentelemetry.trace import NoOpTracerProvider

    from definable_trace import configure_tracing

    staging = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with tracing_to(staging):
            click.get_current_context().meta[SPANS_META] = path
            yield path
    finally:
        # Replacing the configuration shuts our provider down: the staging file is closed.
        configure_tracing(tracer_provider=NoOpTracerProvider())
        _publish(staging, path)


def _publish(staging: Path, path: Path) -> None:
    if not staging.exists():
        return
    if staging.stat().st_size == 0:
        staging.unlink()
    elif not path.exists():
        os.replace(staging, path)
    else:
        with staging.open("rb") as new, path.open("ab") as out:
            shutil.copyfileobj(new, out)
        staging.unlink()

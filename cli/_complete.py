"""Shell completion of session ids: `--session <TAB>` offers the ids of the trace files already
on the command line (click's completion machinery calls this; see `deftrace --help`)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import click
from click.shell_completion import CompletionItem

__all__ = ["session_ids"]

_LIMIT = 200  # ids offered at most: a shell menu longer than this helps nobody


def session_ids(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    """The session ids starting with `incomplete` in the command's FILES (or `--resume`).

    Quiet by design: a completion must never print warnings or fail, so unreadable inputs
    simply offer nothing. Standard input (`-`) is never read here.
    """
    from definable_trace import load_traces

    files = _files(ctx)
    if not files:
        return []
    try:
        found = [s.id for s in load_traces(*files).sessions]
    except Exception:  # some file is not a trace (junk in a directory): read the others
        found = []
        for file in files:
            try:
                found.extend(s.id for s in load_traces(file).sessions)
            except Exception:  # unreadable: it offers nothing; the command will say why
                continue
    ids = [i for i in dict.fromkeys(found) if i.startswith(incomplete)]
    return [CompletionItem(i) for i in ids[:_LIMIT]]


def _files(ctx: click.Context) -> list[Path]:
    given = list(ctx.params.get("files") or ()) or _words_on_the_line()
    if ctx.params.get("resume"):
        given.append(ctx.params["resume"])
    files: list[Path] = []
    for arg in map(str, given):
        if arg == "-":
            continue
        matches = [arg] if os.path.exists(arg) else sorted(glob.glob(arg, recursive=True))
        files.extend(Path(m) for m in matches)  # directories: the loader walks them
    return files


def _words_on_the_line() -> list[str]:
    """The command line's words, read from COMP_WORDS (which click's bash, zsh and fish
    scripts all set): click stops parsing at an option still waiting for its value, which is
    exactly where `--session <TAB>` is, so FILES after the command are not in `ctx.params`.
    Words that are existing paths or patterns count; the others cannot be inputs anyway."""
    import shlex

    try:
        words = shlex.split(os.environ.get("COMP_WORDS", ""))
    except ValueError:  # an unclosed quote on the line being typed
        return []
    return [w for w in words[2:] if not w.startswith("-") and (os.path.exists(w) or "*" in w)]

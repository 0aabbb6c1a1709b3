"""Long output through a pager, the way git does it.

Only when stdout is a terminal (never in a pipe or a file): the pager is `$DEFTRACE_PAGER`,
else `$PAGER`, else `less`; an empty value or `cat` means no pager. `less` gets `LESS=FRX`
unless `LESS` is set (quit when the text fits one screen, pass colours through, leave the text
on the screen), as git sets it. Colours reach the pager as SGR codes only: trace content was
escaped before rendering, so the pager receives no other escape sequence.

Hand-written rather than rich's `Console.pager()`, which goes through `pydoc.pager`: that runs
`less` without `-R` (the colours show as `ESC[…`), ignores `LESS`, and has no `DEFTRACE_PAGER`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["pager_command", "print_paged", "stdout_is_terminal", "terminal_layout"]


def stdout_is_terminal() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # replaced stdout (tests, IDEs): no fileno
        return False


def terminal_layout() -> bool:
    """Whether to lay output out for a terminal (tables) rather than for a pipe (tab-separated).

    stdout being a terminal decides, as for `gh`; rich's `TTY_COMPATIBLE=1`/`0` overrides it.
    `FORCE_COLOR` does not: it asks for colours, and a script piping into `cut` with it set
    still needs rows, not a table.
    """
    forced = os.environ.get("TTY_COMPATIBLE", "")
    if forced in ("0", "1"):
        return forced == "1"
    return stdout_is_terminal()


def pager_command() -> list[str] | None:
    """The pager to run, or None for none."""
    value = os.environ.get("DEFTRACE_PAGER", os.environ.get("PAGER", "less"))
    args = shlex.split(value)
    if not args or args == ["cat"]:
        return None
    return args


def print_paged(console: Console, renderable: RenderableType, use_pager: bool) -> None:
    """Print `renderable`, through the pager when asked and stdout is a terminal."""
    command = pager_command() if use_pager and stdout_is_terminal() else None
    if command is None:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    _run(command, captured.get())


def _run(command: list[str], output: str) -> None:
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, env=env)
    except OSError:  # no such pager: print as if there were none
        sys.stdout.write(output)
        sys.stdout.flush()
        return
    assert process.stdin is not None
    try:
        process.stdin.write(output.encode(sys.stdout.encoding or "utf-8", "replace"))
        process.stdin.close()
    except BrokenPipeError:  # the user quit the pager before reading everything
        pass
    while True:
        try:
            process.wait()
            return
        except KeyboardInterrupt:  # Ctrl-C belongs to the pager (less uses it), as in git
            continue

"""Trace content made safe for a terminal: the one function every rendering goes through.

A trace file is untrusted input. Message text, session ids, model and tool names, file names:
any of them can carry escape sequences that set the window title, clear the screen or move the
cursor, or bidi overrides that make text read differently than it is stored. `safe` shows each
such character as a visible escape (`\\x1b`, `\\x9b`, `\\u202e`) so the bytes are never
interpreted, and the rest of a sequence (`]0;title`) is then plain printable text.

Kept: newline and tab in running text (`safe`), replaced too in one-line cells (`cell`). Rich
markup is never interpreted because renderings hand user text to rich as `Text`, never as a
markup string; `text()` builds that `Text`. `--json` output does not pass through here: JSON
escapes control characters itself and stays exact.

Hand-written rather than `rich.control.strip_control_codes` (which deletes only a few C0 codes
and keeps ESC) or `repr()` (which also escapes quotes and every non-ASCII letter).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["cell", "safe", "text"]

_NAMED = {0x08: "\\b", 0x0D: "\\r", 0x0B: "\\v", 0x0C: "\\f", 0x00: "\\0"}
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # embeddings, overrides, isolates


def _table(keep: tuple[int, ...]) -> dict[int, str]:
    table: dict[int, str] = {}
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]:  # C0, DEL, C1
        if code not in keep:
            table[code] = _NAMED.get(code, f"\\x{code:02x}")
    for code in _BIDI:
        table[code] = f"\\u{code:04x}"
    return table


_RUNNING = _table(keep=(0x09, 0x0A))
_CELL = {**_table(keep=()), 0x09: "\\t", 0x0A: "\\n"}


def safe(value: object) -> str:
    """`value` as text a terminal shows but never obeys; newlines and tabs kept."""
    return str(value).translate(_RUNNING)


def cell(value: object) -> str:
    """`value` on one line (a table cell, a tab-separated field): newlines and tabs escaped too."""
    return str(value).translate(_CELL)


def text(value: object, style: str = "") -> Text:
    """A rich `Text` of trace content: escaped, and never parsed as markup."""
    from rich.text import Text

    return Text(safe(value), style=style)

"""Tables that never lie: a key column that is never cut, and columns dropped whole, in a fixed
order, when the terminal is too narrow; or tab-separated rows when stdout is not a terminal.

Rich shrinks and ellipsises columns to fit a width, which is how a session id came out one
character short with no mark. Here each column is measured first and, while the table is wider
than the terminal, the column with the lowest `drop` rank goes (the caller documents the order).
What is left is drawn at full width; only a key longer than the whole terminal wraps (folds),
never truncates. Piped output is `gh`-style: a header line, then one tab-separated row per item,
every cell complete and on one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ._escape import cell

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["Column", "fit", "rich_table", "tsv"]

_GAP = 2  # spaces between columns


@dataclass
class Column:
    """One column: its header (with units), its cells as plain text, and when it may go.

    `drop`: columns are dropped lowest rank first when the table is too wide; None: never.
    `styles`: an optional rich style per cell. Cells are escaped here, whatever they hold.
    """

    header: str
    cells: list[str]
    drop: int | None = None
    justify: Literal["left", "right"] = "left"
    styles: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        from rich.cells import cell_len

        return max([cell_len(self.header), *(cell_len(cell(c)) for c in self.cells)])


def fit(columns: Sequence[Column], width: int) -> list[Column]:
    """The columns that fit in `width`, dropping whole columns by rank; key columns stay."""
    kept = list(columns)
    while sum(c.width for c in kept) + _GAP * (len(kept) - 1) > width:
        droppable = [c for c in kept if c.drop is not None]
        if not droppable:
            break
        kept.remove(min(droppable, key=lambda c: c.drop or 0))
    return kept


def rich_table(columns: Sequence[Column], width: int, title: str | None = None) -> Table:
    """A rich `Table` of the columns that fit in `width` (a terminal's)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    kept = fit(columns, width)
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,  # with the blank divider: _GAP spaces between columns
    )
    for column in kept:
        # min_width: rich may not shrink a kept column; fold: a key wider than the terminal
        # wraps onto the next line instead of losing characters.
        table.add_column(
            column.header,
            justify=column.justify,
            no_wrap=column.drop is not None,
            overflow="fold",
            min_width=min(column.width, width),
        )
    rows = len(columns[0].cells) if columns else 0
    for i in range(rows):
        table.add_row(
            *(Text(cell(c.cells[i]), style=c.styles[i] if c.styles else "") for c in kept)
        )
    return table


def tsv(columns: Sequence[Column]) -> str:
    """A header line and one tab-separated line per row; every cell whole, escaped, one line."""
    lines = ["\t".join(cell(c.header) for c in columns)]
    rows = len(columns[0].cells) if columns else 0
    lines.extend("\t".join(cell(c.cells[i]) for c in columns) for i in range(rows))
    return "\n".join(lines)

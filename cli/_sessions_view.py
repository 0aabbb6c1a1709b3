"""The `sessions` listing: a table on a terminal, tab-separated rows in a pipe, a lineage tree.

Columns and the order in which they are dropped when the terminal is too narrow (first dropped
first): `notes`, `took s`, `msgs`, `started`, `models`, `in tok`, `out tok`, `turns`, `cost $`.
`session` is never dropped or cut. Piped output has every column, absolute ISO times and
seconds; `--json` has everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ._escape import text
from ._format import ago, iso, money, plural
from ._table import Column, rich_table, tsv

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.tree import Tree

    from definable_trace import Session
    from definable_trace._cost import Cost

__all__ = ["lineage_text", "notes", "sessions_tsv", "sessions_view", "tree_order"]

# Lineage kinds that start at a turn of their parent: a fork (run anew from turn N) and a
# branch (the loader's: a second continuation of one recorded history, found by stitching).
_AT_A_TURN = ("fork", "branch")


def lineage_text(session: Session, short: bool = False) -> str:
    """`fork of P @ turn N`, `branch of P @ turn N` or `replay of P`; `short` leaves the
    parent out."""
    lineage = session.lineage
    if lineage is None:
        return ""
    parent = "" if short else f" of {lineage.parent_session}"
    if lineage.kind in _AT_A_TURN and lineage.turn is not None:
        return f"{lineage.kind}{parent} @ turn {lineage.turn}"
    return f"{lineage.kind}{parent}"


def notes(session: Session) -> str:
    """Lineage and anything a reader must know before trusting the row."""
    marks = []
    lineage = session.lineage
    if lineage is not None:
        at_turn = lineage.kind in _AT_A_TURN and lineage.turn is not None
        marks.append(f"{lineage.kind} @{lineage.turn}" if at_turn else lineage.kind)
        if lineage.status:  # the run stopped: "diverged", "interrupted" or "failed"
            marks.append(lineage.status)
    if session.stitched:  # no span named it: its calls were joined by their histories (#9)
        marks.append("inferred")
    elif session.inferred:  # no span named it and nothing to stitch by: one trace
        marks.append("id from trace")
    if not session.has_content:
        marks.append("no content")
    if any(t.error for t in session.turns):
        marks.append("failed turn")
    return ", ".join(marks)


def tree_order(sessions: Sequence[Session]) -> list[tuple[Session, int]]:
    """Sessions depth-first under their parents (when the parent is among them)."""
    ids = {s.id for s in sessions}
    children: dict[str, list[Session]] = {}
    roots: list[Session] = []
    for session in sessions:
        parent = session.lineage.parent_session if session.lineage else None
        if parent in ids and parent != session.id:
            children.setdefault(parent, []).append(session)
        else:
            roots.append(session)
    ordered: list[tuple[Session, int]] = []
    seen: set[str] = set()

    def walk(session: Session, depth: int) -> None:
        if session.id in seen:
            return
        seen.add(session.id)
        ordered.append((session, depth))
        for child in children.get(session.id, []):
            walk(child, depth + 1)

    for session in [*roots, *sessions]:  # sessions again: a lineage cycle still gets listed
        walk(session, 0)
    return ordered


def _message_count(session: Session) -> int:
    return session.message_count  # counted without building the messages (the loader's)


def _branch(rows: Sequence[tuple[Session, int]], i: int) -> str:
    """The indent of row `i` under its parent: `├─ ` with siblings below it, else `└─ `."""
    depth = rows[i][1]
    if depth == 0:
        return ""
    later = next((d for _, d in rows[i + 1 :] if d <= depth), None)
    return "   " * (depth - 1) + ("├─ " if later == depth else "└─ ")


def _columns(
    rows: Sequence[tuple[Session, int]], costs: Mapping[str, Cost], terminal: bool, now: datetime
) -> list[Column]:
    sessions = [s for s, _ in rows]
    ids = [(_branch(rows, i) if terminal else "") + s.id for i, (s, _) in enumerate(rows)]
    cost_cells = [money(costs[s.id], dollar=False) for s in sessions]
    return [
        Column("session", ids),
        Column("turns", [str(len(s.turns)) for s in sessions], drop=8, justify="right"),
        Column("msgs", [str(_message_count(s)) for s in sessions], drop=3, justify="right"),
        Column("in tok", [str(s.metrics.input_tokens) for s in sessions], 6, "right"),
        Column("out tok", [str(s.metrics.output_tokens) for s in sessions], 7, "right"),
        Column(
            "cost $",
            cost_cells,
            drop=9,
            justify="right",
            styles=["dim" if c == "unknown" else "" for c in cost_cells],
        ),
        Column("models", [", ".join(s.models) for s in sessions], drop=5),
        Column(
            "started" if terminal else "start",
            [ago(s.start, now) if terminal else iso(s.start) for s in sessions],
            drop=4,
        ),
        Column(
            "took s",
            [f"{s.duration:.2f}" for s in sessions],
            drop=2,
            justify="right",
        ),
        Column("notes", [notes(s) for s in sessions], drop=1),
    ]


def sessions_tsv(sessions: Sequence[Session], costs: Mapping[str, Cost]) -> str:
    """Piped output: a header line, then one complete tab-separated row per session."""
    from datetime import timezone

    rows = [(s, 0) for s in sessions]
    return tsv(_columns(rows, costs, terminal=False, now=datetime.now(timezone.utc)))


def sessions_view(
    sessions: Sequence[Session],
    costs: Mapping[str, Cost],
    width: int,
    now: datetime,
    *,
    of: int | None = None,
    tree: bool = True,
) -> RenderableType:
    """One row per session; with `tree`, forks indented under their parent and a lineage tree
    (without, the order given is kept: a sort by cost stays one). `of`: sessions before the
    filters, for the title."""
    from rich.console import Group

    ordered = tree_order(sessions) if tree else [(s, 0) for s in sessions]
    title = plural(len(sessions), "session")
    if of is not None and of != len(sessions):
        title = f"{len(sessions)} of {plural(of, 'session')}"
    table = rich_table(_columns(ordered, costs, True, now), width, title)
    if not any(depth for _, depth in ordered):
        return table
    return Group(table, _lineage_tree(ordered))


def _lineage_tree(ordered: Sequence[tuple[Session, int]]) -> Tree:
    from rich.tree import Tree

    tree = Tree(text("lineage", style="bold"))
    stack: list[Tree] = [tree]
    for index, (session, depth) in enumerate(ordered):
        has_children = index + 1 < len(ordered) and ordered[index + 1][1] > depth
        if depth == 0 and not has_children:
            continue  # a session with no relatives adds nothing to the tree
        del stack[depth + 1 :]
        label = text(session.id, style="bold" if depth == 0 else "")
        if depth:
            label.append_text(text(f"  {lineage_text(session)}", style="dim"))
        stack.append(stack[depth].add(label))
    return tree

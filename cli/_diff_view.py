"""`deftrace diff`: what changed between two sessions, as unified diffs, or `--stat` counts.

Every compared field that differs (input, answer, tool calls, model) is printed whole as a
`difflib` unified diff; a turn only one side has is printed as all removed or all added. Nothing
is clipped. Costs are per turn and in total, with B minus A.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from ._escape import text
from ._format import money, plural, signed_money
from ._table import Column, rich_table

if TYPE_CHECKING:
    from definable_trace._cost import Cost
    from definable_trace._diff import SessionDiff, TurnDiff

__all__ = ["Costs", "diff_lines", "diff_view", "stat_view"]

_COMPARED = ("input", "content", "tool_calls", "model")
_STATUS = {
    "same": ("same", "green"),
    "changed": ("changed", "yellow"),
    "only_a": ("only in A", "red"),
    "only_b": ("only in B", "red"),
}


@dataclass(frozen=True)
class Costs:
    """Each side's cost per turn it ran (an inherited turn has none) and in total."""

    a: Mapping[int, Cost]
    b: Mapping[int, Cost]
    total_a: Cost
    total_b: Cost


def diff_lines(turn: TurnDiff) -> Iterator[str]:
    """The unified diff lines of one turn: changed fields, or every field of a one-sided turn."""
    from definable_trace._diff import unified_diff

    a_label, b_label = f"A turn {turn.index}", f"B turn {turn.index}"
    if turn.a is not None and turn.b is not None:
        for change in turn.changes:
            yield from unified_diff(change.field, change.a, change.b, a_label, b_label)
        return
    side = turn.a if turn.a is not None else turn.b
    assert side is not None
    for name in _COMPARED:
        value = getattr(side, name)
        if value in (None, ()):
            continue
        a, b = (value, None) if turn.a is not None else (None, value)
        yield from unified_diff(name, a, b, a_label, b_label)


def _line(line: str) -> Text:
    if line.startswith(("---", "+++")):
        return text(line, style="bold")
    style = {"-": "red", "+": "green", "@": "cyan"}.get(line[:1], "")
    return text(line, style=style)


def _cost_of(costs: Mapping[int, Cost], index: int) -> str:
    cost = costs.get(index)
    return money(cost) if cost is not None else "—"


def _turn_head(turn: TurnDiff, costs: Costs) -> Text:
    label, style = _STATUS[turn.status]
    head = Text(f"Turn {turn.index} · ", style="bold")
    head.append(label, style=style)
    if turn.changes:
        head.append(": " + ", ".join(c.field for c in turn.changes))
    inherited = [side for side, v in (("A", turn.a), ("B", turn.b)) if v and v.inherited]
    if inherited:
        head.append(f" (inherited in {' and '.join(inherited)})", style="dim")
    facts = []
    for side, view, side_costs in (("A", turn.a, costs.a), ("B", turn.b, costs.b)):
        if view is not None and not view.inherited:
            facts.append(
                f"{side} {view.input_tokens} in / {view.output_tokens} out tok, "
                f"{_cost_of(side_costs, turn.index)}"
            )
    if facts:
        head.append("  " + " · ".join(facts), style="dim")
    return head


def _summary(diff: SessionDiff, costs: Costs) -> Text:
    counts = {status: 0 for status in _STATUS}
    for turn in diff.turns:
        counts[turn.status] += 1
    parts = [f"{counts[s]} {_STATUS[s][0]}" for s in _STATUS]
    line = Text(f"{plural(len(diff.turns), 'turn')}: " + ", ".join(parts))
    line.append(
        f" · cost A {money(costs.total_a)}, B {money(costs.total_b)}, "
        f"B−A {signed_money(costs.total_a, costs.total_b)}"
    )
    verdict = (
        Text("identical", style="green")
        if diff.identical
        else Text(f"first difference at turn {diff.first_difference}", style="yellow")
    )
    return Text.assemble(verdict, "\n", line)


def diff_view(diff: SessionDiff, costs: Costs) -> RenderableType:
    """Every turn's status, the unified diff of what changed, and the totals."""
    parts: list[RenderableType] = [text(f"A = {diff.a}\nB = {diff.b}", style="bold")]
    for turn in diff.turns:
        parts.append(_turn_head(turn, costs))
        parts.extend(_line(line) for line in diff_lines(turn))
    parts.append(_summary(diff, costs))
    return Group(*parts)


def stat_view(diff: SessionDiff, costs: Costs, width: int) -> RenderableType:
    """`--stat`: per turn, its status, changed fields, lines added and removed, costs."""
    rows = []
    for turn in diff.turns:
        lines = [ln for ln in diff_lines(turn) if not ln.startswith(("---", "+++"))]
        rows.append(
            (
                str(turn.index),
                _STATUS[turn.status][0],
                ", ".join(c.field for c in turn.changes),
                str(sum(1 for ln in lines if ln.startswith("+"))),
                str(sum(1 for ln in lines if ln.startswith("-"))),
                f"{_cost_of(costs.a, turn.index)} → {_cost_of(costs.b, turn.index)}",
            )
        )
    headers = ("turn", "status", "changed", "+lines", "-lines", "cost A → B")
    drops = (None, None, 2, None, None, 1)  # cost goes first: the summary has the totals
    columns = [
        Column(h, [r[i] for r in rows], drop=drops[i], justify="left" if i in (1, 2) else "right")
        for i, h in enumerate(headers)
    ]
    head = text(f"A = {diff.a}\nB = {diff.b}", style="bold")
    return Group(head, rich_table(columns, width), _summary(diff, costs))

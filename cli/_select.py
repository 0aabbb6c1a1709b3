"""Choosing what to print: turn ranges for `show`, and the filters and sorts of `sessions`.

Option values are parsed by click parameter types, so a bad one is a usage error (exit 2)
naming the option and the expected syntax, and `--help` shows that syntax (`N|A-B`, `2d|ISO`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import click

from ._errors import UsageFailure

if TYPE_CHECKING:
    from definable_trace import Session
    from definable_trace._cost import Cost

__all__ = ["SessionFilter", "TimeSpec", "TurnRange", "TurnSpan", "pick_turns", "sort_sessions"]


@dataclass(frozen=True)
class TurnSpan:
    """Turns `first` to `last`, both included."""

    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


class TurnRange(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3 on
    """`3` or `2-5`."""

    name = "N|A-B"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, TurnSpan):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", str(value))
        if not match:
            self.fail(f"{value!r} is not a turn (N) or a range of turns (A-B)", param, ctx)
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1 or last < first:
            self.fail(f"{value!r}: turns count from 1, and A-B needs A <= B", param, ctx)
        return TurnSpan(first, last)


_RELATIVE = re.compile(r"\s*(\d+)\s*([smhdw])\s*")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class TimeSpec(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3 on
    """`30m`, `2h`, `2d`, `1w` ago, or an ISO 8601 date or time (no zone: the local one)."""

    name = "2d|ISO"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        match = _RELATIVE.fullmatch(str(value))
        if match:
            delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
            return datetime.now(timezone.utc) - delta
        try:  # 3.10's fromisoformat does not take a trailing Z
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is neither a duration ago (30m, 2h, 2d, 1w) nor ISO 8601", param)
        return moment if moment.tzinfo else moment.astimezone()


def pick_turns(
    session_id: str, numbers: Sequence[int], span: TurnSpan | None, last: int | None
) -> list[int]:
    """The turn numbers asked for, or a usage error naming the session's valid range."""
    if span is not None and last is not None:
        raise UsageFailure("--turn and --last cannot be used together")
    if not numbers:
        if span is not None or last is not None:
            raise UsageFailure(f"session {session_id} has no turns")
        return []
    valid = f"turns {numbers[0]}-{numbers[-1]}" if len(numbers) > 1 else f"turn {numbers[0]}"
    if last is not None:
        if last < 1:
            raise UsageFailure(f"--last {last}: give at least 1 (session {session_id}: {valid})")
        return list(numbers[-last:])
    if span is None:
        return list(numbers)
    if span.first < numbers[0] or span.last > numbers[-1]:
        raise UsageFailure(f"session {session_id} has no turn {span} (valid: {valid})")
    return [n for n in numbers if span.first <= n <= span.last]


@dataclass(frozen=True)
class SessionFilter:
    """`sessions`' filters; a session must pass all that are set."""

    models: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    grep: str | None = None
    min_cost: Decimal | None = None

    def keep(self, session: Session, cost: Cost) -> bool:
        checks: list[Callable[[], bool]] = [
            lambda: not self.models or any(_model_matches(m, session.models) for m in self.models),
            lambda: self.since is None or session.end >= self.since,
            lambda: self.until is None or session.start <= self.until,
            lambda: self.min_cost is None or (cost.usd is not None and cost.usd >= self.min_cost),
            lambda: self.grep is None or _mentions(session, self.grep),
        ]  # cheapest first: --grep reads every message
        return all(check() for check in checks)


def _model_matches(pattern: str, models: Sequence[str]) -> bool:
    """Exact, or a shell glob (`gpt-4o*`), case-insensitive."""
    pattern = pattern.lower()
    return any(fnmatchcase(model.lower(), pattern) for model in models)


def _mentions(session: Session, needle: str) -> bool:
    """Case-insensitive search in message text, reasoning and tool-call arguments."""
    needle = needle.casefold()
    for message in session.messages:
        found = [message.content or "", message.reasoning_content or ""]
        for call in message.tool_calls or ():
            found.append(str((call.get("function") or {}).get("arguments") or ""))
        if any(needle in part.casefold() for part in found):
            return True
    return False


def sort_sessions(
    sessions: Sequence[Session], costs: Mapping[str, Cost], key: str
) -> list[Session]:
    """By start time (oldest first), or by cost (dearest first; unknown costs last)."""
    if key == "cost":
        return sorted(
            sessions,
            key=lambda s: (costs[s.id].usd is None, -(costs[s.id].usd or Decimal(0)), s.start),
        )
    return sorted(sessions, key=lambda s: s.start)

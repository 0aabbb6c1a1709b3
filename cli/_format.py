"""Small formats shared by every rendering: durations, money, tokens, times, plurals.

Units are always said: a table header names them (`in tok`, `cost $`, `took s`), a running text
names them beside the number (`12 in / 5 out tok`, `$0.000933`). A cost that is not known is the
word `unknown`, never 0.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from definable_trace._cost import Cost
    from definable_trace._messages import Metrics

__all__ = [
    "ago",
    "duration",
    "iso",
    "money",
    "plural",
    "signed_money",
    "token_kinds",
    "tokens",
]

UNKNOWN = "unknown"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _amount(usd: Decimal) -> str:
    """Enough digits to tell small calls apart: 2 decimals from $1, 4 from a cent, else 6."""
    size = abs(usd)
    if size >= 1:
        return f"{usd:,.2f}"
    return f"{usd:.4f}" if size >= Decimal("0.01") else f"{usd:.6f}"


def money(cost: Cost, dollar: bool = True) -> str:
    """`$0.000933`, or `unknown` when a model could not be priced."""
    if cost.usd is None:
        return UNKNOWN
    return ("$" if dollar else "") + _amount(cost.usd)


def signed_money(a: Cost, b: Cost) -> str:
    """B minus A, signed (`+$0.0012`), or unknown."""
    if a.usd is None or b.usd is None:
        return UNKNOWN
    delta = b.usd - a.usd
    return ("+" if delta >= 0 else "-") + "$" + _amount(abs(delta))


def tokens(metrics: Metrics) -> str:
    return f"{metrics.input_tokens} in / {metrics.output_tokens} out"


def token_kinds(metrics: Metrics) -> str:
    """All four kinds; cached is part of input and reasoning part of output, as providers count."""
    return (
        f"{metrics.input_tokens} in ({metrics.cache_read_tokens} cached) / "
        f"{metrics.output_tokens} out ({metrics.reasoning_tokens} reasoning) tok"
    )


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def iso(value: datetime) -> str:
    """ISO 8601 with the zone, to the second, in the local zone."""
    return value.astimezone().isoformat(timespec="seconds")


def ago(value: datetime, now: datetime | None = None) -> str:
    """How long ago, for a terminal (`5m ago`, `3h ago`, `2d ago`); the ISO date after 30 days."""
    now = now or datetime.now(timezone.utc)
    seconds = (now - value).total_seconds()
    if seconds < 0:
        return iso(value)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            if unit == "d" and seconds >= 30 * 86400:
                return value.astimezone().date().isoformat()
            return f"{int(seconds // size)}{unit} ago"
    return "just now"

"""What a model call, a turn or a session cost in USD, priced by `genai-prices`.

Prices come from the `genai-prices` package (pydantic's maintained price table), which bundles
its data: no network is used, and prices are updated by upgrading the package. `PRICE_SOURCE`
names the package and version that priced a figure, for `--json` consumers.

Token counts follow the OpenAI convention the spans record: `input_tokens` includes the cached
ones (`cache_read_tokens`, `cache_write_tokens`) and `output_tokens` includes the reasoning ones;
genai-prices reads its `Usage` the same way, so each kind is priced at its own rate and nothing is
counted twice.

A price is never invented: a model or provider the table does not know makes the cost unknown
(`usd is None`), and a sum over calls is unknown as soon as one call is. Unknown is never 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

from . import _semconv as sc

if TYPE_CHECKING:
    from ._loading import ModelCall, Session, Turn
    from ._messages import Metrics

__all__ = [
    "Cost",
    "call_cost",
    "price",
    "price_source",
    "session_cost",
    "sum_costs",
    "turn_cost",
]


@dataclass(frozen=True)
class Cost:
    """A cost in USD, or unknown (`usd is None`) with the models that could not be priced.

    `calls` is how many model calls it covers; zero calls cost a known 0.
    """

    usd: Decimal | None
    calls: int = 0
    unknown_models: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return self.usd is not None

    def __add__(self, other: Cost) -> Cost:
        usd = None if self.usd is None or other.usd is None else self.usd + other.usd
        unknown = tuple(dict.fromkeys((*self.unknown_models, *other.unknown_models)))
        return Cost(usd, self.calls + other.calls, unknown)


ZERO = Cost(Decimal(0))


def price_source() -> str:
    """The package and version whose table priced the figures, e.g. `genai-prices 0.2.3`."""
    from genai_prices import __version__

    return f"genai-prices {__version__}"


@lru_cache(maxsize=256)
def _provider_known(provider_id: str | None, api_url: str | None) -> bool:
    from genai_prices import data_snapshot

    try:  # the table's own provider lookup, without a model: does it know this provider?
        data_snapshot.get_snapshot().find_provider(None, provider_id, api_url)
    except LookupError:
        return False
    return True


def _provider(provider: str | None, base_url: str | None) -> tuple[str | None, str | None]:
    """Which provider's prices apply: the recorded provider name if the table knows it, else the
    server's URL if it knows that, else none (the model name alone then picks the provider)."""
    if provider and _provider_known(provider, None):
        return provider, None
    if base_url and _provider_known(None, base_url):
        return None, base_url
    return None, None


def price(
    model: str | None,
    metrics: Metrics,
    *,
    provider: str | None = None,
    base_url: str | None = None,
    when: datetime | None = None,
) -> Cost:
    """The cost of one model call with these token counts (unknown if the model is not priced).

    `provider` is the `gen_ai.provider.name` recorded (e.g. `openai`), `base_url` the server it
    called; `when` the time of the call, for prices that changed over time.
    """
    if not model:
        return Cost(None, 1, ("(no model recorded)",))
    from genai_prices import Usage, calc_price

    counts = (
        metrics.input_tokens,
        metrics.output_tokens,
        metrics.cache_read_tokens,
        metrics.cache_write_tokens,
        metrics.reasoning_tokens,
    )
    if any(count < 0 for count in counts):  # a damaged trace
        return Cost(None, 1, (f"{model} (negative token counts)",))
    usage = Usage(
        input_tokens=metrics.input_tokens,
        output_tokens=metrics.output_tokens,
        cache_read_tokens=metrics.cache_read_tokens,
        cache_write_tokens=metrics.cache_write_tokens,
        output_reasoning_tokens=metrics.reasoning_tokens,
    )
    provider_id, api_url = _provider(provider, base_url)
    try:
        if api_url is not None:
            result = calc_price(
                usage, model, provider_api_url=api_url, genai_request_timestamp=when
            )
        else:
            result = calc_price(usage, model, provider_id=provider_id, genai_request_timestamp=when)
    except LookupError:
        return Cost(None, 1, (model,))
    except ValueError:  # genai-prices refuses counts it cannot price (a damaged trace)
        return Cost(None, 1, (f"{model} (unusable token counts)",))
    return Cost(result.total_price, 1)


def _base_url(call: ModelCall) -> str | None:
    address = call.span.text(sc.SERVER_ADDRESS)
    return f"https://{address}" if address else None


def call_cost(call: ModelCall) -> Cost:
    """One recorded model call, priced for the model that answered (else the one requested)."""
    provider = call.span.text(sc.GEN_AI_PROVIDER_NAME) or call.span.text("gen_ai.system")
    return price(
        call.response_model or call.request_model,
        call.metrics,
        provider=provider,
        base_url=_base_url(call),
        when=call.start,
    )


def sum_costs(costs: Iterable[Cost]) -> Cost:
    total = ZERO
    for cost in costs:
        total = total + cost
    return total


def turn_cost(turn: Turn) -> Cost:
    """Every model call of the turn (tool rounds included)."""
    return sum_costs(call_cost(c) for c in turn.model_calls)


def session_cost(session: Session) -> Cost:
    """The calls this session made; a fork's inherited turns ran (and were paid) in its parent."""
    return sum_costs(turn_cost(t) for t in session.turns)

"""Public import path of pricing: what a model call, a turn or a session cost in USD.

    from definable_trace import load_traces
    from definable_trace.cost import session_cost

    cost = session_cost(load_traces("traces.jsonl").session("s1"))
    cost.usd             # a Decimal, or None when a model is not in the price table
    cost.unknown_models  # which ones

Prices come from the `genai-prices` package (bundled data, no network); upgrade it to update
them. `price_source()` names the version that priced a figure.
"""

from ._cost import Cost, call_cost, price, price_source, session_cost, sum_costs, turn_cost

__all__ = [
    "Cost",
    "call_cost",
    "price",
    "price_source",
    "session_cost",
    "sum_costs",
    "turn_cost",
]

"""Cost in USD: our figures against genai-prices' own for the same usage, and unknown models.

Sessions are recorded by the real agent against the fake server (which reports cached and
reasoning tokens in its usage); the expected prices are computed here with `genai_prices`
directly from the token counts the server sent, not from anything our loader read.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import genai_prices
from click.testing import CliRunner
from deftrace_cli._app import cli
from genai_prices import Usage, calc_price

from definable_trace import Agent, OpenAIChat, configure_tracing, flush_tracing, load_traces
from definable_trace._cost import Cost, price, price_source, session_cost, sum_costs
from definable_trace._messages import Metrics
from definable_trace.testing import FakeOpenAIServer, Reply


def expected(model: str, prompt: int, completion: int, cached: int, reasoning: int) -> Decimal:
    usage = Usage(
        input_tokens=prompt,
        output_tokens=completion,
        cache_read_tokens=cached,
        output_reasoning_tokens=reasoning,
    )
    return calc_price(usage, model, provider_id="openai").total_price


def test_price_matches_genai_prices_for_known_models() -> None:
    for model in ("gpt-4o", "gpt-4o-mini"):
        metrics = Metrics(
            input_tokens=12000, output_tokens=3000, cache_read_tokens=8000, reasoning_tokens=500
        )
        cost = price(model, metrics, provider="openai")
        assert cost.usd == expected(model, 12000, 3000, 8000, 500)
        assert cost.usd is not None and cost.usd > 0
    # cached input is cheaper than fresh input: the cached count reached the price
    fresh = price("gpt-4o", Metrics(input_tokens=10000), provider="openai").usd
    cached = price("gpt-4o", Metrics(input_tokens=10000, cache_read_tokens=10000)).usd
    assert fresh is not None and cached is not None and cached < fresh


def test_unknown_model_is_unknown_never_zero() -> None:
    cost = price("my-local-llama-7b", Metrics(input_tokens=100, output_tokens=10))
    assert cost.usd is None and not cost.known
    assert cost.unknown_models == ("my-local-llama-7b",)
    known = price("gpt-4o", Metrics(input_tokens=100), provider="openai")
    total = sum_costs([known, cost])
    assert total.usd is None and total.calls == 2  # one unknown call makes the sum unknown
    assert sum_costs([]) == Cost(Decimal(0))


def test_damaged_token_counts_are_unknown_not_an_error() -> None:
    """A damaged trace can say -5 tokens; genai-prices refuses that (ValueError). The fuzz test
    found the CLI failing on it: the cost is unknown instead."""
    cost = price("gpt-4o", Metrics(input_tokens=-5, output_tokens=3))
    assert cost.usd is None and not cost.known
    assert cost.unknown_models == ("gpt-4o (negative token counts)",)


def test_provider_name_unknown_to_the_table_falls_back_to_the_url_then_the_model() -> None:
    metrics = Metrics(input_tokens=1000, output_tokens=100)
    by_url = price("gpt-4o", metrics, provider="my-gateway", base_url="https://api.openai.com/v1")
    assert by_url.usd == expected("gpt-4o", 1000, 100, 0, 0)
    by_model = price("gpt-4o", metrics, provider="my-gateway", base_url="https://127.0.0.1:9")
    assert by_model.usd == by_url.usd


def _record(path: Path, server: FakeOpenAIServer, model: str, session: str) -> None:
    configure_tracing(path)
    agent = Agent(OpenAIChat(model, base_url=server.base_url, api_key="k"), "Be brief.")
    history = agent.run("First question", session_id=session).messages
    agent.run("Second question", messages=history, session_id=session)
    flush_tracing()


def test_session_cost_from_a_real_run(tmp_path: Path, server: FakeOpenAIServer) -> None:
    replies = [
        Reply(content="One.", prompt_tokens=1200, completion_tokens=300, cached_tokens=1024),
        Reply(
            content="Two.",
            reasoning_content="thinking",
            prompt_tokens=1500,
            completion_tokens=700,
            cached_tokens=0,
            reasoning_tokens=400,
        ),
    ]
    for reply in replies:
        server.add(reply)
    source = tmp_path / "mini.jsonl"
    _record(source, server, "gpt-4o-mini", "mini")
    want = expected("gpt-4o-mini", 1200, 300, 1024, 0) + expected("gpt-4o-mini", 1500, 700, 0, 400)
    assert session_cost(load_traces(source).session("mini")).usd == want

    result = CliRunner().invoke(cli, ["sessions", "--json", str(source)])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert Decimal(str(row["cost"]["usd"])) == want
    assert row["cost"]["source"] == f"genai-prices {genai_prices.__version__}" == price_source()
    assert row["cache_read_tokens"] == 1024 and row["reasoning_tokens"] == 400

    shown = CliRunner().invoke(cli, ["show", "--json", str(source)])
    turns = json.loads(shown.stdout)["turns"]
    assert Decimal(str(turns[0]["cost"]["usd"])) == expected("gpt-4o-mini", 1200, 300, 1024, 0)
    assert turns[1]["model_calls"][0]["cost"]["usd"] == turns[1]["cost"]["usd"]


def test_unknown_model_session_shows_unknown(tmp_path: Path, server: FakeOpenAIServer) -> None:
    source = tmp_path / "local.jsonl"
    _record(source, server, "my-local-llama-7b", "local")
    result = CliRunner().invoke(cli, ["sessions", "--json", str(source)])
    [row] = json.loads(result.stdout)
    assert row["cost"]["usd"] is None
    assert row["cost"]["unknown_models"] == ["my-local-llama-7b"]
    piped = CliRunner().invoke(cli, ["sessions", str(source)])
    header, line = piped.stdout.splitlines()
    assert line.split("\t")[header.split("\t").index("cost $")] == "unknown"
    shown = CliRunner().invoke(cli, ["show", str(source)])
    assert "· unknown ·" in shown.stdout and "$0.0" not in shown.stdout


def test_public_module() -> None:
    import definable_trace.cost as public

    assert public.__all__ == sorted(public.__all__)
    assert public.session_cost is session_cost and public.Cost is Cost

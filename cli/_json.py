"""The `--json` shapes: plain dicts of the library's objects, stable for scripts.

Times are ISO 8601 strings (UTC), durations seconds, messages the definable `Message` JSON
(the same as `deftrace export --format definable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from definable_trace import Message, Metrics, Session, Turn
    from definable_trace._cost import Cost
    from definable_trace.replay import ReplayOutcome, ReplayResult, SessionDiff, TurnDiff

__all__ = [
    "cost_json",
    "diff_json",
    "messages_json",
    "outcome_json",
    "replay_json",
    "session_json",
    "turn_json",
]


def messages_json(messages: Sequence[Message]) -> list[dict[str, Any]]:
    from definable_trace._messages import MESSAGES_ADAPTER

    dumped: list[dict[str, Any]] = MESSAGES_ADAPTER.dump_python(
        list(messages), mode="json", exclude_none=True
    )
    return dumped


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _tokens(metrics: Metrics) -> dict[str, int]:
    return {
        "input_tokens": metrics.input_tokens,
        "output_tokens": metrics.output_tokens,
        "cache_read_tokens": metrics.cache_read_tokens,
        "cache_write_tokens": metrics.cache_write_tokens,
        "reasoning_tokens": metrics.reasoning_tokens,
    }


def cost_json(cost: Cost | None) -> dict[str, Any] | None:
    """USD as a number (null when unknown: never 0), the unpriced models, and the price table."""
    if cost is None:
        return None
    from definable_trace._cost import price_source

    return {
        "usd": float(cost.usd) if cost.usd is not None else None,
        "unknown_models": list(cost.unknown_models),
        "model_calls": cost.calls,
        "source": price_source(),
    }


def sources(session: Session) -> list[str]:
    """The files the session's spans came from."""
    known = getattr(session, "sources", None)  # the loader's own list, when it lands
    if known is not None:
        return [str(s) for s in known]
    return sorted({span.path for turn in session.turns for span in turn.spans})


def session_json(session: Session, cost: Cost | None = None) -> dict[str, Any]:
    """One row of `deftrace sessions --json`: absolute times, every token kind, cost, files."""
    lineage = session.lineage
    return {
        "id": session.id,
        "agent_name": session.agent_name,
        "turns": len(session.turns),
        "inherited_turns": max(session.turns[0].index - 1, 0) if session.turns else 0,
        "messages": session.message_count,
        **_tokens(session.metrics),
        "model_calls": session.model_calls,
        "models": list(session.models),
        "start": _time(session.start),
        "end": _time(session.end),
        "duration": session.duration,
        "has_content": session.has_content,
        "id_inferred": session.id_inferred,
        "inferred": session.inferred,
        "stitched": session.stitched,
        "cost": cost_json(cost),
        "sources": sources(session),
        "convention": session.convention,
        "lineage": None
        if lineage is None
        else {
            "kind": lineage.kind,
            "parent_session": lineage.parent_session,
            "turn": lineage.turn,
            "status": lineage.status,  # None: completed; "diverged", "interrupted", "failed"
        },
    }


def turn_json(turn: Turn, cost: Cost | None = None) -> dict[str, Any]:
    """One turn of `deftrace show --json`: its messages, model calls (each priced), tool calls."""
    from definable_trace._cost import call_cost

    return {
        "index": turn.index,
        "inherited": False,
        "cost": cost_json(cost),
        "unreplayable": turn.unreplayable,
        "run_id": turn.run_id,
        "start": _time(turn.start),
        "duration": turn.duration,
        **_tokens(turn.metrics),
        "error": turn.error,
        "messages": messages_json(turn.messages),
        "model_calls": [
            {
                "request_model": call.request_model,
                "response_model": call.response_model,
                "response_id": call.response_id,
                "finish_reason": call.finish_reason,
                "start": _time(call.start),
                "error": call.error,
                **call.metrics.model_dump(exclude_none=True),
                "cost": cost_json(call_cost(call)),
            }
            for call in turn.model_calls
        ],
        "tool_calls": [
            {
                "name": call.name,
                "call_id": call.call_id,
                "arguments": call.arguments,
                "result": call.result,
                "error": call.error,
                "start": _time(call.start),
                "duration": call.duration,
            }
            for call in turn.tool_calls
        ],
    }


def _turn_diff_json(turn: TurnDiff) -> dict[str, Any]:
    return {
        "index": turn.index,
        "status": turn.status,
        "changes": [asdict(change) for change in turn.changes],
        "a": asdict(turn.a) if turn.a is not None else None,
        "b": asdict(turn.b) if turn.b is not None else None,
    }


def inherited_turn_json(index: int, messages: Sequence[Message]) -> dict[str, Any]:
    """A turn a fork inherited: its messages only (it ran, and was paid for, in the parent)."""
    return {"index": index, "inherited": True, "messages": messages_json(messages)}


def diff_json(
    diff: SessionDiff,
    costs_a: dict[int, Cost] | None = None,
    costs_b: dict[int, Cost] | None = None,
    totals: tuple[Cost, Cost] | None = None,
) -> dict[str, Any]:
    """The comparison; with costs, each turn's cost per side and both sessions' totals."""
    turns = [_turn_diff_json(t) for t in diff.turns]
    for turn in turns:
        turn["cost_a"] = cost_json((costs_a or {}).get(turn["index"]))
        turn["cost_b"] = cost_json((costs_b or {}).get(turn["index"]))
    out: dict[str, Any] = {
        "a": diff.a,
        "b": diff.b,
        "identical": diff.identical,
        "first_difference": diff.first_difference,
        "turns": turns,
    }
    if totals is not None:
        a, b = totals
        out["cost_a"], out["cost_b"] = cost_json(a), cost_json(b)
        out["cost_difference_usd"] = (
            float(b.usd - a.usd) if a.usd is not None and b.usd is not None else None
        )
    return out


def replay_json(result: ReplayResult, trace_out: str | None) -> dict[str, Any]:
    """A replay's or fork's new session, its turns and the comparison with the original."""
    return {
        "kind": result.kind,
        "parent": result.parent,
        "session_id": result.session_id,
        "recorded": result.recorded,
        "trace_out": trace_out,
        "skipped_turns": result.skipped,
        "turns": [
            {
                "index": t.index,
                "run_id": t.run_id,
                "model": t.model,
                "content": t.content,
                **_tokens(t.metrics),
                "messages": messages_json(t.messages),
            }
            for t in result.turns
        ],
        "comparison": [_turn_diff_json(t) for t in result.comparison],
    }


def outcome_json(outcome: ReplayOutcome, trace_out: str | None) -> dict[str, Any]:
    """One session of `deftrace replay --all --json`."""
    return {
        "session": outcome.session,
        "ok": outcome.error is None,
        "error": str(outcome.error) if outcome.error is not None else None,
        "result": replay_json(outcome.result, trace_out) if outcome.result is not None else None,
    }

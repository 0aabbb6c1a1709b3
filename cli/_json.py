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
    from definable_trace.replay import ReplayOutcome, ReplayResult, SessionDiff, TurnDiff

__all__ = [
    "diff_json",
    "messages_json",
    "outcome_json",
    "replay_json",
    "session_json",
    "turn_json",
]


def messages_json(messages: Sequence[Message]) -> list[dict[str, Any]]:
    from definable_trace._messages import MESSAGES_ADAPTER

    return MESSAGES_ADAPTER.dump_python(list(messages), mode="json", exclude_none=True)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _tokens(metrics: Metrics) -> dict[str, int]:
    return {"input_tokens": metrics.input_tokens, "output_tokens": metrics.output_tokens}


def session_json(session: Session) -> dict[str, Any]:
    """One row of `deftrace sessions --json`."""
    lineage = session.lineage
    return {
        "id": session.id,
        "agent_name": session.agent_name,
        "turns": len(session.turns),
        "messages": len(session.messages),
        **_tokens(session.metrics),
        "model_calls": session.model_calls,
        "models": list(session.models),
        "start": _time(session.start),
        "end": _time(session.end),
        "duration": session.duration,
        "has_content": session.has_content,
        "id_inferred": session.id_inferred,
        "convention": session.convention,
        "lineage": None
        if lineage is None
        else {"kind": lineage.kind, "parent_session": lineage.parent_session, "turn": lineage.turn},
    }


def turn_json(turn: Turn) -> dict[str, Any]:
    """One turn of `deftrace show --json`: its messages, model calls and tool calls."""
    return {
        "index": turn.index,
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


def diff_json(diff: SessionDiff) -> dict[str, Any]:
    return {
        "a": diff.a,
        "b": diff.b,
        "identical": diff.identical,
        "first_difference": diff.first_difference,
        "turns": [_turn_diff_json(t) for t in diff.turns],
    }


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

"""`RecordedModel`: answers from the recording, refusing any request it did not record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .._diff import (
    canonical_arguments,
)
from .._errors import DivergenceError, ModelResponseError
from .._messages import Message
from .._models._base import Model, ModelDelta, ModelResponse
from .._semconv import ToolCallPart
from ._types import _new_id, _now

if TYPE_CHECKING:
    from .._loading import ModelCall, Session

# --- the recorded model -------------------------------------------------------------------------


class RecordedModel(Model):
    """A model that answers each call with the recorded answer, once the request matches.

    The turn being replayed is set with `begin_turn` (the replay does it); without it, the turn
    is the number of user messages in the request, as the agent counts turns. Its calls are
    answered in recorded order; the request is compared with the recorded one on roles, text,
    tool calls (name and arguments) and attachments, never on ids or times. The answer keeps
    the recorded usage, so a recorded replay reports the original tokens.
    """

    provider = "openai"

    def __init__(self, session: Session) -> None:
        self.id = session.models[0] if session.models else "recorded"
        self._calls = {t.index: list(t.model_calls) for t in session.turns}
        self._turn: int | None = None
        self._used: dict[int, int] = {}

    def begin_turn(self, index: int) -> None:
        """Answer the next calls from recorded turn `index`, from its first model call."""
        self._turn = index
        self._used[index] = 0

    def invoke(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ModelResponse:
        turn = self._turn if self._turn is not None else _user_count(messages)
        calls = self._calls.get(turn, [])
        position = self._used.get(turn, 0)
        if position >= len(calls):
            recorded = f"{len(calls)} model call{'s' if len(calls) != 1 else ''}"
            raise DivergenceError(turn, f"the recording has only {recorded} in this turn")
        self._used[turn] = position + 1
        call = calls[position]
        difference = _request_difference(call.input_messages or [], messages)
        if difference is not None:
            raise DivergenceError(turn, f"model call {position + 1}: {difference}")
        return _recorded_response(turn, call)

    async def ainvoke(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> ModelResponse:
        return self.invoke(messages, tools)

    def invoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> Iterator[ModelDelta | ModelResponse]:
        response = self.invoke(messages, tools)
        answer = response.message
        if answer.content or answer.reasoning_content:
            yield ModelDelta(answer.content, answer.reasoning_content)
        yield response

    async def ainvoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> AsyncIterator[ModelDelta | ModelResponse]:
        for item in self.invoke_stream(messages, tools):
            yield item


def _user_count(messages: Sequence[Message]) -> int:
    return sum(1 for m in messages if m.role == "user")


def _recorded_response(turn: int, call: ModelCall) -> ModelResponse:
    if call.output_message is None:
        raise ModelResponseError(f"turn {turn}: the recorded model call failed: {call.error}")
    message = call.output_message.model_copy(update={"id": _new_id(), "created_at": _now()})
    return ModelResponse(message, call.response_id, call.response_model, call.finish_reason)


def _request_difference(expected: Sequence[Message], got: Sequence[Message]) -> str | None:
    """What first differs between the recorded request and this one, or None."""
    for position, (old, new) in enumerate(zip(expected, got, strict=False), start=1):
        if _message_key(old) != _message_key(new):
            return (
                f"message {position} ({new.role}) differs: "
                f"recorded {_describe(old)}, now {_describe(new)}"
            )
    if len(expected) != len(got):
        return f"the request has {len(got)} messages, the recording {len(expected)}"
    return None


def _message_key(message: Message) -> tuple[Any, ...]:
    return (message.role, message.content or "", _calls_key(message), len(message.media()))


def _calls_key(message: Message) -> tuple[tuple[str, str], ...]:
    return tuple(_call_key(call) for call in message.tool_calls or ())


def _call_key(call: dict[str, Any]) -> tuple[str, str]:
    part = ToolCallPart.from_openai(call)
    return part.name or "", canonical_arguments(str(part.arguments or ""))


def _describe(message: Message) -> str:
    calls = _calls_key(message)
    if calls:
        return ", ".join(f"{name}({arguments})" for name, arguments in calls)
    text = message.content or ""
    return repr(text if len(text) <= 80 else text[:77] + "...")

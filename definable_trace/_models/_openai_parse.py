"""Reading chat.completions answers, whole or streamed, into one assistant `Message`.

Tool-call deltas arrive as fragments keyed by `index` (the id and name first, the arguments in
pieces); usage arrives in a last chunk with no choices when `include_usage` is asked for.
"""

from __future__ import annotations

from typing import Any

from .._errors import ModelResponseError
from .._messages import Message, Metrics
from ._base import ModelDelta, ModelResponse

__all__ = ["StreamAccumulator", "from_completion", "usage_metrics"]


class StreamAccumulator:
    """Collects chunks; `add` returns the text delta to show, `response` the final message."""

    def __init__(self, started: float) -> None:
        self._started = started
        self._first_token: float | None = None
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._tool_calls: dict[int, dict[str, Any]] = {}
        self._usage: Any = None
        self._id: str | None = None
        self._model: str | None = None
        self._finish_reason: str | None = None

    def add(self, chunk: Any, now: float) -> ModelDelta | None:
        self._id = self._id or chunk.id
        self._model = self._model or chunk.model
        if chunk.usage is not None:
            self._usage = chunk.usage
        if not chunk.choices:
            return None
        choice = chunk.choices[0]
        if choice.finish_reason:
            self._finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            return None
        for tool_delta in delta.tool_calls or ():
            self._merge_tool_call(tool_delta)
            self._mark_first_token(now)
        reasoning = message_reasoning(delta)
        if reasoning:
            self._reasoning.append(reasoning)
        if delta.content:
            self._content.append(delta.content)
        if not (reasoning or delta.content):
            return None
        self._mark_first_token(now)
        return ModelDelta(content=delta.content or None, reasoning_content=reasoning)

    def response(self, now: float) -> ModelResponse:
        metrics = usage_metrics(self._usage)
        metrics.duration = now - self._started
        metrics.time_to_first_token = (self._first_token or now) - self._started
        tool_calls = [self._tool_calls[i] for i in sorted(self._tool_calls)] or None
        content = "".join(self._content) if self._content or not tool_calls else None
        message = Message(
            role="assistant",
            content=content,
            tool_calls=tool_calls,
            reasoning_content="".join(self._reasoning) or None,
            metrics=metrics,
        )
        return ModelResponse(message, self._id, self._model, self._finish_reason)

    def _mark_first_token(self, now: float) -> None:
        if self._first_token is None:
            self._first_token = now

    def _merge_tool_call(self, tool_delta: Any) -> None:
        call = self._tool_calls.setdefault(
            tool_delta.index,
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if tool_delta.id:
            call["id"] = tool_delta.id
        if tool_delta.type:
            call["type"] = tool_delta.type
        function = tool_delta.function
        if function is not None:
            if function.name:
                call["function"]["name"] += function.name
            if function.arguments:
                call["function"]["arguments"] += function.arguments


def from_completion(completion: Any, elapsed: float) -> ModelResponse:
    if not getattr(completion, "choices", None):
        raise ModelResponseError(f"the server answered without choices: {completion!r:.200}")
    choice = completion.choices[0]
    raw = choice.message
    tool_calls = [tc.model_dump(exclude_none=True) for tc in raw.tool_calls or []] or None
    metrics = usage_metrics(completion.usage)
    metrics.duration = elapsed
    metrics.time_to_first_token = elapsed
    message = Message(
        role="assistant",
        content=raw.content,
        tool_calls=tool_calls,
        reasoning_content=message_reasoning(raw),
        metrics=metrics,
    )
    return ModelResponse(
        message=message,
        response_id=completion.id,
        response_model=completion.model,
        finish_reason=choice.finish_reason,
    )


def message_reasoning(obj: Any) -> str | None:
    """Reasoning text of compatible servers (DeepSeek, vLLM: `reasoning_content`)."""
    extra = getattr(obj, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning")
    return value if isinstance(value, str) else None


def usage_metrics(usage: Any) -> Metrics:
    """Map a chat.completions `usage` object onto `Metrics` (cached and reasoning tokens too)."""
    if usage is None:
        return Metrics()
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Metrics(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        total_tokens=usage.total_tokens or 0,
        cache_read_tokens=getattr(prompt_details, "cached_tokens", None) or 0,
        cache_write_tokens=getattr(prompt_details, "cache_write_tokens", None) or 0,
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", None) or 0,
    )

"""The model interface the run loop talks to, so another provider can be plugged in.

A model turns a list of `Message` (plus tool definitions) into one assistant `Message` whose
`metrics` are filled, wrapped in a `ModelResponse` that also carries what the trace needs
(response id, response model, finish reason). Streaming yields `ModelDelta` pieces first and the
`ModelResponse` last, so the run loop has one shape to handle for both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._messages import Message

__all__ = ["Model", "ModelDelta", "ModelResponse"]


@dataclass(frozen=True)
class ModelDelta:
    """A piece of a streamed answer: text and/or reasoning text."""

    content: str | None = None
    reasoning_content: str | None = None


@dataclass(frozen=True)
class ModelResponse:
    """One completed model call."""

    message: Message
    response_id: str | None = None
    response_model: str | None = None
    finish_reason: str | None = None


class Model(ABC):
    """Base class of the models an `Agent` can use.

    Subclasses implement the four calls; `provider` names the system for the trace's
    `gen_ai.provider.name`, and `server_address`/`server_port` describe the endpoint (never its
    credentials).
    """

    id: str
    provider: str = "openai"

    @property
    def server_address(self) -> str | None:
        return None

    @property
    def server_port(self) -> int | None:
        return None

    def request_parameters(self) -> dict[str, Any]:
        """Sampling parameters sent with each call (temperature, max_tokens, ...)."""
        return {}

    def close(self) -> None:  # noqa: B027 - deliberately empty: most models hold nothing
        """Release what the model holds open (connections); the default holds nothing."""

    async def aclose(self) -> None:
        """Async `close`, for models whose connections belong to an event loop."""
        self.close()

    @abstractmethod
    def invoke(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ModelResponse:
        """Call the model and wait for the whole answer."""

    @abstractmethod
    async def ainvoke(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> ModelResponse:
        """Async `invoke`."""

    @abstractmethod
    def invoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> Iterator[ModelDelta | ModelResponse]:
        """Stream the answer: deltas, then exactly one `ModelResponse` last."""

    @abstractmethod
    def ainvoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> AsyncIterator[ModelDelta | ModelResponse]:
        """Async `invoke_stream`."""

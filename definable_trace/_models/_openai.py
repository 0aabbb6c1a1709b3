"""`OpenAIChat`: chat.completions through the official `openai` SDK, OpenAI or compatible.

The SDK is imported when the first client is built, not when this module is, so that the CLI's
read-only commands start fast. SDK exceptions are translated in `_openai_errors`; what the model
shows of its endpoint (repr, span attributes, error texts) is credential-free (`_redaction`).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .._errors import InvalidInputError, ModelConfigurationError
from .._messages import Media, Message
from ._base import Model, ModelDelta, ModelResponse
from ._loops import LoopClients
from ._openai_errors import CallContext, translate_errors
from ._openai_parse import StreamAccumulator, from_completion
from ._redaction import safe_url, split_base_url

if TYPE_CHECKING:
    from types import TracebackType

    import openai

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DEFAULT_TIMEOUT", "OpenAIChat", "to_openai_message"]

_OPENAI_HOST = "api.openai.com"
_PLACEHOLDER_KEY = "not-needed"

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for each read (and write) of a request, i.e. for the answer to start and
then between streamed chunks. The SDK's own default is 600 s, which makes a silent server look
like a hung program (three attempts: half an hour). A reasoning model asked to think hard can
stay silent longer than a minute before its first byte: give it `timeout=` of its own."""

DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a connection (the SDK's own default too)."""


class OpenAIChat(Model):
    """A chat model served by OpenAI or by any OpenAI-compatible server.

    `api_key` and `base_url` default to `OPENAI_API_KEY` / `OPENAI_BASE_URL`. A server other
    than api.openai.com may need no key (vLLM, Ollama, llama.cpp): then a placeholder is sent.
    `organization`, `project`, `default_headers` and `default_query` configure the SDK client
    (they go out as HTTP headers and query parameters); extra keyword arguments (`temperature`,
    `max_tokens`, `seed`, ...) go into the body of every request and onto the trace.

    `timeout` is seconds per read (default `DEFAULT_TIMEOUT`, 60 s; connecting waits at most
    `DEFAULT_CONNECT_TIMEOUT`, 5 s), or an `openai.Timeout` for full control, or None to wait
    forever. A failed request is retried `max_retries` times (default 2: connection errors,
    timeouts, 408/409/429 and 5xx, with the SDK's backoff), so a silent server ends a call
    with `ModelConnectionError` after about `(max_retries + 1) * timeout` seconds.

    Pass `client` / `async_client` to use SDK clients you configured; they stay yours (`close`
    leaves them open). The clients built here are closed by `close()` / `aclose()` (or `with` /
    `async with`); an async client is also closed when the event loop it ran on shuts down.
    """

    def __init__(
        self,
        id: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        timeout: float | openai.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        client: openai.OpenAI | None = None,
        async_client: openai.AsyncOpenAI | None = None,
        **params: Any,
    ) -> None:
        _check_arguments(id, timeout, max_retries)
        _check_params(params)
        self.id = id
        self._api_key = api_key
        self._base_url = base_url
        self._organization = organization
        self._project = project
        self._default_headers = dict(default_headers) if default_headers else None
        self._default_query = dict(default_query) if default_query else None
        self._timeout = timeout
        self._max_retries = max_retries
        self._client = client
        self._own_client = client is None
        self._given_async_client = async_client
        self._async_clients: LoopClients[openai.AsyncOpenAI] = LoopClients(_close_async_client)
        self.params = params

    def __repr__(self) -> str:  # never shows the key, URL credentials or header values
        return f"OpenAIChat(id={self.id!r}, base_url={safe_url(self.base_url)!r})"

    @property
    def base_url(self) -> str | None:
        """The endpoint as configured (credentials included: never print it; repr does not)."""
        if self._client is not None:
            return str(self._client.base_url)
        return self._base_url or os.environ.get("OPENAI_BASE_URL")

    @property
    def server_address(self) -> str | None:
        """The host alone (no user info, port or path): what `server.address` records."""
        return urlsplit(self.base_url).hostname if self.base_url else _OPENAI_HOST

    @property
    def server_port(self) -> int | None:
        if not self.base_url:
            return 443
        parts = urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    def request_parameters(self) -> dict[str, Any]:
        return dict(self.params)

    # --- calls -------------------------------------------------------------------------------

    def invoke(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> ModelResponse:
        started = time.perf_counter()
        client = self.client()
        with translate_errors(partial(self._call_context, client)):
            completion = _post(client, self._request(messages, tools))
        return from_completion(completion, time.perf_counter() - started)

    async def ainvoke(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> ModelResponse:
        started = time.perf_counter()
        client = self.async_client()
        with translate_errors(partial(self._call_context, client)):
            completion = await _post(client, self._request(messages, tools))
        return from_completion(completion, time.perf_counter() - started)

    def invoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> Iterator[ModelDelta | ModelResponse]:
        acc = StreamAccumulator(time.perf_counter())
        client = self.client()
        with translate_errors(partial(self._call_context, client)):
            stream = _post(client, self._request(messages, tools, stream=True))
            with stream:
                for chunk in stream:
                    delta = acc.add(chunk, time.perf_counter())
                    if delta is not None:
                        yield delta
        yield acc.response(time.perf_counter())

    async def ainvoke_stream(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]
    ) -> AsyncIterator[ModelDelta | ModelResponse]:
        acc = StreamAccumulator(time.perf_counter())
        client = self.async_client()
        with translate_errors(partial(self._call_context, client)):
            stream = await _post(client, self._request(messages, tools, stream=True))
            async with stream:
                async for chunk in stream:
                    delta = acc.add(chunk, time.perf_counter())
                    if delta is not None:
                        yield delta
        yield acc.response(time.perf_counter())

    # --- clients and their lifetime -----------------------------------------------------------

    def client(self) -> openai.OpenAI:
        """The sync SDK client, built on first use."""
        if self._client is None:
            import openai

            self._client = openai.OpenAI(**self._client_options())
        return self._client

    def async_client(self) -> openai.AsyncOpenAI:
        """The async SDK client for the running event loop.

        An SDK async client is bound to the loop it first ran on, so successive
        `asyncio.run(agent.arun(...))` calls each get their own, closed when that loop shuts
        down (see `_loops`); a client passed in is always the one used.
        """
        if self._given_async_client is not None:
            return self._given_async_client
        return self._async_clients.get(self._new_async_client)

    def close(self) -> None:
        """Close the SDK clients built here (connections released); safe to call twice.

        Inside a running event loop, prefer `await aclose()`: that loop's async client can
        only be closed by awaiting, so `close()` schedules it instead.
        """
        self._async_clients.close()
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the SDK clients built here, the running loop's async client first."""
        await self._async_clients.aclose()
        self.close()

    def __enter__(self) -> OpenAIChat:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> OpenAIChat:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _new_async_client(self) -> openai.AsyncOpenAI:
        import openai

        return openai.AsyncOpenAI(**self._client_options())

    def _client_options(self) -> dict[str, Any]:
        key = self._api_key or os.environ.get("OPENAI_API_KEY")
        base_url = self.base_url
        if not key:
            if not base_url or urlsplit(base_url).hostname == _OPENAI_HOST:
                raise ModelConfigurationError(
                    "No OpenAI API key: set OPENAI_API_KEY, or pass OpenAIChat(api_key=...); "
                    "for a local OpenAI-compatible server pass base_url=... instead."
                )
            key = _PLACEHOLDER_KEY
        options: dict[str, Any] = {
            "api_key": key,
            "max_retries": self._max_retries,
            "timeout": _sdk_timeout(self._timeout),
            "organization": self._organization,
            "project": self._project,
        }
        headers = dict(self._default_headers or {})
        query = dict(self._default_query or {})
        if base_url:
            split = split_base_url(base_url)
            options["base_url"] = split.url
            if split.authorization and not any(h.lower() == "authorization" for h in headers):
                headers["Authorization"] = split.authorization
            query = {**split.query, **query}
        options["default_headers"] = headers or None
        options["default_query"] = query or None
        return options

    def _call_context(self, client: openai.OpenAI | openai.AsyncOpenAI) -> CallContext:
        """What an error of this call may say: the safe URL, the limits, the secrets to hide."""
        key = getattr(client, "api_key", None)
        secrets = [self._api_key, os.environ.get("OPENAI_API_KEY"), key]
        secrets.extend((self._default_headers or {}).values())
        if self.base_url:
            parts = urlsplit(self.base_url)
            secrets.extend([parts.password, *(v for _, v in parse_qsl(parts.query))])
        return CallContext(
            url=safe_url(str(self.base_url or client.base_url).rstrip("/")),
            timeout=_read_timeout(client.timeout),
            attempts=client.max_retries + 1,
            secrets=tuple(s for s in secrets if isinstance(s, str) and s),
        )

    def _request(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], *, stream: bool = False
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            **self.params,
            "model": self.id,
            "messages": [to_openai_message(m) for m in messages],
        }
        if tools:
            request["tools"] = list(tools)
        if stream:
            request["stream"] = True
            request["stream_options"] = {"include_usage": True}
        return request

    def check(self) -> None:
        """One cheap request (GET /models) before a conversation starts, so that a missing key,
        refused credentials or an unreachable server fail at once, as the `ModelError` tree,
        not after the user typed a first message. A server without a models list (404) did
        answer, which is all this checks."""
        import openai

        client = self.client()
        with translate_errors(partial(self._call_context, client)):
            try:
                client.models.list()
            except openai.NotFoundError:
                return


def _check_arguments(id: object, timeout: object, max_retries: object) -> None:
    """Reject what the SDK would reject later, mid-run, with its own words."""
    if not isinstance(id, str) or not id:
        raise InvalidInputError(f"OpenAIChat needs a model id (a non-empty string), got {id!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidInputError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        if not timeout > 0:
            raise InvalidInputError(f"timeout must be seconds > 0, or None, got {timeout!r}")
    elif timeout is not None and not hasattr(timeout, "read"):
        raise InvalidInputError(
            f"timeout must be seconds, an openai.Timeout or None, got {type(timeout).__name__}"
        )


# Keys of `**params` that would not do what the caller meant: the request sets the first group
# itself, and the second are client options, which in the body would reach the server as junk.
_SET_BY_THE_REQUEST = frozenset({"model", "messages", "tools", "stream", "stream_options"})
_CLIENT_OPTIONS = {
    "headers": "default_headers",
    "extra_headers": "default_headers",
    "extra_query": "default_query",
    "query": "default_query",
    "http_client": "client=openai.OpenAI(http_client=...)",
}


def _check_params(params: Mapping[str, Any]) -> None:
    """Reject request parameters that the request sets itself or that belong to the client."""
    for name in params:
        if name in _SET_BY_THE_REQUEST:
            raise InvalidInputError(f"OpenAIChat sets {name!r} in each request; do not pass it")
        if name in _CLIENT_OPTIONS:
            raise InvalidInputError(
                f"{name!r} is not a request parameter; pass {_CLIENT_OPTIONS[name]} instead"
            )


async def _close_async_client(client: openai.AsyncOpenAI) -> None:
    await client.close()


def _sdk_timeout(timeout: float | openai.Timeout | None) -> float | openai.Timeout | None:
    """A number becomes the SDK's `Timeout` with our connect bound; the rest pass as given."""
    if timeout is None or not isinstance(timeout, (int, float)):
        return timeout
    import openai

    return openai.Timeout(float(timeout), connect=min(float(timeout), DEFAULT_CONNECT_TIMEOUT))


def _read_timeout(timeout: object) -> float | None:
    """The read timeout in seconds of whatever the SDK client holds (number or `Timeout`)."""
    if isinstance(timeout, (int, float)):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, (int, float)) else None


def _post(client: Any, request: dict[str, Any]) -> Any:
    """POST /chat/completions through the SDK client: its retries, errors and stream decoding.

    Not `chat.completions.create`: that runs a type-driven transform over every request, which
    costs about 0.2 ms per history message (2.3 ms of a 3.8 ms call with ten messages, measured
    against the local server), while our request is already plain JSON in the API's shape.
    `client.post` is the SDK's documented way to send a body as is.
    """
    import openai
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    if not request.get("stream"):
        return client.post("/chat/completions", body=request, cast_to=ChatCompletion)
    stream_cls: type[Any] = (
        openai.AsyncStream[ChatCompletionChunk]
        if isinstance(client, openai.AsyncOpenAI)
        else openai.Stream[ChatCompletionChunk]
    )
    return client.post(
        "/chat/completions",
        body=request,
        cast_to=ChatCompletion,
        stream=True,
        stream_cls=stream_cls,
    )


# --- Message -> chat.completions ----------------------------------------------------------------


def to_openai_message(message: Message) -> dict[str, Any]:
    """One `Message` as a chat.completions request message."""
    out: dict[str, Any] = {"role": message.role}
    media = message.media()
    if media and message.role == "user":
        parts: list[dict[str, Any]] = []
        if message.content:
            parts.append({"type": "text", "text": message.content})
        parts.extend(p for p in (_media_part(m) for m in media) if p is not None)
        out["content"] = parts
    else:
        out["content"] = message.content
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = message.tool_calls
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def _media_part(media: Media) -> dict[str, Any] | None:
    kind = getattr(media, "kind", "image")
    if kind == "image":
        url = media.url or _data_url(media)
        if url is None:
            return None
        image: dict[str, Any] = {"url": url}
        if getattr(media, "detail", None):
            image["detail"] = media.detail  # type: ignore[attr-defined]
        return {"type": "image_url", "image_url": image}
    if kind == "audio":
        data = _read_bytes(media)
        if data is None:
            return None
        fmt = getattr(media, "format", None) or "wav"
        return {"type": "input_audio", "input_audio": {"data": _b64(data), "format": fmt}}
    if kind == "file":
        if media.file_id:
            return {"type": "file", "file": {"file_id": media.file_id}}
        data = _read_bytes(media)
        if data is None:
            return None
        mime = media.mime_type or "application/octet-stream"
        name = getattr(media, "filename", None) or "file"
        return {"type": "file", "file": {"filename": name, "file_data": _data_uri(mime, data)}}
    return None  # chat.completions takes no video input: it stays in the history and the trace


def _read_bytes(media: Media) -> bytes | None:
    if media.content is not None:
        return media.content
    if media.filepath:
        try:
            with open(media.filepath, "rb") as fh:
                return fh.read()
        except OSError as exc:
            kind = getattr(media, "kind", "media")
            reason = exc.strerror or type(exc).__name__
            raise InvalidInputError(
                f"cannot read the {kind} file {media.filepath}: {reason}"
            ) from exc
    return None


def _data_url(media: Media) -> str | None:
    data = _read_bytes(media)
    return None if data is None else _data_uri(media.mime_type or "image/png", data)


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{_b64(data)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

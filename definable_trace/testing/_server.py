"""A real-HTTP, OpenAI-compatible `chat.completions` server that answers from a script.

It exists so that everything which talks to a model through the `openai` SDK (the agent, the
tracer, the sample-trace generator, the benchmarks, and users' own agents) can run offline,
deterministically and without an API key, while still exercising the SDK's real transport:
HTTP status handling, retries, server-sent-event parsing and pydantic validation. Faking at
the HTTP layer instead of monkeypatching the SDK means traces produced against this server look
exactly like traces produced against a real provider.

Only the standard library (plus `orjson`, already a dependency) is used so that importing it
never adds an install requirement.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import orjson

from .._errors import InvalidInputError

__all__ = [
    "FakeOpenAIServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ToolCallReply",
    "default_reply",
]

JSONDict = dict[str, Any]

FAKE_MODEL = "fake-model"
_CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
_MODELS_PATHS = frozenset({"/v1/models", "/models"})
# Letters-only boundaries: "tools" and "weather_tool" count as the word, "toolkit" does not.
_TOOL_WORD = re.compile(r"(?<![a-z])tools?(?![a-z])", re.IGNORECASE)
_FAKE_VALUES: Mapping[str, Any] = {"string": "x", "integer": 1, "number": 1, "boolean": True}
_ERROR_KINDS: Mapping[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("not_found_error", "not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


@dataclass(frozen=True)
class ToolCallReply:
    """One function call the fake model makes; `id=None` gets a server-unique `call_<n>`."""

    name: str
    arguments: Mapping[str, Any] | str
    id: str | None = None

    def arguments_json(self) -> str:
        """The arguments as the JSON string the API puts on the wire (strings pass verbatim)."""
        if isinstance(self.arguments, str):
            return self.arguments
        return orjson.dumps(dict(self.arguments)).decode()


@dataclass(frozen=True)
class Reply:
    """What the fake model answers to one request; every field maps onto the API's response.

    Token counts default to a cheap word count so usage is plausible and deterministic without a
    tokenizer. A non-200 `status` turns the reply into an OpenAI-style error, which is how tests
    reach the SDK's error classes and retry logic. `hang=True` accepts the request and never
    answers (until the server stops), which is how tests reach the client's timeouts.
    """

    content: str | None = None
    tool_calls: Sequence[ToolCallReply] = ()
    reasoning_content: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    status: int = 200
    error_message: str = "simulated error"
    latency: float = 0.0
    model: str | None = None
    hang: bool = False

    def __post_init__(self) -> None:
        # A tuple keeps the frozen reply immutable even when callers pass a list.
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it, so tests can assert on what the client sent.

    `headers` have lower-case names; `query` holds the URL's query parameters (last value wins).
    """

    path: str
    headers: dict[str, str]
    body: JSONDict
    query: dict[str, str] = field(default_factory=dict)


Responder = Callable[[JSONDict], Reply]


# --------------------------------------------------------------------------- default responder


def _text_of(content: Any) -> str:
    """The text of a message `content`, which may be a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = (part.get("text") for part in content if isinstance(part, dict))
        return " ".join(text for text in texts if isinstance(text, str))
    return ""


def _messages(body: JSONDict) -> list[JSONDict]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    return [message for message in messages if isinstance(message, dict)]


def _first_function_tool(body: JSONDict) -> JSONDict | None:
    """The `function` object of the first offered function tool, if any."""
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return function
    return None


def _fake_value(schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(kind, list):  # e.g. ["string", "null"]: the first non-null type decides
        kind = next((k for k in kind if k != "null"), None)
    return _FAKE_VALUES.get(kind) if isinstance(kind, str) else None


def _fake_arguments(parameters: Any) -> JSONDict:
    """Arguments that fill every property of a JSON schema with a fixed, type-shaped value."""
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    if not isinstance(properties, dict):
        return {}
    return {name: _fake_value(schema) for name, schema in properties.items()}


def default_reply(body: JSONDict) -> Reply:
    """The deterministic answer used when no script is given or the script has run out.

    Echoing the input makes sample traces and benchmarks meaningful without writing a script,
    and the "tool" keyword lets them produce a full tool-call round trip on demand.
    """
    messages = _messages(body)
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return Reply(content=f"Tool said: {_text_of(last.get('content'))}")
    tool = _first_function_tool(body)
    wants_tool = last.get("role") == "user" and _TOOL_WORD.search(_text_of(last.get("content")))
    if tool is not None and wants_tool:
        arguments = _fake_arguments(tool.get("parameters"))
        return Reply(tool_calls=[ToolCallReply(name=tool["name"], arguments=arguments)])
    users = [m for m in messages if m.get("role") == "user"]
    return Reply(content=f"You said: {_text_of(users[-1].get('content')) if users else ''}")


# --------------------------------------------------------------------------- response bodies


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


@dataclass(frozen=True)
class _Rendered:
    """A reply resolved against its request: ids, model and usage fixed, ready to serialise."""

    id: str
    created: int
    model: str
    reply: Reply
    calls: tuple[tuple[str, str, str], ...]  # (id, name, arguments JSON)
    usage: JSONDict

    @property
    def finish_reason(self) -> str:
        if self.reply.finish_reason is not None:
            return self.reply.finish_reason
        return "tool_calls" if self.calls else "stop"


def _usage(reply: Reply, body: JSONDict, calls: Sequence[tuple[str, str, str]]) -> JSONDict:
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = sum(_words(_text_of(m.get("content"))) + 3 for m in _messages(body))
    completion = reply.completion_tokens
    if completion is None:
        spoken = _words(reply.content) + _words(reply.reasoning_content)
        completion = max(1, spoken + sum(_words(arguments) for _, _, arguments in calls))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
    }


def _completion_body(r: _Rendered) -> JSONDict:
    message: JSONDict = {"role": "assistant", "content": r.reply.content}
    if r.calls:
        message["tool_calls"] = [
            {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}
            for id_, name, arguments in r.calls
        ]
    if r.reply.reasoning_content is not None:
        message["reasoning_content"] = r.reply.reasoning_content
    choice = {"index": 0, "message": message, "finish_reason": r.finish_reason, "logprobs": None}
    return {
        "id": r.id,
        "object": "chat.completion",
        "created": r.created,
        "model": r.model,
        "choices": [choice],
        "usage": r.usage,
    }


def _pieces(text: str, size: int, minimum: int = 1) -> list[str]:
    """`text` cut into `size`-character pieces, at least `minimum` of them (some may be empty)."""
    pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    while len(pieces) < minimum:
        longest = max(range(len(pieces)), key=lambda i: len(pieces[i]))
        half = len(pieces[longest]) // 2
        head, tail = pieces[longest][:half], pieces[longest][half:]
        pieces[longest : longest + 1] = [head, tail]
    return pieces


def _deltas(r: _Rendered, size: int) -> Iterator[JSONDict]:
    """The `delta` objects of a stream, in the order real providers send them."""
    yield {"role": "assistant"}
    for piece in _pieces(r.reply.reasoning_content, size) if r.reply.reasoning_content else []:
        yield {"reasoning_content": piece}
    for piece in _pieces(r.reply.content, size) if r.reply.content else []:
        yield {"content": piece}
    for index, (id_, name, arguments) in enumerate(r.calls):
        opening = {"index": index, "id": id_, "type": "function"}
        yield {"tool_calls": [{**opening, "function": {"name": name, "arguments": ""}}]}
        for piece in _pieces(arguments, size, minimum=2):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}


def _stream_chunks(r: _Rendered, size: int, include_usage: bool) -> Iterator[JSONDict]:
    """Every `chat.completion.chunk` of a streamed reply, usage chunk included when asked."""
    head = {"id": r.id, "object": "chat.completion.chunk", "created": r.created, "model": r.model}
    extra: JSONDict = {"usage": None} if include_usage else {}
    choice: JSONDict = {"index": 0, "finish_reason": None, "logprobs": None}
    for delta in _deltas(r, size):
        yield {**head, "choices": [{**choice, "delta": delta}], **extra}
    final = {**choice, "delta": {}, "finish_reason": r.finish_reason}
    yield {**head, "choices": [final], **extra}
    if include_usage:
        yield {**head, "choices": [], "usage": r.usage}


def _error_body(status: int, message: str) -> JSONDict:
    kind, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "api_error", ""))
    return {"error": {"message": message, "type": kind, "code": code or str(status), "param": None}}


# --------------------------------------------------------------------------- HTTP plumbing


class _HTTPServer(ThreadingHTTPServer):
    """The listening socket; keeps open connections so `stop()` can cut idle keep-alives."""

    daemon_threads = True
    request_queue_size = 128  # the default of 5 drops bursts of concurrent clients

    def __init__(self, fake: FakeOpenAIServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a client hanging up mid-response is normal in tests."""

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Routes one HTTP request; HTTP/1.1 keep-alive so benchmarks don't pay for reconnects."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # each SSE chunk must leave immediately

    @property
    def owner(self) -> _HTTPServer:
        """The server this handler belongs to, with its connection set and its script."""
        return cast(_HTTPServer, self.server)

    def setup(self) -> None:
        super().setup()
        with self.owner.connections_lock:
            self.owner.connections.add(self.connection)

    def finish(self) -> None:
        with self.owner.connections_lock:
            self.owner.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log of `BaseHTTPRequestHandler`."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        try:
            self._route()
        except ConnectionError:  # the client hung up, or stop() cut the connection
            self.close_connection = True

    def _route(self) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/")
        body = _parse_json(self._read_body())
        headers = {key.lower(): value for key, value in self.headers.items()}
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        fake = self.owner.fake
        fake._record(RecordedRequest(path=path, headers=headers, body=body or {}, query=query))
        if not fake._authorized(headers.get("authorization")):
            self._send_json(401, _error_body(401, "Incorrect API key provided."))
        elif self.command == "POST" and path in _CHAT_PATHS:
            self._chat(body)
        elif self.command == "GET" and path in _MODELS_PATHS:
            model = {"id": FAKE_MODEL, "object": "model", "created": 0, "owned_by": "fake"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_json(404, _error_body(404, f"Unknown endpoint: {self.command} {path}"))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return b"".join(iter(self._read_chunk, b""))
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunk(self) -> bytes:
        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
        data = self.rfile.read(size) if size else b""
        self.rfile.readline()  # CRLF after the chunk (or after the terminating 0-chunk)
        return data

    def _chat(self, body: JSONDict | None) -> None:
        if body is None:
            self._send_json(400, _error_body(400, "The request body is not a valid JSON object."))
            return
        fake = self.owner.fake
        try:
            reply = fake._next_reply(body)
            rendered = fake._render(reply, body) if reply.status == 200 else None
        except Exception as exc:  # a broken script should surface in the client, not vanish
            self._send_json(500, _error_body(500, f"fake reply failed: {exc!r}"))
            return
        latency = reply.latency or fake.latency
        if reply.hang:
            fake._stopping.wait()  # never answer; `stop()` releases the thread and cuts the line
            self.close_connection = True
        elif rendered is None:
            time.sleep(latency)
            self._send_json(reply.status, _error_body(reply.status, reply.error_message))
        elif body.get("stream") is True:
            self._stream(rendered, body, latency)
        else:
            time.sleep(latency)
            self._send_json(200, _completion_body(rendered))

    def _stream(self, rendered: _Rendered, body: JSONDict, latency: float) -> None:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        time.sleep(latency)  # headers first, like a real provider: latency is time to first chunk
        for chunk in _stream_chunks(rendered, self.owner.fake.chunk_size, include_usage):
            self._write_chunk(b"data: " + orjson.dumps(chunk) + b"\n\n")
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _send_json(self, status: int, payload: JSONDict) -> None:
        data = orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429 or status >= 500:
            # The SDK ignores `retry-after: 0` and backs off 0.5 s; 1 ms keeps retries instant.
            self.send_header("retry-after", "0")
            self.send_header("retry-after-ms", "1")
        self.end_headers()
        self.wfile.write(data)


def _parse_json(raw: bytes) -> JSONDict | None:
    try:
        value = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


# --------------------------------------------------------------------------- public server


class FakeOpenAIServer:
    """An OpenAI-compatible server on 127.0.0.1 that answers `chat.completions` from a script.

    `replies` is a list served in order (then the default responder), a callable given each
    parsed request body, or None for the default responder alone. A callable runs on the
    request's own thread, so it must be thread-safe when clients are concurrent. `latency`
    applies to every reply whose own latency is 0; `api_key`, when set, is enforced as a
    bearer token; `chunk_size` is the number of characters per streamed delta.

    Use it as a context manager, or call `start()` and `stop()`.
    """

    def __init__(
        self,
        replies: Iterable[Reply] | Responder | None = None,
        *,
        latency: float = 0.0,
        api_key: str | None = None,
        chunk_size: int = 8,
    ) -> None:
        if chunk_size < 1:
            raise InvalidInputError(f"chunk_size must be at least 1, got {chunk_size!r}")
        self._responder: Responder | None = replies if callable(replies) else None
        scripted: Iterable[Reply] = () if replies is None or callable(replies) else replies
        self._queue: deque[Reply] = deque(scripted)
        self.latency = latency
        self.api_key = api_key
        self.chunk_size = chunk_size
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._completion_ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle

    def start(self) -> FakeOpenAIServer:
        """Bind an ephemeral port and serve on a daemon thread; returns self for chaining."""
        if self._httpd is not None:
            raise RuntimeError("FakeOpenAIServer is already running")
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},  # how long stop() may wait for the loop
            name=f"FakeOpenAIServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and cut open connections; safe to call twice."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The ephemeral port the server is bound to."""
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The URL to pass as `base_url` to `openai.OpenAI` / `openai.AsyncOpenAI`."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- script

    def add(self, *replies: Reply) -> None:
        """Queue more scripted replies after the ones already waiting."""
        with self._lock:
            self._queue.extend(replies)

    def _next_reply(self, body: JSONDict) -> Reply:
        if self._responder is not None:
            return self._responder(body)
        with self._lock:
            scripted = self._queue.popleft() if self._queue else None
        return scripted if scripted is not None else default_reply(body)

    # -- request handling helpers (called from handler threads)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _authorized(self, authorization: str | None) -> bool:
        return self.api_key is None or authorization == f"Bearer {self.api_key}"

    def _render(self, reply: Reply, body: JSONDict) -> _Rendered:
        with self._lock:
            completion_id = f"chatcmpl-{next(self._completion_ids)}"
            call_ids = [call.id or f"call_{next(self._call_ids)}" for call in reply.tool_calls]
        calls = tuple(
            (call_id, call.name, call.arguments_json())
            for call_id, call in zip(call_ids, reply.tool_calls, strict=True)
        )
        requested = body.get("model")
        model = reply.model or (requested if isinstance(requested, str) else FAKE_MODEL)
        usage = _usage(reply, body, calls)
        return _Rendered(completion_id, int(time.time()), model, reply, calls, usage)

"""`OpenAIChat` against a real server on 127.0.0.1: what goes out, what comes back, what leaks.

Headers, timeouts, retries and errors are checked on the wire (`FakeOpenAIServer` records every
request) and through the real `openai` SDK; credentials are looked for everywhere a user could
see them: the repr, the trace file, log records, the exception and its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from conftest import MODES, TraceFile, closed_port, drive

from definable_trace import (
    Agent,
    Image,
    InvalidInputError,
    Message,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelResponseError,
    OpenAIChat,
)
from definable_trace.model import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT
from definable_trace.testing import FakeOpenAIServer, Reply

SECRET_KEY = "sk-proj-Zq8vT3xN5mW2rL9kP4sJ7"
PASSWORD = "hunter2-pa55word"
QUERY_KEY = "qk-7f3a9c2e1d"
HEADER_TOKEN = "hdr-tok-5b8e2a"
SECRETS = (SECRET_KEY, PASSWORD, QUERY_KEY, HEADER_TOKEN)


def hi() -> list[Message]:
    return [Message(role="user", content="hi")]


def credentialed_url(server: FakeOpenAIServer, query: bool = True) -> str:
    url = f"http://admin:{PASSWORD}@127.0.0.1:{server.port}/v1"
    return f"{url}?api-key={QUERY_KEY}" if query else url


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def shown(exc: BaseException) -> str:
    """Everything a user may see of an exception: str, repr, and the printed chain."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


# --- credentials ---------------------------------------------------------------------------------


def test_repr_never_shows_url_credentials_or_the_key(server: FakeOpenAIServer) -> None:
    model = OpenAIChat(
        "gpt-4o",
        api_key=SECRET_KEY,
        base_url=credentialed_url(server),
        default_headers={"X-Api-Token": HEADER_TOKEN},
    )
    text = repr(model)
    assert leaks(text) == []
    assert text == (
        f"OpenAIChat(id='gpt-4o', base_url='http://127.0.0.1:{server.port}/v1?api-key=***')"
    )


def test_nothing_secret_in_spans_logs_or_the_request_body(
    server: FakeOpenAIServer, trace_file: TraceFile, logs: pytest.LogCaptureFixture
) -> None:
    model = OpenAIChat(
        "gpt-4o",
        api_key=SECRET_KEY,
        base_url=credentialed_url(server, query=False),
        default_headers={"X-Api-Token": HEADER_TOKEN},
        temperature=0.5,
    )
    Agent(model).run("hi", session_id="s")
    assert leaks(trace_file.text()) == []
    assert leaks(logs.text) == []  # httpx logs every URL at INFO: the password is not in it
    assert "HTTP Request: POST http://127.0.0.1" in logs.text
    [chat] = [s for s in trace_file() if s["name"].startswith("chat")]
    assert chat["attributes"]["server.address"] == "127.0.0.1"
    assert chat["attributes"]["server.port"] == server.port
    assert chat["attributes"]["gen_ai.request.temperature"] == 0.5
    [request] = server.requests
    assert leaks(str(request.body)) == []
    assert request.headers["authorization"] == "Basic YWRtaW46aHVudGVyMi1wYTU1d29yZA=="


def test_a_query_in_the_base_url_is_sent_as_query_parameters(server: FakeOpenAIServer) -> None:
    url = f"{server.base_url}?api-version=2024-10-21"
    OpenAIChat("gpt-4o", base_url=url, api_key="k").invoke(hi(), [])
    [request] = server.requests
    assert (request.path, request.query) == ("/v1/chat/completions", {"api-version": "2024-10-21"})


def test_an_echoed_key_is_scrubbed_from_the_error_and_its_cause(server: FakeOpenAIServer) -> None:
    echo = f"Incorrect API key provided: {SECRET_KEY}. Header was 'Bearer {SECRET_KEY}'."
    server.add(Reply(status=401, error_message=echo))
    model = OpenAIChat("gpt-4o", api_key=SECRET_KEY, base_url=server.base_url, max_retries=0)
    with pytest.raises(ModelAuthenticationError) as caught:
        model.invoke(hi(), [])
    assert leaks(shown(caught.value)) == []
    assert "Incorrect API key provided: ***" in str(caught.value)
    assert isinstance(caught.value.__cause__, openai.AuthenticationError)


def test_key_shaped_tokens_are_scrubbed_even_when_not_the_configured_key(
    server: FakeOpenAIServer,
) -> None:
    other = "sk-live-another-9f8e7d6c5b4a"
    server.add(Reply(status=500, error_message=f"upstream said: key {other} is revoked"))
    model = OpenAIChat("gpt-4o", api_key="test-key", base_url=server.base_url, max_retries=0)
    with pytest.raises(ModelResponseError) as caught:
        model.invoke(hi(), [])
    assert other not in shown(caught.value)
    assert "upstream said: key sk-*** is revoked" in str(caught.value)


def test_unreachable_server_error_names_the_url_without_credentials() -> None:
    url = f"http://admin:{PASSWORD}@127.0.0.1:{closed_port()}/v1?api-key={QUERY_KEY}"
    model = OpenAIChat("gpt-4o", api_key=SECRET_KEY, base_url=url, max_retries=0)
    with pytest.raises(ModelConnectionError) as caught:
        model.invoke(hi(), [])
    message = str(caught.value)
    assert message.startswith("cannot reach the model server at http://127.0.0.1:")
    assert "/v1: " in message and message.endswith("Connection refused")
    assert leaks(shown(caught.value)) == []


# --- what goes out ------------------------------------------------------------------------------


def test_client_options_go_out_as_headers_and_query_not_in_the_body(
    server: FakeOpenAIServer, trace_file: TraceFile
) -> None:
    model = OpenAIChat(
        "gpt-4o",
        api_key="test-key",
        base_url=server.base_url,
        organization="org-42",
        project="proj-7",
        default_headers={"X-Team": "blue"},
        default_query={"api-version": "2024-10-21"},
        seed=3,
    )
    Agent(model).run("hi")
    [request] = server.requests
    assert request.headers["x-team"] == "blue"
    assert request.headers["openai-organization"] == "org-42"
    assert request.headers["openai-project"] == "proj-7"
    assert request.query == {"api-version": "2024-10-21"}
    assert set(request.body) == {"model", "messages", "seed"}
    assert model.request_parameters() == {"seed": 3}
    [chat] = [s for s in trace_file() if s["name"].startswith("chat")]
    assert not [k for k in chat["attributes"] if "header" in k or "query" in k or "org" in k]


def test_default_timeout_and_retries_reach_the_sdk_client(server: FakeOpenAIServer) -> None:
    model = OpenAIChat("gpt-4o", base_url=server.base_url)
    timeout = model.client().timeout
    assert isinstance(timeout, openai.Timeout)
    assert (timeout.connect, timeout.read) == (DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT) == (5, 60)
    assert model.client().max_retries == 2
    short = OpenAIChat("m", base_url=server.base_url, timeout=2).client().timeout
    assert isinstance(short, openai.Timeout) and (short.connect, short.read) == (2, 2)
    custom = openai.Timeout(30, connect=1)
    assert OpenAIChat("m", base_url=server.base_url, timeout=custom).client().timeout is custom
    assert OpenAIChat("m", base_url=server.base_url, timeout=None).client().timeout is None
    model.close()


# --- timeouts and error statuses ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_server_that_never_answers_ends_the_run_with_a_timeout(mode: str) -> None:
    with FakeOpenAIServer([Reply(hang=True), Reply(hang=True)]) as server:
        model = OpenAIChat("gpt-4o", base_url=server.base_url, timeout=0.2, max_retries=1)
        with pytest.raises(ModelConnectionError) as caught:
            drive(Agent(model), mode, "hello?")
        # The first attempt and one retry, both unanswered (and no third).
        assert len(server.wait_for_requests(2)) == 2
        url = server.base_url
    assert str(caught.value) == (
        f"the model server at {url} did not answer within 0.2 s (tried 2 times); "
        "pass OpenAIChat(timeout=...) to wait longer"
    )
    assert isinstance(caught.value.__cause__, openai.APITimeoutError)


def test_a_timeout_without_retries_says_once(server: FakeOpenAIServer) -> None:
    server.add(Reply(hang=True))
    model = OpenAIChat("gpt-4o", base_url=server.base_url, timeout=0.1, max_retries=0)
    with pytest.raises(ModelConnectionError, match=r"within 0\.1 s \(tried once\)"):
        model.invoke(hi(), [])


@pytest.mark.parametrize(
    ("status", "error", "attempts"),
    [(401, ModelAuthenticationError, 1), (500, ModelResponseError, 3)],
)
@pytest.mark.parametrize("mode", ["run", "arun_stream"])
def test_error_statuses_become_model_errors(
    server: FakeOpenAIServer, mode: str, status: int, error: type[ModelError], attempts: int
) -> None:
    server.add(*[Reply(status=status, error_message="nope")] * 3)
    model = OpenAIChat("gpt-4o", base_url=server.base_url)  # default retries: 2
    with pytest.raises(error) as caught:
        drive(Agent(model), mode, "hi")
    assert caught.value.status_code == status
    assert str(caught.value).endswith(f"({status}): nope") or str(caught.value).endswith(
        f"answered {status}: nope"
    )
    assert len(server.requests) == attempts  # 5xx is retried, 401 is not


# --- closing clients ----------------------------------------------------------------------------


@pytest.fixture
def strict_warnings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every warning and unraisable exception of the test, ResourceWarnings included."""
    import gc
    import sys
    import warnings

    seen: list[str] = []
    monkeypatch.setattr(
        sys, "unraisablehook", lambda u: seen.append(f"{u.exc_type}: {u.exc_value}")
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield seen
        gc.collect()
    seen.extend(f"{w.category.__name__}: {w.message}" for w in caught)


def test_async_clients_are_closed_when_each_loop_shuts_down(
    server: FakeOpenAIServer, strict_warnings: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k")
    agent = Agent(model)
    clients: list[openai.AsyncOpenAI] = []

    async def one_turn(text: str) -> str | None:
        output = await agent.arun(text)
        clients.append(model.async_client())
        return output.content

    answers = [asyncio.run(one_turn(f"q{i}")) for i in range(3)]
    assert answers == ["You said: q0", "You said: q1", "You said: q2"]
    assert len({id(c) for c in clients}) == 3  # one client per loop
    assert all(c.is_closed() for c in clients)
    clients.clear()
    import gc

    gc.collect()
    assert strict_warnings == []
    assert "Event loop is closed" not in caplog.text


def test_close_and_aclose_and_context_managers(
    server: FakeOpenAIServer, strict_warnings: list[str]
) -> None:
    with OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k") as model:
        model.invoke(hi(), [])
        sync_client = model.client()
    assert sync_client.is_closed()

    async def inside() -> openai.AsyncOpenAI:
        async with OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k") as model:
            await model.ainvoke(hi(), [])
            client = model.async_client()
            assert not client.is_closed()
        return client

    assert asyncio.run(inside()).is_closed()

    # A loop run by hand and left idle: the sync close() runs it to close its client.
    loop = asyncio.new_event_loop()
    model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k")
    loop.run_until_complete(model.ainvoke(hi(), []))
    client = loop.run_until_complete(_current_client(model))
    model.close()
    model.close()  # twice is fine
    assert client.is_closed()
    loop.close()


async def _current_client(model: OpenAIChat) -> openai.AsyncOpenAI:
    return model.async_client()


def test_clients_passed_in_stay_open(server: FakeOpenAIServer) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="k") as sdk:
        model = OpenAIChat("gpt-4o", client=sdk)
        model.invoke(hi(), [])
        model.close()
        assert not sdk.is_closed()
        assert model.invoke(hi(), []).message.content == "You said: hi"


def test_a_closed_model_can_be_used_again(server: FakeOpenAIServer) -> None:
    model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k")
    model.invoke(hi(), [])
    model.close()
    assert model.invoke(hi(), []).message.content == "You said: hi"
    model.close()


@pytest.mark.parametrize("user_info", [f"admin:{PASSWORD}", "us%3Aer:p%40ss%20w"])
def test_url_credentials_reach_the_server_as_the_sdk_would_send_them(
    server: FakeOpenAIServer, user_info: str
) -> None:
    """Ours against the library: httpx turns URL user info into this same `Basic` header."""
    url = f"http://{user_info}@127.0.0.1:{server.port}/v1"
    with openai.OpenAI(base_url=url, api_key="k", max_retries=0) as sdk:
        sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    OpenAIChat("m", base_url=url, api_key="k").invoke(hi(), [])
    by_sdk, by_us = (r.headers["authorization"] for r in server.requests)
    assert by_us == by_sdk and by_us.startswith("Basic ")


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"id": ""}, "OpenAIChat needs a model id (a non-empty string), got ''"),
        ({"max_retries": -1}, "max_retries must be an integer >= 0, got -1"),
        ({"timeout": 0}, "timeout must be seconds > 0, or None, got 0"),
        ({"timeout": "60"}, "timeout must be seconds, an openai.Timeout or None, got str"),
        ({"stream": True}, "OpenAIChat sets 'stream' in each request; do not pass it"),
        ({"extra_headers": {}}, "'extra_headers' is not a request parameter; pass default_headers"),
    ],
)
def test_unusable_arguments_are_named(arguments: dict[str, object], message: str) -> None:
    arguments = {"id": "gpt-4o", **arguments}
    with pytest.raises(InvalidInputError) as caught:
        OpenAIChat(**arguments)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_a_missing_media_file_is_named(server: FakeOpenAIServer, tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    agent = Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k"))
    with pytest.raises(InvalidInputError) as caught:
        agent.run("look", images=[Image(filepath=str(missing))])
    assert str(caught.value) == f"cannot read the image file {missing}: No such file or directory"
    assert server.requests == []  # nothing was sent


def test_a_dropped_model_is_freed_at_once(server: FakeOpenAIServer) -> None:
    """No reference cycle: a model (and the SDK clients that close on `__del__`) is freed when
    its last reference goes, not whenever the cyclic collector next runs."""
    import gc
    import weakref

    model = OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k")
    model.invoke(hi(), [])
    asyncio.run(model.ainvoke(hi(), []))
    freed = weakref.ref(model)
    gc.disable()
    try:
        del model
        assert freed() is None
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("url", "shown_as"),
    [
        ("https://api.example.com/v1", "https://api.example.com/v1"),
        ("http://u:p%40ss@h.example:8080/v1", "http://h.example:8080/v1"),
        ("http://token@h.example/v1?key=abc&v=1", "http://h.example/v1?key=***&v=***"),
        ("http://u:pw@[::1]:9000/v1", "http://[::1]:9000/v1"),
        ("http://h.example:notaport/v1", "***"),
    ],
)
def test_urls_are_shown_without_credentials(url: str, shown_as: str) -> None:
    from definable_trace._models._redaction import safe_url

    assert safe_url(url) == shown_as


def test_url_user_info_and_query_are_taken_out_of_the_base_url() -> None:
    """Percent-escapes in user info are undone before the `Basic` header is built."""
    import base64

    from definable_trace._models._redaction import split_base_url

    split = split_base_url("http://us%3Aer:p%40ss@h.example/v1?api-version=2")
    assert split.url == "http://h.example/v1" and split.query == {"api-version": "2"}
    assert split.authorization == "Basic " + base64.b64encode(b"us:er:p@ss").decode()

"""`openai` SDK exceptions into the package's `ModelError` tree: the one place this happens.

Every message says where (the base URL without credentials) and what happened in the library's
words, and is scrubbed of anything that looks like a credential: a server's error text can echo
the key it was sent. The SDK exception is kept as `__cause__` (so nothing is lost for a caller
who wants the raw response), with its text scrubbed the same way, because a printed traceback
shows it too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .._errors import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelResponseError,
)
from ._redaction import scrub

__all__ = ["CallContext", "translate_errors"]


@dataclass(frozen=True)
class CallContext:
    """What an error message may say about the call: never the key itself.

    `url` is already credential-free; `secrets` are scrubbed out of every text; `timeout` is
    the per-request read timeout in seconds (None: none); `attempts` is 1 + retries.
    """

    url: str | None
    timeout: float | None
    attempts: int
    secrets: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f" at {self.url}" if self.url else ""

    def clean(self, text: str) -> str:
        return scrub(text, self.secrets)


@contextmanager
def translate_errors(describe: Callable[[], CallContext]) -> Generator[None, None, None]:
    """Turn `openai` exceptions raised inside into `ModelError`s (SDK exception as cause).

    `describe` is called only when there is an error to describe: the happy path pays nothing.
    """
    try:
        yield
    except ModelError:
        raise
    except Exception as exc:
        error = _translate(exc, describe)
        if error is None:
            raise
        raise error from exc


def _translate(exc: Exception, describe: Callable[[], CallContext]) -> ModelError | None:
    """The `ModelError` for an SDK exception (scrubbed in place); None for any other."""
    import openai

    if not isinstance(exc, openai.OpenAIError):
        return None
    context = describe()
    _scrub_exception(exc, context)
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, context)
    if isinstance(exc, openai.APITimeoutError):  # before APIConnectionError: it is one
        return ModelConnectionError(_timeout_message(context))
    if isinstance(exc, openai.APIConnectionError):
        reason = context.clean(_connection_reason(exc))
        return ModelConnectionError(f"cannot reach the model server{context.where}: {reason}")
    return ModelResponseError(f"model call failed: {context.clean(str(exc))}")


def _timeout_message(context: CallContext) -> str:
    tries = "once" if context.attempts == 1 else f"{context.attempts} times"
    limit = f"within {context.timeout:g} s" if context.timeout is not None else "in time"
    return (
        f"the model server{context.where} did not answer {limit} (tried {tries}); "
        "pass OpenAIChat(timeout=...) to wait longer"
    )


def _connection_reason(exc: BaseException) -> str:
    """The transport's own reason ("Connection refused"), which the SDK's text leaves out."""
    cause = exc.__cause__ or exc.__context__
    detail = str(cause) if cause is not None else ""
    return detail or str(exc) or type(exc).__name__


def _status_error(exc: Any, context: CallContext) -> ModelError:
    status = int(exc.status_code)
    detail = context.clean(_error_detail(exc))
    if status in (401, 403):
        return ModelAuthenticationError(
            f"the server{context.where} refused the credentials ({status}): {detail}",
            status_code=status,
        )
    if status == 429:
        return ModelRateLimitError(
            f"rate limited by the server{context.where} (429): {detail}", status_code=status
        )
    return ModelResponseError(
        f"the model server{context.where} answered {status}: {detail}", status_code=status
    )


def _error_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        message = body.get("message") or (error.get("message") if isinstance(error, dict) else None)
        if message:
            return str(message)
    return str(getattr(exc, "message", exc))


def _scrub_exception(exc: BaseException, context: CallContext) -> None:
    """Scrub the SDK exception's own text in place: tracebacks print the cause too."""
    exc.args = tuple(context.clean(a) if isinstance(a, str) else a for a in exc.args)
    message = getattr(exc, "message", None)
    if isinstance(message, str):
        # A read-only attribute on some SDK release: the scrubbed `args` then suffice.
        with contextlib.suppress(AttributeError):
            exc.message = context.clean(message)  # type: ignore[attr-defined]

"""GET JSON from a store over HTTP(S): timeouts, TLS, headers, and failures as `SourceError`.

The standard library's `urllib` is used on purpose: the `openai` SDK this package depends on
brings `httpx` in some versions and `httpx2` in others, so neither is a dependency we can rely
on, and a source needs nothing more than GET with headers and a timeout (TLS verification is
urllib's default). Every message names the store by its `display` address and the path asked
for, never a header value or a credential.
"""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from .._errors import SourceError

__all__ = ["DEFAULT_TIMEOUT", "HttpClient", "parse_headers"]

DEFAULT_TIMEOUT = 30.0
_AUTH_HINT = "the store refused the credentials; set its API key variable or pass --header"
_ERROR_BODY = 300  # characters of an error answer quoted in the message


def parse_headers(items: Sequence[str]) -> dict[str, str]:
    """`Name: value` (curl's form) or `Name=value` items into a dict; bad items raise."""
    from .._errors import InvalidInputError

    headers: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or "=" in name:
            name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or any(c.isspace() for c in name):
            raise InvalidInputError(
                f"header {name[:40]!r}: expected 'Name: value' (e.g. 'Authorization: Bearer …')"
            )
        headers[name] = value.strip()
    return headers


class HttpClient:
    """GETs JSON under one base URL. `headers` are sent with every request and never shown."""

    def __init__(
        self,
        display: str,
        base: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.display = display
        self.base = base.rstrip("/")
        self._headers = {"Accept": "application/json", **(headers or {})}
        self.timeout = timeout
        self._context = ssl.create_default_context() if base.startswith("https:") else None
        # No proxies from the environment: a store on 127.0.0.1 must not go through one, and a
        # proxy would see the credentials.
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self._context)
        )

    def __repr__(self) -> str:
        return f"HttpClient({self.display!r}, headers={sorted(self._headers)})"

    def get_json(
        self,
        path: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        missing_ok: bool = False,
    ) -> Any:
        """The parsed JSON answer of `GET base+path?params`; None for a 404 when `missing_ok`."""
        url = self.base + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        request = urllib.request.Request(url, headers=self._headers, method="GET")
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                body = answer.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and missing_ok:
                return None
            raise self._status_error(path, exc) from None
        except TimeoutError:
            raise self._error(
                path, f"no answer within {self.timeout:g} s (timeout); retry or raise --timeout"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise self._error(path, f"no answer within {self.timeout:g} s (timeout)") from None
            raise self._error(
                path, f"unreachable ({_plain(reason)}); is the store running?"
            ) from None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise self._error(path, f"malformed answer, not JSON ({exc.msg})") from None

    def _status_error(self, path: str, exc: urllib.error.HTTPError) -> SourceError:
        if exc.code in (401, 403):
            return self._error(path, f"HTTP {exc.code}: {_AUTH_HINT}", exc.code)
        try:
            detail = exc.read(_ERROR_BODY * 4).decode("utf-8", "replace")
        except OSError:
            detail = ""
        # The store's words are untrusted: no control characters reach a terminal.
        detail = "".join(c if c.isprintable() else "?" for c in " ".join(detail.split()))
        detail = detail[:_ERROR_BODY]
        return self._error(path, f"HTTP {exc.code}" + (f": {detail}" if detail else ""), exc.code)

    def _error(self, path: str, message: str, status: int | None = None) -> SourceError:
        return SourceError(f"GET {path}: {message}", source=self.display, status_code=status)


def _plain(reason: object) -> str:
    """An OS error's words without the URL (which urllib sometimes repeats)."""
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)[:200]

"""Keeping credentials out of what the model layer shows: reprs, span attributes, error texts.

A base URL may carry `user:password@` or a key in its query string (`?api-key=...`, Azure
style), and a server's error text may echo the key it was sent (some OpenAI-compatible servers
quote the whole `Authorization` header back). Everything the model layer prints, raises or
hands to the tracer goes through one of the two functions here.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from .._urls import REDACTED, shown_url

__all__ = ["REDACTED", "SplitURL", "safe_url", "scrub", "split_base_url"]


# Token shapes that are credentials whatever key was configured: OpenAI-style secret keys
# (sk-..., sk-proj-...), bearer tokens, and URL user info. Kept conservative: a false positive
# only hides a few characters of an error text.
_TOKEN_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}"),
    re.compile(r"(?i)(\bbearer\s+)[^\s'\",}]+"),
    re.compile(r"(?i)(\bbasic\s+)[A-Za-z0-9+/=]{8,}"),
    re.compile(r"(//)[^/\s@'\"]+@"),
)
# A configured key shorter than this is a placeholder ("test", "x"), not a secret: replacing
# every occurrence of it would garble the message without protecting anything.
_MIN_SECRET_LENGTH = 8


def safe_url(url: str | None) -> str | None:
    """`url` without user info and with every query value replaced by `***`."""
    if not url:
        return url
    return shown_url(url, mask_query=True) or REDACTED


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every given secret and every credential-shaped token replaced by `***`."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(_keep_prefix, text)
    return text


def _keep_prefix(match: re.Match[str]) -> str:
    """The match with its credential replaced, keeping a captured prefix (`Bearer `, `//`)."""
    prefix = match.group(1) if match.re.groups else ""
    if prefix == "//":
        return f"//{REDACTED}@"
    return f"{prefix}{REDACTED}" if prefix else (f"sk-{REDACTED}")


@dataclass(frozen=True)
class SplitURL:
    """A base URL taken apart so that no credential travels inside the URL itself.

    `url` has no user info and no query; `authorization` is the `Basic` header the user info
    stood for (what httpx would send for it); `query` the parameters to send with every request.
    """

    url: str
    authorization: str | None = None
    query: dict[str, str] = field(default_factory=dict)


def split_base_url(url: str) -> SplitURL:
    """Take user info and query out of a base URL.

    httpx logs every request URL at INFO level ("HTTP Request: POST http://user:pw@..."), so a
    password left in the URL ends up in the application's logs; as a header it does not. The
    SDK appends the endpoint path after the whole base URL, query included, so a query left in
    it would break every request: as `default_query` it goes where it belongs.
    """
    parts = urlsplit(url)
    if not parts.username and not parts.password and not parts.query:
        return SplitURL(url)
    host = parts.netloc.rpartition("@")[2]
    clean = urlunsplit((parts.scheme, host, parts.path, "", ""))
    authorization = None
    if parts.username or parts.password:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return SplitURL(clean, authorization, dict(parse_qsl(parts.query, keep_blank_values=True)))

"""A store's address: `<store>+http(s)://[user:password@]host:port[/path][?query]`.

Parsed once, and split into what may be shown (`display`: no credentials, no secrets in the
query) and what may not (`username`, `password`), so that no error message, warning or `repr`
built from an address can leak a credential.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

from .._errors import InvalidInputError

__all__ = ["StoreAddress", "looks_like_source", "parse_address"]

# `phoenix+http://…`: a word, a plus, then an http(s) URL. Anything else is a file name.
_SOURCE = re.compile(r"^(?P<store>[A-Za-z][A-Za-z0-9_-]*)\+(?P<transport>https?)://", re.ASCII)
# Query keys that are settings of ours, never sent to the store (and safe to show).
_SHOWN_QUERY = ("table", "service", "since", "until", "limit")


def looks_like_source(text: str) -> bool:
    """True for `<store>+http(s)://…`: how the CLI tells a store from a file name."""
    return bool(_SOURCE.match(text))


@dataclass(frozen=True)
class StoreAddress:
    """A parsed store address. `base` is the plain http(s) URL of the store without userinfo;
    `display` is what messages may print."""

    store: str
    base: str
    path: str
    query: dict[str, str]
    display: str
    host: str = ""
    port: int | None = None
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never the credentials, never the raw URL
        return f"StoreAddress({self.display!r})"

    def segments(self) -> list[str]:
        """The path's non-empty segments, percent-decoded (`/my%20project` → `my project`)."""
        return [urllib.parse.unquote(part) for part in self.path.split("/") if part]


def parse_address(text: str, stores: tuple[str, ...]) -> StoreAddress:
    """Parse `text`; `stores` are the known store names (for the error message)."""
    match = _SOURCE.match(text)
    if match is None:
        raise InvalidInputError(
            f"not a trace store address: {_shown(text)!r}; expected <store>+http(s)://host:port/..."
            f" with <store> one of {', '.join(stores)}"
        )
    store = match["store"].lower()
    if store not in stores:
        raise InvalidInputError(
            f"unknown trace store {store!r} in {_shown(text)!r}; known: {', '.join(stores)}"
        )
    try:
        parts = urllib.parse.urlsplit(text[len(match["store"]) + 1 :])
        port = parts.port
    except ValueError as exc:
        raise InvalidInputError(f"malformed address {_shown(text)!r}: {exc}") from None
    if not parts.hostname:
        raise InvalidInputError(f"malformed address {_shown(text)!r}: no host")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if port is None else f"{host}:{port}"
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    shown_query = urllib.parse.urlencode({k: v for k, v in query.items() if k in _SHOWN_QUERY})
    path = parts.path.rstrip("/")
    display = f"{store}+{parts.scheme}://{netloc}{path}" + (
        f"?{shown_query}" if shown_query else ""
    )
    return StoreAddress(
        store=store,
        base=f"{parts.scheme}://{netloc}",
        path=path,
        query=query,
        display=display,
        host=parts.hostname,
        port=port,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
    )


def _shown(text: str) -> str:
    """`text` with any userinfo and query removed: safe in an error message."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text.split("?", 1)[0][:200]
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]
    return f"{scheme}://{authority}{slash}{path.split('?', 1)[0]}"[:200]

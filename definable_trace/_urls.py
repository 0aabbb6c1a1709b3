"""URLs fit to show: no `user:password@`, no query values.

One function for every layer that names a server in a repr, a log line or an error (the model
layer, the collectors); it imports nothing of the project, so any layer may use it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "shown_url"]

REDACTED = "***"


def shown_url(url: str, *, mask_query: bool = False) -> str | None:
    """`url` without user info or fragment, its query dropped (or, with `mask_query`, kept with
    every value replaced by `***`, so the names still say what was configured); None when the
    URL is too malformed to take apart (a bad port or host): better nothing than a guess."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return None
    if ":" in host:  # IPv6 literal: urlsplit drops its brackets
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    query = ""
    if mask_query and parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode([(name, REDACTED) for name, _ in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))

"""The stores `open_source` knows: one line per store, name → module and class.

Modules are imported on first use, so a store's optional client (e.g. `clickhouse-connect`) is
needed only by who reads that store.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence

from ._address import parse_address
from ._base import Source
from ._http import DEFAULT_TIMEOUT, parse_headers

__all__ = ["STORES", "open_source"]

STORES: Mapping[str, tuple[str, str]] = {
    "phoenix": ("._phoenix", "PhoenixSource"),
    "jaeger": ("._jaeger", "JaegerSource"),
    "tempo": ("._tempo", "TempoSource"),
    "clickhouse": ("._clickhouse", "ClickHouseSource"),
}


def open_source(
    url: str,
    *,
    headers: Mapping[str, str] | Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Source:
    """The store at `url` (`<store>+http(s)://host:port/...`). `headers` (a mapping, or
    `Name: value` strings as `--header` gives them) are sent with every request, after the
    store's own environment variables; they are never shown."""
    address = parse_address(url, tuple(STORES))
    module_name, class_name = STORES[address.store]
    module = importlib.import_module(module_name, __package__)
    extra = dict(headers) if isinstance(headers, Mapping) else parse_headers(headers or ())
    source: Source = getattr(module, class_name)(address, extra, timeout)
    return source

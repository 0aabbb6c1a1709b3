"""ClickHouse, as written by the OpenTelemetry Collector's `clickhouseexporter`:
`clickhouse+http(s)://[USER:PASSWORD@]HOST:8123/DATABASE[?table=otel_traces]`.

The client is the official `clickhouse-connect` (the optional extra `clickhouse`). The SQL and
the row → OTLP conversion live in `_clickhouse_sql.py`, shared with the tests, which run them in
chDB on the exporter's exact DDL. Credentials: the URL's userinfo, else `CLICKHOUSE_USER` /
`CLICKHOUSE_PASSWORD`; `--header`s are sent too. None of them is ever shown.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .._errors import InvalidInputError, SourceError
from ._address import StoreAddress
from ._base import Document, Documents, SessionSummary, TimeWindow
from ._clickhouse_sql import documents_from_rows, identifier, listing_query, spans_query
from ._http import DEFAULT_TIMEOUT

__all__ = ["ClickHouseSource"]

_DEFAULT_TABLE = "otel_traces"
_DEFAULT_PORTS = {"http": 8123, "https": 8443}


class ClickHouseSource:
    """The `otel_traces` table of one database."""

    def __init__(
        self,
        address: StoreAddress,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        segments = address.segments()
        if len(segments) > 1:
            raise InvalidInputError(
                f"{address.display}: expected clickhouse+http://HOST:8123/DATABASE[?table=NAME]"
            )
        self.database = segments[0] if segments else "default"
        table_name = address.query.get("table") or _DEFAULT_TABLE
        self.table = f"{identifier(self.database, 'database')}.{identifier(table_name, 'table')}"
        self.name = address.display
        self._address = address
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._client: Any = None

    def __repr__(self) -> str:
        return f"ClickHouseSource({self.name!r})"

    def fetch(
        self, session_ids: Sequence[str] | None = None, window: TimeWindow | None = None
    ) -> Documents:
        window = window or TimeWindow.of()
        sql, params = spans_query(self.table, session_ids, window)
        return Documents(self.name, self._documents(sql, params))

    def sessions(self, window: TimeWindow | None = None) -> list[SessionSummary]:
        sql, params = listing_query(self.table, window or TimeWindow.of())
        return [
            SessionSummary(
                str(row["Session"]),
                traces=int(row["Traces"]),
                spans=int(row["Spans"]),
                first=_time(row["FirstNs"]),
                last=_time(row["LastNs"]),
            )
            for row in self._rows(sql, params)
        ]

    def _documents(self, sql: str, params: dict[str, Any]) -> Iterator[Document]:
        yield from documents_from_rows(self._rows(sql, params))

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """All rows at once: a failure midway leaves nothing half-read."""
        from clickhouse_connect.driver.exceptions import ClickHouseError

        try:
            result = self._connect().query(sql, parameters=params)
            return list(result.named_results())
        except ClickHouseError as exc:
            raise SourceError(self._words(exc), source=self.name) from None
        except OSError as exc:
            raise SourceError(
                f"unreachable ({exc.strerror or exc}); is ClickHouse running?", source=self.name
            ) from None

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            import clickhouse_connect
        except ImportError:
            raise SourceError(
                "needs clickhouse-connect: pip install 'definable-trace[clickhouse]'",
                source=self.name,
            ) from None
        from clickhouse_connect.driver.exceptions import ClickHouseError

        # Its driver logs each failure besides raising it; we report the failure once, as a
        # SourceError, so its records stop at its own logger unless the application set one.
        driver_log = logging.getLogger("clickhouse_connect")
        if not driver_log.handlers:
            driver_log.addHandler(logging.NullHandler())
        address = self._address
        transport = address.base.split(":", 1)[0]
        try:
            self._client = clickhouse_connect.get_client(
                host=address.host,
                port=address.port or _DEFAULT_PORTS[transport],
                username=address.username or os.environ.get("CLICKHOUSE_USER") or "default",
                password=address.password or os.environ.get("CLICKHOUSE_PASSWORD") or "",
                database=self.database,
                secure=transport == "https",
                connect_timeout=self._timeout,
                send_receive_timeout=self._timeout,
                headers=self._headers or None,
            )
        except ClickHouseError as exc:
            raise SourceError(self._words(exc), source=self.name) from None
        return self._client

    def _words(self, exc: Exception) -> str:
        """The first line of a client error, without any credential it might repeat."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for secret in (self._address.password, os.environ.get("CLICKHOUSE_PASSWORD")):
            if secret:
                text = text.replace(secret, "***")
        text = "".join(c if c.isprintable() else "?" for c in text)[:300]
        if "Failed to establish a new connection" in text or "Connection refused" in text:
            return "unreachable (connection refused); is ClickHouse running at this address?"
        if "timed out" in text.lower():
            return f"no answer within {self._timeout:g} s (timeout); retry or raise --timeout"
        if "Authentication failed" in text or "401" in text or "403" in text:
            text += " (check CLICKHOUSE_USER / CLICKHOUSE_PASSWORD or the URL's user:password@)"
        return text


def _time(ns: Any) -> datetime | None:
    value = int(ns or 0)
    return datetime.fromtimestamp(value / 1e9, timezone.utc) if value else None

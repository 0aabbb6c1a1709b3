"""Store addresses, time windows and the CLI's handling of them: what is shown, what is
refused, and how (one line, exit 2 for usage, no credentials)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from deftrace_cli._app import cli

from definable_trace._errors import InvalidInputError
from definable_trace._sources._address import parse_address
from definable_trace.sources import STORES, TimeWindow, looks_like_source, open_source


def deftrace(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_addresses_are_parsed_and_shown_without_credentials() -> None:
    address = parse_address(
        "phoenix+https://me:p%40ss@[::1]:6006/my%20project?limit=5&api_key=k", tuple(STORES)
    )
    assert (address.store, address.base, address.host, address.port) == (
        "phoenix",
        "https://[::1]:6006",
        "::1",
        6006,
    )
    assert address.segments() == ["my project"]
    assert (address.username, address.password) == ("me", "p@ss")
    assert address.display == "phoenix+https://[::1]:6006/my%20project?limit=5"  # no api_key
    assert "p@ss" not in repr(address) and "me" not in repr(address)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("redis+http://h:1", "unknown trace store 'redis'"),
        ("phoenix+http://:6006/p", "no host"),
        ("phoenix+http://h:99999/p", "malformed address"),
        ("traces.jsonl", "not a trace store address"),
    ],
)
def test_bad_addresses(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        open_source(text)


def test_looks_like_source() -> None:
    assert looks_like_source("tempo+https://t:3200")
    assert not looks_like_source("phoenix+ftp://x") and not looks_like_source("./a+http:/b")


def test_time_windows() -> None:
    now = datetime.now(timezone.utc)
    window = TimeWindow.of()
    assert timedelta(hours=23, minutes=59) < window.end - window.start <= timedelta(hours=24)
    assert abs((window.end - now).total_seconds()) < 60
    naive = TimeWindow.of(datetime(2026, 1, 1), datetime(2026, 1, 2))
    assert naive.start.tzinfo is timezone.utc and naive.seconds == 86400
    left, right = naive.halves()
    assert (left.start, left.end, right.end) == (naive.start, right.start, naive.end)
    with pytest.raises(InvalidInputError, match="is after until"):
        TimeWindow.of(datetime(2026, 1, 2), datetime(2026, 1, 1))


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    bad_since = deftrace("sessions", "tempo+http://127.0.0.1:1", "--since", "yesterday")
    assert bad_since.exit_code == 2
    assert (
        "'yesterday' is neither a duration ago (30m, 2h, 2d, 1w) nor ISO 8601" in bad_since.stderr
    )
    not_a_store = deftrace("pull", tmp_path / "x.jsonl", "--session", "s")
    assert not_a_store.exit_code == 2 and "expected a store address" in not_a_store.stderr
    header = deftrace("pull", "tempo+http://127.0.0.1:1", "--header", "bad header")
    assert header.exit_code == 2 and "expected 'Name: value'" in header.stderr
    missing_file = deftrace("show", tmp_path / "missing.jsonl")
    assert missing_file.exit_code == 2 and "does not exist" in missing_file.stderr
    for result in (bad_since, not_a_store, header, missing_file):
        assert "Traceback" not in result.output


def test_unreachable_store_exit_1_names_it_without_credentials(tmp_path: Path) -> None:
    from conftest import closed_port

    port = closed_port()
    result = deftrace(
        "show", f"phoenix+http://user:s3cret@127.0.0.1:{port}/p", "--session", "s",
        "--header", "Authorization: Bearer tok-s3cret",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: phoenix+http://127.0.0.1:{port}/p: GET /v1/projects/p/spans/otlpv1: "
        "unreachable (Connection refused); is the store running?"
    )
    assert "s3cret" not in result.output


def test_phoenix_credentials_from_its_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """PHOENIX_API_KEY and PHOENIX_CLIENT_HEADERS are sent as Phoenix's client sends them; the
    answer here is Phoenix's empty page (`{"data": [], "next_cursor": null}`)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = b'{"data": [], "next_cursor": null}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    monkeypatch.setenv("PHOENIX_API_KEY", "key-s3cret")
    monkeypatch.setenv("PHOENIX_CLIENT_HEADERS", "x-team=a%20b,x-other=c")
    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        source = open_source(f"phoenix+http://127.0.0.1:{server.server_address[1]}/p")
        assert list(source.fetch(["s"])) == []
        server.shutdown()
    assert seen and seen[0]["authorization"] == "Bearer key-s3cret"
    assert (seen[0]["x-team"], seen[0]["x-other"]) == ("a b", "c")
    assert "s3cret" not in repr(source) and "s3cret" not in repr(source._http)  # type: ignore[attr-defined]

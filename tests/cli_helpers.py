"""Helpers for the CLI tests that need a real process: the installed `deftrace` as a
subprocess, a server that accepts connections and never answers, and the runs directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEFTRACE = str(Path(sys.executable).parent / "deftrace")


def runs_dir() -> Path:
    """Where replays and forks write by default (conftest points XDG_DATA_HOME at tmp_path)."""
    return Path(os.environ["XDG_DATA_HOME"]) / "definable-trace" / "runs"


def run_deftrace(
    *args: object, input: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The installed console script, in this test's environment."""
    return subprocess.run(
        [DEFTRACE, *map(str, args)],
        input=input.decode() if input is not None else None,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=timeout,
    )


@dataclass
class SilentServer:
    """A server on 127.0.0.1 that accepts every connection and never answers."""

    url: str
    held: list[socket.socket]

    def connections(self) -> int:
        return len(self.held)


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    """A `SilentServer` for the block; its connections are held open until the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    server = SilentServer(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", [])
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join()
        for connection in server.held:
            connection.close()
        listener.close()


def wait_for(condition: object, what: str, limit: float = 60) -> None:
    """Poll `condition()` until true; fails the test (no timing assertion) after `limit`."""
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)

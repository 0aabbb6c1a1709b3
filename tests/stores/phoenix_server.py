"""A real Arize Phoenix for tests: installed once into its own cached venv, served on loopback.

`phoenix` (session-scoped fixture) yields a `PhoenixServer`. Phoenix pins its own OpenTelemetry,
so it lives in `~/.cache/definable-trace-tests/phoenix-<version>` (override the folder with
`DEFINABLE_TRACE_TEST_CACHE`); the first install takes a few minutes, later runs reuse it. The
server binds 127.0.0.1 on a free port, works in a temporary directory with telemetry off, and
is started by `phoenix_launcher.py`, which keeps its gRPC receiver (which would bind every
interface) from starting. Outside CI a failed install skips the tests with the reason; with
`CI=true` it fails them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

PHOENIX_VERSION = "20.26.1"
_HERE = Path(__file__).parent
_INSTALL_TIMEOUT = 1200  # seconds; a cold install on a slow machine
_START_TIMEOUT = 180  # seconds until /healthz (migrations on a fresh database)
# Seconds for exported spans to become queryable (ingest is asynchronous, and slow on a busy
# machine): a deadline, never a measurement. DEFINABLE_TRACE_PHOENIX_INGEST_TIMEOUT overrides it.
_INGEST_TIMEOUT = float(os.environ.get("DEFINABLE_TRACE_PHOENIX_INGEST_TIMEOUT", "300"))


def _cache() -> Path:
    base = os.environ.get("DEFINABLE_TRACE_TEST_CACHE") or Path.home() / ".cache"
    return Path(base) / "definable-trace-tests"


def phoenix_python() -> Path:
    """The Python of a venv holding arize-phoenix (installed on first use, under a lock so that
    parallel test runs install once). Raises RuntimeError with the reason when it cannot."""
    cache = _cache()
    venv = cache / f"phoenix-{PHOENIX_VERSION}"
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"phoenix-{PHOENIX_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").exists():
            return python
        building = cache / f"phoenix-{PHOENIX_VERSION}.tmp"
        shutil.rmtree(building, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(building)],
            [
                str(building / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                f"arize-phoenix=={PHOENIX_VERSION}",
            ],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                raise RuntimeError(f"cannot install arize-phoenix=={PHOENIX_VERSION}: {tail}")
        # Renaming keeps `bin/python` usable (a symlink to the base interpreter; the launcher
        # is run with it, never through the venv's console scripts).
        building.rename(venv)
        (venv / ".complete").touch()
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PhoenixServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def address(self, project: str) -> str:
        """The source address of a project: `phoenix+http://127.0.0.1:PORT/PROJECT`."""
        return f"phoenix+{self.url}/{project}"

    def export(self, project: str, local: Path, *sessions: tuple[str, int]) -> None:
        """Run our agent in a clean process exporting to this Phoenix with only the standard
        OTEL_* variables, writing the same spans to `local`; wait until Phoenix has them all."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.url,
            "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={project}",
            "DEFINABLE_TRACE_FILE": str(local),
            "XDG_DATA_HOME": str(local.parent),
        }
        args = [sys.executable, str(_HERE / "agent_session.py")]
        args += [str(part) for pair in sessions for part in pair]
        subprocess.run(args, env=env, check=True, timeout=300, cwd=local.parent)
        self.wait_for(project, span_count(local))

    def wait_for(self, project: str, spans: int) -> None:
        """Poll until the project holds at least `spans` spans (a deadline, not a measurement)."""
        deadline = time.monotonic() + _INGEST_TIMEOUT
        held = 0
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):  # busy ingesting (timeout, reset): ask again
                held = self._count(project)
            if held >= spans:
                return
            time.sleep(0.5)
        raise AssertionError(f"Phoenix holds {held} of {spans} spans after {_INGEST_TIMEOUT} s")

    def _count(self, project: str) -> int:
        count, cursor = 0, None
        while True:
            query = "limit=1000" + (f"&cursor={cursor}" if cursor else "")
            url = f"{self.url}/v1/projects/{project}/spans/otlpv1?{query}"
            try:
                with urllib.request.urlopen(url, timeout=60) as answer:
                    page = orjson.loads(answer.read())
            except urllib.error.HTTPError as exc:
                if exc.code == 404:  # the project appears with its first span
                    return 0
                raise
            count += len(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return count


def span_count(path: Path) -> int:
    count = 0
    for line in path.read_bytes().splitlines():
        for resource in orjson.loads(line).get("resourceSpans", ()):
            for scope in resource.get("scopeSpans", ()):
                count += len(scope.get("spans", ()))
    return count


def start_phoenix(workdir: Path) -> PhoenixServer:
    python = phoenix_python()
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),  # unused: the launcher never starts gRPC
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = workdir / "phoenix.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(python), str(_HERE / "phoenix_launcher.py")],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = PhoenixServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"phoenix exited ({process.returncode}): {_tail(log)}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    stop_phoenix(server)
    raise RuntimeError(f"phoenix not healthy after {_START_TIMEOUT} s: {_tail(log)}")


def stop_phoenix(server: PhoenixServer) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)  # its own session: only what we started
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


def _tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
    except OSError:
        return ""


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoenixServer]:
    try:
        server = start_phoenix(tmp_path_factory.mktemp("phoenix"))
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip(f"Phoenix {PHOENIX_VERSION} unavailable: {exc}")
    try:
        yield server
    finally:
        stop_phoenix(server)

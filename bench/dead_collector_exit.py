"""How long a collector that is down holds a process at exit.

    python bench/dead_collector_exit.py          # about 30 seconds

Each trial is a fresh interpreter that runs one agent turn against a `FakeOpenAIServer` and
exits normally (spans still queued, so the exit flush has to send them). Wall time from start
to exit, median of 3 trials per case, in the same run:

- baselines: tracing off (`DEFINABLE_TRACE_FILE=off`, no collector), and a collector that
  answers 200 at once (so the import and encoding cost of exporting is in the baseline);
- a collector that refuses connections (nothing listens on the port);
- a collector that accepts connections and never answers, with the default timeout and with
  `OTEL_EXPORTER_OTLP_TIMEOUT=1`;
- with the grpc extra installed, a gRPC collector that refuses connections (the official
  exporter retries; `BoundedExporter` stops waiting after the timeout).

The figure is the median minus the live collector's: the delay a collector that is down adds.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHILD = """
from definable_trace.agent import Agent
from definable_trace.model import OpenAIChat
from definable_trace.testing import FakeOpenAIServer

server = FakeOpenAIServer().start()
Agent(OpenAIChat("gpt-4o", base_url=server.base_url, api_key="k")).run("hello")
"""


def wall_time(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", CHILD], env={**os.environ, **env}, check=True, timeout=120
    )
    return time.perf_counter() - start


class Answer200(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    live = ThreadingHTTPServer(("127.0.0.1", 0), Answer200)
    threading.Thread(target=live.serve_forever, daemon=True).start()
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    refused_port = refused.getsockname()[1]
    refused.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    silent_port = silent.getsockname()[1]
    cases = {
        "tracing off (baseline)": {"DEFINABLE_TRACE_FILE": "off"},
        "collector answering (baseline)": {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{live.server_address[1]}"
        },
        "collector refusing": {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{refused_port}"},
        "collector silent, default timeout": {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{silent_port}"
        },
        "collector silent, OTEL_EXPORTER_OTLP_TIMEOUT=1": {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{silent_port}",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
        },
    }
    try:
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
    except ImportError:
        print("(the grpc extra is not installed: no gRPC case)")
    else:
        cases["gRPC collector refusing"] = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{refused_port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(3):
        for name, env in cases.items():
            times[name].append(wall_time(env))
    silent.close()
    live.shutdown()
    baseline = statistics.median(times["collector answering (baseline)"])
    print(
        "wall time from start to exit, median of 3 fresh interpreters; delay = minus the "
        "answering collector's"
    )
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<48} {median:6.2f} s   exit delay {median - baseline:+6.2f} s")


if __name__ == "__main__":
    main()

"""Start `phoenix serve` without its OTLP/gRPC receiver (run with Phoenix's own Python).

Phoenix binds its gRPC receiver on every interface (`[::]:PORT`) whatever `PHOENIX_HOST` says,
and has no switch to turn it off short of read-only mode, which also refuses ingest. Tests need
only OTLP/HTTP (our exporter's default), on 127.0.0.1: so the receiver's `__aenter__` is made a
no-op before Phoenix starts, and nothing of Phoenix listens beyond loopback.
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    from phoenix.server import grpc_server

    async def _not_started(self: Any) -> None:
        return None

    grpc_server.GrpcServer.__aenter__ = _not_started  # type: ignore[method-assign]

    from phoenix.server.main import main as phoenix_main

    sys.argv = ["phoenix", "serve"]
    phoenix_main()


if __name__ == "__main__":
    main()

"""`deftrace`: inspect, export, replay, fork and diff recorded conversations, or chat, traced.

Installed under the import name `deftrace_cli` (pyproject maps this `cli/` directory to it).
Importing it is cheap: `main` loads the click application when called, and the commands import
the library (pydantic, rich, `openai`, the OpenTelemetry SDK) only when they run, so that
`deftrace --help` answers at once.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """The `deftrace` console script."""
    from ._app import cli, handle_sigterm

    handle_sigterm()
    cli(prog_name="deftrace")

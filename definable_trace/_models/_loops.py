"""One async client per event loop, each closed inside the loop it belongs to.

An async HTTP client is bound to the loop it first ran on: its pooled connections are that
loop's transports. A model used by successive `asyncio.run(agent.arun(...))` calls therefore
needs one client per loop, and each must be closed *while its loop still runs*: closed later,
from another loop, its transports raise "Event loop is closed"; never closed, they leak as
`ResourceWarning: unclosed transport`.

The only hook asyncio offers at the end of a loop is the one for async generators:
`asyncio.run` (and `asyncio.Runner`, pytest-asyncio, anyio) call `loop.shutdown_asyncgens()`
before closing the loop, which `aclose()`s every async generator started in it that has not
finished. So each client gets a small guard generator, started in its loop and parked at its
`yield`; its `finally` closes the client at that loop's shutdown, or when `aclose()` is called.
A loop closed by hand without `shutdown_asyncgens()` cannot be helped afterwards: call the
model's `aclose()` before closing it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["LoopClients"]

C = TypeVar("C")


@dataclass
class _Entry(Generic[C]):
    client: C
    abandoned: bool = False
    guard: AsyncGenerator[None, None] = field(init=False)


class LoopClients(Generic[C]):
    """Builds a client per running loop on demand (`get`) and closes each in its own loop."""

    def __init__(self, build: Callable[[], C], close: Callable[[C], Awaitable[object]]) -> None:
        self._build = build
        self._close = close
        self._entries: dict[asyncio.AbstractEventLoop, _Entry[C]] = {}

    def __len__(self) -> int:
        """How many clients are open (their loop not yet shut down)."""
        self._forget_finished()
        return len(self._entries)

    def get(self) -> C:
        """The client of the running loop, built (and its guard started) on first use."""
        loop = asyncio.get_running_loop()
        self._forget_finished()
        entry = self._entries.get(loop)
        if entry is None:
            client = self._build()
            entry = _Entry(client)
            entry.guard = self._guard(entry)
            _start(entry.guard)
            self._entries[loop] = entry
        return entry.client

    async def aclose(self) -> None:
        """Close the running loop's client now; others as far as `close` can."""
        entry = self._entries.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry.guard.aclose()  # its `finally` closes the client, here, in its loop
        self.close()

    def close(self) -> None:
        """Close every client whose loop is idle; schedule those whose loop is running.

        A client whose loop is already closed (without `shutdown_asyncgens`) is dropped: its
        connections cannot be closed any more, and trying would raise "Event loop is closed".
        An idle loop cannot be run while this thread runs another one: its client stays, and
        is closed at that loop's shutdown.
        """
        busy = _loop_running_here()
        for loop, entry in list(self._entries.items()):
            if loop.is_closed():
                _abandon(entry)
            elif loop.is_running():
                loop.call_soon_threadsafe(_schedule_close, loop, entry)
            elif not busy:
                loop.run_until_complete(_close_guard(entry.guard))
            else:
                continue
            del self._entries[loop]

    async def _guard(self, entry: _Entry[C]) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if not entry.abandoned:
                # Closing is best effort: a failure to close a pool must not fail the caller.
                with contextlib.suppress(Exception):
                    await self._close(entry.client)

    def _forget_finished(self) -> None:
        """Drop the entries of loops that are closed (their guard has run, or never can)."""
        for loop in [loop for loop in self._entries if loop.is_closed()]:
            _abandon(self._entries.pop(loop))


def _start(guard: AsyncGenerator[None, None]) -> None:
    """Run `guard` to its `yield` now, from sync code: this registers it with the running loop.

    `asend()` calls the loop's first-iteration hook (which puts the generator on the list that
    `shutdown_asyncgens` closes); the body up to `yield` does not await, so one `send(None)`
    runs it there and finishes the awaitable with `StopIteration`.
    """
    step = guard.asend(None)
    try:
        step.send(None)
    except StopIteration:
        return
    raise RuntimeError("the client guard awaited before its first yield")  # pragma: no cover


def _abandon(entry: _Entry[C]) -> None:
    """Finish a guard whose loop is gone without awaiting anything (nothing can be awaited)."""
    entry.abandoned = True
    step = entry.guard.aclose()
    with contextlib.suppress(StopIteration, RuntimeError):
        step.send(None)
    step.close()


def _schedule_close(loop: asyncio.AbstractEventLoop, entry: _Entry[C]) -> None:
    loop.create_task(_close_guard(entry.guard))


async def _close_guard(guard: AsyncGenerator[None, None]) -> None:
    await guard.aclose()


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True

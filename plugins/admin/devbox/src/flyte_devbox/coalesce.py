"""Fewer socket writes per response: hypercorn writes every HTTP/2 frame with its own send.

A unary gRPC response is HEADERS, DATA and trailing HEADERS: three sends, three wake-ups of the
client, each a loopback round through the kernel that costs more than the whole handler on a busy
machine. This connection class collects the bytes of a few event-loop turns and writes them at
once. Ordering is unchanged; a large buffer is flushed at once and waits for the socket (backpressure).
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import Closed, Event, RawData

FLUSH_AFTER_TURNS = 3
HIGH_WATER = 256 * 1024


class CoalescingTCPServer(TCPServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._scheduled = False

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, RawData):
            self._pending.append(event.data)
            self._pending_size += len(event.data)
            if self._pending_size >= HIGH_WATER:
                self._flush()
                try:
                    await self.writer.drain()
                except (ConnectionError, RuntimeError):
                    await self.protocol.handle(Closed())
            elif not self._scheduled:
                self._scheduled = True
                self._later(FLUSH_AFTER_TURNS)
            return
        if isinstance(event, Closed):
            self._flush()
        await super().protocol_send(event)

    def _later(self, turns: int) -> None:
        if turns <= 1:
            self.loop.call_soon(self._flush)
        else:
            self.loop.call_soon(self._later, turns - 1)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        # A closed connection is reported by the read side.
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.writer.write(data)


def install() -> None:
    """Make hypercorn's asyncio worker use the coalescing connection class (this process only)."""
    import hypercorn.asyncio.run as hyper_run

    hyper_run.TCPServer = CoalescingTCPServer  # type: ignore[misc]

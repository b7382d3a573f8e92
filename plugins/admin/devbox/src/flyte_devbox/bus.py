"""In-process change notifications: every action state change is published to the run's watchers."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from flyte_devbox.store import ActionRow, RunKey


class Bus:
    def __init__(self) -> None:
        self._subs: dict[RunKey, set[asyncio.Queue[ActionRow | None]]] = defaultdict(set)
        self._all: set[asyncio.Queue[ActionRow | None]] = set()

    def subscribe(self, run: RunKey | None) -> asyncio.Queue[ActionRow | None]:
        q: asyncio.Queue[ActionRow | None] = asyncio.Queue()
        if run is None:
            self._all.add(q)
        else:
            self._subs[run].add(q)
        return q

    def unsubscribe(self, run: RunKey | None, q: asyncio.Queue[ActionRow | None]) -> None:
        if run is None:
            self._all.discard(q)
            return
        subs = self._subs.get(run)
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._subs[run]

    def publish(self, row: ActionRow) -> None:
        for q in self._subs.get(row.run, ()):
            q.put_nowait(row)
        for q in self._all:
            q.put_nowait(row)

    def close(self) -> None:
        """Wake every watcher with an end marker (server shutdown)."""
        for subs in self._subs.values():
            for q in subs:
                q.put_nowait(None)
        for q in self._all:
            q.put_nowait(None)

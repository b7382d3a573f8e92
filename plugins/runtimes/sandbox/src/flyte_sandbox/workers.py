"""A pool of Monty worker sessions for one run: checkout, reuse, eviction.

pydantic-monty keeps worker *processes*; a checkout gives a session (one worker)
with its resource limits. A checkout costs far more than a feed, so a session
that ended cleanly is kept for the next call of the same task with the same
limits. A body waiting on child tasks does not count as running, and is parked
(snapshot dumped, worker given back) when another checkout needs its worker, so
parents waiting on children never starve the children of workers.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import os
import threading
import time
from collections import OrderedDict
from typing import Any

_EXIT_HOOK = threading.Lock()
_exit_hook_installed = False


def _install_exit_hook() -> None:
    """Give pydantic-monty's runtime threads a moment before the interpreter finalizes.

    With pydantic-monty 1.4 a process that used a pool aborts (SIGABRT) at exit now and
    then, when a background thread of the pool races interpreter finalization; a short
    pause at exit avoids it (0 aborts in 120 runs, against ~1 in 3 without).
    """
    global _exit_hook_installed
    with _EXIT_HOOK:
        if not _exit_hook_installed:
            atexit.register(time.sleep, 0.02)
            _exit_hook_installed = True


class Lease:
    """One checked-out session, for one key (task program + limits).

    A lease whose body waits on host work at a snapshot can be *parked*: the snapshot is
    dumped and the worker given back, and the body is restored on a worker when it resumes.
    """

    __slots__ = ("calls", "dumped", "feeds", "key", "limits", "restored", "running", "session", "snap")

    def __init__(self, key: Any, session: Any, limits: dict[str, Any] | None = None) -> None:
        self.key = key
        self.session = session
        self.limits = limits
        self.feeds = 0
        self.calls = 0  # host round trips, counted against the per-checkout max_suspensions
        self.running = True
        self.snap: Any = None  # the snapshot a waiting body is suspended at (parkable), else None
        self.dumped: bytes | None = None  # set while parked
        # The feed was restored from a dump: pydantic-monty's store of host objects is empty, so calls on
        # them cannot be answered with resume_auto() (they are answered by hand, routed by object id).
        self.restored = False


class WorkerPool:
    """Sessions for one run. ``max_running`` bodies execute at once; waiting ones don't count.

    At most ``max_workers`` worker processes are open (default: 4 per CPU, at least 8). A body
    waiting on child tasks keeps its worker while workers are to spare; when a checkout finds
    none, the longest-waiting such body is parked (its snapshot dumped, its worker given back)
    and restored on a worker when its children are done. Bodies that pydantic-monty awaits in
    place cannot be parked, so at most half the workers are ever pinned that way. Together
    this means a fan-out of any width or depth finishes with a bounded number of processes.
    """

    def __init__(self, max_running: int | None = None, max_workers: int | None = None, max_idle: int | None = None,
                 max_feeds_per_session: int = 2000) -> None:
        cpus = os.cpu_count() or 2
        self.max_running = max_running or max(4, 2 * cpus)
        self.max_workers = max(max_workers or max(8, 4 * cpus), 2)
        self.max_pinned = self.max_workers // 2
        self.pinned = 0
        self.max_idle = max_idle if max_idle is not None else self.max_running * 2
        self.max_feeds_per_session = max_feeds_per_session
        self.parks = 0
        self.peak_open = 0
        self._pool: Any = None
        self._running = 0
        self._slot_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._open = 0
        self._worker_waiters = 0
        self._closed_one: asyncio.Event | None = None
        self._idle: OrderedDict[int, Lease] = OrderedDict()  # id(lease) -> lease, oldest first
        self._idle_by_key: dict[Any, list[Lease]] = {}
        self._parkable: OrderedDict[int, Lease] = OrderedDict()  # waiting at a snapshot, oldest first
        self._closing = False

    async def start(self) -> None:
        import pydantic_monty

        _install_exit_hook()
        self._closed_one = asyncio.Event()
        # Workers spawn on demand; the grace lets the sandbox raise its own TimeoutError before the
        # pool kills a worker that does not stop (one long operation: reported as the time limit too).
        self._pool = pydantic_monty.AsyncMonty(min_processes=1, max_processes=self.max_workers,
                                               feed_duration_limit_grace=0.25)
        await self._pool.__aenter__()

    async def close(self) -> None:
        self._closing = True
        idle = list(self._idle.values())
        self._idle.clear()
        self._idle_by_key.clear()
        for lease in idle:
            await self._close_session(lease.session)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.__aexit__(None, None, None)

    # -- running slots (FIFO, one wake-up per free slot) ---------------------------------------

    async def _take_slot(self) -> None:
        if self._running < self.max_running and not self._slot_waiters:
            self._running += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(fut)
        try:
            await fut  # the slot was counted for us by _give_slot
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._give_slot()
            raise

    def _give_slot(self) -> None:
        self._running -= 1
        while self._slot_waiters and self._running < self.max_running:
            w = self._slot_waiters.popleft()
            if not w.done():
                self._running += 1
                w.set_result(None)

    # -- workers -----------------------------------------------------------------------------

    async def _open_session(self, limits: dict[str, Any]) -> Any:
        """A new session on a worker, once one is free: evicts an idle session or parks a waiting body."""
        assert self._closed_one is not None, "WorkerPool.start() was not awaited"
        while self._open >= self.max_workers:
            if self._idle:
                _, old = self._idle.popitem(last=False)
                self._idle_by_key[old.key].remove(old)
                await self._close_session(old.session)
            elif self._parkable:
                await self._park(next(iter(self._parkable.values())))
            else:
                self._worker_waiters += 1
                self._closed_one.clear()
                try:
                    await self._closed_one.wait()
                finally:
                    self._worker_waiters -= 1
        self._open += 1
        self.peak_open = max(self.peak_open, self._open)
        try:
            session = self._pool.checkout(limits=limits, script_name="task.py")
            await session.__aenter__()
        except BaseException:
            self._open -= 1
            self._closed_one.set()
            raise
        return session

    async def _park(self, lease: Lease) -> None:
        """Dump the snapshot a waiting body is suspended at and give its worker back."""
        self._parkable.pop(id(lease), None)
        snap, lease.snap = lease.snap, None
        session, lease.session = lease.session, None
        try:
            lease.dumped = snap.dump()
        except Exception:  # cannot dump: keep the worker, the body stays as it was
            lease.session = session
            return
        self.parks += 1
        await self._close_session(session)

    # -- leases ------------------------------------------------------------------------------

    async def acquire(self, key: Any, limits: dict[str, Any]) -> Lease:
        await self._take_slot()
        try:
            idle = self._idle_by_key.get(key)
            if idle:
                lease = idle.pop()
                del self._idle[id(lease)]
                lease.running = True
                return lease
            session = await self._open_session(limits)
        except BaseException:
            self._give_slot()
            raise
        return Lease(key, session, limits)

    async def release(self, lease: Lease, reusable: bool) -> None:
        self._parkable.pop(id(lease), None)
        lease.snap = None
        if lease.running:
            lease.running = False
            self._give_slot()
        if lease.session is None:  # parked and never restored (the body was cancelled)
            return
        keep = (reusable and not self._closing and lease.feeds < self.max_feeds_per_session
                and not self._worker_waiters)
        evict: list[Lease] = []
        if keep:
            self._idle[id(lease)] = lease
            self._idle_by_key.setdefault(lease.key, []).append(lease)
            while len(self._idle) > self.max_idle:
                _, old = self._idle.popitem(last=False)
                self._idle_by_key[old.key].remove(old)
                evict.append(old)
        else:
            evict.append(lease)
        for old in evict:
            await self._close_session(old.session)

    async def waiting(self, lease: Lease, snap: Any = None) -> None:
        """The body is blocked on host work (child tasks): let another body run meanwhile.

        With ``snap`` (the snapshot it is suspended at) the body may be parked while it waits.
        """
        if lease.running:
            lease.running = False
            self._give_slot()
        if snap is not None and lease.session is not None:
            lease.snap = snap
            self._parkable[id(lease)] = lease
            if self._worker_waiters:  # a checkout is stuck for a worker: give it this one
                await self._park(lease)

    async def resumed(self, lease: Lease) -> bytes | None:
        """The body can go on. Returns the dumped snapshot to restore if it was parked meanwhile
        (``lease.session`` is then a fresh session to load it into)."""
        self._parkable.pop(id(lease), None)
        lease.snap = None
        if not lease.running:
            lease.running = True
            self._running += 1  # may briefly exceed max_running; never blocks, so never deadlocks
        if lease.dumped is None:
            return None
        dumped, lease.dumped = lease.dumped, None
        lease.session = await self._open_session(lease.limits or {})
        return dumped

    async def _close_session(self, session: Any) -> None:
        try:
            await asyncio.wait_for(session.__aexit__(None, None, None), 5)
        except Exception:  # a dead worker is the pool's to replace; nothing to clean here
            pass
        finally:
            self._open -= 1
            if self._closed_one is not None:
                self._closed_one.set()

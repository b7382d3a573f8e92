"""Making in-process runs stoppable: threads that never keep the process alive, and signals.

Sync task bodies run on threads. A thread cannot be killed, so a body that outlives its timeout
or a Ctrl-C is abandoned; ``concurrent.futures.ThreadPoolExecutor`` would still join it when the
interpreter exits (its atexit hook), keeping the process alive until the body ends.
:class:`DaemonThreadPool` runs them on daemon threads instead.

:func:`run_stoppable` runs a run's coroutine for the CLI: the first Ctrl-C or SIGTERM cancels
it (the run records itself as ABORTED); if the loop does not react within half a second (a CPU-bound
async body holds it), the body is interrupted; a second signal exits at once, quietly.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from flyte._builtin.local.records import abort_open_records, aborted_runs, finishing_now

T = TypeVar("T")

_ESCALATE_AFTER = 0.5  # seconds the loop gets to react to a cancellation before the body is interrupted


class DaemonThreadPool(ThreadPoolExecutor):
    """An executor whose worker threads are daemons: an abandoned body never blocks interpreter exit.

    Threads start on demand (an idle one is reused first) up to ``max_workers``.
    ``shutdown(wait=True)`` waits at most ``shutdown_timeout`` seconds for running calls.
    A ThreadPoolExecutor by type only (asyncio's default executor must be one); none of its
    machinery is used, so its threads are never registered for the join at exit.
    """

    _ids = itertools.count(1)

    def __init__(self, max_workers: int = 10_000, thread_name_prefix: str = "flyte-body",
                 shutdown_timeout: float | None = None) -> None:  # no super().__init__: see the docstring
        self._max = max_workers
        self._prefix = thread_name_prefix
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._shutdown_timeout = shutdown_timeout

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        f: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new calls after shutdown")
            self._queue.put((f, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and len(self._workers) < self._max:
                t = threading.Thread(target=self._work, name=f"{self._prefix}-{next(self._ids)}", daemon=True)
                self._workers.append(t)
                t.start()
        return f

    @property
    def started(self) -> bool:
        """Whether any call was ever submitted (a worker thread exists)."""
        return bool(self._workers)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            f, fn, args, kwargs = item
            del item
            if f.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as e:
                    f.set_exception(e)
                else:
                    f.set_result(result)
            del f, fn, args, kwargs
            if self._closed:
                return
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            if cancel_futures:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            for _ in self._workers:
                self._queue.put(None)  # wakes idle workers so they end
        if wait:
            deadline = None if self._shutdown_timeout is None else self._shutdown_timeout
            for t in list(self._workers):
                if t is not threading.current_thread():
                    t.join(deadline)
                    if deadline is not None:
                        deadline = 0.0  # the budget is for all of them, not each


_stop_reason: str | None = None


def stop_reason() -> str | None:
    """Why the current process is stopping (``"interrupted (Ctrl-C)"``, ``"terminated (SIGTERM)"``), if it is."""
    return _stop_reason


class Stopped(KeyboardInterrupt):
    """The run was stopped by a signal; ``signum`` says which, ``runs`` the records it left.

    ``runs``: ``(name, url)`` of each run recorded as ABORTED by the stop (url "" without a record).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(_describe(signum))
        self.signum = signum
        self.reason = _describe(signum)
        self.runs: list[tuple[str, str]] = aborted_runs()


def _describe(signum: int) -> str:
    return "interrupted (Ctrl-C)" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"


def _quiet_exit(signum: int, frame: Any) -> None:
    if finishing_now():
        return  # the record is being written (milliseconds); the process exits right after
    abort_open_records(_stop_reason or _describe(signum), blocking=False)
    try:
        sys.stderr.write("Stopped.\n")
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(128 + signum)


def run_stoppable(coro: Coroutine[Any, Any, T], *, library: bool = False) -> T:
    """``asyncio.run(coro)`` that Ctrl-C and SIGTERM stop within about a second, whatever bodies do.

    Raises :class:`Stopped` (a KeyboardInterrupt) when a signal stopped it. Called from the main
    thread; elsewhere (no signals there) it is plain ``asyncio.run``.

    ``library=True`` (a sync ``flyte.run`` in a user's program): SIGTERM is handled only if its
    handler is the default one; the caller's handlers are restored afterwards (no quiet exit on a
    second signal); a run stopped by SIGTERM re-raises SIGTERM once the record is written, so the
    process ends as it would have without flyte (exit status 143).
    """
    global _stop_reason
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(coro)
    loop = asyncio.new_event_loop()
    # asyncio.to_thread calls of bodies get daemon threads too, and closing the loop waits for them only briefly.
    # Same size as asyncio's own default executor.
    pool = DaemonThreadPool(max_workers=min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="flyte-to-thread",
                            shutdown_timeout=0.5)
    loop.set_default_executor(pool)
    main = loop.create_task(coro)
    state: dict[str, Any] = {"signum": None, "loop_alive": False, "escalating": False, "escalated": False}

    def escalate() -> None:
        if not state["loop_alive"] and not main.done():
            # The loop never got to the cancellation: a body is holding it. Interrupt the main thread.
            state["escalating"] = True
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    def on_signal(signum: int, frame: Any) -> None:
        global _stop_reason
        if state["signum"] is not None:
            if state["escalating"] and not state["escalated"]:
                state["escalated"] = True
                raise Stopped(state["signum"])  # raised in the body that holds the loop
            _quiet_exit(signum, frame)  # a second signal from the user: stop now
        state["signum"] = signum
        _stop_reason = _describe(signum)

        def alive() -> None:
            state["loop_alive"] = True

        loop.call_soon_threadsafe(main.cancel)
        loop.call_soon_threadsafe(alive)
        timer = threading.Timer(_ESCALATE_AFTER, escalate)
        timer.daemon = True
        timer.start()

    handled = [signal.SIGINT]
    if not library or signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        handled.append(signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in handled}
    for s in previous:
        signal.signal(s, on_signal)
    try:
        try:
            return loop.run_until_complete(main)
        except (asyncio.CancelledError, KeyboardInterrupt) as e:
            if state["signum"] is None:
                raise
            # The run normally recorded itself while unwinding; this covers a body that held the loop.
            abort_open_records(_stop_reason or "stopped")
            raise Stopped(state["signum"]) from e
        finally:
            _close_loop(loop, main, pool)
    finally:
        if state["signum"] is None or library:
            for s, h in previous.items():
                if h is not None:  # None: installed from C, cannot be put back from Python
                    signal.signal(s, h)
            if library and state["signum"] == signal.SIGTERM:
                signal.raise_signal(signal.SIGTERM)  # the default action: the process ends with 143
            if library:
                _stop_reason = None  # the caller may catch the KeyboardInterrupt and start another run
        else:
            # Stopping: a second signal from here on exits at once, without a traceback.
            for s in previous:
                signal.signal(s, _quiet_exit)


def _close_loop(loop: asyncio.AbstractEventLoop, main: asyncio.Task[Any], pool: DaemonThreadPool) -> None:
    try:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            # Tasks get a moment to unwind; one that ignores cancellation is left behind.
            loop.run_until_complete(asyncio.wait(pending, timeout=0.5))
        loop.run_until_complete(loop.shutdown_asyncgens())
        if not pool.started:
            pool.shutdown(wait=False)  # never used: asyncio's shutdown would start a thread only to join nothing
        else:
            loop.run_until_complete(loop.shutdown_default_executor())
    except BaseException:
        pass
    finally:
        loop.close()

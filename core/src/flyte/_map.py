"""``flyte.map``: run a task over iterables concurrently, results in input order."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from flyte import _context
from flyte._group import group
from flyte._syncify import run_sync


def _split(func: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """The task, and the positional and keyword arguments a ``functools.partial`` binds."""
    if isinstance(func, functools.partial):
        return func.func, tuple(func.args), dict(func.keywords or {})
    return func, (), {}


class _Mapper:
    """``flyte.map(task, xs, ys, concurrency=8)`` yields ``task(x, y)`` for each pair, in order.

    With ``return_exceptions=True`` (the default) a failed item yields its exception
    instead of stopping the map. ``concurrency=0`` means as many as the runtime allows.
    In async code use ``async for r in flyte.map.aio(...)``.
    """

    def __call__(
        self,
        func: Any,
        *args: Iterable[Any],
        group_name: str | None = None,
        concurrency: int = 0,
        return_exceptions: bool = True,
    ) -> Iterator[Any]:
        tc = _context._current.get()
        if tc is not None and tc.controller is not None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:
                raise RuntimeError("flyte.map() blocks; in async code use `async for r in flyte.map.aio(...)`")
        async def collect() -> list[Any]:
            return [r async for r in self.aio(func, *args, group_name=group_name, concurrency=concurrency,
                                              return_exceptions=return_exceptions)]

        if tc is not None and tc.controller is not None:
            run_blocking = getattr(tc.controller, "run_blocking", None)
            if run_blocking is not None:
                ctx_token = tc

                async def in_loop() -> list[Any]:
                    token = _context._current.set(ctx_token)
                    try:
                        return await collect()
                    finally:
                        _context._current.reset(token)

                return iter(run_blocking(in_loop()))
        return iter(run_sync(collect))

    async def aio(
        self,
        func: Any,
        *args: Iterable[Any],
        group_name: str | None = None,
        concurrency: int = 0,
        return_exceptions: bool = True,
    ) -> AsyncIterator[Any]:
        if not args:
            return
        task, fixed_args, fixed = _split(func)
        if not hasattr(task, "aio"):
            raise TypeError(f"flyte.map takes a task declared with @env.task, got {task!r}")
        name = getattr(task, "short_name", getattr(task, "__name__", "map"))
        items = zip(*args, strict=False)

        async def one(values: tuple[Any, ...]) -> Any:
            try:
                return await task.aio(*fixed_args, *values, **fixed)
            except Exception as e:
                if return_exceptions:
                    return e
                raise

        with group(f"{name}_{group_name or 'map'}"):
            if concurrency and concurrency > 0:
                sem = asyncio.Semaphore(concurrency)

                async def bounded(values: tuple[Any, ...]) -> Any:
                    async with sem:
                        return await one(values)

                pending = [asyncio.ensure_future(bounded(v)) for v in items]
            else:
                pending = [asyncio.ensure_future(one(v)) for v in items]
            try:
                for fut in pending:
                    yield await fut
            finally:
                for fut in pending:
                    if not fut.done():
                        fut.cancel()


map = _Mapper()  # the official SDK's name

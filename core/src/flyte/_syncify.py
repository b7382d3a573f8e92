"""Call async code from sync code: the ``f()`` / ``await f.aio()`` pattern of the official SDK."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def run_sync(fn: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run ``fn(*args, **kwargs)`` to completion from sync code, even if this thread runs a loop."""

    async def main() -> R:
        return await fn(*args, **kwargs)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="flyte-sync") as ex:
        return ex.submit(asyncio.run, main()).result()


class Syncified(Generic[P, R]):
    """``obj(...)`` runs synchronously; ``await obj.aio(...)`` runs on the caller's loop."""

    def __init__(self, fn: Callable[P, Awaitable[R]]) -> None:
        self.aio = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return run_sync(self.aio, *args, **kwargs)


def syncify(fn: Callable[P, Awaitable[R]]) -> Syncified[P, R]:
    return Syncified(fn)


class _BoundSyncified:
    def __init__(self, fn: Callable[..., Awaitable[Any]], obj: Any) -> None:
        self._fn = fn
        self._obj = obj

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return run_sync(self._fn, self._obj, *args, **kwargs)

    async def aio(self, *args: Any, **kwargs: Any) -> Any:
        return await self._fn(self._obj, *args, **kwargs)


class syncmethod:  # lower case: used as a decorator
    """A method callable as ``obj.m()`` (sync) or ``await obj.m.aio()``."""

    def __init__(self, fn: Callable[..., Awaitable[Any]]) -> None:
        self._fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return _BoundSyncified(self._fn, obj)

"""``flyte.trace``: mark a helper function whose calls a task makes, for the record."""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger("flyte.trace")


def trace(func: Callable[..., T]) -> Callable[..., T]:
    """Trace calls of ``func`` made inside tasks (sync or async functions).

    On a cluster the official SDK records each traced call so a retried task can skip it; the
    local runtime runs it as a plain call and logs its duration at DEBUG level.

    Example::

        @flyte.trace
        async def call_llm(prompt: str) -> str: ...
    """
    name = getattr(func, "__qualname__", repr(func))
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def traced_async(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await func(*args, **kwargs)
            finally:
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("trace %s took %.3fs", name, time.perf_counter() - started)

        return traced_async  # type: ignore[return-value]

    @functools.wraps(func)
    def traced(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("trace %s took %.3fs", name, time.perf_counter() - started)

    return traced

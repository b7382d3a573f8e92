"""``flyte.durable``: time, sleep and random numbers that a retried action sees again unchanged.

``time.time()``, ``datetime.now()`` and ``random.random()`` give a retried attempt new values,
so it may take other branches than the attempt that failed. These record the first attempt's
values and replay them, in call order, on the next attempts of the same action::

    @env.task(retries=3)
    async def main() -> None:
        started = await flyte.durable.time.aio()
        await flyte.durable.sleep.aio(3600)  # a retry sleeps only what is left of the hour

Every function works from sync code (``flyte.durable.time()``) and async code (``.aio()``).
``time``, ``now`` and ``sleep`` are the official SDK's; ``random``, ``randint`` and ``choice``
are flyte-core's. Outside a task they are the plain functions.
"""

from __future__ import annotations

import asyncio
import random as _stdlib_random
import time as _time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, ParamSpec, TypeVar

from flyte.durable._replay import recorded

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class _Durable(Generic[P, R]):
    def __init__(self, sync: Callable[P, R], name: str, doc: str) -> None:
        self._sync = sync
        self.__name__ = name
        self.__qualname__ = name
        self.__doc__ = doc

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._sync(*args, **kwargs)

    async def aio(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._sync(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<flyte.durable.{self.__name__}>"


def _time_now() -> float:
    return float(recorded("time", _time.time))


def _datetime_now() -> datetime:
    iso = recorded("now", lambda: datetime.now().isoformat())
    return datetime.fromisoformat(iso)


def _sleep_left(seconds: float) -> float:
    start = float(recorded("sleep", _time.time))
    return max(0.0, start + seconds - _time.time())


def _sleep(seconds: float) -> None:
    left = _sleep_left(seconds)
    if left:
        _time.sleep(left)


class _Sleep(_Durable[[float], None]):
    async def aio(self, seconds: float) -> None:
        left = _sleep_left(seconds)
        if left:
            await asyncio.sleep(left)


def _random() -> float:
    return float(recorded("random", _stdlib_random.random))


def _randint(a: int, b: int) -> int:
    return int(recorded("randint", lambda: _stdlib_random.randint(a, b)))


def _choice(seq: Sequence[T]) -> T:
    if not seq:
        raise IndexError("flyte.durable.choice() of an empty sequence")
    return seq[int(recorded("choice", lambda: _stdlib_random.randrange(len(seq))))]


time: _Durable[[], float] = _Durable(_time_now, "time", "Like ``time.time()``; a retried attempt gets the same value.")
now: _Durable[[], datetime] = _Durable(
    _datetime_now, "now", "Like ``datetime.now()``; a retried attempt gets the same value.")
sleep = _Sleep(_sleep, "sleep",
               "Sleep ``seconds``, counted from the first attempt's call: a retry sleeps only what is left.")
random: _Durable[[], float] = _Durable(_random, "random", "Like ``random.random()``; replayed on a retried attempt.")
randint: _Durable[[int, int], int] = _Durable(
    _randint, "randint", "Like ``random.randint(a, b)``; replayed on a retried attempt.")
choice: _Durable[[Sequence[Any]], Any] = _Durable(
    _choice, "choice", "Like ``random.choice(seq)`` (the index is replayed on a retried attempt).")

__all__ = ["choice", "now", "randint", "random", "sleep", "time"]

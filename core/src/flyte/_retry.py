"""How a failing task is retried."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between attempts: ``base * factor**attempt``, capped at ``cap``."""

    base: timedelta = timedelta(seconds=0)
    factor: float = 1.0
    cap: timedelta | None = None

    def delay(self, attempt: int) -> float:
        d = self.base.total_seconds() * (self.factor**attempt)
        if self.cap is not None:
            d = min(d, self.cap.total_seconds())
        return max(d, 0.0)


@dataclass(frozen=True)
class RetryStrategy:
    """How many times a task is retried after a failure, and how long to wait between attempts.

    Example::

        @env.task(retries=flyte.RetryStrategy(count=3, backoff=flyte.Backoff(base=timedelta(seconds=1), factor=2)))
        async def flaky() -> int: ...
    """

    count: int
    backoff: Backoff | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 0:
            raise ValueError(f"RetryStrategy.count must be an int >= 0, got {self.count!r}")


def normalize_retries(retries: int | RetryStrategy | None) -> RetryStrategy:
    if retries is None:
        return RetryStrategy(0)
    if isinstance(retries, RetryStrategy):
        return retries
    if isinstance(retries, int) and not isinstance(retries, bool):
        return RetryStrategy(retries)
    raise TypeError(f"retries must be an int or flyte.RetryStrategy, got {retries!r}")

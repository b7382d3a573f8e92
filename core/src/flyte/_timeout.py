"""How long a task may run, wait, and take in all: ``flyte.Timeout``, as the official SDK spells it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Timeout:
    """Time bounds of a task; each is optional, and ``None`` or ``0`` means no bound.

    - ``max_runtime``: how long one attempt may run (a retry starts a new clock);
    - ``max_queued_time``: how long one attempt may wait to start (locally: for a concurrency slot);
    - ``deadline``: how long the action may take from its first attempt to its end, across all
      attempts and the waits between them; when it passes the action ends TIMED_OUT, not retried.

    A bare ``int`` (seconds) or ``timedelta`` given as ``timeout=`` is ``max_runtime``.

    Example::

        @env.task(retries=3, timeout=flyte.Timeout(max_runtime=timedelta(minutes=5), deadline=timedelta(minutes=12)))
        async def fetch() -> str: ...
    """

    max_runtime: timedelta | int | float | None = None
    max_queued_time: timedelta | int | float | None = None
    deadline: timedelta | int | float | None = None


TimeoutType = Timeout | timedelta | int | float


def _seconds(name: str, value: timedelta | int | float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (timedelta, int, float)):
        raise TypeError(f"{name} must be a timedelta or a number of seconds, got {value!r}")
    secs = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if secs < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return secs or None


def timeout_seconds(t: TimeoutType | None) -> float | None:
    """Seconds an attempt may run, or ``None`` for no limit (0 means no limit, as in the official SDK)."""
    if isinstance(t, Timeout):
        return _seconds("max_runtime", t.max_runtime)
    if t is not None and not isinstance(t, (timedelta, int, float)):
        raise TypeError(f"timeout must be a flyte.Timeout, a timedelta or a number of seconds, got {t!r}")
    return _seconds("timeout", t)


def queued_seconds(t: TimeoutType | None) -> float | None:
    """``max_queued_time`` in seconds (``None``: no bound)."""
    return _seconds("max_queued_time", t.max_queued_time) if isinstance(t, Timeout) else None


def deadline_seconds(t: TimeoutType | None) -> float | None:
    """``deadline`` in seconds (``None``: no bound)."""
    return _seconds("deadline", t.deadline) if isinstance(t, Timeout) else None

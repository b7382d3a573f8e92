"""How long a task may run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Timeout:
    """``max_runtime``: how long one attempt may run; ``max_queued_time``: how long it may wait to start."""

    max_runtime: timedelta | int
    max_queued_time: timedelta | int | None = None


TimeoutType = Timeout | timedelta | int | float


def timeout_seconds(t: TimeoutType | None) -> float | None:
    """Seconds an attempt may run, or ``None`` for no limit (0 means no limit, as in the official SDK)."""
    if t is None:
        return None
    if isinstance(t, Timeout):
        t = t.max_runtime
    secs = t.total_seconds() if isinstance(t, timedelta) else float(t)
    if secs < 0:
        raise ValueError(f"timeout must be >= 0, got {t!r}")
    return secs or None

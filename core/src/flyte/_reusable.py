"""``flyte.ReusePolicy``: keep task containers warm between actions (a cluster setting)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal


@dataclass(frozen=True)
class ReusePolicy:
    """How a cluster reuses containers for an environment's tasks. Local runs accept and ignore it.

    Example::

        env = flyte.TaskEnvironment(name="serve", reusable=flyte.ReusePolicy(replicas=2, idle_ttl=60))
    """

    replicas: int | tuple[int, int] = 2
    idle_ttl: int | timedelta = 30
    concurrency: int = 1
    scaledown_ttl: int | timedelta = 30
    scope: Literal["global", "run"] = "global"

    def __post_init__(self) -> None:
        lo, hi = self.replicas if isinstance(self.replicas, tuple) else (self.replicas, self.replicas)
        if lo < 1 or hi < lo:
            raise ValueError(f"ReusePolicy.replicas must be >= 1 (or a (min, max) pair), got {self.replicas!r}")
        if self.concurrency < 1:
            raise ValueError(f"ReusePolicy.concurrency must be >= 1, got {self.concurrency!r}")

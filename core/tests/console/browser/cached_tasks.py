"""A run whose child is a cache hit the second time (the console draws cache hits in the cached colour)."""

from __future__ import annotations

import flyte

env = flyte.TaskEnvironment("console_cached")


@env.task(cache="auto")
def expensive(key: str) -> str:
    return key.upper()


@env.task
def main(key: str = "demo") -> str:
    return expensive(key)

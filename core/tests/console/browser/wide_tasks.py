"""Runs with many actions: thousands of siblings (the virtualized tree, the canvas timeline) and a map with failures."""

from __future__ import annotations

import asyncio

import flyte

env = flyte.TaskEnvironment("console_wide")


@env.task
async def one(x: int) -> int:
    return x


@env.task
async def wide(n: int = 5000) -> int:
    return len(await asyncio.gather(*(one(i) for i in range(n))))


@env.task
def maybe(x: int) -> int:
    if x % 3 == 0:
        raise ValueError(f"item {x} fails")
    return x


@env.task
def some_fail(n: int = 7) -> int:
    """A flyte.map whose items 0, 3 and 6 fail (their exceptions come back as values)."""
    return sum(r for r in flyte.map(maybe, range(n)) if isinstance(r, int))


@env.task
async def slow_item(x: int) -> int:
    await asyncio.sleep(0.4)
    if x == 0:
        raise ValueError("item 0 fails late")
    return x


@env.task
def late_fail(n: int = 4) -> int:
    """A flyte.map whose item 0 fails at the same time as its siblings succeed (their bars overlap its bar)."""
    return sum(r for r in flyte.map(slow_item, range(n)) if isinstance(r, int))

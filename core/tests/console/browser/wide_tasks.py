"""A run with thousands of sibling actions (the virtualized tree and the canvas timeline at scale)."""

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

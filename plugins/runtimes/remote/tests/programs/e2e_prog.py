"""Programs the end-to-end tests submit to flyte-devbox (this folder is the code bundle)."""

from __future__ import annotations

import asyncio
import os

import flyte

env = flyte.TaskEnvironment(name="e2e")


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
async def hello(name: str = "world") -> str:
    return f"hello {name}"


@env.task
async def fan_out(n: int) -> int:
    return sum(await asyncio.gather(*(square(i) for i in range(n))))


@env.task
async def fail(x: int) -> int:
    raise ValueError(f"boom {x}")


@env.task
def sync_child(x: int) -> int:
    return x + 1


@env.task
def sync_parent(n: int) -> list[int]:
    return [sync_child(i) for i in range(n)]


@env.task(retries=1)
async def flaky(marker_dir: str) -> str:
    """Fails on its first attempt (leaves a marker), succeeds on the second."""
    marker = os.path.join(marker_dir, "attempted")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt crashes")
    return "ok on retry"


@env.task(timeout=1)
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@env.task
async def sleeper(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "woke"

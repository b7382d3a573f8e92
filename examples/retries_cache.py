"""Retries with backoff, a timeout, and a cached task.

    flyte run examples/retries_cache.py main --key demo
    flyte run examples/retries_cache.py main --key demo   # the second run is a cache hit
"""

import asyncio
from datetime import timedelta

import flyte

env = flyte.TaskEnvironment(name="resilience")
_attempts: dict[str, int] = {}


@env.task(retries=flyte.RetryStrategy(count=3, backoff=flyte.Backoff(base=timedelta(milliseconds=10), factor=2, cap=timedelta(seconds=1))))  # noqa: E501
async def flaky(key: str) -> int:
    # Fails twice, then succeeds: the retries absorb it (remotely each attempt is a new process: ask the context).
    _attempts[key] = max(_attempts.get(key, 0), flyte.ctx().attempt_number) + 1
    if _attempts[key] < 3:
        raise ConnectionError(f"transient failure {_attempts[key]}")
    return _attempts[key]


@env.task(cache="auto")
async def expensive(key: str) -> str:
    await asyncio.sleep(0.2)
    return key.upper()


@env.task(timeout=timedelta(seconds=60))
async def main(key: str = "demo") -> str:
    attempts = await flaky(key)
    value = await expensive(key)
    return f"{value} after {attempts} attempts"


if __name__ == "__main__":
    flyte.init()
    print(flyte.run(main, key="demo").outputs()[0])

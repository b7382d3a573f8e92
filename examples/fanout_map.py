"""Fan-out two ways: asyncio.gather over a task, and flyte.map with bounded concurrency.

    flyte run examples/fanout_map.py main --n 200
"""

import asyncio

import flyte

env = flyte.TaskEnvironment(name="fanout")


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
def cube(x: int) -> int:
    # A sync task: the local runtime runs it on a thread pool.
    return x * x * x


@env.task
async def main(n: int = 100) -> tuple[int, int]:
    squares = await asyncio.gather(*(square(i) for i in range(n)))
    cubes = [c async for c in flyte.map.aio(cube, range(n), concurrency=16)]
    return sum(squares), sum(cubes)


if __name__ == "__main__":
    flyte.init()
    print(flyte.run(main, n=100).outputs())

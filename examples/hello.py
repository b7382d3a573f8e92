"""Hello world: a parent task fans out to children and gathers their answers.

    flyte run examples/hello.py main --name world
    python examples/hello.py
"""

import asyncio

import flyte

env = flyte.TaskEnvironment(name="hello")


@env.task
async def greet(name: str, i: int) -> str:
    return f"hello {name} #{i}"


@env.task
async def main(name: str = "world", n: int = 3) -> list[str]:
    """Greet NAME n times, concurrently."""
    return await asyncio.gather(*(greet(name, i) for i in range(n)))


if __name__ == "__main__":
    flyte.init()
    run = flyte.run(main, name="world")
    print(run.name, run.outputs()[0])

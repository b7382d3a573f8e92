"""One program written for the official SDK's documentation; its last line must be the same on both SDKs."""

import asyncio
import enum
from datetime import timedelta
from typing import Literal, NotRequired, TypedDict

import flyte
import flyte.durable
import flyte.report
from flyte.io import File


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Row(TypedDict):
    name: str
    score: NotRequired[float]


env = flyte.TaskEnvironment(name="same")


@env.task(report=True, retries=1, timeout=flyte.Timeout(max_runtime=timedelta(minutes=5), deadline=600))
async def step(n: int, color: Literal[Color.RED, Color.BLUE], row: Row) -> str:
    t1 = await flyte.durable.time.aio()
    t2 = await flyte.durable.time.aio()
    await flyte.durable.sleep.aio(0.01)
    flyte.logger.info("step %d", n)
    await flyte.report.log.aio(f"<p>step {n}</p>")
    flyte.report.get_tab("Extra").log("<p>more</p>")
    await flyte.report.flush.aio()
    c = flyte.ctx()
    assert c is not None
    f = File.new_remote("out.txt")
    async with f.open("wb") as fh:
        await fh.write(b"a\nb\n")
    async with f.open("rb") as fh:
        lines = [line async for line in fh]
    return (f"{n}:{color.name}:{row['name']}:{'score' in row}:{t2 >= t1}:{len(lines)}:"
            f"{c.run_start_time is not None}:{c.is_in_cluster()}:{c['missing']}:{c.action.run_name is not None}")


@env.task
async def main() -> str:
    outs = await asyncio.gather(step(1, Color.RED, {"name": "a"}), step(2, Color.BLUE, {"name": "b", "score": 1.5}))
    return " ".join(outs)


if __name__ == "__main__":
    flyte.init()
    print(flyte.run(main).outputs()[0])

"""File and Dir: outputs are written under the run's raw data path and read back downstream.

    flyte run examples/files_dirs.py main --lines 10
    flyte run examples/files_dirs.py count_dir --d examples/        # a local folder becomes a Dir input
    flyte run --raw-data-path s3://my-bucket/runs examples/files_dirs.py main   # with flyte-s3 installed
"""

import asyncio

import flyte
from flyte.io import Dir, File

env = flyte.TaskEnvironment(name="files")


@env.task
async def write(lines: int) -> File:
    f = File.new_remote()
    async with f.open("wb") as fh:
        for i in range(lines):
            await fh.write(f"line {i}\n".encode())
    return f


@env.task
async def shard(f: File, parts: int) -> list[File]:
    async with f.open("rb") as fh:
        lines = (await fh.read()).decode().splitlines(keepends=True)
    out = []
    for p in range(parts):
        part = File.new_remote()
        async with part.open("wb") as fh:
            await fh.write("".join(lines[p::parts]).encode())
        out.append(part)
    return out


@env.task
async def count_lines(f: File) -> int:
    async with f.open("rb") as fh:
        return (await fh.read()).count(b"\n")


@env.task
async def count_dir(d: Dir) -> int:
    """Count the lines of every file in a folder."""
    total = 0
    async for f in d.walk():
        total += await count_lines.aio(f)
    return total


@env.task
async def main(lines: int = 10, parts: int = 3) -> int:
    f = await write(lines)
    shards = await shard(f, parts)
    counts = await asyncio.gather(*(count_lines(s) for s in shards))
    return sum(counts)


if __name__ == "__main__":
    flyte.init()
    print(flyte.run(main, lines=10).outputs()[0])

"""File and Dir outputs: written under the run's raw data path, read back by a downstream task.

    flyte run examples/files_dirs.py main --lines 5
    flyte run --raw-data-path s3://my-bucket/runs examples/files_dirs.py main   # with flyte-s3 installed
"""

import os
import tempfile

import flyte
from flyte.io import Dir, File

env = flyte.TaskEnvironment(name="files")


@env.task
async def write(lines: int) -> File:
    fd, path = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(fd, "w") as f:
        for i in range(lines):
            f.write(f"line {i}\n")
    out = await File.from_local(path)
    os.remove(path)
    return out


@env.task
async def shard(f: File, parts: int) -> Dir:
    local = await f.download()
    with open(local) as fh:
        lines = fh.readlines()
    with tempfile.TemporaryDirectory() as d:
        for p in range(parts):
            with open(os.path.join(d, f"part-{p}.txt"), "w") as out:
                out.writelines(lines[p::parts])
        return await Dir.from_local(d)


@env.task
async def count(d: Dir) -> int:
    total = 0
    async for f in d.walk():
        async with f.open("rb") as fh:
            total += (await fh.read()).count(b"\n")
    return total


@env.task
async def main(lines: int = 10) -> int:
    f = await write(lines)
    d = await shard(f, 3)
    return await count(d)


if __name__ == "__main__":
    print(flyte.run(main, lines=10).outputs()[0])

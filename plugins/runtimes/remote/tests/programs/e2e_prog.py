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


@env.task
def mapped(n: int) -> list[int]:
    return list(flyte.map(square, range(n)))


# -- File and Dir between tasks ----------------------------------------------------------

from flyte.io import Dir, File  # noqa: E402


@env.task
async def make_file(text: str) -> File:
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "note.txt")
    with open(path, "w") as f:
        f.write(text)
    return await File.from_local(path)


@env.task
async def make_dir(n: int) -> Dir:
    import tempfile

    d = tempfile.mkdtemp()
    for i in range(n):
        with open(os.path.join(d, f"f{i}.txt"), "w") as f:
            f.write(str(i))
    return await Dir.from_local(d)


@env.task
async def read_both(text: str, n: int) -> str:
    f = await make_file(text)
    d = await make_dir(n)
    local_f = await f.download()
    local_d = await d.download()
    with open(local_f) as fh:
        content = fh.read()
    return f"{content}|{sorted(os.listdir(local_d))}"


# -- records -------------------------------------------------------------------------

from dataclasses import dataclass  # noqa: E402

from pydantic import BaseModel  # noqa: E402


@dataclass
class Point:
    x: int
    y: int


class Box(BaseModel):
    label: str
    points: list[int]


@env.task
async def shift(p: Point, by: int) -> Point:
    return Point(p.x + by, p.y + by)


@env.task
async def relabel(b: Box, label: str) -> Box:
    return Box(label=label, points=[*b.points, len(b.points)])


@env.task
async def records(p: Point, b: Box) -> tuple[Point, Box]:
    return await shift(p, 10), await relabel(b, "new")


# -- a retried parent re-attaches to its finished children ----------------------------


@env.task
async def counted(x: int, log_dir: str) -> int:
    with open(os.path.join(log_dir, f"ran-{x}-{os.getpid()}"), "w"):
        pass
    return x * 10


@env.task(retries=1)
async def reattach(n: int, log_dir: str) -> int:
    total = sum(await asyncio.gather(*(counted(i, log_dir) for i in range(n))))
    marker = os.path.join(log_dir, "parent-crashed")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("the parent crashes after its children finished")
    return total


@env.task
async def parent_of_sleepers(n: int) -> list[str]:
    return list(await asyncio.gather(*(sleeper(60) for _ in range(n))))


@env.task
async def chatty(n: int) -> int:
    for i in range(n):
        print(f"line {i} from the task", flush=True)
    return n


@env.task(report=True)
async def reported(x: int) -> int:
    await flyte.report.log.aio(f"<h1>report of {x}</h1>")
    return x


@env.task
async def read_inputs(f: File, d: Dir) -> str:
    local_f = await f.download()
    local_d = await d.download()
    with open(local_f) as fh:
        content = fh.read()
    names = sorted(os.path.relpath(os.path.join(r, n), local_d) for r, _, ns in os.walk(local_d) for n in ns)
    return f"{f.path}|{content}|{names}"


secret_env = flyte.TaskEnvironment(name="e2e_secret", secrets=[flyte.Secret(key="e2e-token"),
                                                             flyte.Secret(key="e2e-file", mount="/etc/flyte")])


@secret_env.task
async def read_secrets() -> str:
    token = os.environ["E2E_TOKEN"]
    path = os.path.join(os.environ["FLYTE_SECRETS_DEFAULT_DIR"], "e2e-file")
    with open(path) as f:
        return f"{len(token)}:{f.read()}"
